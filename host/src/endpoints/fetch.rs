//! One endpoint's requests: rendered from its templates (each value escaped for where it
//! lands), sent through the connector's own HTTP (its credentials, allow-list, rate governor and
//! budget, retries and timeouts), and followed page by page.

use std::collections::{BTreeMap, HashSet};

use minijinja::Value;
use serde_json::Value as Json;

use super::error::Problem;
use super::records;
use crate::config::endpoints::{Body, Endpoint, MAX_PAGES, Method, Pagination};
use crate::mapping::Person;
use crate::runtime::{HttpBackend, wit};
use crate::templates::{Context, Escape, Templates};

/// A request as sent, for `connector test` (credentials are never part of it: the connector's
/// HTTP adds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub method: &'static str,
    /// The base URL joined with the path and the encoded query.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The answer's status (`None`: no answer).
    pub status: Option<u16>,
}

/// Everything an endpoint's requests need besides the endpoint.
pub struct Caller<'a> {
    pub http: &'a dyn HttpBackend,
    pub base_url: &'a url::Url,
    pub settings: &'a BTreeMap<String, String>,
    pub templates: &'a Templates,
}

/// The records an endpoint gave, and the requests it took.
#[derive(Debug, Default)]
pub struct Fetched {
    pub records: Vec<Json>,
    pub requests: Vec<Shown>,
    /// A per-person endpoint answered 404: nothing for this person.
    pub not_found: bool,
}

/// Where the next page comes from.
#[derive(Debug, Clone, Default)]
struct PageState {
    page: Option<u64>,
    cursor: Option<String>,
    /// A `next` link replacing path and query.
    next: Option<String>,
}

