//! Where a secret comes from: `{ env = "NAME" }` or `{ file = "/path" }` — never inline.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secret::Secret;

/// A reference to a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file (its content, trimmed of surrounding white space).
    File(PathBuf),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSecretRef {
    Env { env: String },
    File { file: PathBuf },
    // Read only to refuse it.
    Inline(#[allow(dead_code)] String),
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match RawSecretRef::deserialize(d) {
            Ok(RawSecretRef::Env { env }) => Ok(SecretRef::Env(env)),
            Ok(RawSecretRef::File { file }) => Ok(SecretRef::File(file)),
            Ok(RawSecretRef::Inline(_)) => Err(serde::de::Error::custom(
                "secrets are not written in the config file; use { env = \"VARIABLE\" } or { file = \"/path/to/file\" }",
            )),
            Err(_) => Err(serde::de::Error::custom(
                "expected { env = \"VARIABLE\" } or { file = \"/path/to/file\" }",
            )),
        }
    }
}

impl SecretRef {
    /// Reads the secret; the message names the variable or file, never the value.
    pub fn read(&self, base: &Path) -> Result<Secret, String> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                Ok(_) => Err(format!("the environment variable {name} is empty")),
                Err(_) => Err(format!("the environment variable {name} is not set")),
            },
            SecretRef::File(p) => {
                let path = if p.is_absolute() {
                    p.clone()
                } else {
                    base.join(p)
                };
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let v = text.trim();
                if v.is_empty() {
                    Err(format!("{} is empty", path.display()))
                } else {
                    Ok(Secret::new(v))
                }
            }
        }
    }
}
