//! The plugin runtime: loads connector components with wasmtime and calls them in a sandbox.
//!
//! - One [`Runtime`] per process: a wasmtime `Engine` (component model, epoch interruption, an
//!   on-disk compilation cache keyed by the component's content hash) and a ticker thread.
//! - One [`Plugin`] per connector: the compiled component, pre-instantiated against the host's
//!   imports, with its limits and its [`PluginContext`].
//! - Each call gets a fresh store and instance (tens of microseconds): a trap or a limit hit in one
//!   call cannot leave a broken instance behind, and the host keeps serving.
//!
//! Limits of one call, each ending it with a [`PluginError`] that names the limit:
//!
//! | limit | covers |
//! | --- | --- |
//! | [`Limits::deadline`] | wall-clock time: the plugin's code (epoch interruption), the host's imports (each checks it, `http.send` waits only until it) and WASI calls (the whole call is dropped at the deadline) |
//! | [`Limits::memory_bytes`] | every linear memory and every table element together; at most 8 core instances, 8 tables and 2 memories |
//! | [`Caps`] | what crosses the boundary: people per page, items per list, bytes per string, request body size; log lines per call and bytes per line |

mod bindings;
mod boundary;
pub mod builtin;
mod error;
mod imports;
pub mod scaffold;
mod state;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store, Trap, UpdateDeadline};

pub use boundary::Caps;
use boundary::Check;
pub use builtin::PluginSource;
pub use error::PluginError;
pub use state::PluginContext;
use state::{DeadlineExceeded, Denied, PluginState};

/// The contract version this host supports.
pub const CONTRACT_VERSION: &str = "0.2.0";
const CONNECTOR_EXPORT: &str = "hrsync:connector/connector@";

/// The WIT types, for the rest of the host.
pub mod wit {
    pub use super::bindings::exports::hrsync::connector::connector::{
        ActionOutput, ActionSpec, AuthScheme, BasicAuth, BasicPart, Descriptor, EventKind,
        FieldKind, FieldSpec, HrEvent, KeyPlacement, Listing, Page, WebhookError, WebhookRequest,
    };
    pub use super::bindings::hrsync::connector::http::{
        Method, Request as HttpRequest, Response as HttpResponse,
    };
    pub use super::bindings::hrsync::connector::types::{
        ConnectorError, Fact, Field, FieldValue, HttpError, InvalidRecord, Lifecycle, Person,
        RemoteFailure,
    };
}

/// A boxed future, for the object-safe [`HttpBackend`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a plugin's HTTP requests go (egress rules, authentication, retries, rate limit).
pub trait HttpBackend: Send + Sync + 'static {
    /// Sends one request for the plugin.
    fn send(
        &self,
        request: wit::HttpRequest,
    ) -> BoxFuture<'_, Result<wit::HttpResponse, wit::HttpError>>;
}

/// How often the epoch ticks; deadlines are checked at this granularity.
const TICK: Duration = Duration::from_millis(10);

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
}

/// The wasmtime engine and everything shared by all plugins.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    /// Creates the engine, the linker with the host's imports, and the epoch ticker.
    pub fn new(config: &RuntimeConfig) -> anyhow::Result<Self> {
        let mut cfg = Config::new();
        cfg.wasm_component_model(true);
        cfg.epoch_interruption(true);
        cfg.concurrency_support(false);
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir)?;
            let mut cache_config = CacheConfig::new();
            cache_config.with_directory(dir);
            cfg.cache(Some(Cache::new(cache_config)?));
        }
        let engine = Engine::new(&cfg)?;

        let mut linker = Linker::<PluginState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let stop = ticker_stop.clone();
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("hrsync-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(Runtime {
            engine,
            linker,
            ticker_stop,
        })
    }

    /// Compiles (or loads from the cache) a component and checks its contract version.
    pub fn load(
        &self,
        path: &Path,
        context: PluginContext,
        limits: Limits,
    ) -> Result<Plugin, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            plugin: context.name.clone(),
            path: path.display().to_string(),
            source,
        })?;
        self.load_bytes(&bytes, context, limits)
    }

    /// Loads a connector's plugin from a file or, for `builtin:NAME`, from this binary or the
    /// plugin folders ([`builtin`]).
    pub fn load_source(
        &self,
        source: &PluginSource,
        context: PluginContext,
        limits: Limits,
    ) -> Result<Plugin, PluginError> {
        match source {
            PluginSource::File(path) => self.load(path, context, limits),
            PluginSource::Builtin(name) => match builtin::Catalog::from_env().find(name) {
                Ok(builtin::Found::Embedded(bytes)) => self.load_bytes(bytes, context, limits),
                Ok(builtin::Found::File(path)) => self.load(&path, context, limits),
                Err(source) => Err(PluginError::Builtin {
                    plugin: context.name,
                    source,
                }),
            },
        }
    }

    /// As [`Runtime::load`], from bytes.
    pub fn load_bytes(
        &self,
        bytes: &[u8],
        context: PluginContext,
        limits: Limits,
    ) -> Result<Plugin, PluginError> {
        let name = context.name.clone();
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            plugin: name.clone(),
            message: format!("{e:#}"),
        };
        let component = Component::new(&self.engine, bytes).map_err(invalid)?;
        check_contract(&self.engine, &component, &name)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Host {
                plugin: name.clone(),
                call: "load",
                message: format!("{e:#}"),
            })?;
        let pre = bindings::PluginPre::new(pre).map_err(invalid)?;
        Ok(Plugin {
            pre,
            context: Arc::new(context),
            limits,
            caps: Caps::default(),
        })
    }

    /// The engine (for benchmarks).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Refuses a component that does not export the connector interface at the supported version.
