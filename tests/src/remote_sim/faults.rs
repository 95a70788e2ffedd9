//! Faults a test can inject into the next requests ([`super::SimHandle::inject`]).

use std::collections::VecDeque;
use std::time::Duration;

/// A failure served instead of (or before) the normal response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `{"message":"Too many requests"}` with the rate-limit headers (remaining 0).
    TooManyRequests,
    /// This status with `{"message": …}`.
    ServerError(u16),
    /// The connection is closed without any response.
    DropConnection,
    /// The request is answered normally after this delay.
    Latency(Duration),
    /// 401 `{"message":"Unauthorized"}`; the access token presented is revoked (as if it had
    /// expired), so the client must get a new one. The static API token is not revoked.
    ExpiredToken,
}

/// Pending faults, served first in, first out, one per request.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    api: VecDeque<Fault>,
    token: VecDeque<Fault>,
}

impl FaultQueue {
    /// Queues `fault` for the next `times` API requests.
    pub(crate) fn push_api(&mut self, fault: Fault, times: u32) {
        self.api.extend(std::iter::repeat_n(fault, times as usize));
    }

    /// Queues `fault` for the next `times` token requests.
    pub(crate) fn push_token(&mut self, fault: Fault, times: u32) {
        self.token
            .extend(std::iter::repeat_n(fault, times as usize));
    }

    /// The fault for the request now arriving, if any.
    pub(crate) fn next(&mut self, token_request: bool) -> Option<Fault> {
        if token_request {
            self.token.pop_front()
        } else {
            self.api.pop_front()
        }
    }

    /// Forgets every pending fault.
    pub(crate) fn clear(&mut self) {
        self.api.clear();
        self.token.clear();
    }

    /// Number of faults still pending (API, token).
    pub(crate) fn pending(&self) -> (usize, usize) {
        (self.api.len(), self.token.len())
    }
}
