//! The plugin runtime contains hostile plugins and keeps serving well-behaved ones.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hrsync::auth::{Credentials, TokenSource};
use hrsync::egress::AllowedHosts;
use hrsync::http::{ConnectorHttp, HttpSettings, RateGovernor, RetryPolicy};
use hrsync::runtime::wit::{ConnectorError, FieldValue};
use hrsync::runtime::{Limits, Plugin, PluginContext, PluginError, Runtime, RuntimeConfig};
use hrsync::secret::Secret;
use hrsync_tests::fixtures::plugin_wasm;

const HOSTILE: &str = "hrsync_test_plugin_hostile.wasm";

fn runtime() -> (Runtime, tempfile::TempDir) {
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
    let limits = Limits {
        deadline,
        memory_bytes: 32 << 20,
    };
    rt.load(
        &plugin_wasm(HOSTILE),
        context("hostile", "https://hr.example", &["https://hr.example"]),
        limits,
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
    let (rt, _cache) = runtime();
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
    let (rt, _cache) = runtime();
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
    let (rt, _cache) = runtime();
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
async fn files_and_environment_are_not_there() {
    let (rt, _cache) = runtime();
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
    let (rt, _cache) = runtime();
    let plugin = hostile(&rt, Duration::from_secs(20));
    match plugin.get("egress").await.unwrap() {
        Err(ConnectorError::Http(message)) => {
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
    let (rt, _cache) = runtime();
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
    let (rt, _cache) = runtime();
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
    assert!(text.contains("@9.9.9") && text.contains("@0.1.0"), "{text}");
}

#[tokio::test]
async fn not_a_component_is_refused() {
    let (rt, _cache) = runtime();
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
    let (rt, cache) = runtime();
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
    assert!(d.fields.iter().any(|f| f.name == "manager_employment_id"));
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
