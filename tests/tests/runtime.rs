//! The plugin runtime contains hostile plugins and keeps serving well-behaved ones.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use hrsync::auth::{Credentials, TokenSource};
use hrsync::egress::AllowedHosts;
use hrsync::http::{ConnectorHttp, HttpSettings, RateGovernor, RetryPolicy};
use hrsync::runtime::wit::{ConnectorError, FieldValue, HttpError};
use hrsync::runtime::{Caps, Limits, Plugin, PluginContext, PluginError, Runtime, RuntimeConfig};
use hrsync::secret::Secret;
use hrsync_tests::fixtures::{plugin_wasm, workspace_root};

const HOSTILE: &str = "hrsync_test_plugin_hostile.wasm";

/// A runtime with the tests' shared compilation cache (keyed by content): each plugin is
/// compiled once, not once per test.
fn runtime() -> Runtime {
    Runtime::new(&RuntimeConfig {
        cache_dir: Some(workspace_root().join("target/hrsync-test-cache")),
    })
    .unwrap()
}

/// A runtime with a cache of its own, to look into.
fn runtime_with_own_cache() -> (Runtime, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(&RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
    })
    .unwrap();
    (rt, cache)
}

fn context(name: &str, base_url: &str, allowed: &[&str]) -> PluginContext {
    let governor = Arc::new(RateGovernor::new(None));
    let client = hrsync::http::client(Duration::from_secs(5)).unwrap();
    let tokens = Arc::new(TokenSource::new(
        Credentials::None,
        client.clone(),
        governor.clone(),
    ));
    let http = ConnectorHttp::new(
        HttpSettings {
            connector: name.to_string(),
            base_url: base_url.parse().unwrap(),
            allowed_hosts: AllowedHosts::parse(allowed).unwrap(),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        },
        client,
        tokens,
        governor,
    );
    PluginContext {
        name: name.to_string(),
        settings: BTreeMap::new(),
        secrets: BTreeMap::from([("webhook_secret".to_string(), Secret::new("k"))]),
        http: Arc::new(http),
    }
}

fn hostile(rt: &Runtime, deadline: Duration) -> Plugin {
    hostile_at(rt, deadline, "https://hr.example")
}

/// The hostile plugin with its base URL at `base` (a [`slow_server`]).
fn hostile_at(rt: &Runtime, deadline: Duration, base: &str) -> Plugin {
    let limits = Limits {
        deadline,
        memory_bytes: 32 << 20,
    };
    rt.load(
        &plugin_wasm(HOSTILE),
        context("hostile", base, &[base]),
        limits,
    )
    .unwrap()
}

/// A local HTTP server, one request per connection: `/slow` answers after 300 ms, `/hang`
/// never answers, `/endless` streams a chunked body without `Content-Length` that never ends,
/// and `/v1/people[/p-2]` is the made-up API of the scaffolded plugin. Returns its base URL.
async fn slow_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let path = target.split('?').next().unwrap_or("/").to_string();
                let json = |body: String| {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                match path.as_str() {
                    // The made-up API of the scaffolded plugin (`hrsync connector new`).
                    "/v1/people" => {
                        let body = r#"{"total_pages": 1, "total": 2, "people": [
                            {"id": 1, "status": "active", "first_name": "Ada", "start_date": "2026-03-01T00:00:00+01:00"},
                            {"id": "p-2", "status": "onboarding", "first_name": "Alan"}]}"#;
                        let _ = socket.write_all(json(body.to_string()).as_bytes()).await;
                    }
                    "/v1/people/p-2" => {
                        let body =
                            r#"{"id": "p-2", "status": "onboarding", "email": "alan@example.com"}"#;
                        let _ = socket.write_all(json(body.to_string()).as_bytes()).await;
                    }
                    "/slow" => {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                            .await;
                    }
                    "/hang" => tokio::time::sleep(Duration::from_secs(3600)).await,
                    "/endless" => {
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
                            .await;
                        let chunk = [b'e'; 1 << 16];
                        loop {
                            let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                            frame.extend_from_slice(&chunk);
                            frame.extend_from_slice(b"\r\n");
                            if socket.write_all(&frame).await.is_err() {
                                return;
                            }
                        }
                    }
                    _ => {
                        let _ = socket
                            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    base
}

