//! Built-in plugins: with `HRSYNC_EMBED_PLUGINS=<dir>` (set by `cargo xtask dist`), every
//! `NAME.wasm` in that folder is compiled into the binary as `builtin:NAME`. Without it, the
//! list is empty and a plain `cargo build` stays as fast as before (and is not re-run by it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const VAR: &str = "HRSYNC_EMBED_PLUGINS";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={VAR}");
    let out = match std::env::var_os("OUT_DIR") {
        Some(dir) => PathBuf::from(dir).join("builtin_plugins.rs"),
        None => fail("cargo did not set OUT_DIR"),
    };
    let plugins = match std::env::var_os(VAR) {
        Some(dir) if !dir.is_empty() => embedded(Path::new(&dir)),
        _ => Vec::new(),
    };
    let mut code = String::from(
        "/// The plugins compiled into this binary: (name, component bytes), sorted by name.\n\
         pub(crate) static EMBEDDED: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &plugins {
        // Debug formatting quotes and escapes both strings.
        if writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display()
        )
        .is_err()
        {
            fail("cannot format the generated list");
        }
    }
    code.push_str("];\n");
    if let Err(e) = std::fs::write(&out, code) {
        fail(&format!("cannot write {}: {e}", out.display()));
    }
}

/// The `NAME.wasm` files of `dir` (absolute paths), each watched for changes.
fn embedded(dir: &Path) -> Vec<(String, PathBuf)> {
    let dir = match std::path::absolute(dir) {
        Ok(d) => d,
        Err(e) => fail(&format!("{VAR}={}: {e}", dir.display())),
    };
    // The folder itself: a plugin added or removed re-runs this script.
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => fail(&format!(
            "{VAR}={}: cannot read the folder: {e} (run `cargo xtask dist`, which fills it)",
            dir.display()
        )),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(e) => e.path(),
            Err(e) => fail(&format!("{VAR}={}: {e}", dir.display())),
        };
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if !valid_name(name) {
            fail(&format!(
                "{}: a built-in plugin's name is lowercase letters, digits and `-` (like remote.wasm)",
                path.display()
            ));
        }
        println!("cargo:rerun-if-changed={}", path.display());
        found.push((name.to_string(), path));
    }
    if found.is_empty() {
        fail(&format!(
            "{VAR}={}: no NAME.wasm in the folder",
            dir.display()
        ));
    }
    found.sort();
    found
}

/// The same rule as `hrsync::runtime::builtin`: `[a-z0-9][a-z0-9-]*`.
fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn fail(message: &str) -> ! {
    eprintln!("hrsync build script: {message}");
    std::process::exit(1)
}
