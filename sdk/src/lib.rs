//! # hrsync-sdk — write an HR connector for hrsync
//!
//! A connector teaches hrsync to read people from one HR system. It is a WebAssembly component
//! built for `wasm32-wasip2`, sandboxed by the host: it reaches the network only through
//! [`http`], and never sees a token or a secret. The contract of record is
//! `wit/v0.2/connector.wit`;
//! this crate hides the generated bindings behind a small trait ([`Connector`]) and one macro
//! ([`export_connector!`]).
//!
//! This page is the plugin author's guide. It walks the loop from an empty folder to a connector
//! hrsync runs, then each part of a connector.
//!
//! ## The loop
//!
//! ```sh
//! hrsync connector new acme                 # plugins/acme: Cargo.toml, src/lib.rs with a unit test
//! cargo test -p hrsync-plugin-acme          # the logic, natively, against canned HTTP answers
//! cargo xtask build-plugins                 # every plugin for wasm32-wasip2 (profile `wasm`)
//! hrsync connector test acme                # against the real HR system: fields and samples
//! ```
//!
//! `cargo xtask build-plugins` finds every plugin crate under `plugins/` and `tests/plugins/` by
//! reading its `Cargo.toml` (a `cdylib`); the component lands in
//! `target/wasm32-wasip2/wasm/hrsync_plugin_acme.wasm`. Point the configuration at it:
//!
//! ```toml
//! [connectors.acme]
//! plugin = "target/wasm32-wasip2/wasm/hrsync_plugin_acme.wasm"
//! base_url = "https://api.acme-hr.example"
//! allowed_hosts = ["https://api.acme-hr.example"]
//! auth = { kind = "basic", secret = { env = "ACME_API_KEY" } }
//! ```
//!
//! ## A connector
//!
//! ```no_run
//! use hrsync_sdk::prelude::*;
//!
//! struct Acme {
//!     api: http::Client,
//! }
//!
//! impl Connector for Acme {
//!     fn new() -> Self {
//!         Acme { api: http::Client::new().header("accept", "application/json") }
//!     }
//!
//!     fn describe(&self) -> Descriptor {
//!         DescriptorBuilder::new("acme", env!("CARGO_PKG_VERSION"))
//!             // The API key is the Basic user name; the password is ignored.
//!             .auth(AuthScheme::Basic(BasicAuth {
//!                 secret_as: BasicPart::Username,
//!                 other: Some("x".into()),
//!             }))
//!             // List records carry names and the work email, not dates or the manager.
//!             .list_facts(&[Fact::GivenName, Fact::FamilyName, Fact::DisplayName, Fact::WorkEmail])
//!             .field("job_title", FieldKind::Text, "Job title", "Engineer")
//!             .build()
//!     }
//!
//!     fn list(&self, cursor: Option<String>) -> Result<Page, Error> {
//!         let page = pagination::page_number(cursor.as_deref())?;
//!         let body: serde_json::Value =
//!             self.api.get_json("/people", &[("page", page.to_string())])?;
//!         let mut out = Page::default();
//!         for item in body["people"].as_array().into_iter().flatten() {
//!             match person(item) {
//!                 Ok(p) => out.people.push(p.build()),
//!                 Err(rejected) => out.rejected.push(rejected),
//!             }
//!         }
//!         out.next_cursor = pagination::next_cursor(page, body["pages"].as_u64().unwrap_or(1) as u32);
//!         Ok(out)
//!     }
//!
//!     fn get(&self, id: &str) -> Result<Person, Error> {
//!         let body: serde_json::Value =
//!             self.api.get_json(&format!("/people/{}", ids::path_segment(id)), &[])?;
//!         let detail = || -> Result<Person, InvalidRecord> {
//!             Ok(person(&body)?
//!                 .start_date(body["hire_date"].as_str())?
//!                 .end_date(body["termination_date"].as_str())?
//!                 .manager_id(body["manager_id"].as_str())
//!                 .complete(true)
//!                 .build())
//!         };
//!         detail().map_err(Error::InvalidData)
//!     }
//! }
//!
//! /// What a list item and a detail share.
//! fn person(item: &serde_json::Value) -> Result<PersonBuilder, InvalidRecord> {
//!     let id = ids::require(item, "id")?;
//!     let status = match item["status"].as_str() {
//!         Some("active") => Lifecycle::Active,
//!         Some("inactive") => Lifecycle::Terminated,
//!         _ => Lifecycle::Unknown,
//!     };
//!     Ok(PersonBuilder::new(&id, status, item["status"].as_str().unwrap_or(""))
//!         .given_name(item["first_name"].as_str())
//!         .family_name(item["last_name"].as_str())
//!         .display_name(item["name"].as_str())
//!         .work_email(item["work_email"].as_str())
//!         .text("job_title", item["job_title"].as_str())
//!         .raw(item))
//! }
//!
//! hrsync_sdk::export_connector!(Acme);
//! ```
//!
//! - [`Connector::new`] runs before every call, in a fresh instance: keep nothing between calls.
//! - [`Connector::describe`] declares the authentication schemes, what list records hold, the
//!   fields, events and actions; it must not send requests.
//! - [`Connector::list`] returns one [`Page`]; its cursor is opaque to the host. Put a record
//!   that cannot be read into [`Page::rejected`] (the host quarantines it and goes on) rather
//!   than failing the page — a failed page makes the whole listing incomplete.
//! - [`Connector::get`] returns one person with every detail (`complete(true)`).
//! - [`Connector::parse_webhook`], [`Connector::invoke`] and [`Connector::list_changes`] are
//!   optional.
//!
//! ## People: facts, not decisions
//!
//! [`PersonBuilder`] builds a [`Person`]: the HR id (stable for the employment: hrsync anchors
//! the account to it), the [`Lifecycle`] you map the HR status word onto with a fixed table —
//! document the table; use [`Lifecycle::Unknown`] for a status you do not know, which never
//! creates, disables or deletes an account — the HR system's own status word, and the typed
//! facts the engine uses:
//!
//! | builder | fact | templates see it as |
//! | --- | --- | --- |
//! | [`PersonBuilder::start_date`] | first working day | `start_date` |
//! | [`PersonBuilder::end_date`] | last day of employment | `end_date`, `termination_date` |
//! | [`PersonBuilder::manager_id`] | the manager's id | `manager_id`, `manager_employment_id` |
//! | [`PersonBuilder::given_name`] | given name | `given_name`, `first_name` |
//! | [`PersonBuilder::family_name`] | family name | `family_name`, `last_name` |
//! | [`PersonBuilder::display_name`] | name to show | `display_name`, `full_name` |
//! | [`PersonBuilder::work_email`] | work email | `work_email` |
//!
//! Everything else is a field ([`PersonBuilder::text`], [`PersonBuilder::parse_date`] …), and the
//! record as JSON ([`PersonBuilder::raw`]) lets an admin map a field you did not foresee
//! (`raw.address.city`). Field names are `snake_case` and stable: admins' templates use them. A
//! field named like a fact is hidden by the fact: do not send both.
//!
//! Never compute "pre-hire", "started" or "left" from today's date: report the status word's
//! mapping and the dates, and hrsync decides in the admin's `sync.time_zone`:
//!
//! - `terminated`: a leaver; `unknown`: the account is left as it is;
//! - otherwise an `end_date` on or before today makes a leaver;
//! - otherwise a `start_date` after today makes a pre-hire (whatever the status: a system that
//!   says `active` from the signed offer needs no pre-hire status), created disabled
//!   `sync.prehire_days` before it; a `pre-hire` without a start date is created disabled;
//! - otherwise the account is enabled.
//!
//! Offboardings, terminations and contract ends are folded into `end_date` by the plugin (the
//! Remote connector reads Remote's offboardings for its details); hrsync reads no HR system's
//! JSON.
//!
//! - Dates: the host expects `YYYY-MM-DD`. [`dates::parse`] (and the date builders) take a date
//!   or any ISO 8601 date-time and keep the date as written, never shifted to UTC; a malformed
//!   date is an [`InvalidRecord`] naming the person and the field.
//! - Ids: [`ids::from_json`] reads a string or numeric id the same way every time;
//!   [`ids::require`] rejects a record without one; [`ids::path_segment`] encodes an id for a URL
//!   path, so `a/../b` cannot reach another endpoint.
//!
//! ## List records and details: merge and freshness
//!
//! hrsync lists everyone every run and fetches details ([`Connector::get`]) only when needed. Say
//! what your list records hold with [`DescriptorBuilder::list_facts`] (the facts present whenever
//! HR has them) and [`DescriptorBuilder::list_has_status`] (`false` if the list's status is
//! missing or stale). Then, per person:
//!
//! 1. list record unchanged since the stored detail was fetched: the stored detail is used;
//! 2. changed: the stored detail, overlaid with what the list carries — the declared facts (a
//!    declared fact's `None` clears it), the status when the list has one, every field in the
//!    list record, and the top-level keys of `raw`;
//! 3. no detail yet: the list record alone.
//!
//! Details are fetched, within the connector's request budget: new people first, then pre-hires
//! whose list record changed, then other changed records, then details older than
//! `sync.detail_max_age_days` (default 1 day), then — while budget lasts — any detail older than
//! an hour. A fact only details carry is at most `detail_max_age_days` old; a webhook makes
//! hrsync fetch that person's detail at once. `wit/v0.2/connector.wit` has the full rules.
//!
//! ## HTTP and authentication
//!
//! [`http`] sends through the host, which adds the base URL, the credential, timeouts, retries
//! of 429 and 5xx, the rate limit and the egress allow-list. [`http::get_json`] and friends
//! decode JSON and turn 401/403 into [`Error::Auth`], 429 into [`Error::RateLimited`], other
//! errors into [`Error::Remote`] with the HR system's message, and the host's refusals into
//! [`Error::Http`] carrying the host's [`HttpError`] as it is. An [`http::Client`] carries
//! default headers and query parameters on every request. [`pagination`] has page-number
//! cursors.
//!
//! Declare every scheme the HR system accepts with [`DescriptorBuilder::auth`]; the admin picks
//! one and gives only the secret:
//!
//! | [`AuthScheme`] | configuration (`[connectors.NAME] auth = …`) |
//! | --- | --- |
//! | `Bearer` | `{ kind = "bearer", token = { env = "…" } }` (also `kind = "api-token"`) |
//! | `OauthClientCredentials` | `{ kind = "client-credentials", token_url, client_id, client_secret = { … } }` |
//! | `OauthRefreshToken` | `{ kind = "refresh-token", token_url, client_id, client_secret = { … }, refresh_token_file }` |
//! | `Basic(BasicAuth { secret_as, other })` | `{ kind = "basic", secret = { env = "…" } }`, plus `username = "…"` (the secret is then the password) when `other` is `None` |
//! | `ApiKey(KeyPlacement::Header(name))` / `ApiKey(KeyPlacement::Query(name))` | `{ kind = "api-key", secret = { file = "…" } }` (also `api_key`) |
//!
//! A configuration whose kind the plugin did not declare is refused when the connector loads,
//! naming both. The host attaches the credential only to requests for `base_url`'s origin. A
//! request that sets `authorization` (or the API key's header), or whose URL has userinfo
//! (`https://user:pass@…`), is refused with [`HttpError::InvalidRequest`].
//!
//! ## Settings, secrets, webhooks, actions
//!
//! - [`settings`] reads `[connectors.NAME.settings]`; secrets are never readable.
//! - [`webhook::verify_hmac_sha256`] checks a signature with a secret that stays in the host.
//! - Actions are declared with [`DescriptorBuilder::action`] and run by [`Connector::invoke`];
//!   [`builders::param`] reads a parameter. An action's output is shown to the admin; hrsync
//!   never interprets it.
//! - [`log`] writes into the host's log, in the run's span; never log a credential.
//!
//! ## Testing
//!
//! Built natively (`cargo test`), every host call goes to the [`testing::Harness`] installed on
//! the thread: canned HTTP answers by method and path, settings, secrets; then look at the
//! requests sent and the log lines.
//!
//! ```
//! use hrsync_sdk::testing::{Harness, Reply};
//! use hrsync_sdk::http::{self, Method};
//!
//! let harness = Harness::new()
//!     .route(Method::Get, "/people", |_| Reply::json(200, &serde_json::json!({"people": []})));
//! let body: serde_json::Value = harness.run(|| http::get_json("/people", &[])).unwrap();
//! assert_eq!(body["people"], serde_json::json!([]));
//! assert_eq!(harness.requests()[0].path, "/people");
//! ```
//!
//! ## The sandbox's limits
//!
//! Each call runs in a fresh instance under limits set by the admin or fixed by the host. A
//! call past one ends with an error naming the plugin, the call and the limit.
//!
//! | limit | default |
//! | --- | --- |
//! | wall-clock time per call, including the host's HTTP requests | 120 s (`deadline_secs`) |
//! | memory: every linear memory and table together | 64 MiB (`memory_mib`) |
//! | people (and rejected records) per page | 10,000 |
//! | items in any other list (fields of a person, events, headers, query parameters) | 1,000 |
//! | bytes per string (ids, field values, `raw`, messages) | 1 MiB |
//! | request body / answer body | 16 MiB / 32 MiB |
//! | log lines per call / bytes per line | 1,000 / 4 KiB (the rest dropped, with one "log truncated" line) |
//!
//! Ask the HR system for pages well under these (100 to 1,000 people).
//!
//! ## Versions
//!
//! The contract's version is part of every interface name (`hrsync:connector/connector@0.2.0`,
//! [`CONTRACT_VERSION`]); each version's WIT is kept frozen in `wit/vX.Y/`. A host refuses a
//! plugin built for a version it does not support, naming both; rebuild with the matching
//! `hrsync-sdk`.
//!
//! | hrsync (host) | loads contract | hrsync-sdk builds |
//! | --- | --- | --- |
//! | 0.1 | 0.1.0 | 0.1 → 0.1.0 |
//! | 0.2 | 0.2.0 (a 0.1.0 plugin is refused, naming both versions) | 0.2 → 0.2.0 |
//!
//! From 0.1 to 0.2: the names, dates, manager and work email moved from fields to typed facts
//! ([`PersonBuilder::given_name`] …); `termination_date` is the fact `end_date`; authentication
//! schemes are declared ([`DescriptorBuilder::auth`]); [`Error::Http`] carries the host's
//! [`HttpError`]; [`Page::watermark`] and [`Connector::list_changes`] are new.