impl Caller<'_> {
    fn context(&self, person: Option<&Person>, e: &Endpoint, at: &PageState) -> Context {
        let mut root: BTreeMap<String, Value> = BTreeMap::new();
        if let Some(p) = person {
            root.insert("person".into(), crate::templates::person_value(p));
        }
        root.insert("settings".into(), Value::from(self.settings.clone()));
        let now = chrono::Utc::now();
        root.insert("today".into(), Value::from(now.date_naive().to_string()));
        root.insert(
            "now".into(),
            Value::from(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        if let Some(page) = at.page {
            root.insert("page".into(), Value::from(page));
        }
        if let Pagination::Page {
            page_size: Some(n), ..
        } = e.pagination
        {
            root.insert("page_size".into(), Value::from(n));
        }
        if let Some(c) = &at.cursor {
            root.insert("cursor".into(), Value::from(c.clone()));
        }
        Context::from_map(root)
    }

    /// The request for one page.
    fn request(
        &self,
        e: &Endpoint,
        person: Option<&Person>,
        at: &PageState,
    ) -> Result<(wit::HttpRequest, Shown), Problem> {
        let ctx = self.context(person, e, at);
        let render = |field: &str, text: &str, escape: Escape| {
            self.templates
                .render_as(text, &ctx, escape)
                .map_err(|t| Problem::Template {
                    field: field.to_string(),
                    message: t.message,
                })
        };
        let (path, query) = match &at.next {
            Some(next) => (next.clone(), Vec::new()),
            None => {
                let path = render("path", &e.path, Escape::Url)?;
                crate::templates::check_path(&path).map_err(|message| Problem::Template {
                    field: "path".into(),
                    message,
                })?;
                let mut query = Vec::with_capacity(e.query.len());
                for (k, v) in &e.query {
                    let v = render(&format!("query.{k}"), v, Escape::None)?;
                    // A parameter that renders empty is left out (a cursor on the first page).
                    if !v.is_empty() {
                        query.push((k.clone(), v));
                    }
                }
                (path, query)
            }
        };
        let mut headers = Vec::with_capacity(e.headers.len() + 1);
        for (k, v) in &e.headers {
            headers.push((k.clone(), render(&format!("headers.{k}"), v, Escape::None)?));
        }
        let body = match &e.body {
            None => None,
            Some(Body::Table(t)) => {
                let plain = |key: &str, text: &str| render(key, text, Escape::None);
                Some(crate::outbound::json_value("body", t, &plain)?.to_string())
            }
            Some(Body::Template(t)) => {
                let body = render("body", t, Escape::Json)?;
                crate::templates::check_json(&body).map_err(|message| Problem::Template {
                    field: "body".into(),
                    message,
                })?;
                Some(body)
            }
        };
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let shown = Shown {
            method: e.method.as_str(),
            url: self.shown_url(&path, &query),
            headers: headers.clone(),
            body: body.clone(),
            status: None,
        };
        let method = match e.method {
            Method::Get => wit::Method::Get,
            Method::Post => wit::Method::Post,
            Method::Put => wit::Method::Put,
            Method::Patch => wit::Method::Patch,
            Method::Delete => wit::Method::Delete,
        };
        Ok((
            wit::HttpRequest {
                method,
                path,
                query,
                headers,
                body: body.map(String::into_bytes),
            },
            shown,
        ))
    }

    /// The URL as the connector's HTTP builds it (for showing; it resolves the real one).
    fn shown_url(&self, path: &str, query: &[(String, String)]) -> String {
        let joined = if path.starts_with('/') {
            format!("{}{path}", self.base_url.as_str().trim_end_matches('/'))
        } else {
            path.to_string()
        };
        match url::Url::parse(&joined) {
            Ok(mut u) => {
                if !query.is_empty() {
                    u.query_pairs_mut().extend_pairs(query);
                }
                u.to_string()
            }
            Err(_) => joined,
        }
    }

    /// Every page of an endpoint's records (for a per-person endpoint, `person`'s).
    pub async fn fetch(
        &self,
        e: &Endpoint,
        person: Option<&Person>,
    ) -> Result<Fetched, (Problem, Vec<Shown>)> {
        let mut out = Fetched::default();
        let mut at = PageState {
            page: match e.pagination {
                Pagination::Page { start, .. } => Some(start),
                _ => None,
            },
            ..PageState::default()
        };
        let mut cursors: HashSet<String> = HashSet::new();
        let mut previous: Option<Vec<Json>> = None;
        for number in 1..=MAX_PAGES {
            let (answer, headers) = match self.page(e, person, &at, &mut out).await {
                Ok(Some(a)) => a,
                Ok(None) => {
                    out.not_found = true;
                    return Ok(out);
                }
                Err(p) => return Err((p, out.requests)),
            };
            let page = records::records(&answer, e.records.as_deref())
                .map_err(|p| (p, out.requests.clone()))?;
            let count = page.len();
            if count > 0 && previous.as_ref() == Some(&page) {
                return Err((
                    Problem::Pagination(format!(
                        "page {number} repeats page {} (a page parameter the API ignores?); stopped",
                        number - 1
                    )),
                    out.requests,
                ));
            }
            out.records.extend(page.iter().cloned());
            previous = Some(page);
            let more = match &e.pagination {
                Pagination::None => false,
                Pagination::Page {
                    page_size,
                    total_pages,
                    ..
                } => {
                    let current = at.page.unwrap_or(1);
                    let last = total_pages
                        .as_deref()
                        .and_then(|p| answer.pointer(p))
                        .and_then(Json::as_u64)
                        .is_some_and(|total| current >= total);
                    let short = page_size.is_some_and(|n| (count as u64) < n);
                    at.page = Some(current + 1);
                    count > 0 && !last && !short
                }
                Pagination::Cursor { cursor } => {
                    match answer.pointer(cursor).and_then(|c| match c {
                        Json::String(s) if !s.is_empty() => Some(s.clone()),
                        Json::Number(n) => Some(n.to_string()),
                        _ => None,
                    }) {
                        None => false,
                        Some(c) => {
                            if !cursors.insert(c.clone()) {
                                return Err((
                                    Problem::Pagination(format!(
                                        "page {number} returned the cursor `{c}` of an earlier page: the listing would loop"
                                    )),
                                    out.requests,
                                ));
                            }
                            at.cursor = Some(c);
                            true
                        }
                    }
                }
                Pagination::Next { next } => {
                    let link = match next {
                        Some(p) => answer
                            .pointer(p)
                            .and_then(Json::as_str)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                        None => next_link(&headers),
                    };
                    match link {
                        None => false,
                        Some(link) => {
                            let link = self
                                .under_base(&link)
                                .map_err(|p| (p, out.requests.clone()))?;
                            if !cursors.insert(link.clone()) {
                                return Err((
                                    Problem::Pagination(format!(
                                        "page {number} links to an earlier page (`{link}`): the listing would loop"
                                    )),
                                    out.requests,
                                ));
                            }
                            at.next = Some(link);
                            true
                        }
                    }
                }
            };
            if !more {
                return Ok(out);
            }
        }
        Err((
            Problem::Pagination(format!(
                "more than {MAX_PAGES} pages; stopped there (records read so far are not used)"
            )),
            out.requests,
        ))
    }

    /// One request and its JSON answer; `None` for a per-person 404.
    async fn page(
        &self,
        e: &Endpoint,
        person: Option<&Person>,
        at: &PageState,
        out: &mut Fetched,
    ) -> Result<Option<(Json, Vec<(String, String)>)>, Problem> {
        let (request, mut shown) = self.request(e, person, at)?;
        let described = format!("{} {}", shown.method, strip_query(&shown.url));
        let answer = self.http.send(request).await;
        let answer = match answer {
            Ok(a) => a,
            Err(err) => {
                out.requests.push(shown);
                return Err(Problem::Request {
                    request: described,
                    message: http_error(&err),
                });
            }
        };
        shown.status = Some(answer.status);
        out.requests.push(shown);
        if answer.status == 404 && e.per_person {
            return Ok(None);
        }
        if !(200..300).contains(&answer.status) {
            return Err(Problem::Status {
                request: described,
                status: answer.status,
                body: snippet(&answer.body),
            });
        }
        let json: Json = serde_json::from_slice(&answer.body).map_err(|err| Problem::NotJson {
            request: described,
            message: format!("{err}; it starts {}", snippet(&answer.body)),
        })?;
        Ok(Some((json, answer.headers)))
    }

    /// A next link, made relative to the base URL; one elsewhere is refused (it would get no
    /// credentials, or leave the connector's API).
    fn under_base(&self, link: &str) -> Result<String, Problem> {
        let url = self.base_url.join(link).map_err(|e| {
            Problem::Pagination(format!("the next link `{link}` is not a URL: {e}"))
        })?;
        let base = self.base_url.as_str().trim_end_matches('/');
        let full = url.as_str();
        match full.strip_prefix(base) {
            Some(rest) if rest.starts_with('/') => Ok(rest.to_string()),
            _ => Err(Problem::Pagination(format!(
                "the next link `{link}` leaves the connector's base_url {}",
                self.base_url
            ))),
        }
    }
}

/// `Link: <…>; rel="next"`.
fn next_link(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("link"))
        .flat_map(|(_, v)| v.split(','))
        .find(|part| {
            part.split(';')
                .skip(1)
                .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
        })
        .and_then(|part| {
            let part = part.trim();
            let start = part.find('<')? + 1;
            let end = part.find('>')?;
            (start <= end).then(|| part[start..end].to_string())
        })
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The start of a body, for messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None if text.is_empty() => "(empty)".to_string(),
        None => text.to_string(),
    }
}

fn http_error(e: &wit::HttpError) -> String {
    match e {
        wit::HttpError::Denied(m) => format!("denied: {m}"),
        wit::HttpError::Timeout(ms) => format!("no answer within {ms} ms"),
        wit::HttpError::Transport(m) => format!("connection failed: {m}"),
        wit::HttpError::Auth(m) => format!("no credentials: {m}"),
        wit::HttpError::InvalidRequest(m) => format!("refused by hrsync: {m}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn link_headers() {
        let h = vec![(
            "Link".to_string(),
            "<https://h/v1/x?page=1>; rel=\"prev\", <https://h/v1/x?page=3>; rel=\"next\""
                .to_string(),
        )];
        assert_eq!(next_link(&h).as_deref(), Some("https://h/v1/x?page=3"));
        assert_eq!(next_link(&[]), None);
    }
}
