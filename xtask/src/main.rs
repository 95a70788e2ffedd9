//! Project tasks. `cargo xtask <task>`:
//!
//! - `build-plugins [--quiet]` — build every plugin for `wasm32-wasip2` (profile `wasm`): each
//!   crate under `plugins/` and `tests/plugins/` whose `Cargo.toml` makes a `cdylib`.
//! - `plugins` — list those crates and their `.wasm` files.
//! - `test` — build the plugins, start the Samba AD DC on loopback, run every test, stop Samba.
//! - `demo` — bring up Samba AD and the Remote simulator, then plan, sync, and show changes.
//! - `bench` — the benchmarks (numbers go to stdout).
//! - `dist` — the release `hrsync` with the plugins under `plugins/` built in (`builtin:NAME`),
//!   copied to `target/dist/hrsync`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

mod dist;

/// Where plugin crates live: every crate in these folders whose library is a `cdylib`.
const PLUGIN_DIRS: &[&str] = &["plugins", "tests/plugins"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => {
            build_plugins(args[1..].iter().any(|a| a == "--quiet")).map(|_| ())
        }
        Some("plugins") => plugin_crates().map(|crates| {
            for c in crates {
                println!("{} {} {}", c.package, c.wasm, c.dir.display());
            }
        }),
        Some("test") => test(&args[1..]),
        Some("demo") => demo(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("dist") => dist::dist(),
        Some(other) => Err(anyhow::anyhow!(
            "unknown task `{other}`; tasks: build-plugins, plugins, test, demo, bench, dist"
        )),
        None => Err(anyhow::anyhow!(
            "usage: cargo xtask <build-plugins|plugins|test|demo|bench|dist>"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// A plugin crate found under [`PLUGIN_DIRS`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct PluginCrate {
    /// The package name (`hrsync-plugin-remote`).
    package: String,
    /// The component's file name (`hrsync_plugin_remote.wasm`).
    wasm: String,
    /// The crate's folder.
    dir: PathBuf,
}

/// Every plugin crate: a folder under [`PLUGIN_DIRS`] with a `Cargo.toml` whose `[lib]`
/// `crate-type` holds `cdylib`. Sorted by package name.
fn plugin_crates() -> Result<Vec<PluginCrate>> {
    let mut found = Vec::new();
    for dir in PLUGIN_DIRS {
        let dir = root().join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let manifest = entry.path().join("Cargo.toml");
            if !manifest.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read {}", manifest.display()))?;
            if let Some(plugin) = plugin_crate(&text, &entry.path())
                .with_context(|| format!("cannot read {}", manifest.display()))?
            {
                found.push(plugin);
            }
        }
    }
    found.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(found)
}

/// The plugin a manifest describes, or `None` when its library is not a `cdylib`.
fn plugin_crate(manifest: &str, dir: &Path) -> Result<Option<PluginCrate>> {
    let table: toml::Table = manifest.parse()?;
    let package = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .context("no [package] name")?
        .to_string();
    let lib = table.get("lib");
    let cdylib = lib
        .and_then(|l| l.get("crate-type"))
        .and_then(|t| t.as_array())
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
    if !cdylib {
        return Ok(None);
    }
    let lib_name = lib
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .map_or_else(|| package.replace('-', "_"), str::to_string);
    Ok(Some(PluginCrate {
        package,
        wasm: format!("{lib_name}.wasm"),
        dir: dir.to_path_buf(),
    }))
}

/// Builds the plugins and returns the folder that holds the `.wasm` files.
fn build_plugins(quiet: bool) -> Result<PathBuf> {
    build_these_plugins(&plugin_crates()?, quiet)
}

/// Builds these plugin crates; returns the folder that holds the `.wasm` files.
fn build_these_plugins(plugins: &[PluginCrate], quiet: bool) -> Result<PathBuf> {
    if plugins.is_empty() {
        bail!("no plugin crates under {}", PLUGIN_DIRS.join(", "));
    }
    if !quiet {
        let names: Vec<&str> = plugins.iter().map(|p| p.package.as_str()).collect();
        eprintln!(
            "xtask: building plugins for wasm32-wasip2: {}",
            names.join(", ")
        );
    }
    let mut cmd = cargo();
    cmd.args(["build", "--target", "wasm32-wasip2", "--profile", "wasm"]);
    if quiet {
        cmd.arg("--quiet");
    }
    for p in plugins {
        cmd.args(["-p", &p.package]);
    }
    run(&mut cmd)?;
    Ok(target_dir().join("wasm32-wasip2").join("wasm"))
}

/// The Samba AD DC for tests and the demo, by the project's script.
struct Samba {
    dir: PathBuf,
}

impl Samba {
    fn start() -> Result<Samba> {
        let dir = std::env::var_os("HRSYNC_AD_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/hrsync-samba-ad"));
        eprintln!("xtask: starting Samba AD in {}", dir.display());
        let script = root().join("tests/ad/samba-ad.sh");
        run(Command::new("bash").arg(&script).arg("start").arg(&dir))?;
        // A pristine domain for every suite (about 2 s): no leftovers, no tombstones from earlier runs.
        run(Command::new("bash").arg(&script).arg("reset").arg(&dir))?;
        Ok(Samba { dir })
    }

    fn env_file(&self) -> PathBuf {
        self.dir.join("env")
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        eprintln!("xtask: stopping Samba AD");
        let _ = Command::new("bash")
            .arg(root().join("tests/ad/samba-ad.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

fn test(extra: &[String]) -> Result<()> {
    let plugins = build_plugins(false)?;
    let samba = Samba::start()?;
    eprintln!("xtask: running the tests");
    let mut cmd = cargo();
    cmd.arg("test")
        .env("HRSYNC_PLUGIN_DIR", &plugins)
        .env("HRSYNC_AD_ENV", samba.env_file())
        .args(extra);
    run(&mut cmd)
}

fn demo(extra: &[String]) -> Result<()> {
    let plugins = build_plugins(false)?;
    let samba = Samba::start()?;
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "-p",
        "hrsync-tests",
        "--bin",
        "hrsync-demo",
        "--",
    ])
    .env("HRSYNC_PLUGIN_DIR", &plugins)
    .env("HRSYNC_AD_ENV", samba.env_file())
    .args(extra);
    run(&mut cmd)
}

fn bench(extra: &[String]) -> Result<()> {
    let plugins = build_plugins(false)?;
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "hrsync-tests"])
        .env("HRSYNC_PLUGIN_DIR", &plugins)
        .args(extra);
    run(&mut cmd)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_cdylib_is_a_plugin_and_its_wasm_name_follows_the_lib_name() {
        let dir = Path::new("/x");
        let p = plugin_crate(
            "[package]\nname = \"hrsync-plugin-acme\"\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n",
            dir,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.package.as_str(), p.wasm.as_str()),
            ("hrsync-plugin-acme", "hrsync_plugin_acme.wasm")
        );
        let named = plugin_crate(
            "[package]\nname = \"a\"\n[lib]\nname = \"b\"\ncrate-type = [\"cdylib\"]\n",
            dir,
        )
        .unwrap()
        .unwrap();
        assert_eq!(named.wasm, "b.wasm");
        assert_eq!(
            plugin_crate("[package]\nname = \"helper\"\n", dir).unwrap(),
            None
        );
        assert!(plugin_crate("[lib]\n", dir).is_err());
    }

    #[test]
    fn the_workspace_plugins_are_found() {
        let names: Vec<String> = plugin_crates()
            .unwrap()
            .into_iter()
            .map(|p| p.package)
            .collect();
        for expected in [
            "hrsync-plugin-remote",
            "hrsync-plugin-scaffolded",
            "hrsync-test-plugin-future",
            "hrsync-test-plugin-hostile",
            "hrsync-test-plugin-v01",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
    }
}
