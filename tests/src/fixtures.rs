//! Shared fixtures: the plugins built for the test run, the Samba AD facts.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Where the plugins are. `cargo xtask test` builds them first and sets `HRSYNC_PLUGIN_DIR`;
/// under a plain `cargo test` they are built here, once per test binary (a no-op when fresh), by
/// `cargo xtask build-plugins`, which finds every plugin crate under `plugins/` and
/// `tests/plugins/` itself: adding a plugin needs no change here.
pub fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("HRSYNC_PLUGIN_DIR") {
            return PathBuf::from(dir);
        }
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args([
                "run",
                "--quiet",
                "--package",
                "xtask",
                "--",
                "build-plugins",
                "--quiet",
            ])
            .status()
            .expect("cannot run `cargo xtask build-plugins`");
        assert!(
            status.success(),
            "`cargo xtask build-plugins` failed: the plugins could not be built for wasm32-wasip2"
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("wasm32-wasip2").join("wasm")
    })
    .clone()
}

/// The path of one built plugin, e.g. `plugin_wasm("hrsync_plugin_remote.wasm")`.
pub fn plugin_wasm(file: &str) -> PathBuf {
    let path = plugin_dir().join(file);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask build-plugins`",
        path.display()
    );
    path
}

/// The Samba AD facts written by `tests/ad/samba-ad.sh` (`DIR/env`).
#[derive(Debug, Clone)]
pub struct AdEnv {
    pub url: String,
    pub bind_dn: String,
    pub password: String,
    pub base_dn: String,
    pub ca_file: String,
}

/// Reads the AD facts from `$HRSYNC_AD_ENV` (default `/tmp/hrsync-samba-ad/env`). Panics with the
/// command to run when AD is not there: AD tests never pass silently without AD.
pub fn ad_env() -> AdEnv {
    let path = std::env::var("HRSYNC_AD_ENV").unwrap_or_else(|_| "/tmp/hrsync-samba-ad/env".into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("the Samba AD facts file {path} cannot be read ({e}): run `bash tests/ad/samba-ad.sh start` (or `cargo xtask test`)")
    });
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim().trim_matches('\'').to_string())
            .unwrap_or_else(|| panic!("{path} has no {key}"))
    };
    AdEnv {
        url: get("HRSYNC_AD_URL"),
        bind_dn: get("HRSYNC_AD_BIND_DN"),
        password: get("HRSYNC_AD_PASSWORD"),
        base_dn: get("HRSYNC_AD_BASE_DN"),
        ca_file: get("HRSYNC_AD_CA_FILE"),
    }
}

/// A complete hrsync config for the Remote simulator at `remote_base_url` and the AD in `ad`,
/// managing accounts under `ou` (which is also the search base). Secrets are read from the files
/// `ldap.pw`, `remote.token` and `webhook.secret` beside the config. `extra_sync` is appended to `[sync]`.
/// `[store]`, `[runtime]` and `[directory]` of a test config: the store beside the config, the
/// shared compile cache, and the test AD with `ou` as base, `OU=Staff` and `OU=Disabled` in it,
/// names unique domain-wide. The LDAP password is read from `ldap.pw` beside the config.
pub fn store_directory_toml(ad: &AdEnv, ou: &str) -> String {
    let cache = workspace_root().join("target/hrsync-test-cache");
    format!(
        r#"
[store]
path = "hrsync.db"

[runtime]
cache_dir = "{cache}"

[directory]
url = "{url}"
bind_dn = "{bind_dn}"
bind_password = {{ file = "ldap.pw" }}
ca_file = "{ca}"
base_dn = "{ou}"
uniqueness_base_dn = "{domain}"
users_ou = "OU=Staff,{ou}"
disabled_ou = "OU=Disabled,{ou}"
concurrency = 2
"#,
        cache = cache.display(),
        url = ad.url,
        domain = ad.base_dn,
        bind_dn = ad.bind_dn,
        ca = ad.ca_file,
    )
}

pub fn sync_config_toml(ad: &AdEnv, ou: &str, remote_base_url: &str, extra_sync: &str) -> String {
    let head = store_directory_toml(ad, ou);
    let plugin = plugin_wasm("hrsync_plugin_remote.wasm");
    format!(
        r#"{head}
[connectors.remote]
plugin = "{plugin}"
base_url = "{base}"
allowed_hosts = ["{base}"]
auth = {{ kind = "api-token", token = {{ file = "remote.token" }} }}
webhook_secret = {{ file = "webhook.secret" }}

[mapping.attributes]
givenName = "{{{{ first_name }}}}"
sn = "{{{{ last_name }}}}"
displayName = "{{{{ full_name }}}}"
title = "{{{{ job_title }}}}"
department = "{{{{ department }}}}"
c = "{{{{ country_code }}}}"
sAMAccountName = {{ unique = [
  "{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}",
  "{{{{ first_name|ascii|lower|samsafe|first }}}}{{{{ last_name|ascii|lower|samsafe }}}}",
  "{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}{{{{ n }}}}",
], max_len = 20, apply = "on-create" }}

[sync]
connector = "remote"
ou = "OU={{{{ department|dn }}}},OU=Staff,{ou}"
time_zone = "Europe/Berlin"
prehire_days = 7
{extra_sync}

[[sync.groups]]
dn = "CN=All Staff,{ou}"

[[sync.groups]]
dn = "CN=Engineering,{ou}"
when = "department == 'Engineering'"
"#,
        plugin = plugin.display(),
        base = remote_base_url,
    )
}

/// The `hrsync` binary (debug), built once per test binary when it is missing or stale.
pub fn hrsync_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "hrsync", "--bin", "hrsync"])
            .status()
            .expect("cannot run cargo to build hrsync");
        assert!(status.success(), "building the hrsync binary failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("debug").join("hrsync")
    })
    .clone()
}
