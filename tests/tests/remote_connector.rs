//! The Remote plugin with the host's HTTP, OAuth and rate governor, against the Remote API
//! simulator over real HTTP. Every connector here is configured the way an admin would: a TOML
//! file in a temporary folder, secrets in files beside it, loaded with `Config::load`.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hrsync::config::{Config, ConnectorSettings};
use hrsync::connector::{
    Connector, ConnectorError, EventKind, Rejected, WebhookRefusal as WebhookError,
};
use hrsync::mapping::{FieldValue, Lifecycle, Person};
use hrsync::runtime::{Runtime, RuntimeConfig};
use hrsync_tests::fixtures::{plugin_wasm, workspace_root};
use hrsync_tests::remote_sim::{Fault, RateLimit, SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};

/// A client secret the simulator does not know.
const WRONG_SECRET: &str = "wrong-secret-5b1f9c0e";

/// One runtime for every test (compiled components are cached on disk besides).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(&RuntimeConfig {
            cache_dir: Some(cache_dir()),
        })
        .unwrap()
    })
}

fn cache_dir() -> PathBuf {
    workspace_root().join("target/hrsync-test-cache")
}

/// How the connector authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Auth {
    #[default]
    ApiToken,
    ClientCredentials,
    /// Client credentials with a client secret the simulator refuses.
    BadClientSecret,
    RefreshToken,
}

/// What varies between the connector configurations of the tests.
#[derive(Debug, Clone, Default)]
struct Opts {
    auth: Auth,
    /// `rate_limit = "…"`.
    rate_limit: Option<&'static str>,
    /// `[connectors.remote.settings] page_size`.
    page_size: Option<u32>,
    /// The refresh token file (default `remote.refresh`).
    refresh_file: Option<&'static str>,
    /// `allowed_hosts` as TOML (default: the simulator's origin).
    allowed_hosts: Option<String>,
}

/// A simulator and a folder holding the config file and its secret files.
struct Harness {
    sim: Simulator,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn start(config: SimConfig) -> Harness {
        let sim = Simulator::start(config).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let c = sim.config();
        let write = |name: &str, value: &str| {
            std::fs::write(dir.path().join(name), format!("{value}\n")).unwrap();
        };
        write("remote.token", &c.api_token);
        write("client.secret", &c.client_secret);
        write("wrong.secret", WRONG_SECRET);
        write("webhook.secret", &c.webhook_signing_key);
        write("remote.refresh", &c.initial_refresh_token);
        Harness { sim, dir }
    }

    async fn with_people(people: usize) -> Harness {
        Harness::start(SimConfig {
            people,
            ..SimConfig::default()
        })
        .await
    }

    fn state(&self) -> SimHandle {
        self.sim.state()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap()
            .trim()
            .to_string()
    }

