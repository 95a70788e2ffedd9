//! A small HR API for the REST connector (`plugin = "builtin:rest"`): a real HTTP server on
//! `127.0.0.1` that stops when dropped.
//!
//! - `GET /people?page=N` — `{"data": [...], "page": N, "total_pages": T}`, [`PAGE_SIZE`] people
//!   a page (page 1 first);
//! - `GET /people/{id}` — `{"data": {...}}`, or 404.
//!
//! Every request needs `Authorization: Bearer TOKEN` (401 otherwise). A person is
//! `{"id", "first_name", "last_name", "preferred_name", "email", "department", "title",
//! "employment": {"state", "start", "end"}, "manager": {"id"}}`; states are `Hired`, `Active`,
//! `Notice` and `Left`. Requests are counted by route.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// People a page.
pub const PAGE_SIZE: usize = 3;

/// The simulator's people and counters.
#[derive(Debug, Default)]
struct Inner {
    people: Vec<Value>,
    requests: BTreeMap<&'static str, u64>,
    unauthorized: u64,
}

/// A handle on the simulator's state.
#[derive(Debug, Clone)]
pub struct RestHandle {
    inner: Arc<Mutex<Inner>>,
    token: Arc<str>,
}

impl RestHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The people, in list order.
    pub fn people(&self) -> Vec<Value> {
        self.lock().people.clone()
    }

    /// Adds a person (listed last).
    pub fn add(&self, person: Value) {
        self.lock().people.push(person);
    }

    /// Changes the person with `id`; false when there is none.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Value)) -> bool {
        let mut inner = self.lock();
        match inner.people.iter_mut().find(|p| p["id"] == id) {
            Some(p) => {
                change(p);
                true
            }
            None => false,
        }
    }

    /// Requests answered on `route` (`GET /people`, `GET /people/{id}`).
    pub fn requests(&self, route: &str) -> u64 {
        self.lock().requests.get(route).copied().unwrap_or(0)
    }

    /// Requests refused for want of the bearer token.
    pub fn unauthorized(&self) -> u64 {
        self.lock().unauthorized
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let ok = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t == &*self.token);
        if !ok {
            self.lock().unauthorized += 1;
        }
        ok
    }

    fn count(&self, route: &'static str) {
        *self.lock().requests.entry(route).or_default() += 1;
    }
}

/// A person as the simulator serves them.
#[allow(clippy::too_many_arguments)]
pub fn person(
    id: &str,
    first: &str,
    last: &str,
    department: &str,
    state: &str,
    start: &str,
    end: Option<&str>,
    manager: Option<&str>,
) -> Value {
    json!({
        "id": id,
        "first_name": first,
        "last_name": last,
        "email": format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
        "department": department,
        "title": format!("{department} specialist"),
        "employment": {"state": state, "start": start, "end": end},
        "manager": manager.map(|m| json!({"id": m})),
    })
}

/// A running simulator; stops when dropped.
pub struct RestSim {
    addr: SocketAddr,
    handle: RestHandle,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn list(
    State(h): State<RestHandle>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if !h.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    h.count("GET /people");
    let people = h.people();
    let page = q.page.unwrap_or(1).max(1);
    let total_pages = people.len().div_ceil(PAGE_SIZE).max(1);
    let data: Vec<Value> = people
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    axum::Json(json!({"data": data, "page": page, "total_pages": total_pages})).into_response()
}

async fn one(State(h): State<RestHandle>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !h.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    h.count("GET /people/{id}");
    match h.people().into_iter().find(|p| p["id"] == id.as_str()) {
        Some(p) => axum::Json(json!({"data": p})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl RestSim {
    /// Serves `people` on an ephemeral port of `127.0.0.1`, accepting `token`.
    pub async fn start(token: &str, people: Vec<Value>) -> anyhow::Result<RestSim> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let handle = RestHandle {
            inner: Arc::new(Mutex::new(Inner {
                people,
                ..Inner::default()
            })),
            token: Arc::from(token),
        };
        let app = Router::new()
            .route("/people", get(list))
            .route("/people/{id}", get(one))
            .with_state(handle.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                // A dropped sender stops the server too.
                stopped.await.ok();
            });
            if let Err(e) = serve.await {
                tracing::warn!("rest simulator stopped: {e}");
            }
        });
        Ok(RestSim {
            addr,
            handle,
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulator's state.
    pub fn handle(&self) -> RestHandle {
        self.handle.clone()
    }
}

impl Drop for RestSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take()
            && stop.send(()).is_err()
        {
            tracing::debug!("rest simulator already stopped");
        }
        self.task.abort();
    }
}
