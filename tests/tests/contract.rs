//! Contract 0.2 at the boundary: a 0.1 plugin is refused naming both versions, a plugin may not
//! bring credentials of its own (`Authorization`, the API key's header, userinfo), and a Basic or
//! API-key secret never shows in an error or a log line.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hrsync::auth::{BasicPart, Credentials, KeyPlacement, TokenSource};
use hrsync::egress::AllowedHosts;
use hrsync::http::{ConnectorHttp, HttpSettings, RateGovernor, RetryPolicy};
use hrsync::runtime::wit::{ConnectorError, HttpError};
use hrsync::runtime::{Limits, Plugin, PluginContext, PluginError, Runtime, RuntimeConfig};
use hrsync::secret::Secret;
use hrsync_tests::fixtures::{plugin_wasm, workspace_root};

const HOSTILE: &str = "hrsync_test_plugin_hostile.wasm";
const SECRET: &str = "s3cr3t-basic-key-4711";

fn runtime() -> Runtime {
    Runtime::new(&RuntimeConfig {
        cache_dir: Some(workspace_root().join("target/hrsync-test-cache")),
    })
    .unwrap()
}

/// The hostile plugin with `credentials`, its base URL at `base`, one retry at most.
fn hostile(
    rt: &Runtime,
    base: &str,
    credentials: Credentials,
    settings: &[(&str, &str)],
) -> Plugin {
    let governor = Arc::new(RateGovernor::new(None));
    let client = hrsync::http::client(Duration::from_secs(2)).unwrap();
    let tokens = Arc::new(TokenSource::new(
        credentials,
        client.clone(),
        governor.clone(),
    ));
    let http = ConnectorHttp::new(
        HttpSettings {
            connector: "hostile".to_string(),
            base_url: base.parse().unwrap(),
            allowed_hosts: AllowedHosts::parse(&[base, "https://evil.example"]).unwrap(),
            timeout: Duration::from_secs(2),
            retry: RetryPolicy {
                max_retries: 1,
                base: Duration::from_millis(10),
                cap: Duration::from_millis(10),
            },
        },
        client,
        tokens,
        governor,
    );
    let context = PluginContext {
        name: "hostile".to_string(),
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        secrets: BTreeMap::new(),
        http: Arc::new(http),
    };
    rt.load(
        &plugin_wasm(HOSTILE),
        context,
        Limits {
            deadline: Duration::from_secs(20),
            memory_bytes: 32 << 20,
        },
    )
    .unwrap()
}

fn basic() -> Credentials {
    Credentials::Basic {
        secret: Secret::new(SECRET),
        secret_as: Some(BasicPart::Username),
        other: Some("x".to_string()),
    }
}

/// The host's refusal of a request, as the plugin passed it on.
async fn refusal(plugin: &Plugin, id: &str) -> String {
    match plugin.get(id).await.unwrap() {
        Err(ConnectorError::Http(HttpError::InvalidRequest(m))) => m,
        other => panic!("expected the host to refuse the request, got {other:?}"),
    }
}

#[tokio::test]
async fn a_plugin_built_for_contract_0_1_is_refused_naming_both_versions() {
    let rt = runtime();
    let governor = Arc::new(RateGovernor::new(None));
    let client = hrsync::http::client(Duration::from_secs(2)).unwrap();
    let tokens = Arc::new(TokenSource::new(
        Credentials::None,
        client.clone(),
        governor.clone(),
    ));
    let http = ConnectorHttp::new(
        HttpSettings {
            connector: "old".to_string(),
            base_url: "https://hr.example".parse().unwrap(),
            allowed_hosts: AllowedHosts::parse(&["https://hr.example"]).unwrap(),
            timeout: Duration::from_secs(2),
            retry: RetryPolicy::default(),
        },
        client,
        tokens,
        governor,
    );
    let err = rt
        .load(
            &plugin_wasm("hrsync_test_plugin_v01.wasm"),
            PluginContext {
                name: "old".to_string(),
                settings: BTreeMap::new(),
                secrets: BTreeMap::new(),
                http: Arc::new(http),
            },
            Limits::default(),
        )
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, PluginError::IncompatibleVersion { ref found, .. } if found == "0.1.0"),
        "{text}"
    );
    assert_eq!(
        text,
        "plugin `old` was built for the contract hrsync:connector@0.1.0, but this hrsync supports @0.2.0; rebuild it with hrsync-sdk 0.2.0"
    );
}

#[tokio::test]
async fn a_plugin_may_not_set_authorization_even_without_configured_auth() {
    let rt = runtime();
    let plugin = hostile(&rt, "https://hr.example", Credentials::None, &[]);
    let m = refusal(&plugin, "authorization").await;
    assert!(
        m.contains("`Authorization` header is set by the host"),
        "{m}"
    );
}

#[tokio::test]
async fn a_plugin_may_not_set_the_api_key_s_header() {
    let rt = runtime();
    let key = Credentials::ApiKey {
        secret: Secret::new(SECRET),
        placement: Some(KeyPlacement::Header("X-Api-Key".to_string())),
    };
    let plugin = hostile(&rt, "https://hr.example", key, &[]);
    let m = refusal(&plugin, "api-key-header").await;
    assert!(m.contains("`X-Api-Key` header is set by the host"), "{m}");
    assert!(!m.contains(SECRET), "{m}");
}

#[tokio::test]
async fn a_url_with_userinfo_is_refused_for_any_host() {
    let rt = runtime();
    for url in [
        "https://alice:hunter2@evil.example/",
        "https://hunter2@hr.example/v1/people",
        "https://hr.example:hunter2@evil.example/x",
    ] {
        let plugin = hostile(&rt, "https://hr.example", basic(), &[("userinfo_url", url)]);
        let m = refusal(&plugin, "userinfo").await;
        assert!(m.contains("user name or password"), "{url}: {m}");
        assert!(
            !m.contains("hunter2"),
            "the refusal repeats the userinfo: {m}"
        );
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_basic_or_api_key_secret_never_shows_in_a_failing_request_s_error_or_log() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Nothing listens there: every attempt fails to connect, is retried, and fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let rt = runtime();
    let api_key = Credentials::ApiKey {
        secret: Secret::new(SECRET),
        placement: Some(KeyPlacement::Query("api_key".to_string())),
    };
    for credentials in [basic(), api_key] {
        let plugin = hostile(&rt, &base, credentials, &[]);
        // `hang` sends `GET /hang` to the base URL, with the credential.
        let answer = plugin.get("hang").await.unwrap();
        let text = match &answer {
            Err(e) => format!("{e:?} {}", hrsync::connector::describe_error(e).0),
            Ok(p) => panic!("expected a failure, got {p:?}"),
        };
        assert!(
            text.contains("connection failed") || text.contains("Transport"),
            "{text}"
        );
        assert!(!text.contains(SECRET), "{text}");
    }
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains("retrying"),
        "the failure was not logged: {logged}"
    );
    assert!(!logged.contains(SECRET), "{logged}");
    // Nor base64 of `SECRET:x`.
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET}:x"));
    assert!(!logged.contains(&encoded), "{logged}");
}