/// Records what the host logs while it is the thread's default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// `wat/limits.wat` with `extra` declarations, wrapped into a component for the contract.
fn limits_component(extra: &str) -> Vec<u8> {
    limits_component_with_adapters(extra, 0)
}

/// As [`limits_component`], with `adapters` adapter modules (one core instance each) whose
/// functions the main module imports: a component that multiplies instances.
fn limits_component_with_adapters(extra: &str, adapters: usize) -> Vec<u8> {
    let dir = workspace_root().join("tests/plugins/hostile/wat");
    let imports: String = (0..adapters)
        .map(|i| format!("(import \"adapter{i}\" \"f\" (func))\n"))
        .collect();
    let wat = std::fs::read_to_string(dir.join("limits.wat"))
        .unwrap()
        .replace(";; EXTRA", extra)
        .replace(";; IMPORTS", &imports);
    let mut module = wat::parse_str(&wat).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(workspace_root().join("wit/v0.2")).unwrap();
    let world = resolve.select_world(&[package], Some("plugin")).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .unwrap();
    let mut encoder = wit_component::ComponentEncoder::default();
    encoder.module(&module).unwrap().validate(true);
    if adapters > 0 {
        let empty = resolve
            .push_str("empty.wit", "package hrsync:empty;\nworld empty {}\n")
            .unwrap();
        let empty = resolve.select_world(&[empty], Some("empty")).unwrap();
        for i in 0..adapters {
            let mut adapter = wat::parse_str("(module (func (export \"f\")))").unwrap();
            wit_component::embed_component_metadata(
                &mut adapter,
                &resolve,
                empty,
                wit_component::StringEncoding::UTF8,
                false,
            )
            .unwrap();
            encoder.adapter(&format!("adapter{i}"), &adapter).unwrap();
        }
    }
    encoder.encode().unwrap()
}

fn load_limits(rt: &Runtime, extra: &str) -> Plugin {
    rt.load_bytes(
        &limits_component(extra),
        context("limits", "https://hr.example", &[]),
        Limits {
            deadline: Duration::from_secs(20),
            memory_bytes: 32 << 20,
        },
    )
    .unwrap()
}

fn outcome(p: &hrsync::runtime::wit::Person) -> String {
    match &p.fields.iter().find(|f| f.name == "outcome").unwrap().value {
        FieldValue::Text(t) => t.clone(),
        other => panic!("unexpected outcome {other:?}"),
    }
}

async fn assert_still_serving(plugin: &Plugin) {
    let p = plugin.get("good").await.unwrap().unwrap();
    assert_eq!(outcome(&p), "behaved");
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_deadline() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_millis(500));
    match plugin.get("loop").await {
        Err(PluginError::Deadline {
            plugin,
            call,
            limit,
        }) => {
            assert_eq!(plugin, "hostile");
            assert_eq!(call, "get-person");
            assert_eq!(limit, Duration::from_millis(500));
        }
        other => panic!("expected a deadline error, got {other:?}"),
    }
    assert_still_serving(&plugin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_does_not_block_other_calls() {
    let rt = runtime();
    let plugin = Arc::new(hostile(&rt, Duration::from_secs(20)));
    let spinning = {
        let plugin = plugin.clone();
        tokio::spawn(async move { plugin.get("loop").await })
    };
    // The spinning call yields to tokio every tick, so this one completes while it still runs.
    assert_still_serving(&plugin).await;
    assert!(!spinning.is_finished(), "the loop should still be running");
    spinning.abort();
}

#[tokio::test]
async fn a_memory_bomb_is_trapped_with_a_clear_error() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_secs(20));
    match plugin.get("bomb").await {
        Err(e @ PluginError::Memory { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("hostile") && text.contains("32 MiB"),
                "{text}"
            );
        }
        other => panic!("expected a memory error, got {other:?}"),
    }
    assert_still_serving(&plugin).await;
}

