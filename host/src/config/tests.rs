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
    assert_eq!(r.plugin, dir.path().join("plugins/remote.wasm"));
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
