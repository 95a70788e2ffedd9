//! Project tasks. `cargo xtask <task>`:
//!
//! - `build-plugins` — build every plugin for `wasm32-wasip2` (profile `wasm`).
//! - `test` — build the plugins, start the Samba AD DC on loopback, run every test, stop Samba.
//! - `demo` — bring up Samba AD and the Remote simulator, then plan, sync, and show changes.
//! - `bench` — the benchmarks (numbers go to stdout).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// Plugin crates built for wasm32-wasip2.
const PLUGINS: &[&str] = &[
    "hrsync-plugin-remote",
    "hrsync-test-plugin-hostile",
    "hrsync-test-plugin-future",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build_plugins().map(|_| ()),
        Some("test") => test(&args[1..]),
        Some("demo") => demo(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some(other) => Err(anyhow::anyhow!(
            "unknown task `{other}`; tasks: build-plugins, test, demo, bench"
        )),
        None => Err(anyhow::anyhow!(
            "usage: cargo xtask <build-plugins|test|demo|bench>"
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

/// Builds the plugins and returns the folder that holds the `.wasm` files.
fn build_plugins() -> Result<PathBuf> {
    eprintln!("xtask: building plugins for wasm32-wasip2");
    let mut cmd = cargo();
    cmd.args(["build", "--target", "wasm32-wasip2", "--profile", "wasm"]);
    for p in PLUGINS {
        cmd.args(["-p", p]);
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
    let plugins = build_plugins()?;
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
    let plugins = build_plugins()?;
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
    let plugins = build_plugins()?;
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "hrsync-tests"])
        .env("HRSYNC_PLUGIN_DIR", &plugins)
        .args(extra);
    run(&mut cmd)
}
