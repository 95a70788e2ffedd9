#![allow(clippy::unwrap_used)]
use super::*;

const MINIMAL: &str = r#"
[connectors.remote]
plugin = "plugins/remote.wasm"
base_url = "https://gateway.remote.com"
allowed_hosts = ["https://gateway.remote.com"]
rate_limit = "20/min"
auth = { kind = "api-token", token = { env = "HRSYNC_TEST_CONFIG_TOKEN" } }
"#;

#[test]
fn a_minimal_config_loads_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "ra_test_x\n").unwrap();
    let text = MINIMAL.replace(
        r#"{ env = "HRSYNC_TEST_CONFIG_TOKEN" }"#,
        r#"{ file = "token" }"#,
    );
    let c = Config::parse(&dir.path().join("hrsync.toml"), &text).unwrap();
    let r = c.connector("remote").unwrap();
    assert_eq!(
        r.plugin,
        PluginSource::File(dir.path().join("plugins/remote.wasm"))
    );
    assert_eq!(r.rate_limit.unwrap().requests, 20);
    assert!(matches!(&r.credentials, Credentials::ApiToken(t) if t.expose() == "ra_test_x"));
    assert_eq!(c.store_path, dir.path().join("hrsync.db"));
    assert!(
        !format!("{c:?}").contains("ra_test_x"),
        "a secret leaked into Debug"
    );
}

#[test]
fn a_missing_environment_variable_is_named() {
    let e = Config::parse(Path::new("x.toml"), MINIMAL)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("connectors.remote.auth.token")
            && e.contains("HRSYNC_TEST_CONFIG_TOKEN is not set"),
        "{e}"
    );
}

