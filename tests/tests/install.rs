//! Installing hrsync like a tool: `hrsync init`, `plugin = "builtin:NAME"` resolved through
//! `HRSYNC_PLUGIN_DIR` by the real binary, and the compile cache keyed on a component's bytes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

use hrsync::runtime::{Limits, PluginContext, Runtime, RuntimeConfig};
use hrsync_tests::fixtures::{hrsync_bin, plugin_dir, plugin_wasm, workspace_root};
use hrsync_tests::remote_sim::{SimConfig, Simulator};

/// Runs the debug `hrsync` in `dir` with `args`; `plugins` sets `HRSYNC_PLUGIN_DIR` (or unsets it).
async fn hrsync(dir: &Path, args: &[&str], plugins: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(hrsync_bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("HRSYNC_CONFIG")
        .env_remove("HRSYNC_PLUGIN_DIR")
        .envs(env.iter().copied());
    if let Some(p) = plugins {
        cmd.env("HRSYNC_PLUGIN_DIR", p);
    }
    cmd.output().await.unwrap()
}

fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn init_writes_a_starter_refuses_to_overwrite_it_and_force_does() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = text(&hrsync(dir.path(), &["init"], None, &[]).await);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("wrote hrsync.toml\n"), "{out}");
    assert!(
        out.contains("provide the secrets it reads: HRSYNC_LDAP_PASSWORD, REMOTE_CLIENT_SECRET"),
        "{out}"
    );
    let written = std::fs::read_to_string(dir.path().join("hrsync.toml")).unwrap();
    assert!(written.contains("plugin = \"builtin:remote\""), "{written}");

    std::fs::write(dir.path().join("hrsync.toml"), "# mine\n").unwrap();
    let (code, out, err) = text(&hrsync(dir.path(), &["init"], None, &[]).await);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "error: hrsync.toml already exists; pass --force to overwrite it\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hrsync.toml")).unwrap(),
        "# mine\n"
    );

    let (code, _, err) = text(&hrsync(dir.path(), &["init", "--force"], None, &[]).await);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hrsync.toml")).unwrap(),
        written
    );

    // `-` prints it (for a container: `podman run --rm hrsync init - > hrsync.toml`).
    let (code, out, err) = text(&hrsync(dir.path(), &["init", "-"], None, &[]).await);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, written);

    // `--config` names the file too, and its folder is created.
    let (code, out, err) =
        text(&hrsync(dir.path(), &["--config", "etc/h.toml", "init"], None, &[]).await);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("wrote etc/h.toml\n"), "{out}");
    assert!(dir.path().join("etc/h.toml").is_file());
}

#[tokio::test]
async fn the_starter_passes_config_check_once_its_secrets_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = text(&hrsync(dir.path(), &["init"], None, &[]).await);
    assert_eq!(code, 0, "{err}");
    let secrets = [
        ("HRSYNC_LDAP_PASSWORD", "x"),
        ("REMOTE_CLIENT_SECRET", "x"),
        ("REMOTE_WEBHOOK_SIGNING_KEY", "x"),
        ("IT_HOOK_TOKEN", "x"),
    ];
    let plugins = plugin_dir();
    let (code, out, err) =
        text(&hrsync(dir.path(), &["config", "check"], Some(&plugins), &secrets).await);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hrsync.toml: ok"), "{out}");

    // A debug build carries no built-ins: without HRSYNC_PLUGIN_DIR, check says what to do.
    let (code, _, err) = text(&hrsync(dir.path(), &["config", "check"], None, &secrets).await);
    assert_eq!(code, 1);
    assert!(
        err.contains("`connectors.remote.plugin`: `builtin:remote` is not available: this hrsync was built without its plugins")
            && err.contains("cargo xtask dist"),
        "{err}"
    );
}