#[tokio::test]
async fn a_growing_table_counts_against_the_memory_limit() {
    let rt = runtime();
    let plugin = load_limits(&rt, "");
    match plugin.get("table").await {
        Err(
            e @ PluginError::Memory {
                what: "a table", ..
            },
        ) => {
            let text = e.to_string();
            assert!(text.contains("limits") && text.contains("32 MiB"), "{text}");
        }
        other => panic!("expected a memory error from the table, got {other:?}"),
    }
}

#[tokio::test]
async fn several_memories_share_one_memory_limit() {
    let rt = runtime();
    // 20 MiB in each of two memories: each is under the 32 MiB cap, together they are not.
    let plugin = load_limits(&rt, "");
    match plugin.get("memories").await {
        Err(PluginError::Memory {
            what: "linear memory",
            limit_mib: 32,
            ..
        }) => {}
        other => panic!("expected a memory error, got {other:?}"),
    }
}

#[tokio::test]
async fn more_memories_or_tables_than_the_sandbox_allows_are_refused() {
    let rt = runtime();
    for (extra, what) in [
        ("(memory 0)", "memory count"),
        (
            "(table 0 funcref) (table 0 funcref) (table 0 funcref) (table 0 funcref) (table 0 funcref) (table 0 funcref) (table 0 funcref) (table 0 funcref)",
            "table count",
        ),
    ] {
        let plugin = load_limits(&rt, extra);
        match plugin.get("t").await {
            Err(e @ PluginError::Resources { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains(what)
                        && text.contains("at most 8 core instances, 8 tables and 2 memories"),
                    "{text}"
                );
            }
            other => panic!("expected a resource error for {what}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn more_instances_than_the_sandbox_allows_are_refused() {
    let rt = runtime();
    let limits = Limits {
        deadline: Duration::from_secs(20),
        memory_bytes: 32 << 20,
    };
    // A few instances run: the wrapping itself is sound.
    let fine = rt
        .load_bytes(
            &limits_component_with_adapters("", 2),
            context("instances", "https://hr.example", &[]),
            limits,
        )
        .unwrap();
    assert!(
        matches!(fine.get("table").await, Err(PluginError::Memory { .. })),
        "the nested connector runs"
    );
    let plugin = rt
        .load_bytes(
            &limits_component_with_adapters("", 8),
            context("instances", "https://hr.example", &[]),
            limits,
        )
        .unwrap();
    match plugin.get("t").await {
        Err(e @ PluginError::Resources { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("instance count") && text.contains("at most 8 core instances"),
                "{text}"
            );
        }
        other => panic!("expected a resource error for instances, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wasi_sleep_is_stopped_by_the_deadline() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_millis(500));
    let started = Instant::now();
    assert!(
        matches!(plugin.get("sleep").await, Err(PluginError::Deadline { .. })),
        "a plugin sleeping in WASI must be stopped at its deadline"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_still_serving(&plugin).await;
}

#[tokio::test]
async fn a_loop_over_slow_host_calls_is_stopped_at_the_deadline() {
    let rt = runtime();
    let base = slow_server().await;
    let plugin = hostile_at(&rt, Duration::from_secs(1), &base);
    let started = Instant::now();
    match plugin.get("slow-loop").await {
        Err(PluginError::Deadline { call, limit, .. }) => {
            assert_eq!((call, limit), ("get-person", Duration::from_secs(1)));
        }
        other => panic!("expected a deadline error, got {other:?}"),
    }
    // Stopped at the deadline, not after the request in flight (300 ms) or later.
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1250), "took {took:?}");
}

#[tokio::test]
async fn a_host_call_that_never_answers_is_stopped_at_the_deadline() {
    let rt = runtime();
    let base = slow_server().await;
    // The HTTP timeout is 5 s with retries; the deadline is shorter and wins.
    let plugin = hostile_at(&rt, Duration::from_millis(800), &base);
    let started = Instant::now();
    assert!(
        matches!(plugin.get("hang").await, Err(PluginError::Deadline { .. })),
        "expected a deadline error"
    );
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

#[tokio::test]
async fn a_chunked_answer_is_read_only_up_to_the_cap() {
    let rt = runtime();
    let base = slow_server().await;
    let plugin = hostile_at(&rt, Duration::from_secs(60), &base);
    // The answer never ends: reading it whole would never return.
    match plugin.get("huge-body").await.unwrap() {
        Err(ConnectorError::Http(HttpError::Transport(message))) => {
            assert!(
                message.contains("larger than the limit of 32 MiB"),
                "{message}"
            );
        }
        other => panic!("expected an HTTP error naming the cap, got {other:?}"),
    }
}

#[tokio::test]
async fn a_flood_of_logs_is_cut_to_the_caps() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_secs(20));
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let flooded = {
        let _guard = tracing::subscriber::set_default(subscriber);
        plugin.get("log-flood").await
    };
    // Printing 1 MB to stdout does not crash the plugin either.
    assert_eq!(outcome(&flooded.unwrap().unwrap()), "flooded");
    let text = captured.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("hostile")).collect();
    let caps = Caps::default();
    assert!(
        lines.len() <= caps.log_lines + 2,
        "{} lines logged",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("line cut: 100000 bytes, the limit is 4096 bytes per line")),
        "no cut line"
    );
    assert!(
        lines.iter().all(|l| l.len() < caps.log_line_bytes + 400),
        "a line is longer than the cap"
    );
    assert!(
        lines.iter().any(|l| l.contains("log truncated: ")
            && l.contains("more lines dropped (the limit is 1000 lines per call)")),
        "no truncation line in {}",
        lines.last().unwrap()
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bytes of stdout/stderr dropped")),
        "no note of the dropped stdout"
    );
}

#[tokio::test]
async fn answers_over_the_caps_are_refused_naming_the_limit() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_secs(20));
    let page = plugin.list(Some("huge-page")).await;
    match page {
        Err(e @ PluginError::Oversized { .. }) => assert!(
            e.to_string().contains(
                "`list-people` with more than hrsync accepts: the page's people holds 10001 records; the limit is 10000 per page"
            ),
            "{e}"
        ),
        other => panic!("expected an oversized page, got {:?}", other.map(|r| r.map(|p| p.people.len()))),
    }
    match plugin.get("long-string").await {
        Err(e @ PluginError::Oversized { .. }) => assert!(
            e.to_string()
                .contains("the person.raw is 2097154 bytes; the limit is 1 MiB per string"),
            "{e}"
        ),
        other => panic!(
            "expected an oversized string, got {:?}",
            other.map(|r| r.is_ok())
        ),
    }
    match plugin.get("many-fields").await {
        Err(e @ PluginError::Oversized { .. }) => assert!(
            e.to_string()
                .contains("the person.fields holds 1001 items; the limit is 1000 per list"),
            "{e}"
        ),
        other => panic!(
            "expected too many fields, got {:?}",
            other.map(|r| r.is_ok())
        ),
    }
    // A request over the cap is refused before it is sent.
    match plugin.get("big-request").await.unwrap() {
        Err(ConnectorError::Http(HttpError::InvalidRequest(message))) => assert!(
            message.contains("the request body is 17825792 bytes; the limit is 16 MiB"),
            "{message}"
        ),
        other => panic!("expected a refused request, got {other:?}"),
    }
    assert_still_serving(&plugin).await;
}