fn check_contract(engine: &Engine, component: &Component, plugin: &str) -> Result<(), PluginError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let Some(found) = exports
        .iter()
        .find_map(|e| e.strip_prefix(CONNECTOR_EXPORT))
    else {
        return Err(PluginError::NotAConnector {
            plugin: plugin.to_string(),
            exports: if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            },
        });
    };
    if found != CONTRACT_VERSION {
        return Err(PluginError::IncompatibleVersion {
            plugin: plugin.to_string(),
            found: found.to_string(),
            supported: CONTRACT_VERSION,
        });
    }
    Ok(())
}

/// Limits for each call of a plugin.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time for one call, including the host HTTP requests it makes.
    pub deadline: Duration,
    /// Memory cap: every linear memory and every table (a pointer per element) together.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(120),
            memory_bytes: 64 << 20,
        }
    }
}

/// A loaded connector plugin. Cheap to share; each call runs in its own fresh instance.
pub struct Plugin {
    pre: bindings::PluginPre<PluginState>,
    context: Arc<PluginContext>,
    limits: Limits,
    caps: Caps,
}

/// The result of a plugin call: the host-side failure (outer) or the plugin's own answer (inner).
pub type CallResult<T, E> = Result<Result<T, E>, PluginError>;

impl Plugin {
    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.context.name
    }

    /// The plugin's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The caps on what crosses the boundary ([`Caps::default`] unless set here).
    pub fn with_caps(mut self, caps: Caps) -> Self {
        self.caps = caps;
        self
    }

    /// The caps on what crosses the boundary.
    pub fn caps(&self) -> Caps {
        self.caps
    }

    async fn start(
        &self,
        call: &'static str,
    ) -> Result<(Store<PluginState>, bindings::Plugin), PluginError> {
        let deadline = Instant::now() + self.limits.deadline;
        let state = PluginState::new(
            self.context.clone(),
            call,
            self.limits.memory_bytes,
            self.caps,
            deadline,
        );
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        // Check the deadline every tick, yielding to tokio in between so that a spinning plugin
        // does not hold a worker thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let instance = within(deadline, self.pre.instantiate_async(&mut store)).await;
        match instance {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err(self.finish_err(store, call, e)),
        }
    }

    /// Turns a wasmtime error into a [`PluginError`] that names the plugin and the call.
    fn failure(
        &self,
        store: &Store<PluginState>,
        call: &'static str,
        e: wasmtime::Error,
    ) -> PluginError {
        let plugin = self.context.name.clone();
        if let Some(denied) = store.data().limiter.denied {
            return PluginError::Memory {
                plugin,
                call,
                limit_mib: self.limits.memory_bytes >> 20,
                what: match denied {
                    Denied::Memory => "linear memory",
                    Denied::Table => "a table",
                },
            };
        }
        if store.data().deadline_hit
            || e.is::<DeadlineExceeded>()
            || matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt))
        {
            return PluginError::Deadline {
                plugin,
                call,
                limit: self.limits.deadline,
            };
        }
        let text = format!("{e:#}");
        if text.contains("resource limit exceeded") {
            return PluginError::Resources {
                plugin,
                call,
                message: text,
            };
        }
        let (_, stderr, _) = store.data().output();
        // Rust prints `thread '…' panicked at FILE:LINE:COL:` and the message on the next line.
        let lines: Vec<&str> = stderr.lines().collect();
        let panic_line = lines.iter().position(|l| l.contains("panicked")).map(|i| {
            let at = lines[i].trim_end_matches(':');
            match lines.get(i + 1) {
                Some(message) => format!("{}: {at}", message.trim()),
                None => at.to_string(),
            }
        });
        let message = match (e.downcast_ref::<Trap>(), panic_line) {
            (_, Some(line)) => line,
            (Some(trap), None) => trap.to_string(),
            (None, None) => text,
        };
        PluginError::Trap {
            plugin,
            call,
            message,
        }
    }

    /// Logs what the plugin printed (under the call's log budget), then maps the outcome.
    fn finish<T>(
        &self,
        mut store: Store<PluginState>,
        call: &'static str,
        outcome: wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let (stdout, stderr, dropped_bytes) = store.data().output();
        let plugin = self.context.name.as_str();
        let state = store.data_mut();
        for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(line) = state.log.admit(line) {
                tracing::info!(plugin, call, stream = "stdout", "{line}");
            }
        }
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(line) = state.log.admit(line) {
                tracing::warn!(plugin, call, stream = "stderr", "{line}");
            }
        }
        if let Some(line) = state.log.truncated_line() {
            tracing::warn!(plugin, call, "{line}");
        }
        if dropped_bytes > 0 {
            tracing::warn!(
                plugin,
                call,
                "log truncated: {dropped_bytes} bytes of stdout/stderr dropped (the limit is {} per stream per call)",
                boundary::bytes(state::PIPE_CAPACITY)
            );
        }
        outcome.map_err(|e| self.failure(&store, call, e))
    }

    fn finish_err(
        &self,
        store: Store<PluginState>,
        call: &'static str,
        e: wasmtime::Error,
    ) -> PluginError {
        match self.finish::<()>(store, call, Err(e)) {
            Err(e) => e,
            Ok(()) => unreachable!("an error stays an error"),
        }
    }

    /// Refuses an answer over the [`Caps`].
    fn checked<T>(
        &self,
        call: &'static str,
        answer: T,
        check: impl FnOnce(&Check<'_>, &T) -> Result<(), String>,
    ) -> Result<T, PluginError> {
        match check(&Check::new(&self.caps), &answer) {
            Ok(()) => Ok(answer),
            Err(message) => Err(PluginError::Oversized {
                plugin: self.context.name.clone(),
                call,
                message,
            }),
        }
    }

    /// Only makes a fresh store and instance, as every call does; for benchmarks.
    #[doc(hidden)]
    pub async fn bench_instantiate(&self) -> Result<(), PluginError> {
        self.start("instantiate").await.map(drop)
    }

    /// `describe`.
    pub async fn describe(&self) -> Result<wit::Descriptor, PluginError> {
        let (mut store, instance) = self.start("describe").await?;
        let deadline = store.data().deadline;
        let r = within(
            deadline,
            instance
                .hrsync_connector_connector()
                .call_describe(&mut store),
        )
        .await;
        let d = self.finish(store, "describe", r)?;
        self.checked("describe", d, |c, d| c.descriptor(d))
    }

    /// `list-people`.
    pub async fn list(&self, cursor: Option<&str>) -> CallResult<wit::Page, wit::ConnectorError> {
        let (mut store, instance) = self.start("list-people").await?;
        let deadline = store.data().deadline;
        let r = within(
            deadline,
            instance
                .hrsync_connector_connector()
                .call_list_people(&mut store, cursor),
        )
        .await;
        let r = self.finish(store, "list-people", r)?;
        self.checked("list-people", r, |c, r| match r {
            Ok(page) => c.page(page),
            Err(e) => c.connector_error(e),
        })
    }

    /// `get-person`.
    pub async fn get(&self, id: &str) -> CallResult<wit::Person, wit::ConnectorError> {
        let (mut store, instance) = self.start("get-person").await?;
        let deadline = store.data().deadline;
        let r = within(
            deadline,
            instance
                .hrsync_connector_connector()
                .call_get_person(&mut store, id),
        )
        .await;
        let r = self.finish(store, "get-person", r)?;
        self.checked("get-person", r, |c, r| match r {
            Ok(person) => c.person(&|| "the person".to_string(), person),
            Err(e) => c.connector_error(e),
        })
    }

    /// `parse-webhook`.
    pub async fn parse_webhook(
        &self,
        request: &wit::WebhookRequest,
    ) -> CallResult<Vec<wit::HrEvent>, wit::WebhookError> {
        let (mut store, instance) = self.start("parse-webhook").await?;
        let deadline = store.data().deadline;
        let r = within(
            deadline,
            instance
                .hrsync_connector_connector()
                .call_parse_webhook(&mut store, request),
        )
        .await;
        let r = self.finish(store, "parse-webhook", r)?;
        self.checked("parse-webhook", r, |c, r| match r {
            Ok(events) => c.events(events),
            Err(e) => c.webhook_error(e),
        })
    }

    /// `invoke`.
    pub async fn invoke(
        &self,
        action: &str,
        params: &[wit::Field],
    ) -> CallResult<wit::ActionOutput, wit::ConnectorError> {
        let (mut store, instance) = self.start("invoke").await?;
        let deadline = store.data().deadline;
        let r = within(
            deadline,
            instance
                .hrsync_connector_connector()
                .call_invoke(&mut store, action, params),
        )
        .await;
        let r = self.finish(store, "invoke", r)?;
        self.checked("invoke", r, |c, r| match r {
            Ok(output) => c.action_output(output),
            Err(e) => c.connector_error(e),
        })
    }
}

/// Runs part of a call until the deadline. The plugin's own code is stopped by epoch
/// interruption and the host's imports check the deadline themselves; this also stops whatever
/// else the call waits on (a WASI sleep or poll). Dropping wasmtime's future at that point is
/// supported: the call's fiber is unwound, and the store is dropped after.
async fn within<T>(
    deadline: Instant,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), call).await {
        Ok(outcome) => outcome,
        Err(_) => Err(wasmtime::Error::new(DeadlineExceeded)),
    }
}