    /// The config file's text.
    fn config_text(&self, opts: &Opts) -> String {
        let base = self.sim.base_url();
        let token_url = self.sim.token_url();
        let client_id = self.sim.config().client_id;
        let auth = match opts.auth {
            Auth::ApiToken => {
                r#"auth = { kind = "api-token", token = { file = "remote.token" } }"#.to_string()
            }
            Auth::ClientCredentials | Auth::BadClientSecret => format!(
                r#"auth = {{ kind = "client-credentials", token_url = "{token_url}", client_id = "{client_id}", client_secret = {{ file = "{}" }} }}"#,
                if opts.auth == Auth::BadClientSecret {
                    "wrong.secret"
                } else {
                    "client.secret"
                }
            ),
            Auth::RefreshToken => format!(
                r#"auth = {{ kind = "refresh-token", token_url = "{token_url}", client_id = "{client_id}", client_secret = {{ file = "client.secret" }}, refresh_token_file = "{}" }}"#,
                opts.refresh_file.unwrap_or("remote.refresh")
            ),
        };
        let allowed = opts
            .allowed_hosts
            .clone()
            .unwrap_or_else(|| format!(r#"["{base}"]"#));
        let rate = opts
            .rate_limit
            .map(|r| format!("rate_limit = \"{r}\"\n"))
            .unwrap_or_default();
        let page_size = opts
            .page_size
            .map(|n| format!("page_size = {n}\n"))
            .unwrap_or_default();
        format!(
            r#"
[runtime]
cache_dir = "{cache}"

[connectors.remote]
plugin = "{plugin}"
base_url = "{base}"
allowed_hosts = {allowed}
timeout_secs = 10
webhook_secret = {{ file = "webhook.secret" }}
{auth}
{rate}
[connectors.remote.settings]
{page_size}"#,
            cache = cache_dir().display(),
            plugin = plugin_wasm("hrsync_plugin_remote.wasm").display(),
        )
    }

    /// Writes `hrsync.toml` and loads it as hrsync does at start.
    fn load(&self, opts: &Opts) -> Result<Config, hrsync::config::ConfigError> {
        let path = self.path("hrsync.toml");
        std::fs::write(&path, self.config_text(opts)).unwrap();
        Config::load(&path)
    }

    fn settings(&self, opts: &Opts) -> ConnectorSettings {
        self.load(opts)
            .unwrap()
            .connector("remote")
            .unwrap()
            .clone()
    }

    fn open(&self, opts: &Opts) -> Connector {
        Connector::open(&self.settings(opts), runtime()).unwrap()
    }

    /// Ids of the employments the API shows (not deleted).
    fn visible_ids(&self) -> BTreeSet<String> {
        self.state()
            .employments()
            .iter()
            .filter(|e| e["status"] != "deleted")
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// A visible employment matching `pred`.
    fn find(&self, pred: impl Fn(&Value) -> bool) -> Value {
        self.state()
            .employments()
            .into_iter()
            .find(|e| e["status"] != "deleted" && pred(e))
            .expect("the simulated workforce has such an employment")
    }
}

/// Every page of a listing.
struct Listing {
    people: Vec<Person>,
    rejected: Vec<Rejected>,
    pages: usize,
    total: Option<u32>,
}

impl Listing {
    fn ids(&self) -> Vec<String> {
        self.people.iter().map(|p| p.id.clone()).collect()
    }
}

async fn list_all(connector: &Connector) -> Listing {
    let mut out = Listing {
        people: Vec::new(),
        rejected: Vec::new(),
        pages: 0,
        total: None,
    };
    let mut cursor: Option<String> = None;
    loop {
        let page = connector.list(cursor.as_deref()).await.unwrap();
        out.pages += 1;
        assert!(out.pages <= 1000, "the listing does not end");
        out.people.extend(page.people);
        out.rejected.extend(page.rejected);
        out.total = page.total;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Checks that `listing` holds every visible employment exactly once.
fn assert_exactly_once(h: &Harness, listing: &Listing) {
    let expected = h.visible_ids();
    let ids = listing.ids();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a person came twice");
    assert!(
        listing.rejected.is_empty(),
        "rejected: {:?}",
        listing.rejected
    );
    assert_eq!(unique, expected);
    assert_eq!(listing.total, Some(expected.len() as u32));
}

fn person<'a>(people: &'a [Person], id: &str) -> &'a Person {
    people.iter().find(|p| p.id == id).unwrap()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A webhook delivery as the host's receiver hands it to the plugin (header names lower-case).
/// A webhook delivery's headers and body.
fn delivery(body: &[u8], signature: &str, timestamp_ms: i64) -> (Vec<(String, String)>, Vec<u8>) {
    (
        vec![
            ("content-type".into(), "application/json".into()),
            ("x-remote-signature".into(), signature.into()),
            ("x-remote-timestamp".into(), timestamp_ms.to_string()),
        ],
        body.to_vec(),
    )
}

fn event_body(h: &Harness, event_type: &str, employment_id: &str) -> Vec<u8> {
    json!({
        "event_type": event_type,
        "company_id": h.state().company_id(),
        "employment_id": employment_id,
    })
    .to_string()
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Listing and details
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_a_multi_page_list_comes_through_exactly_once() {
    let h = Harness::with_people(250).await;
    let visible = h.visible_ids().len();
    assert!(
        (201..=250).contains(&visible),
        "{visible} visible: not 3 pages"
    );
    let c = h.open(&Opts::default());
    let listing = list_all(&c).await;
    assert_eq!(listing.pages, 3);
    assert_exactly_once(&h, &listing);
    assert!(listing.people.iter().all(|p| !p.complete));
    let stats = h.state().stats();
    assert_eq!(stats.route_count("GET /v1/employments"), 3);
    assert_eq!(stats.api_requests, 3);
    assert_eq!(stats.unauthorized, 0);
    assert_eq!(c.stats().sent.load(std::sync::atomic::Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_returns_the_manager_and_start_date_the_list_lacks() {
    let h = Harness::with_people(60).await;
    let e = h.find(|e| {
        e["status"] == "active"
            && e["manager_employment_id"].is_string()
            && e["provisional_start_date"].is_string()
    });
    let id = e["id"].as_str().unwrap();
    let manager = e["manager_employment_id"].as_str().unwrap();
    let start = &e["provisional_start_date"].as_str().unwrap()[..10];
    let c = h.open(&Opts::default());

    let listing = list_all(&c).await;
    let listed = person(&listing.people, id);
    assert!(!listed.complete);
    assert!(
        matches!(
            listed.field("manager_employment_id"),
            None | Some(FieldValue::Null)
        ),
        "{:?}",
        listed.field("manager_employment_id")
    );
    assert!(matches!(
        listed.field("start_date"),
        None | Some(FieldValue::Null)
    ));

    let detailed = c.get(id).await.unwrap().unwrap();
    assert_eq!(detailed.id, id);
    assert!(detailed.complete);
    assert_eq!(detailed.status, Lifecycle::Active);
    assert_eq!(detailed.text("manager_employment_id"), Some(manager));
    assert_eq!(
        detailed.field("start_date"),
        Some(FieldValue::Date(start.to_string()))
    );
    assert_eq!(
        detailed.text("manager_email"),
        e["manager_email"].as_str(),
        "the detail carries the manager's email"
    );
    assert_eq!(detailed.text("full_name"), listed.text("full_name"));
    assert_eq!(
        h.state()
            .stats()
            .path_count(&format!("/v1/employments/{id}")),
        1
    );

    // An id Remote does not know is Remote's 404, not a panic or a person.
    match c.get("00000000-0000-0000-0000-000000000000").await {
        Err(ConnectorError::Failed { message, auth, .. }) => {
            assert!(message.contains("404"), "{message}");
            assert!(!auth);
        }
        other => panic!("expected a 404 failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_remote_status_is_unknown_never_terminated() {
    let h = Harness::with_people(30).await;
    let id = h.find(|e| e["status"] == "active")["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.state()
        .update_employment(&id, json!({ "status": "teleported" }));
    let c = h.open(&Opts::default());
    let listing = list_all(&c).await;
    let listed = person(&listing.people, &id);
    assert_eq!(listed.status, Lifecycle::Unknown);
    assert_eq!(listed.source_status, "teleported");
    let detailed = c.get(&id).await.unwrap().unwrap();
    assert_eq!(detailed.status, Lifecycle::Unknown);
    assert_eq!(detailed.source_status, "teleported");
    // The others keep their mapped statuses.
    assert!(
        listing
            .people
            .iter()
            .filter(|p| p.id != id)
            .all(|p| p.status != Lifecycle::Unknown)
    );
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_token_kind_works_without_the_token_endpoint() {
    let h = Harness::with_people(250).await;
    let settings = h.settings(&Opts::default());
    assert!(matches!(
        &settings.credentials,
        hrsync::auth::Credentials::ApiToken(t) if t.expose() == h.sim.config().api_token
    ));
    let c = Connector::open(&settings, runtime()).unwrap();
    let listing = list_all(&c).await;
    assert_exactly_once(&h, &listing);
    let stats = h.state().stats();
    assert_eq!(stats.token_requests, 0);
    assert_eq!(stats.unauthorized, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_credentials_token_expiring_mid_run_is_renewed() {
    let h = Harness::with_people(250).await;
    let c = h.open(&Opts {
        auth: Auth::ClientCredentials,
        ..Opts::default()
    });
    let first = c.list(None).await.unwrap();
    assert_eq!(h.state().stats().token_requests, 1);
    h.state().expire_tokens();
    let second = c.list(first.next_cursor.as_deref()).await.unwrap();
    let third = c.list(second.next_cursor.as_deref()).await.unwrap();
    assert_eq!(third.next_cursor, None);

    let listing = Listing {
        people: [first.people, second.people, third.people].concat(),
        rejected: [first.rejected, second.rejected, third.rejected].concat(),
        pages: 3,
        total: third.total,
    };
    assert_exactly_once(&h, &listing);
    let stats = h.state().stats();
    assert!(stats.token_requests >= 2, "{stats:?}");
    assert_eq!(stats.token_requests, 2);
    // One 401 for the revoked token, answered by one renewal and one retry.
    assert_eq!(stats.unauthorized, 1);
    assert_eq!(stats.api_requests, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_lived_token_is_renewed_before_it_expires() {
    // expires_in = 2 s: the host renews after half of it, before Remote would refuse it.
    let h = Harness::start(SimConfig {
        people: 250,
        token_ttl: Duration::from_secs(2),
        ..SimConfig::default()
    })
    .await;
    let c = h.open(&Opts {
        auth: Auth::ClientCredentials,
        ..Opts::default()
    });
    let first = c.list(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let second = c.list(first.next_cursor.as_deref()).await.unwrap();
    assert!(!second.people.is_empty());
    let stats = h.state().stats();
    assert_eq!(stats.token_requests, 2);
    assert_eq!(stats.unauthorized, 0, "renewed early, never refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_saved_and_survives_a_restart() {
    let h = Harness::with_people(30).await;
    let opts = Opts {
        auth: Auth::RefreshToken,
        ..Opts::default()
    };
    let initial = h.sim.config().initial_refresh_token;
    assert_eq!(h.read("remote.refresh"), initial);

    let first_rotation = {
        let c = h.open(&opts);
        let page = c.list(None).await.unwrap();
        assert!(!page.people.is_empty());
        let saved = h.read("remote.refresh");
        assert_ne!(saved, initial, "the rotated token was not saved");
        assert_eq!(saved, h.state().current_refresh_token());
        // The access token is cached: a second call does not spend the refresh token again.
        c.get(&page.people[0].id).await.unwrap().unwrap();
        assert_eq!(h.state().stats().token_requests, 1);
        saved
        // The connector is dropped here: hrsync stops.
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(h.path("remote.refresh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the refresh token file is private");
    }

    // A restart: the config is read again and a new connector opened.
    let c = h.open(&opts);
    let listing = list_all(&c).await;
    assert_exactly_once(&h, &listing);
    let saved = h.read("remote.refresh");
    assert_ne!(saved, first_rotation);
    assert_eq!(saved, h.state().current_refresh_token());
    assert_eq!(h.state().stats().token_requests, 2);

    // Spent tokens are refused by Remote…
    let client = reqwest::Client::new();
    let cfg = h.sim.config();
    for old in [&initial, &first_rotation] {
        let response = client
            .post(h.sim.token_url())
            .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", old)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
    // …and a connector still holding one gets an auth failure naming the grant, not a panic.
    std::fs::write(h.path("old.refresh"), &first_rotation).unwrap();
    let stale = h.open(&Opts {
        auth: Auth::RefreshToken,
        refresh_file: Some("old.refresh"),
        ..Opts::default()
    });
    match stale.list(None).await {
        Err(ConnectorError::Failed { message, auth, .. }) => {
            assert!(auth, "{message}");
            assert!(
                message.contains("refresh_token") && message.contains("invalid_grant"),
                "{message}"
            );
            assert!(!message.contains(&first_rotation), "{message}");
        }
        other => panic!("expected an auth failure, got {other:?}"),
    }
    // The refused attempt did not rotate anything.
    assert_eq!(h.state().current_refresh_token(), saved);
    assert_eq!(h.read("remote.refresh"), saved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_one_sentence_naming_the_token_endpoint() {
    let h = Harness::with_people(30).await;
    let c = h.open(&Opts {
        auth: Auth::BadClientSecret,
        ..Opts::default()
    });
    let err = c.list(None).await.unwrap_err();
    let text = err.to_string();
    match &err {
        ConnectorError::Failed {
            call,
            auth,
            retry_after_ms,
            ..
        } => {
            assert_eq!(*call, "list-people");
            assert!(*auth, "an auth failure stops the run: {text}");
            assert_eq!(*retry_after_ms, None);
        }
        other => panic!("expected a connector failure, got {other:?}"),
    }
    assert!(text.contains(&h.sim.token_url()), "{text}");
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(!text.contains(WRONG_SECRET), "the secret leaked: {text}");
    assert!(!text.contains(&h.sim.config().client_secret), "{text}");
    assert!(
        !text.contains('\n') && !text.contains(". "),
        "not one sentence: {text}"
    );
    let stats = h.state().stats();
    assert_eq!(
        stats.token_requests, 1,
        "refused credentials are not retried"
    );
    assert_eq!(stats.api_requests, 0, "no API request without a token");
}

// ---------------------------------------------------------------------------------------------
// Faults and the rate limit
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_server_errors_and_dropped_connections_are_ridden_out() {
    let h = Harness::with_people(250).await;
    let c = h.open(&Opts::default());
    let sim = h.state();

    sim.inject(Fault::TooManyRequests, 3);
    let first = c.list(None).await.unwrap();
    assert_eq!(sim.pending_faults(), (0, 0));
    sim.inject(Fault::ServerError(503), 2);
    let second = c.list(first.next_cursor.as_deref()).await.unwrap();
    assert_eq!(sim.pending_faults(), (0, 0));
    sim.inject(Fault::DropConnection, 1);
    let third = c.list(second.next_cursor.as_deref()).await.unwrap();
    assert_eq!(sim.pending_faults(), (0, 0));
    assert_eq!(third.next_cursor, None);

    let listing = Listing {
        people: [first.people, second.people, third.people].concat(),
        rejected: [first.rejected, second.rejected, third.rejected].concat(),
        pages: 3,
        total: third.total,
    };
    assert_exactly_once(&h, &listing);
    let stats = sim.stats();
    assert_eq!(stats.faults_served, 6);
    assert_eq!(stats.too_many_requests, 3);
    assert_eq!(stats.api_requests, 9, "3 pages + 6 retries");
    let host = c.stats();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&host.throttled), 3);
    assert_eq!(load(&host.retries), 6);
    assert_eq!(load(&host.sent), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_never_exceeded() {
    let h = Harness::start(SimConfig {
        people: 320,
        rate_limit: Some(RateLimit {
            requests: 10,
            window: Duration::from_secs(1),
        }),
        ..SimConfig::default()
    })
    .await;
    let visible = h.visible_ids().len();
    let opts = Opts {
        auth: Auth::ClientCredentials,
        rate_limit: Some("10/1s"),
        page_size: Some(10),
        ..Opts::default()
    };
    assert_eq!(
        h.settings(&opts).rate_limit,
        Some(hrsync::http::Budget {
            requests: 10,
            window: Duration::from_secs(1)
        })
    );
    let c = h.open(&opts);
    let started = Instant::now();
    let listing = list_all(&c).await;
    let elapsed = started.elapsed();
    let pages = visible.div_ceil(10);
    assert!(pages >= 30, "{pages} pages");
    assert_eq!(listing.pages, pages);
    assert_exactly_once(&h, &listing);

    let stats = h.state().stats();
    assert!(
        stats.max_requests_in_window <= 10,
        "{} requests in one window",
        stats.max_requests_in_window
    );
    assert_eq!(stats.too_many_requests, 0, "{stats:?}");
    assert_eq!(stats.total_requests, pages as u64 + 1, "pages + one token");
    // 31+ requests at 10 a second cannot take less than 3 windows.
    let windows = (pages as u64 + 1).div_ceil(10) - 1;
    assert!(
        elapsed >= Duration::from_secs(windows) - Duration::from_millis(50),
        "{elapsed:?} for {pages} pages: the governor did not pace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_budget_paces_requests_without_the_servers_help() {
    // The simulator sends no rate-limit headers here: only the connector's budget paces.
    let h = Harness::with_people(320).await;
    let c = h.open(&Opts {
        auth: Auth::ClientCredentials,
        rate_limit: Some("10/1s"),
        page_size: Some(10),
        ..Opts::default()
    });
    let started = Instant::now();
    let listing = list_all(&c).await;
    let elapsed = started.elapsed();
    assert_exactly_once(&h, &listing);
    let requests = h.state().stats().total_requests;
    assert_eq!(requests, listing.pages as u64 + 1);
    assert!(requests > 30);
    let windows = requests.div_ceil(10) - 1;
    assert!(
        elapsed >= Duration::from_secs(windows) - Duration::from_millis(50),
        "{requests} requests in {elapsed:?} with a budget of 10/1s"
    );
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correctly_signed_webhook_is_one_event() {
    let h = Harness::with_people(20).await;
    let id = h.find(|e| e["status"] == "active")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = h.open(&Opts::default());
    let body = event_body(&h, "employment.details.updated", &id);
    let ts = now_ms();
    let signature = h.state().sign(&body, ts);
    let events = c
        .parse_webhook_delivery(delivery(&body, &signature, ts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.person_id.as_deref(), Some(id.as_str()));
    assert_eq!(e.kind, EventKind::Updated);
    assert_eq!(e.source_type, "employment.details.updated");
    assert!(e.dedupe_key.contains(&id), "{}", e.dedupe_key);

    // The same delivery again has the same de-duplication key.
    let again = c
        .parse_webhook_delivery(delivery(&body, &signature, ts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again[0].dedupe_key, e.dedupe_key);
    // Reading a webhook sends no request.
    assert_eq!(h.state().stats().total_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_with_a_bad_signature_is_refused() {
    let h = Harness::with_people(20).await;
    let id = h.find(|e| e["status"] == "active")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = h.open(&Opts::default());
    let body = event_body(&h, "offboarding.submitted", &id);
    let ts = now_ms();

    // Signed with another key.
    let forged = hrsync_tests::remote_sim::sign("not-the-signing-key", &body, ts);
    let r = c
        .parse_webhook_delivery(delivery(&body, &forged, ts))
        .await
        .unwrap();
    assert!(matches!(r, Err(WebhookError::BadSignature(_))), "{r:?}");

    // Correctly signed, then the body changed.
    let signature = h.state().sign(&body, ts);
    let tampered = event_body(&h, "offboarding.submitted", "someone-else");
    let r = c
        .parse_webhook_delivery(delivery(&tampered, &signature, ts))
        .await
        .unwrap();
    assert!(matches!(r, Err(WebhookError::BadSignature(_))), "{r:?}");

    // Correctly signed, then the timestamp changed.
    let r = c
        .parse_webhook_delivery(delivery(&body, &signature, ts + 1))
        .await
        .unwrap();
    assert!(matches!(r, Err(WebhookError::BadSignature(_))), "{r:?}");

    // The genuine one still passes (the checks above are not refusing everything).
    let r = c
        .parse_webhook_delivery(delivery(&body, &signature, ts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r[0].kind, EventKind::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_webhook_is_refused_even_when_signed() {
    let h = Harness::with_people(20).await;
    let id = h.find(|e| e["status"] == "active")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = h.open(&Opts::default());
    let body = event_body(&h, "employment.details.updated", &id);
    let ts = now_ms() - 10 * 60 * 1000;
    let signature = h.state().sign(&body, ts);
    let r = c
        .parse_webhook_delivery(delivery(&body, &signature, ts))
        .await
        .unwrap();
    match r {
        Err(WebhookError::Stale(m)) => assert!(m.contains("300"), "{m}"),
        other => panic!("expected Stale, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_employment_changes_the_work_email_in_remote() {
    let h = Harness::with_people(40).await;
    let e = h.find(|e| e["status"] == "active");
    let id = e["id"].as_str().unwrap().to_string();
    let new_email = "teleport.test@corp.example";
    assert_ne!(e["work_email"], new_email);
    let c = h.open(&Opts {
        auth: Auth::ClientCredentials,
        ..Opts::default()
    });
    let field = |name: &str, value: &str| (name.to_string(), FieldValue::Text(value.into()));
    let out = c
        .invoke(
            "update-employment",
            &[field("employment_id", &id), field("work_email", new_email)],
        )
        .await
        .unwrap();
    assert!(
        out.summary.contains("work_email") && out.summary.contains(&id),
        "{}",
        out.summary
    );
    let answer: Value = serde_json::from_str(&out.data).unwrap();
    assert_eq!(answer["data"]["employment"]["work_email"], new_email);
    assert_eq!(h.state().employment(&id).unwrap()["work_email"], new_email);
    assert_eq!(
        h.state().stats().route_count("PATCH /v1/employments/{id}"),
        1
    );
    // The connector now reads the new address back.
    let p = c.get(&id).await.unwrap().unwrap();
    assert_eq!(p.text("work_email"), Some(new_email));

    // Remote refuses a work email change on an archived employment; the message says why.
    let archived = h.find(|e| e["status"] == "archived");
    let archived_id = archived["id"].as_str().unwrap();
    match c
        .invoke(
            "update-employment",
            &[
                field("employment_id", archived_id),
                field("work_email", "nobody@corp.example"),
            ],
        )
        .await
    {
        Err(ConnectorError::Failed { message, .. }) => {
            assert!(
                message.contains("422") && message.contains("cannot be changed"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        h.state().employment(archived_id).unwrap()["work_email"],
        archived["work_email"]
    );
}

// ---------------------------------------------------------------------------------------------
// Egress
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_outside_allowed_hosts_is_refused_by_the_config() {
    let h = Harness::with_people(5).await;
    let err = h
        .load(&Opts {
            allowed_hosts: Some(r#"["https://gateway.remote.com"]"#.into()),
            ..Opts::default()
        })
        .unwrap_err()
        .to_string();
    let origin = h.sim.base_url();
    assert!(err.contains("connectors.remote.allowed_hosts"), "{err}");
    assert!(
        err.contains(&format!("add \"{origin}\" to allowed_hosts")),
        "{err}"
    );
    assert!(
        err.contains("hrsync.toml"),
        "the message names the file: {err}"
    );
    // The same origin with another port is not the same host either.
    let other_port = format!(
        r#"["http://127.0.0.1:{}"]"#,
        h.sim.addr().port().wrapping_add(1)
    );
    assert!(
        h.load(&Opts {
            allowed_hosts: Some(other_port),
            ..Opts::default()
        })
        .is_err()
    );
    // And with the line added, it loads.
    assert!(h.load(&Opts::default()).is_ok());
}

/// `Connector::parse_webhook` for a [`delivery`].
trait ParseDelivery {
    async fn parse_webhook_delivery(
        &self,
        delivery: (Vec<(String, String)>, Vec<u8>),
    ) -> Result<Result<Vec<hrsync::connector::HrEvent>, WebhookError>, ConnectorError>;
}

impl ParseDelivery for Connector {
    async fn parse_webhook_delivery(
        &self,
        (headers, body): (Vec<(String, String)>, Vec<u8>),
    ) -> Result<Result<Vec<hrsync::connector::HrEvent>, WebhookError>, ConnectorError> {
        self.parse_webhook(headers, body).await
    }
}