#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit/v0.2",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "::hrsync_sdk::__private::bindings",
        additional_derives: [PartialEq],
    });
}

pub mod builders;
pub mod dates;
mod host;
pub mod http;
pub mod ids;
pub mod log;
pub mod pagination;
pub mod settings;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod webhook;

pub use bindings::exports::hrsync::connector::connector::{
    ActionOutput, ActionSpec, AuthScheme, BasicAuth, BasicPart, Descriptor, EventKind, FieldKind,
    FieldSpec, HrEvent, KeyPlacement, Listing, Page, WebhookError, WebhookRequest,
};
pub use bindings::hrsync::connector::types::{
    ConnectorError as Error, Fact, Field, FieldValue, HttpError, InvalidRecord, Lifecycle, Person,
    RemoteFailure,
};
pub use builders::{DescriptorBuilder, PersonBuilder, invalid};
/// The JSON crate the SDK uses, so a connector needs no version of its own.
pub use serde_json;

/// The contract version this SDK builds plugins for (the `hrsync:connector` WIT package version).
pub const CONTRACT_VERSION: &str = "0.2.0";

/// What a connector does. Implement it on your type and register it with [`export_connector!`].
///
/// Every method runs inside the host's sandbox, one call at a time. Keep no state that must
/// survive between calls: the host may give each call a fresh instance.
pub trait Connector: 'static {
    /// Creates the connector. Called before each call's method; read settings here if you like.
    fn new() -> Self
    where
        Self: Sized;

    /// Describes the connector: its fields, events and actions. Must not send requests.
    fn describe(&self) -> Descriptor;

    /// One page of people, starting at `cursor` (`None` for the first page).
    ///
    /// Put records that cannot be read into [`Page::rejected`] rather than failing the page.
    fn list(&self, cursor: Option<String>) -> Result<Page, Error>;

    /// One person by id, with every detail the HR system has.
    fn get(&self, id: &str) -> Result<Person, Error>;

    /// One page of the people changed since `since` (a [`Page::watermark`] this connector gave),
    /// starting at `cursor`. Only for a connector that declares
    /// [`DescriptorBuilder::list_changes`]; the default says it is not supported. hrsync 0.2
    /// does not call it yet.
    fn list_changes(&self, since: &str, cursor: Option<String>) -> Result<Page, Error> {
        let _ = cursor;
        Err(Error::Unsupported(format!(
            "this connector cannot list changes (since `{since}`)"
        )))
    }

    /// Verifies and reads an inbound webhook. The default says webhooks are not supported.
    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<HrEvent>, WebhookError> {
        let _ = request;
        Err(WebhookError::Other(
            "this connector does not accept webhooks".to_string(),
        ))
    }

    /// Runs an outbound action. The default says there are none.
    fn invoke(&self, action: &str, params: &[Field]) -> Result<ActionOutput, Error> {
        let _ = params;
        Err(Error::Unsupported(format!(
            "this connector has no action named `{action}`"
        )))
    }
}

