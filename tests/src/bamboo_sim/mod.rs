//! A simulator of BambooHR's v1 REST API: a real HTTP server on `127.0.0.1` for integration tests
//! and demos, shaped after <https://documentation.bamboohr.com/docs/getting-started>.
//!
//! Everything lives under [`Simulator::api_base`] = `http://127.0.0.1:PORT/api/gateway.php/{companyDomain}/v1`
//! (the real one is `https://api.bamboohr.com/api/gateway.php/{companyDomain}/v1`):
//! - `GET /employees/directory` — `{"fields": [...], "employees": [...]}`: active people with the
//!   directory fieldset (no supervisor id); pre-hires only with `onlyCurrent=false`; 403 when
//!   the company switched the directory off ([`BambooHandle::set_directory_enabled`]), 404 when
//!   it is empty;
//! - `GET /employees/{id}?fields=a,b,…&onlyCurrent=` — `{"id": "7", "a": …}`; id `0` is the API
//!   key's own employee; a pre-hire's job-table fields (title, department, division, location,
//!   supervisor) are `null` unless `onlyCurrent=false`; an unknown field is a 406;
//! - `GET /employees/changed?since=ISO8601&type=` — `{"latest", "employees": {"7": {"id",
//!   "action": "Inserted|Updated|Deleted", "lastChanged"}}}`;
//! - `POST /reports/custom?format=JSON|XML&onlyCurrent=` — body `{"title", "fields", "filters":
//!   {"lastChanged": {"value"}}}`, answer `{"title", "fields", "employees"}`; everybody,
//!   inactive people included.
//!
//! Every request needs HTTP Basic auth with the API key as username and any password (401
//! otherwise). Responses are XML unless the request's `Accept` includes `application/json` (the
//! custom report follows its `format` parameter instead), as BambooHR does. Values are strings
//! or `null`, ids included; dates are `YYYY-MM-DD` and an unset hire or termination date is
//! `0000-00-00`. Errors have an empty body and an `X-BambooHR-Error-Message` header.
//!
//! A fixed-window rate limit answers 429 with `Retry-After` (seconds) when exceeded; BambooHR
//! sent 503 for this until September 2026, which [`BambooConfig::throttle_status`] reproduces.
//! Faults can be injected ([`BambooHandle::inject`]) and requests are counted per path and
//! route ([`BambooHandle::stats`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use hrsync_tests::bamboo_sim::{BambooConfig, Person, Simulator};
//! let today = chrono::Utc::now().date_naive();
//! let config = BambooConfig::with_people(vec![
//!     Person::new(1, "Ada", "Lovelace").email("ada@example.com").hired(today),
//!     Person::new(2, "Charles", "Babbage").supervisor(1),
//! ]);
//! let sim = Simulator::start(config).await?;
//! println!("{} at {}", sim.config().api_key, sim.api_base());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod fixtures;
mod person;
mod routes;
mod state;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::remote_sim::RateLimit;
pub use person::{
    ChangeAction, DIRECTORY_FIELDS, KNOWN_FIELDS, Person, Status, ZERO_DATE, format_timestamp,
};
pub use routes::ERROR_HEADER;
pub use state::{BambooHandle, BambooStats, Fault};

/// Simulator settings. The key is a test fixture, never a real credential.
#[derive(Debug, Clone)]
pub struct BambooConfig {
    /// `{companyDomain}` of the URLs; another domain is a 404.
    pub company_domain: String,
    /// The API key accepted as the Basic-auth username.
    pub api_key: String,
    /// The employee `GET /employees/0` returns (the key's owner).
    pub key_owner: u32,
    /// The people at start.
    pub people: Vec<Person>,
    /// Rate limit over every request, or none.
    pub rate_limit: Option<RateLimit>,
    /// Status of the throttling answer: 429 (BambooHR from September 2026) or 503 (before).
    pub throttle_status: u16,
    /// Whether `GET /employees/directory` works (a company setting in BambooHR).
    pub directory_enabled: bool,
    /// The simulator's "today" (pre-hires, directory); the real date when `None`.
    pub today: Option<NaiveDate>,
}

impl BambooConfig {
    /// The default settings with exactly these people.
    pub fn with_people(people: Vec<Person>) -> BambooConfig {
        BambooConfig {
            people,
            ..BambooConfig::empty()
        }
    }

    /// The default settings with nobody.
    pub fn empty() -> BambooConfig {
        BambooConfig {
            company_domain: "hrsync-test".to_owned(),
            api_key: "bamboo-test-key-0123456789abcdef".to_owned(),
            key_owner: fixtures::ids::CEO,
            people: Vec::new(),
            rate_limit: None,
            throttle_status: 429,
            directory_enabled: true,
            today: None,
        }
    }

    /// The edge cases of [`fixtures::edge_cases`] (ids 1–13) plus `generated` ordinary people
    /// from [`fixtures::generate`] (ids from 100), relative to `today`.
    pub fn seeded(seed: u64, generated: usize, today: NaiveDate) -> BambooConfig {
        let mut people = fixtures::edge_cases(today);
        people.extend(fixtures::generate(seed, generated, 100, today));
        BambooConfig {
            people,
            today: Some(today),
            ..BambooConfig::empty()
        }
    }
}

impl Default for BambooConfig {
    /// [`BambooConfig::seeded`] with seed 42, 40 generated people, today's date.
    fn default() -> Self {
        BambooConfig::seeded(42, 40, chrono::Utc::now().date_naive())
    }
}

/// A running simulator. Stops on [`Simulator::shutdown`] or when dropped.
pub struct Simulator {
    addr: SocketAddr,
    handle: BambooHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds `127.0.0.1` on an ephemeral port and serves in a task.
    pub async fn start(config: BambooConfig) -> anyhow::Result<Simulator> {
        Simulator::start_on(config, 0).await
    }

    /// Like [`Simulator::start`], on a given port of `127.0.0.1` (0 for an ephemeral one).
    pub async fn start_on(config: BambooConfig, port: u16) -> anyhow::Result<Simulator> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind 127.0.0.1:{port}: {e}"))?;
        let addr = listener.local_addr()?;
        let today = config
            .today
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let handle = BambooHandle::new(config, today);
        let app = routes::router(handle.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!("bamboo simulator stopped: {e}");
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

    /// `http://127.0.0.1:PORT/api/gateway.php/{companyDomain}/v1`, no trailing slash.
    pub fn api_base(&self) -> String {
        format!(
            "{}/api/gateway.php/{}/v1",
            self.base_url(),
            self.handle.with_state(|s| s.config.company_domain.clone())
        )
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to inspect and change the simulated company.
    pub fn state(&self) -> BambooHandle {
        self.handle.clone()
    }

    /// The configuration the simulator was started with.
    pub fn config(&self) -> BambooConfig {
        self.handle.config()
    }

    /// Stops accepting connections and waits (up to 5 s) for requests in flight; then aborts
    /// whatever is left.
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
