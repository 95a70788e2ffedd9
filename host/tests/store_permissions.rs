//! The store's files are private (0600) even when hrsync runs under a permissive umask.
//!
//! The umask is process-wide and cannot be changed safely inside a multi-threaded test, so the
//! test runs itself again under `sh -c 'umask 000; exec …'`: the child opens a store, and while it
//! is open (the `-wal` and `-shm` files exist) checks every file's mode.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Set in the child: the folder to create the store in.
const CHILD: &str = "HRSYNC_TEST_STORE_PERMISSIONS_DIR";
const TEST: &str = "the_store_is_private_under_umask_000";

/// The mode of each of the store's files that exists; the database must.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for name in ["hrsync.db", "hrsync.db-wal", "hrsync.db-shm"] {
        match std::fs::metadata(dir.join(name)) {
            Ok(m) => out.push((name.to_string(), m.permissions().mode() & 0o777)),
            Err(e) => assert!(name != "hrsync.db", "no store was created: {e}"),
        }
    }
    out
}

/// The child's half: open a store, write to it, and check the modes while it is open.
fn child(dir: &Path) {
    let store = hrsync::store::Store::open(&dir.join("hrsync.db")).unwrap();
    store.save_detail("e-1", Some("h"), "{}").unwrap();
    let probe = dir.join("probe");
    std::fs::write(&probe, "").unwrap();
    let probe_mode = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
    assert_eq!(probe_mode, 0o666, "the child does not run under umask 000");
    for (name, mode) in modes(dir) {
        assert_eq!(mode, 0o600, "{name} is {mode:o} while the store is open");
    }
}

#[test]
fn the_store_is_private_under_umask_000() {
    if let Some(dir) = std::env::var_os(CHILD) {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(&me)
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
    // After the child closed the store, whatever is left is private too.
    for (name, mode) in modes(dir.path()) {
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
}