/// The usual imports for a connector.
pub mod prelude {
    pub use crate::{
        ActionOutput, ActionSpec, AuthScheme, BasicAuth, BasicPart, Connector, Descriptor,
        DescriptorBuilder, Error, EventKind, Fact, Field, FieldKind, FieldSpec, FieldValue,
        HrEvent, HttpError, InvalidRecord, KeyPlacement, Lifecycle, Listing, Page, Person,
        PersonBuilder, RemoteFailure, WebhookError, WebhookRequest, dates, http, ids, invalid, log,
        pagination, serde_json, settings, webhook,
    };
}

#[allow(clippy::derivable_impls)] // `Page` is generated by wit-bindgen: the derive cannot go there.
impl Default for Page {
    fn default() -> Self {
        Page {
            people: Vec::new(),
            rejected: Vec::new(),
            next_cursor: None,
            total: None,
            watermark: None,
        }
    }
}

impl std::fmt::Display for InvalidRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.record_id, &self.field) {
            (Some(id), Some(field)) => write!(f, "record {id}, field `{field}`: {}", self.message),
            (Some(id), None) => write!(f, "record {id}: {}", self.message),
            (None, Some(field)) => {
                write!(f, "a record without id, field `{field}`: {}", self.message)
            }
            (None, None) => write!(f, "a record without id: {}", self.message),
        }
    }
}

