//! Built-in plugins: `plugin = "builtin:NAME"` in a connector's config.
//!
//! A connector names its plugin by path (any component, third-party ones included) or as
//! `builtin:NAME`, one of the plugin crates under `plugins/` (`builtin:remote` is
//! `plugins/remote`). A built-in is found, in this order:
//!
//! 1. in the binary: `cargo xtask dist` builds the plugins and compiles each into the release
//!    `hrsync` (`host/build.rs`, `HRSYNC_EMBED_PLUGINS`); a plain `cargo build` embeds none;
//! 2. in the folder `$HRSYNC_PLUGIN_DIR` (e.g. `target/wasm32-wasip2/wasm` after
//!    `cargo xtask build-plugins`);
//! 3. in `plugins/` beside the `hrsync` executable.
//!
//! In a folder, `builtin:NAME` is the file `NAME.wasm` or, as `cargo xtask build-plugins`
//! names it, `hrsync_plugin_NAME.wasm` (`-` as `_`). The compile cache keys on the component's
//! bytes, so an embedded plugin and the same file share one cached compilation.

use std::fmt;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// What marks a built-in plugin in `plugin = "…"`.
pub const PREFIX: &str = "builtin:";
/// The folder of plugins named by the environment.
pub const DIR_VAR: &str = "HRSYNC_PLUGIN_DIR";
/// What the build tool names a plugin's component: `hrsync_plugin_NAME.wasm`.
const BUILT_PREFIX: &str = "hrsync_plugin_";

/// Where a connector's plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A component file (absolute once the config is loaded).
    File(PathBuf),
    /// `builtin:NAME`.
    Builtin(String),
}

impl PluginSource {
    /// `builtin:NAME` (a checked name), or a path resolved by `resolve` (relative paths are
    /// relative to the config file).
    pub fn parse(
        text: &str,
        resolve: impl FnOnce(&Path) -> PathBuf,
    ) -> Result<PluginSource, BuiltinError> {
        match text.strip_prefix(PREFIX) {
            Some(name) if valid_name(name) => Ok(PluginSource::Builtin(name.to_string())),
            Some(name) => Err(BuiltinError::BadName {
                name: name.to_string(),
            }),
            None => Ok(PluginSource::File(resolve(Path::new(text)))),
        }
    }
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSource::File(path) => write!(f, "{}", path.display()),
            PluginSource::Builtin(name) => write!(f, "{PREFIX}{name}"),
        }
    }
}

/// Why a built-in plugin cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuiltinError {
    /// `builtin:` followed by something that cannot be a plugin's name.
    #[error(
        "`{PREFIX}{name}` is not a built-in plugin's name: lowercase letters, digits and `-` (like `{PREFIX}remote`)"
    )]
    BadName { name: String },
    /// This binary carries no built-ins and no folder holds the plugin.
    #[error(
        "`{PREFIX}{name}` is not available: this hrsync was built without its plugins and {searched}; build the release binary with `cargo xtask dist` (it carries them), set {DIR_VAR} to a folder with {name}.wasm, or give the plugin's path"
    )]
    NoneBuiltIn { name: String, searched: String },
    /// Other built-ins exist, not this one.
    #[error(
        "there is no built-in plugin `{name}`; available: {available} (or give the plugin's path)"
    )]
    Unknown { name: String, available: String },
}

/// Where built-ins are looked for: the embedded ones, then folders in order.
#[derive(Debug, Clone)]
pub struct Catalog {
    embedded: &'static [(&'static str, &'static [u8])],
    dirs: Vec<PathBuf>,
}

/// A built-in plugin, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Compiled into this binary.
    Embedded(&'static [u8]),
    /// A file in one of the folders.
    File(PathBuf),
}

impl Catalog {
    /// This binary's built-ins, then `$HRSYNC_PLUGIN_DIR`, then `plugins/` beside the executable.
    pub fn from_env() -> Catalog {
        let mut dirs = Vec::new();
        if let Some(dir) = std::env::var_os(DIR_VAR).filter(|d| !d.is_empty()) {
            dirs.push(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("plugins")))
        {
            dirs.push(dir);
        }
        Catalog::new(EMBEDDED, dirs)
    }

    /// A catalog of these embedded plugins and folders (for tests).
    pub fn new(embedded: &'static [(&'static str, &'static [u8])], dirs: Vec<PathBuf>) -> Self {
        Catalog { embedded, dirs }
    }