#[tokio::test]
async fn the_scaffolded_connector_runs_in_the_host() {
    // tests/plugins/scaffolded is what `hrsync connector new` writes (a host unit test keeps
    // them equal); the plugin build compiled it for wasm32-wasip2.
    let rt = runtime();
    let base = slow_server().await;
    let plugin = rt
        .load(
            &plugin_wasm("hrsync_plugin_scaffolded.wasm"),
            context("scaffolded", &base, &[&base]),
            Limits::default(),
        )
        .unwrap();
    let d = plugin.describe().await.unwrap();
    assert_eq!(d.name, "scaffolded");
    assert!(d.fields.iter().any(|f| f.name == "department"));
    assert!(
        d.listing
            .facts
            .contains(&hrsync::runtime::wit::Fact::StartDate)
    );
    let page = plugin.list(None).await.unwrap().unwrap();
    let ids: Vec<&str> = page.people.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["1", "p-2"]);
    assert_eq!(page.next_cursor, None);
    assert_eq!(page.people[0].start_date.as_deref(), Some("2026-03-01"));
    let p = plugin.get("p-2").await.unwrap().unwrap();
    assert!(p.complete);
    assert_eq!(p.status, hrsync::runtime::wit::Lifecycle::PreHire);
}

#[tokio::test]
async fn connector_new_writes_a_crate_from_the_template() {
    use clap::Parser;
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    let sdk = workspace_root().join("sdk");
    let cli = hrsync::cli::Cli::parse_from([
        "hrsync",
        "connector",
        "new",
        "acme",
        "--dir",
        plugins.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ]);
    assert_eq!(hrsync::cli::run(cli).await, std::process::ExitCode::SUCCESS);
    let names = hrsync::runtime::scaffold::Names::new("acme").unwrap();
    let manifest = std::fs::read_to_string(plugins.join("acme/Cargo.toml")).unwrap();
    let lib = std::fs::read_to_string(plugins.join("acme/src/lib.rs")).unwrap();
    let table: toml::Table = manifest.parse().unwrap();
    let sdk_path = table["dependencies"]["hrsync-sdk"]["path"]
        .as_str()
        .unwrap();
    assert!(
        plugins
            .join("acme")
            .join(sdk_path)
            .join("Cargo.toml")
            .is_file(),
        "the SDK path {sdk_path} does not lead to the SDK"
    );
    let rendered = hrsync::runtime::scaffold::render(&names, sdk_path);
    assert_eq!(manifest, rendered[0].1);
    assert_eq!(lib, rendered[1].1);
    // A second run refuses to overwrite it.
    let again = hrsync::cli::Cli::parse_from([
        "hrsync",
        "connector",
        "new",
        "acme",
        "--dir",
        plugins.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ]);
    assert_eq!(
        hrsync::cli::run(again).await,
        std::process::ExitCode::FAILURE
    );
}