#[test]
fn inline_secrets_are_refused_with_the_fix() {
    let text = MINIMAL.replace(
        r#"token = { env = "HRSYNC_TEST_CONFIG_TOKEN" }"#,
        r#"token = "ra_live_oops""#,
    );
    let e = Config::parse(Path::new("hrsync.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("use { env = "), "{e}");
    assert!(!e.contains("ra_live_oops"), "the secret was echoed: {e}");
}

#[test]
fn unknown_keys_and_bad_hosts_name_the_place() {
    let e = Config::parse(Path::new("x.toml"), &format!("{MINIMAL}\nbse_url = 1\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bse_url"), "{e}");
    let text = MINIMAL.replace(
        r#"allowed_hosts = ["https://gateway.remote.com"]"#,
        "allowed_hosts = []",
    );
    let e = Config::parse(Path::new("x.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("connectors.remote.allowed_hosts")
            && e.contains("add \"https://gateway.remote.com\""),
        "{e}"
    );
}

#[test]
fn a_missing_connector_lists_the_configured_ones() {
    let text = MINIMAL.replace(
        r#"auth = { kind = "api-token", token = { env = "HRSYNC_TEST_CONFIG_TOKEN" } }"#,
        "",
    );
    let c = Config::parse(Path::new("x.toml"), &text).unwrap();
    let e = c.connector("bamboo").unwrap_err().to_string();
    assert!(e.contains("configured: remote"), "{e}");
}

#[test]
fn the_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret").unwrap();
    let example = include_str!("../../../examples/hrsync.toml");
    // Secrets from a file instead of the environment (tests cannot set variables safely).
    let mut text = String::new();
    for line in example.lines() {
        let mut l = line.to_string();
        while let Some(start) = l.find("{ env = \"") {
            let end = l[start..].find('}').unwrap() + start + 1;
            l.replace_range(start..end, "{ file = \"secret\" }");
        }
        text.push_str(&l);
        text.push('\n');
    }
    let c = Config::parse(&dir.path().join("hrsync.toml"), &text).unwrap();
    assert_eq!(c.sync.anchor, "employeeNumber");
    assert_eq!(c.sync.groups.len(), 2);
    assert!(c.mapping.attributes.contains_key("sAMAccountName"));
    crate::mapping::Mapper::new(&c.mapping).unwrap();
    crate::sync::structure::Structure::new(&c.sync, &c.directory.as_ref().unwrap().users_ou)
        .unwrap();
}

/// A config with a directory (secrets from the file `pw` beside it); `directory` and `sync` are
/// appended to their tables.
fn with_directory(dir: &Path, directory: &str, sync: &str) -> Result<Config, ConfigError> {
    std::fs::write(dir.join("pw"), "x").unwrap();
    let text = format!(
        r#"
[directory]
url = "ldaps://dc1.corp.example:636"
bind_dn = "CN=svc,DC=corp,DC=example"
bind_password = {{ file = "pw" }}
base_dn = "DC=corp,DC=example"
{directory}

[sync]
{sync}
"#
    );
    Config::parse(&dir.join("hrsync.toml"), &text)
}

const OUS: &str = r#"users_ou = "OU=Staff,DC=corp,DC=example"
disabled_ou = "OU=Disabled,DC=corp,DC=example""#;

#[test]
fn a_relative_config_path_resolves_every_path_to_an_absolute_one() {
    let text = r#"
[runtime]
cache_dir = "cache"
[connectors.remote]
plugin = "remote.wasm"
base_url = "https://gateway.remote.com"
allowed_hosts = ["https://gateway.remote.com"]
"#;
    let c = Config::parse(Path::new("conf/hrsync.toml"), text).unwrap();
    let folder = std::env::current_dir().unwrap().join("conf");
    assert_eq!(c.cache_dir, folder.join("cache"));
    assert_eq!(c.store_path, folder.join("hrsync.db"));
    assert_eq!(
        c.connector("remote").unwrap().plugin,
        PluginSource::File(folder.join("remote.wasm"))
    );
    assert!(c.cache_dir.is_absolute() && c.store_path.is_absolute());
    assert_eq!(c.path, folder.join("hrsync.toml"));
}

#[test]
fn managed_ous_default_to_the_users_and_disabled_ous() {
    let dir = tempfile::tempdir().unwrap();
    let c = with_directory(dir.path(), OUS, "").unwrap();
    let d = c.directory.unwrap();
    assert_eq!(
        d.managed_ous,
        [
            "OU=Staff,DC=corp,DC=example",
            "OU=Disabled,DC=corp,DC=example"
        ]
    );
}

#[test]
fn managed_ous_must_lie_under_base_dn_and_hold_the_users_ou() {
    let dir = tempfile::tempdir().unwrap();
    let managed = |list: &str| format!("{OUS}\nmanaged_ous = [{list}]");
    let c = with_directory(
        dir.path(),
        &managed(r#""ou=people,dc=CORP,dc=example", "OU=Disabled,DC=corp,DC=example""#),
        "",
    );
    let e = c.unwrap_err().to_string();
    assert!(
        e.contains("`directory.managed_ous`")
            && e.contains("users_ou `OU=Staff,DC=corp,DC=example` is not inside a managed OU")
            && e.contains(r#"add "OU=Staff,DC=corp,DC=example" to managed_ous"#),
        "{e}"
    );
    let e = with_directory(
        dir.path(),
        &managed(r#""OU=Staff,DC=other,DC=example""#),
        "",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`directory.managed_ous`") && e.contains("OU=Staff,DC=other,DC=example"),
        "{e}"
    );
    let e = with_directory(dir.path(), &managed(r#""OU=Staff,,DC=corp""#), "")
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a distinguished name"), "{e}");
    let c = with_directory(dir.path(), &managed(r#""dc=Corp,dc=Example""#), "").unwrap();
    assert_eq!(c.directory.unwrap().managed_ous, ["dc=Corp,dc=Example"]);
}

#[test]
fn every_directory_dn_must_parse() {
    let dir = tempfile::tempdir().unwrap();
    let e = with_directory(dir.path(), "users_ou = \"Staff\"", "")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`directory.users_ou`") && e.contains("`Staff`"),
        "{e}"
    );
    let e = with_directory(
        dir.path(),
        &format!("{OUS}\nuniqueness_base_dn = \"DC=corp,=example\""),
        "",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`directory.uniqueness_base_dn`"), "{e}");
}

#[test]
fn an_initial_password_over_plain_ldap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ldap = |extra: &str, sync: &str| {
        std::fs::write(dir.path().join("pw"), "x").unwrap();
        let text = format!(
            "[directory]\nurl = \"ldap://dc1\"\nbind_dn = \"CN=svc,DC=x\"\nbind_password = {{ file = \"pw\" }}\nbase_dn = \"DC=x\"\nusers_ou = \"OU=Staff,DC=x\"\n{extra}\n[sync]\n{sync}\n"
        );
        Config::parse(&dir.path().join("hrsync.toml"), &text)
    };
    let e = ldap("", "").unwrap_err().to_string();
    assert!(
        e.contains("`sync.set_initial_password`")
            && e.contains("only over LDAPS or StartTLS")
            && e.contains("set_initial_password = false"),
        "{e}"
    );
    ldap("starttls = true", "").unwrap();
    ldap("", "set_initial_password = false").unwrap();
}

#[test]
fn the_events_share_is_a_fraction_below_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "ra_test_x\n").unwrap();
    let base = MINIMAL.replace(
        r#"{ env = "HRSYNC_TEST_CONFIG_TOKEN" }"#,
        r#"{ file = "token" }"#,
    );
    let path = dir.path().join("hrsync.toml");
    let c = Config::parse(&path, &base).unwrap();
    assert_eq!(c.serve.events_share, 0.25);
    let c = Config::parse(&path, &format!("{base}\n[serve]\nevents_share = 0.5\n")).unwrap();
    assert_eq!(c.serve.events_share, 0.5);
    for bad in ["1.0", "-0.1", "2"] {
        let e = Config::parse(&path, &format!("{base}\n[serve]\nevents_share = {bad}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("serve.events_share") && e.contains("from 0"),
            "{bad}: {e}"
        );
    }
}
