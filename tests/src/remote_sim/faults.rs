//! Faults a test can inject into the next requests ([`super::SimHandle::inject`]).

use std::collections::{BTreeMap, VecDeque};
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

/// A lasting misbehaviour of `GET /v1/employments` (until [`super::SimHandle::set_list_quirk`]
/// with `None`), as a buggy API or one whose data moves under a paging client shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListQuirk {
    /// The `page` parameter is ignored: every page holds page 1's people, and `total_pages` is
    /// always one more than the page asked for, so a client that trusts it never ends.
    IgnoresPage,
    /// The last person of each page is listed again first on the next page (as when someone is
    /// inserted before them while the pages are read).
    RepeatsAcrossPages,
}

/// Pending faults, served first in, first out, one per request.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    api: VecDeque<Fault>,
    token: VecDeque<Fault>,
    /// Faults for `GET /v1/employments` with a given `page` only, served before `api` ones.
    list_pages: BTreeMap<usize, VecDeque<Fault>>,
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

    /// Queues `fault` for the next `times` requests of page `page` of `GET /v1/employments`.
    pub(crate) fn push_list_page(&mut self, page: usize, fault: Fault, times: u32) {
        self.list_pages
            .entry(page)
            .or_default()
            .extend(std::iter::repeat_n(fault, times as usize));
    }

    /// The fault for the request now arriving, if any. `employments_page` is the page asked for
    /// when the request is `GET /v1/employments`.
    pub(crate) fn next(
        &mut self,
        token_request: bool,
        employments_page: Option<usize>,
    ) -> Option<Fault> {
        if token_request {
            return self.token.pop_front();
        }
        if let Some(page) = employments_page
            && let Some(queue) = self.list_pages.get_mut(&page)
            && let Some(fault) = queue.pop_front()
        {
            return Some(fault);
        }
        self.api.pop_front()
    }

    /// Forgets every pending fault.
    pub(crate) fn clear(&mut self) {
        self.api.clear();
        self.token.clear();
        self.list_pages.clear();
    }

    /// Number of faults still pending (API, including list-page ones; token).
    pub(crate) fn pending(&self) -> (usize, usize) {
        let pages: usize = self.list_pages.values().map(VecDeque::len).sum();
        (self.api.len() + pages, self.token.len())
    }
}