/// Slow (a cold build of the SDK's dependencies can take minutes on a small machine), and the
/// template's output is compiled for wasm32-wasip2 on every plugin build already
/// (`tests/plugins/scaffolded`); this one proves a crate generated *outside* the workspace builds
/// on its own. Run it with `cargo test -p hrsync-tests --test runtime -- --ignored`.
#[test]
#[ignore = "slow: builds a freshly generated crate for wasm32-wasip2 outside the workspace"]
fn a_generated_crate_builds_for_wasm32_wasip2_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let root = workspace_root();
    let (_, dir, _) =
        hrsync::runtime::scaffold::create("acme", &tmp.path().join("plugins"), &root.join("sdk"))
            .unwrap();
    // The workspace's lock file, so the same dependency versions (and built artifacts) are used.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let mut manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    manifest.push_str("\n[workspace]\n");
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(&dir)
        .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release"])
        .env("CARGO_TARGET_DIR", root.join("target/scaffold-check"))
        .status()
        .unwrap();
    assert!(status.success(), "the generated crate did not build");
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&dir)
            .args(["test", "--quiet"])
            .env("CARGO_TARGET_DIR", root.join("target/scaffold-check"))
            .status()
            .unwrap();
    assert!(status.success(), "the generated crate's unit tests failed");
}

#[tokio::test]
async fn files_and_environment_are_not_there() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_secs(20));
    let file = outcome(&plugin.get("file").await.unwrap().unwrap());
    assert!(
        file.starts_with("read=Err(") && file.contains("list=Err("),
        "{file}"
    );
    let env = outcome(&plugin.get("env").await.unwrap().unwrap());
    assert_eq!(env, "vars=0 args=0 home=None");
}