/// Registers a [`Connector`] type as the plugin's exports. Call it once, at the crate root.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[doc(hidden)]
        pub struct __HrsyncExports;

        impl $crate::__private::Guest for __HrsyncExports {
            fn describe() -> $crate::Descriptor {
                $crate::__private::describe(&<$connector as $crate::Connector>::new())
            }
            fn list_people(cursor: Option<String>) -> Result<$crate::Page, $crate::Error> {
                <$connector as $crate::Connector>::new().list(cursor)
            }
            fn list_changes(
                since: String,
                cursor: Option<String>,
            ) -> Result<$crate::Page, $crate::Error> {
                <$connector as $crate::Connector>::new().list_changes(&since, cursor)
            }
            fn get_person(id: String) -> Result<$crate::Person, $crate::Error> {
                <$connector as $crate::Connector>::new().get(&id)
            }
            fn parse_webhook(
                request: $crate::WebhookRequest,
            ) -> Result<Vec<$crate::HrEvent>, $crate::WebhookError> {
                <$connector as $crate::Connector>::new().parse_webhook(&request)
            }
            fn invoke(
                action: String,
                params: Vec<$crate::Field>,
            ) -> Result<$crate::ActionOutput, $crate::Error> {
                <$connector as $crate::Connector>::new().invoke(&action, &params)
            }
        }

        // Only a wasm component exports the contract; native builds (tests) must not.
        #[cfg(target_arch = "wasm32")]
        $crate::__private::bindings::__export_plugin!(__HrsyncExports);
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::exports::hrsync::connector::connector::Guest;

    /// Stamps the contract version into what the plugin says of itself.
    pub fn describe(connector: &impl crate::Connector) -> crate::Descriptor {
        let mut d = connector.describe();
        d.contract_version = crate::CONTRACT_VERSION.to_string();
        d
    }
}
