//! `hrsync init`: a commented starter configuration, the reference `examples/hrsync.toml` itself
//! (one text to keep right), with a header that says what to fill in.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The reference configuration, as shipped in `examples/`.
const EXAMPLE: &str = include_str!("../../../examples/hrsync.toml");

/// Why the starter configuration was not written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{path} already exists; pass --force to overwrite it")]
    Exists { path: PathBuf },
    #[error("cannot create the folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The starter configuration's text.
pub fn starter() -> String {
    format!(
        "# Written by `hrsync init` (hrsync {}).\n\
         # Replace the corp.example names, the Remote client id and the OUs with yours, provide each\n\
         # secret named below ({{ env = … }} or {{ file = … }}), then:  hrsync config check\n\
         #\n{EXAMPLE}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The environment variables the starter's secrets are read from (uncommented lines only).
pub fn secret_variables(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(at) = rest.find("{ env = \"") {
            rest = &rest[at + "{ env = \"".len()..];
            let Some(end) = rest.find('"') else { break };
            let name = rest[..end].to_string();
            if !names.contains(&name) {
                names.push(name);
            }
            rest = &rest[end..];
        }
    }
    names
}

/// Writes the starter configuration to `path` (creating its folder); an existing file is kept
/// unless `force`.
pub fn write(path: &Path, force: bool) -> Result<(), InitError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| InitError::Folder {
            path: folder.to_path_buf(),
            source,
        })?;
    }
    let write_err = |source| InitError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Atomic: never clobbers a file that appears meanwhile.
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            InitError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            write_err(e)
        }
    })?;
    file.write_all(starter().as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::checks::check_with;
    use crate::config::Config;
    use crate::runtime::PluginSource;
    use crate::runtime::builtin::Catalog;

    #[test]
    fn the_starter_uses_the_builtin_remote_plugin_and_passes_config_check_once_secrets_are_given() {
        let text = starter();
        let dir = tempfile::tempdir().unwrap();
        // What the admin provides: each secret (from files here: tests cannot set variables).
        let mut filled = text.clone();
        for name in secret_variables(&text) {
            std::fs::write(dir.path().join(&name), format!("test-{name}")).unwrap();
            filled = filled.replace(
                &format!("{{ env = \"{name}\" }}"),
                &format!("{{ file = \"{name}\" }}"),
            );
        }
        let config = Config::parse(&dir.path().join("hrsync.toml"), &filled).unwrap();
        let remote = config.connector("remote").unwrap();
        assert_eq!(remote.plugin, PluginSource::Builtin("remote".into()));
        static REMOTE: &[(&str, &[u8])] = &[("remote", b"component")];
        let problems = check_with(&config, &Catalog::new(REMOTE, Vec::new()));
        assert!(problems.is_empty(), "{problems:?}");
        // Without the built-in, check says what to do.
        let problems = check_with(&config, &Catalog::new(&[], Vec::new()));
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].contains("`connectors.remote.plugin`: `builtin:remote` is not available"),
            "{text:?}"
        );
    }

    #[test]
    fn the_secrets_to_provide_are_listed_once_each() {
        let names = secret_variables(&starter());
        assert!(
            names.contains(&"HRSYNC_LDAP_PASSWORD".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"REMOTE_CLIENT_SECRET".to_string()),
            "{names:?}"
        );
        // Commented alternatives are not asked for.
        assert!(
            !names.contains(&"REMOTE_API_TOKEN".to_string()),
            "{names:?}"
        );
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }

    #[test]
    fn an_existing_file_is_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/hrsync.toml");
        write(&path, false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), starter());
        std::fs::write(&path, "mine").unwrap();
        let e = write(&path, false).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        write(&path, true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), starter());
    }
}