#[tokio::test]
async fn a_host_not_allowed_is_denied_with_the_line_to_add() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_secs(20));
    match plugin.get("egress").await.unwrap() {
        Err(ConnectorError::Http(HttpError::Denied(message))) => {
            assert!(
                message.contains(
                    "add \"https://evil.example\" to allowed_hosts in [connectors.hostile]"
                ),
                "{message}"
            );
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panic_is_an_error_naming_the_plugin_and_the_call() {
    let rt = runtime();
    let plugin = hostile(&rt, Duration::from_secs(20));
    match plugin.get("panic").await {
        Err(PluginError::Trap {
            plugin,
            call,
            message,
        }) => {
            assert_eq!((plugin.as_str(), call), ("hostile", "get-person"));
            assert!(message.contains("panicked on purpose"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_still_serving(&plugin).await;
}

#[tokio::test]
async fn a_plugin_for_another_contract_version_is_refused() {
    let rt = runtime();
    let err = rt
        .load(
            &plugin_wasm("hrsync_test_plugin_future.wasm"),
            context("future", "https://hr.example", &[]),
            Limits::default(),
        )
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, PluginError::IncompatibleVersion { .. }),
        "{text}"
    );
    assert!(text.contains("@9.9.9") && text.contains("@0.2.0"), "{text}");
}

#[tokio::test]
async fn not_a_component_is_refused() {
    let rt = runtime();
    let err = rt
        .load_bytes(
            b"not wasm at all",
            context("junk", "https://hr.example", &[]),
            Limits::default(),
        )
        .err()
        .unwrap();
    assert!(
        matches!(err, PluginError::Invalid { ref plugin, .. } if plugin == "junk"),
        "{err}"
    );
}

#[tokio::test]
async fn the_remote_plugin_describes_itself_and_is_cached_on_disk() {
    let (rt, cache) = runtime_with_own_cache();
    let plugin = rt
        .load(
            &plugin_wasm("hrsync_plugin_remote.wasm"),
            context(
                "remote",
                "https://gateway.remote.com",
                &["https://gateway.remote.com"],
            ),
            Limits::default(),
        )
        .unwrap();
    let d = plugin.describe().await.unwrap();
    assert_eq!(d.name, "remote");
    assert_eq!(d.contract_version, hrsync::runtime::CONTRACT_VERSION);
    assert!(d.fields.iter().any(|f| f.name == "manager_name"));
    assert!(!d.fields.iter().any(|f| f.name == "manager_employment_id"));
    assert!(d.auth.contains(&hrsync::runtime::wit::AuthScheme::Bearer));
    assert!(d.actions.iter().any(|a| a.name == "update-employment"));
    // The compiled artifact landed in the cache directory.
    let cached = walk(cache.path());
    assert!(cached > 0, "nothing was cached");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The author's loop, last step: the scaffolded plugin (what `hrsync connector new` writes,
/// built by `cargo xtask build-plugins`) answers `hrsync connector test` through the CLI.
#[tokio::test]
async fn connector_test_runs_the_scaffolded_plugin_through_the_cli() {
    let base = slow_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "scaffold-token").unwrap();
    let config = dir.path().join("hrsync.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[connectors.scaffolded]
plugin = "{plugin}"
base_url = "{base}"
allowed_hosts = ["{base}"]
auth = {{ kind = "bearer", token = {{ file = "token" }} }}
"#,
            plugin = plugin_wasm("hrsync_plugin_scaffolded.wasm").display(),
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(hrsync_tests::fixtures::hrsync_bin())
        .args(["--quiet", "--config"])
        .arg(&config)
        .args(["connector", "test", "scaffolded", "--person", "p-2"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("connector scaffolded"), "{stdout}");
    assert!(stdout.contains("person p-2: PreHire"), "{stdout}");
    assert!(stdout.contains("department"), "{stdout}");
    assert!(!stdout.contains("scaffold-token"), "{stdout}");
}