#[tokio::test]
async fn builtin_remote_is_found_in_the_plugin_dir_and_talks_to_remote() {
    let sim = Simulator::start(SimConfig {
        people: 5,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), &sim.config().api_token).unwrap();
    let base = sim.base_url();
    // The tests' shared compile cache: the plugin is compiled once for every test binary.
    let cache = workspace_root().join("target/hrsync-test-cache");
    let cache = cache.display();
    std::fs::write(
        dir.path().join("hrsync.toml"),
        format!(
            "[runtime]\ncache_dir = \"{cache}\"\n[connectors.remote]\nplugin = \"builtin:remote\"\nbase_url = \"{base}\"\nallowed_hosts = [\"{base}\"]\nauth = {{ kind = \"bearer\", token = {{ file = \"token\" }} }}\n"
        ),
    )
    .unwrap();
    let plugins = plugin_dir();
    let args = ["connector", "test", "remote"];
    let (code, out, err) = text(&hrsync(dir.path(), &args, Some(&plugins), &[]).await);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("connector remote "), "{out}");
    assert!(out.contains("authenticated; 5 people"), "{out}");

    // A wrong name lists what there is (the plugin folder's connectors).
    let text_cfg = std::fs::read_to_string(dir.path().join("hrsync.toml")).unwrap();
    std::fs::write(
        dir.path().join("hrsync.toml"),
        text_cfg.replace("builtin:remote", "builtin:remot"),
    )
    .unwrap();
    let (code, _, err) = text(&hrsync(dir.path(), &args, Some(&plugins), &[]).await);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "cannot load plugin `remote`: there is no built-in plugin `remot`; available: "
        ) && err.contains("builtin:remote"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_compile_cache_keys_on_the_components_bytes() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(&RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
    })
    .unwrap();
    let load = |file: &str| {
        let bytes = std::fs::read(plugin_wasm(file)).unwrap();
        let name = file.trim_end_matches(".wasm");
        let plugin = rt
            .load_bytes(&bytes, context(name), Limits::default())
            .unwrap();
        (plugin, entries(cache.path()))
    };
    let (remote, one) = load("hrsync_plugin_remote.wasm");
    assert_eq!(one, 1);
    // Other bytes: another entry, and each plugin is itself.
    let (scaffolded, two) = load("hrsync_plugin_scaffolded.wasm");
    assert_eq!(two, 2);
    assert_eq!(remote.describe().await.unwrap().name, "remote");
    assert_ne!(scaffolded.describe().await.unwrap().name, "remote");
    // The same bytes again (embedded or from a file, it is the same): no new entry.
    let (_, again) = load("hrsync_plugin_remote.wasm");
    assert_eq!(again, two);
}

fn context(name: &str) -> PluginContext {
    PluginContext {
        name: name.to_string(),
        settings: Default::default(),
        secrets: Default::default(),
        http: std::sync::Arc::new(NoHttp),
    }
}

/// describe makes no request.
struct NoHttp;

impl hrsync::runtime::HttpBackend for NoHttp {
    fn send(
        &self,
        _: hrsync::runtime::wit::HttpRequest,
    ) -> hrsync::runtime::BoxFuture<
        '_,
        Result<hrsync::runtime::wit::HttpResponse, hrsync::runtime::wit::HttpError>,
    > {
        Box::pin(async {
            Err(hrsync::runtime::wit::HttpError::Denied(
                "no requests in this test".into(),
            ))
        })
    }
}

/// The compiled entries in a wasmtime cache folder (`modules/wasmtime-VERSION/HASH`; not the
/// `.stats` files its worker writes on every hit, nor its lock files).
fn entries(dir: &Path) -> usize {
    let mut n = 0;
    for version in std::fs::read_dir(dir.join("modules")).unwrap().flatten() {
        for entry in std::fs::read_dir(version.path()).unwrap().flatten() {
            let path = entry.path();
            if path.is_file() && path.extension().is_none() {
                n += 1;
            }
        }
    }
    n
}
