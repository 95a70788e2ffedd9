//! `hrsync serve`: the webhook receiver, the event worker, the cron scheduler, the template
//! resumer, health and Prometheus metrics — one process, one engine, one run at a time.
//!
//! An inbound webhook is verified by the plugin, stored in SQLite, then acknowledged: a crash
//! after the 2xx loses nothing. Duplicate deliveries (same dedupe key) are stored once. SIGTERM
//! stops taking requests, lets the worker finish the event in hand, and exits; stored events and
//! waiting templates are picked up by the next start.

mod metrics;
mod routes;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, Notify, watch};

pub use metrics::Metrics;

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

/// What the tasks share.
pub struct App {
    pub engine: Engine,
    /// Keeps the plugin runtime (and its epoch ticker) alive.
    _runtime: Runtime,
    /// One run (sync or template) at a time.
    pub run_lock: Mutex<()>,
    pub metrics: Metrics,
    /// Wakes the worker when an event is stored.
    pub wake: Notify,
    /// False once shutdown has begun: new webhooks get 503.
    pub accepting: AtomicBool,
}

/// A running service (for tests and the CLI).
pub struct Service {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

/// Starts the service on `listen` (or `[serve].listen`).
pub async fn start(config: Config, listen: Option<&str>) -> Result<Service, ServeError> {
    let runtime = Engine::runtime(&config)?;
    let listen = listen
        .map(str::to_string)
        .unwrap_or_else(|| config.serve.listen.clone());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| ServeError::Address(listen.clone()))?;
    let engine = Engine::open(config, &runtime)?;
    let requeued = engine.store().requeue_interrupted_events()?;
    let interrupted = engine.store().interrupt_running_template_runs()?;
    if requeued + interrupted > 0 {
        tracing::info!(
            requeued,
            interrupted,
            "recovered work a previous process left unfinished"
        );
    }
    let app = Arc::new(App {
        engine,
        _runtime: runtime,
        run_lock: Mutex::new(()),
        metrics: Metrics::default(),
        wake: Notify::new(),
        accepting: AtomicBool::new(true),
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
            let _ = http_stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    tasks.spawn(worker::events(app.clone(), stopped.clone()));
    tasks.spawn(worker::schedules(app.clone(), stopped.clone()));
    tasks.spawn(worker::templates(app.clone(), stopped.clone()));
    tracing::info!(%addr, "serving");
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
        let _ = self.stop.send(true);
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
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
