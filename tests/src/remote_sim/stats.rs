//! Request statistics, so tests can assert how a client spent its requests.

use std::collections::BTreeMap;

/// A snapshot of what the simulator has seen ([`super::SimHandle::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every request: API and token, rejected ones included.
    pub total_requests: u64,
    /// Requests other than `POST /auth/oauth2/token`.
    pub api_requests: u64,
    /// Requests to `/auth/oauth2/token`.
    pub token_requests: u64,
    /// Count per path without the query, e.g. `/v1/employments/5f0c…`.
    pub per_path: BTreeMap<String, u64>,
    /// Count per method and route, e.g. `GET /v1/employments/{id}`.
    pub per_route: BTreeMap<String, u64>,
    /// Every 429 sent: the configured limit exceeded, and injected ones.
    pub too_many_requests: u64,
    /// 429s sent because the configured limit was exceeded (not injected).
    pub rate_limited: u64,
    /// 401s sent to API requests.
    pub unauthorized: u64,
    /// Injected faults served.
    pub faults_served: u64,
    /// Most requests counted in one rate-limit window, rejected ones included (0 without a
    /// limit). A client that never exceeded the limit keeps this at or below the limit.
    pub max_requests_in_window: u32,
    /// Most requests in any sliding 60-second span (tracked with or without a limit).
    pub peak_requests_per_minute: u32,
}

impl SimStats {
    /// Requests to this exact path (without the query).
    pub fn path_count(&self, path: &str) -> u64 {
        self.per_path.get(path).copied().unwrap_or(0)
    }

    /// Requests to this route, e.g. `GET /v1/employments/{id}`.
    pub fn route_count(&self, route: &str) -> u64 {
        self.per_route.get(route).copied().unwrap_or(0)
    }

    /// Records one request.
    pub(crate) fn record(&mut self, method: &str, path: &str, token_request: bool) {
        self.total_requests += 1;
        if token_request {
            self.token_requests += 1;
        } else {
            self.api_requests += 1;
        }
        *self.per_path.entry(path.to_owned()).or_default() += 1;
        *self.per_route.entry(route_of(method, path)).or_default() += 1;
    }
}

/// `METHOD /route/{id}` for a request path: the third segment under `/v1/` is an id.
pub(crate) fn route_of(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", collection, _id] => format!("{method} /v1/{collection}/{{id}}"),
        _ => format!("{method} {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_collapse_ids() {
        assert_eq!(
            route_of("GET", "/v1/employments/abc"),
            "GET /v1/employments/{id}"
        );
        assert_eq!(route_of("GET", "/v1/employments"), "GET /v1/employments");
        assert_eq!(
            route_of("POST", "/auth/oauth2/token"),
            "POST /auth/oauth2/token"
        );
    }
}
