//! `hrsync connector new NAME`: a new connector crate, ready to test and build.
//!
//! The crate is `plugins/NAME` (package `hrsync-plugin-NAME`): a `Cargo.toml` depending on
//! `hrsync-sdk` by path, and a `src/lib.rs` implementing the SDK's `Connector` trait against a
//! made-up endpoint, with unit tests on the SDK's `testing::Harness`. The templates are
//! `template/Cargo.toml.tmpl` and `template/lib.rs.tmpl` beside this file;
//! `tests/plugins/scaffolded` is the template rendered for `scaffolded`, kept in the workspace so
//! that the plugin build and the test suite compile and run what `connector new` writes.

use std::fmt;
use std::path::{Component, Path, PathBuf};

const CARGO_TEMPLATE: &str = include_str!("template/Cargo.toml.tmpl");
const LIB_TEMPLATE: &str = include_str!("template/lib.rs.tmpl");

/// Where plugin crates live, relative to the workspace root; `connector new` refuses a name any
/// of them already uses.
pub const PLUGIN_DIRS: &[&str] = &["plugins", "tests/plugins"];

/// Why a connector crate cannot be created.
#[derive(Debug)]
pub enum ScaffoldError {
    /// The name is not a lowercase identifier.
    BadName { name: String, reason: &'static str },
    /// The crate's folder exists already.
    Exists { path: PathBuf },
    /// Another crate of the workspace has the package name.
    Taken { krate: String, path: PathBuf },
    /// The SDK was not found.
    NoSdk { looked_in: Vec<PathBuf> },
    /// Writing failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for ScaffoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaffoldError::BadName { name, reason } => write!(
                f,
                "`{name}` cannot name a connector: {reason} (use lowercase letters, digits and `-`, starting with a letter, e.g. `acme` or `acme-hr`)"
            ),
            ScaffoldError::Exists { path } => write!(
                f,
                "{} exists already; choose another name or remove it",
                path.display()
            ),
            ScaffoldError::Taken { krate, path } => write!(
                f,
                "the package name {krate} is taken by {}; choose another name",
                path.display()
            ),
            ScaffoldError::NoSdk { looked_in } => write!(
                f,
                "cannot find hrsync-sdk (looked for sdk/Cargo.toml in {}): run this in the hrsync checkout or pass --sdk PATH",
                looked_in
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ScaffoldError::Io { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ScaffoldError {}

/// The names a connector crate is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The connector's name, as in `[connectors.NAME]`: `acme-hr`.
    pub name: String,
    /// The package: `hrsync-plugin-acme-hr`.
    pub krate: String,
    /// The connector's Rust type: `AcmeHr`.
    pub type_name: String,
    /// The built component's file: `hrsync_plugin_acme_hr.wasm`.
    pub wasm: String,
}

impl Names {
    /// Checks `name` and derives the others from it.
    pub fn new(name: &str) -> Result<Names, ScaffoldError> {
        let bad = |reason| {
            Err(ScaffoldError::BadName {
                name: name.to_string(),
                reason,
            })
        };
        if name.is_empty() || name.len() > 40 {
            return bad("it must be 1 to 40 characters long");
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return bad("it must start with a lowercase letter");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return bad("it may hold only lowercase letters, digits and `-`");
        }
        if name.ends_with('-') || name.contains("--") {
            return bad("a `-` must stand between two words");
        }
        let type_name: String = name
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|first| first.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        if matches!(type_name.as_str(), "Self" | "Connector" | "Person" | "Page") {
            return bad("it clashes with a name the generated code uses");
        }
        let krate = format!("hrsync-plugin-{name}");
        Ok(Names {
            name: name.to_string(),
            wasm: format!("{}.wasm", krate.replace('-', "_")),
            krate,
            type_name,
        })
    }
}

/// The files of a new connector crate, relative to its folder, with `sdk` the path from that
/// folder to `hrsync-sdk` (written as given, with `/`).
pub fn render(names: &Names, sdk: &str) -> Vec<(&'static str, String)> {
    let fill = |template: &str| {
        template
            .replace("{{name}}", &names.name)
            .replace("{{crate}}", &names.krate)
            .replace("{{Type}}", &names.type_name)
            .replace("{{sdk}}", sdk)
    };
    vec![
        ("Cargo.toml", fill(CARGO_TEMPLATE)),
        ("src/lib.rs", fill(LIB_TEMPLATE)),
    ]
}

/// Finds `hrsync-sdk`: `sdk/` in `start` or one of its parents.
pub fn find_sdk(start: &Path) -> Result<PathBuf, ScaffoldError> {
    let mut looked_in = Vec::new();
    for dir in start.ancestors() {
        let candidate = dir.join("sdk");
        if is_sdk(&candidate) {
            return Ok(candidate);
        }
        looked_in.push(dir.to_path_buf());
    }
    Err(ScaffoldError::NoSdk { looked_in })
}

fn is_sdk(dir: &Path) -> bool {
    package_name(&dir.join("Cargo.toml")).as_deref() == Some("hrsync-sdk")
}

/// The `[package] name` of a manifest, if it can be read.
pub fn package_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let table: toml::Table = text.parse().ok()?;
    table
        .get("package")?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// Writes the crate for `name` into `plugins_dir/NAME`, depending on the SDK in `sdk_dir`.
/// Refuses an existing folder and a package name that a crate under the workspace's
/// [`PLUGIN_DIRS`] already has (the workspace is the SDK's parent). Returns the crate's folder
/// and the files written.
pub fn create(
    name: &str,
    plugins_dir: &Path,
    sdk_dir: &Path,
) -> Result<(Names, PathBuf, Vec<PathBuf>), ScaffoldError> {
    let names = Names::new(name)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    let dir = plugins_dir.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists { path: dir });
    }
    let sdk_dir = std::path::absolute(sdk_dir).map_err(io(sdk_dir))?;
    if !is_sdk(&sdk_dir) {
        return Err(ScaffoldError::NoSdk {
            looked_in: vec![sdk_dir],
        });
    }
    if let Some(root) = sdk_dir.parent() {
        for plugins in PLUGIN_DIRS {
            let Ok(entries) = std::fs::read_dir(root.join(plugins)) else {
                continue;
            };
            for entry in entries.flatten() {
                let manifest = entry.path().join("Cargo.toml");
                if package_name(&manifest).as_deref() == Some(names.krate.as_str()) {
                    return Err(ScaffoldError::Taken {
                        krate: names.krate,
                        path: entry.path(),
                    });
                }
            }
        }
    }
    let abs_dir = std::path::absolute(&dir).map_err(io(&dir))?;
    let sdk = relative(&abs_dir, &sdk_dir);
    let mut written = Vec::new();
    for (file, text) in render(&names, &sdk) {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    Ok((names, dir, written))
}

/// The path from the folder `from` to `to` (both absolute), with `/`.
fn relative(from: &Path, to: &Path) -> String {
    let norm = |p: &Path| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        out
    };
    let (from, to) = (norm(from), norm(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(to[common..].iter().map(String::as_str));
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    #[test]
    fn names_are_checked_and_derived() {
        let n = Names::new("acme-hr2").unwrap();
        assert_eq!(
            (n.krate.as_str(), n.type_name.as_str(), n.wasm.as_str()),
            (
                "hrsync-plugin-acme-hr2",
                "AcmeHr2",
                "hrsync_plugin_acme_hr2.wasm"
            )
        );
        for bad in [
            "", "Acme", "2acme", "acme_hr", "acme-", "a--b", "acme hr", "page",
        ] {
            let e = Names::new(bad).unwrap_err().to_string();
            assert!(e.contains("cannot name a connector"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_generated_cargo_toml_is_valid_and_depends_on_the_sdk_by_path() {
        let names = Names::new("acme").unwrap();
        let files = render(&names, "../../sdk");
        let manifest: toml::Table = files[0].1.parse().unwrap();
        assert_eq!(
            manifest["package"]["name"].as_str(),
            Some("hrsync-plugin-acme")
        );
        assert_eq!(
            manifest["dependencies"]["hrsync-sdk"]["path"].as_str(),
            Some("../../sdk")
        );
        let types: Vec<&str> = manifest["lib"]["crate-type"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(types, ["cdylib", "rlib"]);
        let lib = &files[1].1;
        assert!(lib.contains("pub struct Acme {"), "{lib}");
        assert!(lib.contains("impl Connector for Acme {"));
        assert!(lib.contains("hrsync_sdk::export_connector!(Acme);"));
        assert!(lib.contains("DescriptorBuilder::new(\"acme\""));
        assert!(lib.contains("Harness::new()"));
        assert!(!lib.contains("{{"), "a placeholder is left");
    }

    /// `tests/plugins/scaffolded` is what the template renders: the plugin build compiles it for
    /// wasm32-wasip2 and the runtime tests load it, so the template is known to build and run.
    /// After changing a template, regenerate it:
    /// `rm -r tests/plugins/scaffolded && hrsync connector new scaffolded --dir tests/plugins`.
    #[test]
    fn the_checked_in_scaffolded_plugin_is_what_the_template_renders() {
        let dir = workspace().join("tests/plugins/scaffolded");
        let names = Names::new("scaffolded").unwrap();
        for (file, text) in render(&names, "../../../sdk") {
            let on_disk = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(
                on_disk == text,
                "tests/plugins/scaffolded/{file} differs from the template's rendering; regenerate it (see this test's doc)"
            );
        }
    }

    #[test]
    fn create_writes_the_crate_with_a_relative_sdk_path_and_refuses_clashes() {
        let root = tempfile::tempdir().unwrap();
        let sdk = root.path().join("sdk");
        std::fs::create_dir_all(&sdk).unwrap();
        std::fs::write(
            sdk.join("Cargo.toml"),
            "[package]\nname = \"hrsync-sdk\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        let plugins = root.path().join("plugins");
        assert_eq!(find_sdk(&plugins).unwrap(), sdk);
        let (names, dir, written) = create("acme", &plugins, &sdk).unwrap();
        assert_eq!(dir, plugins.join("acme"));
        assert_eq!(written.len(), 2);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("hrsync-sdk = { path = \"../../sdk\" }"),
            "{manifest}"
        );
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert_eq!(lib, render(&names, "../../sdk")[1].1);
        // Again: the folder exists.
        assert!(matches!(
            create("acme", &plugins, &sdk),
            Err(ScaffoldError::Exists { .. })
        ));
        // Elsewhere, but the package name is taken in the workspace.
        let other = root.path().join("elsewhere");
        assert!(matches!(
            create("acme", &other, &sdk),
            Err(ScaffoldError::Taken { .. })
        ));
        // No SDK there.
        assert!(matches!(
            create("beta", &plugins, &root.path().join("nope")),
            Err(ScaffoldError::NoSdk { .. })
        ));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/w/plugins/acme"), Path::new("/w/sdk")),
            "../../sdk"
        );
        assert_eq!(
            relative(Path::new("/w/tests/plugins/x"), Path::new("/w/sdk")),
            "../../../sdk"
        );
        assert_eq!(
            relative(Path::new("/a/./b/../c"), Path::new("/a/c/sdk")),
            "sdk"
        );
    }
}
