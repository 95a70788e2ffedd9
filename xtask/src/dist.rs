//! `cargo xtask dist`: the release `hrsync` that carries its plugins.
//!
//! 1. builds every plugin crate under `plugins/` (not the test plugins) for `wasm32-wasip2`;
//! 2. copies each component to `target/dist/builtin/NAME.wasm`, NAME being the crate's folder
//!    (`plugins/remote` → `builtin:remote`);
//! 3. builds `hrsync` in release with `HRSYNC_EMBED_PLUGINS` naming that folder: `host/build.rs`
//!    compiles each file into the binary;
//! 4. copies the binary to `target/dist/hrsync` (a later plain `cargo build --release` rebuilds
//!    `target/release/hrsync` without them; this copy keeps them).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{PluginCrate, build_these_plugins, cargo, plugin_crates, root, run, target_dir};

/// Where connector crates live (the test plugins are not shipped).
const SHIPPED: &str = "plugins";

pub fn dist() -> Result<()> {
    let started = Instant::now();
    let shipped = shipped(&plugin_crates()?, &root().join(SHIPPED))?;
    if shipped.is_empty() {
        bail!("no plugin crates under {SHIPPED}/");
    }
    let built = build_these_plugins(
        &shipped.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        false,
    )?;

    let out = target_dir().join("dist");
    let stage = out.join("builtin");
    let files: Vec<(String, PathBuf)> = shipped
        .iter()
        .map(|(name, c)| (format!("{name}.wasm"), built.join(&c.wasm)))
        .collect();
    stage_files(&stage, &files)?;

    eprintln!("xtask: building hrsync (release) with the built-in plugins");
    run(cargo()
        .args(["build", "--release", "-p", "hrsync", "--bin", "hrsync"])
        .env("HRSYNC_EMBED_PLUGINS", &stage))?;
    let binary = target_dir().join("release").join("hrsync");
    let copy = out.join("hrsync");
    std::fs::copy(&binary, &copy)
        .with_context(|| format!("cannot copy {} to {}", binary.display(), copy.display()))?;

    let size = file_len(&copy)?;
    let mut builtins = Vec::new();
    for (name, _) in &shipped {
        let kib = file_len(&stage.join(format!("{name}.wasm")))? >> 10;
        builtins.push(format!("builtin:{name} ({kib} KiB)"));
    }
    println!(
        "{} ({:.1} MiB) with {}; built in {:.0} s",
        copy.display(),
        size as f64 / f64::from(1u32 << 20),
        builtins.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Makes `stage` hold exactly these files (name, source), rewriting only what changed: an
/// unchanged plugin leaves the folder as it was, and the release build has nothing to redo.
fn stage_files(stage: &Path, files: &[(String, PathBuf)]) -> Result<()> {
    std::fs::create_dir_all(stage).with_context(|| format!("cannot create {}", stage.display()))?;
    for entry in
        std::fs::read_dir(stage).with_context(|| format!("cannot read {}", stage.display()))?
    {
        let path = entry
            .with_context(|| format!("cannot read {}", stage.display()))?
            .path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !files.iter().any(|(n, _)| n == name) {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for (name, from) in files {
        let bytes =
            std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
        let to = stage.join(name);
        if std::fs::read(&to).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        std::fs::write(&to, &bytes).with_context(|| format!("cannot write {}", to.display()))?;
    }
    Ok(())
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len())
}

/// The plugin crates under `folder`, each with its built-in name (the crate's folder name).
fn shipped(crates: &[PluginCrate], folder: &Path) -> Result<Vec<(String, PluginCrate)>> {
    let mut found = Vec::new();
    for c in crates {
        if c.dir.parent() != Some(folder) {
            continue;
        }
        let name = c
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: the folder name is not UTF-8", c.dir.display()))?;
        if !builtin_name(name) {
            bail!(
                "{}: a built-in plugin's folder name is lowercase letters, digits and `-` (it becomes `builtin:{name}`)",
                c.dir.display()
            );
        }
        found.push((name.to_string(), c.clone()));
    }
    Ok(found)
}

/// `[a-z0-9][a-z0-9-]*`, as `hrsync::runtime::builtin::valid_name`.
fn builtin_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn krate(dir: &str) -> PluginCrate {
        PluginCrate {
            package: format!("p-{dir}"),
            wasm: "p.wasm".into(),
            dir: PathBuf::from(dir),
        }
    }

    #[test]
    fn only_crates_under_plugins_ship_named_by_their_folder() {
        let crates = [
            krate("/w/plugins/remote"),
            krate("/w/plugins/acme-hr"),
            krate("/w/tests/plugins/hostile"),
        ];
        let names: Vec<String> = shipped(&crates, Path::new("/w/plugins"))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["remote", "acme-hr"]);
        let bad = shipped(&[krate("/w/plugins/Acme_HR")], Path::new("/w/plugins"));
        assert!(bad.unwrap_err().to_string().contains("builtin:Acme_HR"));
    }

    #[test]
    fn the_stage_holds_exactly_the_shipped_plugins_and_keeps_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.wasm");
        std::fs::write(&src, b"v1").unwrap();
        let stage = dir.path().join("stage");
        stage_files(&stage, &[("remote.wasm".into(), src.clone())]).unwrap();
        std::fs::write(stage.join("old.wasm"), b"gone").unwrap();
        let before = std::fs::metadata(stage.join("remote.wasm"))
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        stage_files(&stage, &[("remote.wasm".into(), src.clone())]).unwrap();
        let after = std::fs::metadata(stage.join("remote.wasm"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "an unchanged plugin was rewritten");
        assert!(!stage.join("old.wasm").exists());
        std::fs::write(&src, b"v2").unwrap();
        stage_files(&stage, &[("remote.wasm".into(), src)]).unwrap();
        assert_eq!(std::fs::read(stage.join("remote.wasm")).unwrap(), b"v2");
    }
}