    /// The plugin `builtin:NAME`, or why it cannot be had (listing the available ones).
    pub fn find(&self, name: &str) -> Result<Found, BuiltinError> {
        if let Some((_, bytes)) = self.embedded.iter().find(|(n, _)| *n == name) {
            return Ok(Found::Embedded(bytes));
        }
        for dir in &self.dirs {
            for file in file_names(name) {
                let path = dir.join(file);
                if path.is_file() {
                    return Ok(Found::File(path));
                }
            }
        }
        let available = self.available();
        if available.is_empty() {
            let searched = if self.dirs.is_empty() {
                "there is no folder to look in".to_string()
            } else {
                let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
                format!("no plugin is in {}", dirs.join(" or "))
            };
            return Err(BuiltinError::NoneBuiltIn {
                name: name.to_string(),
                searched,
            });
        }
        Err(BuiltinError::Unknown {
            name: name.to_string(),
            available: available
                .iter()
                .map(|n| format!("{PREFIX}{n}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Every built-in name to be had: embedded, and in the folders. Sorted, once each.
    pub fn available(&self) -> Vec<String> {
        let mut names: Vec<String> = self.embedded.iter().map(|(n, _)| n.to_string()).collect();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) != Some("wasm") || !path.is_file() {
                    continue;
                }
                if let Some(name) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(name_of_file)
                {
                    names.push(name);
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The names of this binary's embedded plugins.
pub fn embedded_names() -> Vec<&'static str> {
    EMBEDDED.iter().map(|(n, _)| *n).collect()
}

/// A built-in plugin's name: `[a-z0-9][a-z0-9-]*` (a plugin crate's folder under `plugins/`).
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The files that hold `builtin:NAME` in a folder, in the order they are tried.
fn file_names(name: &str) -> [String; 2] {
    [
        format!("{name}.wasm"),
        format!("{BUILT_PREFIX}{}.wasm", name.replace('-', "_")),
    ]
}

/// The built-in name of a file stem: `remote` (remote.wasm) or `hrsync_plugin_acme_hr`
/// (acme-hr). Other stems (`hrsync_test_plugin_hostile`) name no built-in.
fn name_of_file(stem: &str) -> Option<String> {
    let name = match stem.strip_prefix(BUILT_PREFIX) {
        Some(rest) => rest.replace('_', "-"),
        None => stem.to_string(),
    };
    valid_name(&name).then_some(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    static TWO: &[(&str, &[u8])] = &[("bamboohr", b"bamboo bytes"), ("remote", b"remote bytes")];

    fn parse(text: &str) -> Result<PluginSource, BuiltinError> {
        PluginSource::parse(text, |p| Path::new("/etc/hrsync").join(p))
    }

    #[test]
    fn a_plugin_is_a_builtin_name_or_a_path() {
        assert_eq!(
            parse("builtin:remote").unwrap(),
            PluginSource::Builtin("remote".into())
        );
        assert_eq!(
            parse("plugins/acme.wasm").unwrap(),
            PluginSource::File("/etc/hrsync/plugins/acme.wasm".into())
        );
        assert_eq!(
            parse("/opt/x.wasm").unwrap(),
            PluginSource::File("/opt/x.wasm".into())
        );
        for bad in ["builtin:", "builtin:Remote", "builtin:../x", "builtin:-x"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("lowercase letters, digits and `-`"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            PluginSource::Builtin("remote".into()).to_string(),
            "builtin:remote"
        );
    }

    #[test]
    fn an_embedded_plugin_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("remote.wasm"), b"file").unwrap();
        let c = Catalog::new(TWO, vec![dir.path().to_path_buf()]);
        assert_eq!(c.find("remote").unwrap(), Found::Embedded(b"remote bytes"));
    }

    #[test]
    fn a_folder_holds_name_wasm_or_the_built_file_name() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(second.path().join("hrsync_plugin_acme_hr.wasm"), b"a").unwrap();
        std::fs::write(second.path().join("remote.wasm"), b"r").unwrap();
        std::fs::write(first.path().join("remote.wasm"), b"r").unwrap();
        let c = Catalog::new(
            &[],
            vec![first.path().to_path_buf(), second.path().to_path_buf()],
        );
        assert_eq!(
            c.find("acme-hr").unwrap(),
            Found::File(second.path().join("hrsync_plugin_acme_hr.wasm"))
        );
        // The first folder wins.
        assert_eq!(
            c.find("remote").unwrap(),
            Found::File(first.path().join("remote.wasm"))
        );
    }

    #[test]
    fn an_unknown_name_lists_the_available_ones() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "hrsync_plugin_remote.wasm",
            "hrsync_test_plugin_hostile.wasm",
            "notes.txt",
            "workday.wasm",
        ] {
            std::fs::write(dir.path().join(file), b"x").unwrap();
        }
        let c = Catalog::new(TWO, vec![dir.path().to_path_buf()]);
        assert_eq!(c.available(), ["bamboohr", "remote", "workday"]);
        assert_eq!(
            c.find("remot").unwrap_err().to_string(),
            "there is no built-in plugin `remot`; available: builtin:bamboohr, builtin:remote, builtin:workday (or give the plugin's path)"
        );
    }

    #[test]
    fn without_builtins_the_error_says_what_to_do() {
        let empty = tempfile::tempdir().unwrap();
        let missing = empty.path().join("nope");
        let c = Catalog::new(&[], vec![empty.path().to_path_buf(), missing.clone()]);
        let e = c.find("remote").unwrap_err().to_string();
        assert!(
            e.starts_with("`builtin:remote` is not available: this hrsync was built without its plugins and no plugin is in "),
            "{e}"
        );
        assert!(e.contains(&missing.display().to_string()), "{e}");
        assert!(e.contains("cargo xtask dist"), "{e}");
        assert!(e.contains("HRSYNC_PLUGIN_DIR"), "{e}");
        assert!(e.contains("give the plugin's path"), "{e}");
        let none = Catalog::new(&[], Vec::new()).find("remote").unwrap_err();
        assert!(
            none.to_string().contains("there is no folder to look in"),
            "{none}"
        );
    }
}
