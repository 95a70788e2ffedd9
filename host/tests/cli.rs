//! The `hrsync` binary: exact messages and exit codes for what an admin gets wrong first.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn hrsync(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .current_dir(dir)
        .args(args)
        .env_remove("HRSYNC_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = hrsync(dir.path(), &["--config", "nope.toml", "plan"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: cannot read the config file nope.toml:"),
        "{err}"
    );
}

#[test]
fn an_inline_secret_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hrsync.toml"),
        "[connectors.remote]\nplugin = \"r.wasm\"\nbase_url = \"https://gateway.remote.com\"\nallowed_hosts = [\"https://gateway.remote.com\"]\nauth = { kind = \"api-token\", token = \"ra_live_SECRET\" }\n",
    )
    .unwrap();
    let (code, _, err) = hrsync(dir.path(), &["config", "check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 5, column 8: secrets are not written in the config file"),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
}

#[test]
fn a_denied_base_url_says_which_line_to_add() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hrsync.toml"),
        "[connectors.remote]\nplugin = \"r.wasm\"\nbase_url = \"https://gateway.remote.com\"\nallowed_hosts = [\"https://*.remote-sandbox.com\"]\n",
    )
    .unwrap();
    let (code, _, err) = hrsync(dir.path(), &["connector", "test", "remote"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "error: hrsync.toml: `connectors.remote.allowed_hosts`: base_url https://gateway.remote.com/ is not allowed; add \"https://gateway.remote.com\" to allowed_hosts"
    );
}

#[test]
fn a_mistyped_command_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = hrsync(dir.path(), &["snyc"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand 'snyc'"), "{err}");
}

#[test]
fn approve_without_a_terminal_refuses_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hrsync.toml"), "").unwrap();
    let (code, _, err) = hrsync(dir.path(), &["approve", "1"]);
    assert_eq!(code, 4);
    assert!(
        err.contains("pass --yes when there is no terminal"),
        "{err}"
    );
}
