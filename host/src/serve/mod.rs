//! `hrsync serve`: the webhook receiver, the event worker, the cron scheduler, the template
//! resumer, health and Prometheus metrics — one process, one engine, one run at a time.
//!
//! An inbound webhook is verified by the plugin, stored in SQLite (synced to disk), then
//! acknowledged: a crash or a power loss after the 2xx loses nothing. Duplicate deliveries (same
//! dedupe key) are stored once. Several event workers ([`ServeOptions::event_workers`]) apply
//! events for different people side by side, terminations and status changes first, one person's
//! events one at a time; a supervisor restarts a worker that panics, and `/readyz` says why the
//! service is not ready while a worker is down or the queue is stalled. SIGTERM stops taking
//! requests, lets the workers finish the events in hand, and exits; stored events and waiting
//! templates are picked up by the next start.

pub mod metrics;
mod routes;
mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, RwLock, watch};

pub use metrics::{Metrics, observe_ldap_operation};
pub use worker::WorkerHealth;

use crate::store::StoredEvent;

use crate::config::Config;
use crate::runtime::Runtime;
use crate::sync::{Engine, SyncError};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("serve.listen `{0}` is not an address like 127.0.0.1:8080")]
    Address(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A function called with each event before a worker processes it: a fault-injection point for
/// tests (a panic, a stall). Production code never sets one.
pub type EventHook =
    Arc<dyn Fn(StoredEvent) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How the service runs its event workers.
#[derive(Clone)]
pub struct ServeOptions {
    /// Events applied at once, for different people (at least one). One person's events never
    /// run side by side.
    pub event_workers: usize,
    /// No event finished for this long while events wait or are in progress: `/readyz` reports
    /// the service stalled.
    pub stall_after: Duration,
    /// How long a worker that panicked waits before it restarts; doubled for each panic in a row,
    /// up to a minute.
    pub restart_delay: Duration,
    /// Called with each event before it is processed. For tests only (fault injection).
    #[doc(hidden)]
    pub before_event: Option<EventHook>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            event_workers: 4,
            stall_after: Duration::from_secs(5 * 60),
            restart_delay: Duration::from_secs(1),
            before_event: None,
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("event_workers", &self.event_workers)
            .field("stall_after", &self.stall_after)
            .field("restart_delay", &self.restart_delay)
            .field("before_event", &self.before_event.is_some())
            .finish()
    }
}

/// What the tasks share.
pub struct App {
    pub engine: Engine,
    /// Keeps the plugin runtime (and its epoch ticker) alive.
    _runtime: Runtime,
    /// Runs that concern one person (events, their templates) share it (read); full runs (cron)
    /// and template resumption, and events that may create an account, hold it alone (write).
    pub run_lock: RwLock<()>,
    pub metrics: Metrics,
    /// Wakes an idle worker when an event is stored.
    pub wake: Notify,
    /// False once shutdown has begun: new webhooks get 503.
    pub accepting: AtomicBool,
    /// The event workers' state, for `/readyz`.
    pub health: WorkerHealth,
    /// How the event workers run.
    pub options: ServeOptions,
}

/// A running service (for tests and the CLI).
pub struct Service {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

/// Starts the service on `listen` (or `[serve].listen`) with `[serve]`'s settings.
pub async fn start(config: Config, listen: Option<&str>) -> Result<Service, ServeError> {
    let options = ServeOptions {
        event_workers: config.serve.event_workers.max(1),
        ..ServeOptions::default()
    };
    start_with(config, listen, options).await
}

/// Starts the service on `listen` (or `[serve].listen`).
pub async fn start_with(
    config: Config,
    listen: Option<&str>,
    options: ServeOptions,
) -> Result<Service, ServeError> {
    let runtime = Engine::runtime(&config)?;
    let listen = listen
        .map(str::to_string)
        .unwrap_or_else(|| config.serve.listen.clone());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| ServeError::Address(listen.clone()))?;
    let engine = Engine::open(config, &runtime)?;
    engine
        .connector()
        .reserve_for_events(engine.config().serve.events_share);
    let requeued = engine.store().requeue_interrupted_events()?;
    let interrupted = engine.store().interrupt_running_template_runs()?;
    if requeued + interrupted > 0 {
        tracing::info!(
            requeued,
            interrupted,
            "recovered work a previous process left unfinished"
        );
    }
    let workers = options.event_workers.max(1);
    let app = Arc::new(App {
        engine,
        _runtime: runtime,
        run_lock: RwLock::new(()),
        metrics: Metrics::new(workers),
        wake: Notify::new(),
        accepting: AtomicBool::new(true),
        health: WorkerHealth::new(workers),
        options,
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen {
            addr: listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: listen,
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    let router = routes::router(app.clone());
    let mut http_stop = stopped.clone();
    tasks.spawn(async move {
        let shutdown = async move {
            if http_stop.wait_for(|s| *s).await.is_err() {
                tracing::debug!("the service was dropped without a shutdown; the server stops");
            }
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    tasks.spawn(worker::supervise(app.clone(), stopped.clone()));
    tasks.spawn(worker::schedules(app.clone(), stopped.clone()));
    tasks.spawn(worker::templates(app.clone(), stopped.clone()));
    tracing::info!(%addr, event_workers = workers, "serving");
    Ok(Service {
        addr,
        app,
        stop,
        tasks,
    })
}

impl Service {
    /// Stops taking webhooks, lets in-flight work finish (up to `grace`), and returns.
    pub async fn shutdown(mut self, grace: Duration) {
        self.app.accepting.store(false, Ordering::SeqCst);
        if self.stop.send(true).is_err() {
            tracing::debug!("every task had already stopped");
        }
        self.app.wake.notify_waiters();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "work still running after {grace:?}; stopping it (stored events stay queued)"
            );
            self.tasks.abort_all();
        }
    }
}

/// Runs until SIGTERM or Ctrl-C.
pub async fn run(config: Config, listen: Option<&str>) -> Result<(), ServeError> {
    let service = start(config, listen).await?;
    eprintln!("hrsync serve: listening on http://{}", service.addr);
    shutdown_signal().await;
    eprintln!("hrsync serve: stopping (finishing the event in hand)");
    service.shutdown(Duration::from_secs(30)).await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c().await;
    }
}

async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        // Without a signal to wait for, run until killed.
        tracing::warn!(error = %e, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}
