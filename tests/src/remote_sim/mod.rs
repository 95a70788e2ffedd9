//! A simulator of Remote's API (see `/work/shared/remote-api/REMOTE-API.md`): a real HTTP server
//! on `127.0.0.1` for integration tests, benchmarks and the demo.
//!
//! It serves:
//! - `POST /auth/oauth2/token` — `client_credentials` and `refresh_token` grants (refresh tokens
//!   rotate: the previous one is invalid as soon as a new one is issued);
//! - `GET /v1/employments` (list fields only), `GET /v1/employments/{id}` (detail),
//!   `PATCH /v1/employments/{id}` (`work_email`, `external_id`, `partner_external_id`, `manager_id`);
//! - `GET /v1/company-managers`, `GET /v1/offboardings`, `GET /v1/offboardings/{id}`;
//! - `GET /v1/custom-fields`, `GET /v1/custom-fields/{id}/values/{employment_id}` and
//!   `GET /v1/timeoff` (see `custom.rs`; [`SimHandle::define_custom_field`],
//!   [`SimHandle::add_timeoff`]);
//! - signed webhooks on demand ([`SimHandle::send_webhook`]);
//! - a per-company fixed-window rate limit with Remote's headers, and injected faults
//!   ([`SimHandle::inject`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use hrsync_tests::remote_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! let people = sim.state().employments();
//! println!("{} people at {}", people.len(), sim.base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod custom;
mod faults;
mod names;
mod net;
mod rate;
mod routes;
mod state;
mod stats;
mod webhooks;
pub mod workforce;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, ListQuirk};
pub use names::{DUPLICATE_NAME, HOSTILE_NAME};
pub use state::SimHandle;
pub use stats::SimStats;
pub use webhooks::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
pub use workforce::Workforce;

/// A rate limit: at most `requests` requests per fixed `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window (Remote: 20 for customers).
    pub requests: u32,
    /// Window length (Remote: one minute). Tests use short windows such as 2 s.
    pub window: Duration,
}

impl RateLimit {
    /// Parses `REQUESTS/SECONDS`, e.g. `20/60`.
    pub fn parse(text: &str) -> anyhow::Result<RateLimit> {
        let (requests, seconds) = text.split_once('/').ok_or_else(|| {
            anyhow::anyhow!("rate limit {text:?} is not REQUESTS/SECONDS, e.g. 20/60")
        })?;
        let requests: u32 = requests
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("rate limit {text:?}: bad request count: {e}"))?;
        let seconds: f64 = seconds
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("rate limit {text:?}: bad window seconds: {e}"))?;
        if requests == 0 || !(seconds > 0.0 && seconds.is_finite()) {
            anyhow::bail!("rate limit {text:?}: both numbers must be positive");
        }
        Ok(RateLimit {
            requests,
            window: Duration::from_secs_f64(seconds),
        })
    }
}

/// Simulator settings. Secrets here are test fixtures, never real credentials.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of the workforce generator; the same seed gives the same people.
    pub seed: u64,
    /// Number of employments to generate.
    pub people: usize,
    /// Rate limit shared by every API and token request, or none.
    pub rate_limit: Option<RateLimit>,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// Static customer API token (`ra_test_…`), always accepted as a bearer token.
    pub api_token: String,
    /// The refresh token valid at start.
    pub initial_refresh_token: String,
    /// Key webhooks are signed with.
    pub webhook_signing_key: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            people: 200,
            rate_limit: None,
            token_ttl: Duration::from_secs(3600),
            client_id: "hrsync-test-client".to_owned(),
            client_secret: "test-client-secret".to_owned(),
            api_token: "ra_test_0123456789abcdef".to_owned(),
            initial_refresh_token: "rt-initial".to_owned(),
            webhook_signing_key: "whsec-test-key".to_owned(),
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("people", &self.people)
            .field("rate_limit", &self.rate_limit)
            .field("token_ttl", &self.token_ttl)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A running simulator. Stops on [`Simulator::shutdown`] or when dropped.
pub struct Simulator {
    addr: SocketAddr,
    handle: SimHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Generates the workforce, binds `127.0.0.1` on an ephemeral port and serves in a task.
    pub async fn start(config: SimConfig) -> anyhow::Result<Simulator> {
        Simulator::start_on(config, 0).await
    }

    /// Like [`Simulator::start`], on a given port of `127.0.0.1` (0 for an ephemeral one).
    pub async fn start_on(config: SimConfig, port: u16) -> anyhow::Result<Simulator> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind 127.0.0.1:{port}: {e}"))?;
        let addr = listener.local_addr()?;
        let today = chrono::Utc::now().date_naive();
        let workforce = Workforce::generate(config.seed, config.people, today);
        let handle = SimHandle::new(config, workforce);
        let app = routes::router(handle.clone())
            .into_make_service_with_connect_info::<net::ConnControl>();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve =
                axum::serve(net::SimListener::new(listener), app).with_graceful_shutdown(async {
                    let _ = stopped.await;
                });
            if let Err(e) = serve.await {
                tracing::warn!("remote simulator stopped: {e}");
            }
        });
        Ok(Simulator {
            addr,
            handle,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `base_url()` + `/auth/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/auth/oauth2/token", self.base_url())
    }

    /// A handle to inspect and change the simulated company.
    pub fn state(&self) -> SimHandle {
        self.handle.clone()
    }

    /// The configuration the simulator was started with.
    pub fn config(&self) -> SimConfig {
        self.handle.config()
    }

    /// Stops accepting connections, closes idle ones, and waits (up to 5 s) for requests in
    /// flight; then aborts whatever is left.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
