//! A server's rate-limit hints are honoured but capped: a `Retry-After` or `x-ratelimit-reset`
//! past the cap is a clear error naming the header and value (no panic, no hang); an HTTP-date
//! `Retry-After` in the past or the near future is waited out and the retry succeeds.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hrsync::auth::{Credentials, TokenSource};
use hrsync::egress::AllowedHosts;
use hrsync::http::{ConnectorHttp, HttpSettings, RateGovernor, RetryPolicy};
use hrsync::runtime::wit::{HttpError, HttpRequest, Method};

type Calls = Arc<StdMutex<HashMap<String, u32>>>;

fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Answers by path: `huge` always 429 with a `Retry-After` of 2^64-1 seconds; `huge-reset` 200 with
/// no requests remaining until a reset of 2^64-1 ms; `past` and `soon` 429 once with an HTTP-date
/// `Retry-After` (a minute ago, two seconds ahead), then 200.
async fn answer(State(calls): State<Calls>, Path(what): Path<String>) -> Response {
    let n = {
        let mut calls = calls.lock().unwrap();
        let n = calls.entry(what.clone()).or_default();
        *n += 1;
        *n
    };
    let now = chrono::Utc::now();
    let too_many = StatusCode::TOO_MANY_REQUESTS;
    match (what.as_str(), n) {
        ("huge", _) => (
            too_many,
            [("retry-after", "18446744073709551615")],
            "slow down",
        )
            .into_response(),
        ("huge-reset", _) => (
            StatusCode::OK,
            [
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "18446744073709551615"),
            ],
            "ok",
        )
            .into_response(),
        ("past", 1) => (
            too_many,
            [(
                "retry-after",
                http_date(now - chrono::Duration::seconds(60)),
            )],
            "slow down",
        )
            .into_response(),
        ("soon", 1) => (
            too_many,
            [("retry-after", http_date(now + chrono::Duration::seconds(2)))],
            "slow down",
        )
            .into_response(),
        _ => (StatusCode::OK, "ok").into_response(),
    }
}

async fn server() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route("/{what}", axum::routing::get(answer))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), calls)
}

fn backend(base: &str) -> ConnectorHttp {
    let governor = Arc::new(RateGovernor::new(None));
    let client = hrsync::http::client(Duration::from_secs(5)).unwrap();
    let tokens = Arc::new(TokenSource::new(
        Credentials::None,
        client.clone(),
        governor.clone(),
    ));
    ConnectorHttp::new(
        HttpSettings {
            connector: "hinted".to_string(),
            base_url: base.parse().unwrap(),
            allowed_hosts: AllowedHosts::parse(&[base]).unwrap(),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        },
        client,
        tokens,
        governor,
    )
}

fn get(path: &str) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        path: path.to_string(),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
    }
}

#[tokio::test]
async fn a_retry_after_of_two_to_the_64_seconds_is_a_clear_error_not_a_panic_or_a_hang() {
    let (base, calls) = server().await;
    let http = backend(&base);
    let start = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), http.execute(get("/huge")))
        .await
        .expect("the request must not hang on a huge Retry-After");
    let Err(HttpError::Transport(message)) = outcome else {
        panic!("expected an error naming the header, got {outcome:?}");
    };
    assert!(
        message.contains("`retry-after: 18446744073709551615`") && message.contains("cap"),
        "{message}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(calls.lock().unwrap()["huge"], 1, "no retry after a refusal");

    // While the refusal is in force, the next request fails at once with the same message
    // rather than waiting for the cap.
    let start = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), http.execute(get("/other")))
        .await
        .expect("no hang");
    assert!(
        matches!(&outcome, Err(HttpError::Transport(m)) if m.contains("retry-after")),
        "{outcome:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(!calls.lock().unwrap().contains_key("other"));
}

#[tokio::test]
async fn a_huge_reset_on_a_good_answer_returns_the_answer_and_then_refuses_clearly() {
    let (base, _calls) = server().await;
    let http = backend(&base);
    let answer = tokio::time::timeout(Duration::from_secs(10), http.execute(get("/huge-reset")))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(answer.status, 200);
    let outcome = tokio::time::timeout(Duration::from_secs(10), http.execute(get("/next")))
        .await
        .expect("the connector must not be blocked for good");
    assert!(
        matches!(&outcome, Err(HttpError::Transport(m)) if m.contains("`x-ratelimit-reset: 18446744073709551615`")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_http_date_retry_after_in_the_past_retries_at_once() {
    let (base, calls) = server().await;
    let http = backend(&base);
    let start = Instant::now();
    let answer = http.execute(get("/past")).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(calls.lock().unwrap()["past"], 2);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn an_http_date_retry_after_in_the_near_future_is_waited_out() {
    let (base, calls) = server().await;
    let http = backend(&base);
    let start = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), http.execute(get("/soon")))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(calls.lock().unwrap()["soon"], 2);
    let waited = start.elapsed();
    // The date has one-second resolution: two seconds ahead is one to two seconds away.
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}
