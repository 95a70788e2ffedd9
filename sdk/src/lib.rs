//! # hrsync-sdk — write an HR connector for hrsync
//!
//! A connector teaches hrsync to read people from one HR system. It is a WebAssembly component
//! built for `wasm32-wasip2`, sandboxed by the host: it reaches the network only through
//! [`http`], and never sees a token or a secret. The contract of record is `wit/connector.wit`;
//! this crate hides the generated bindings behind a small trait and one macro.
//!
//! ```no_run
//! use hrsync_sdk::prelude::*;
//!
//! struct Acme;
//!
//! impl Connector for Acme {
//!     fn new() -> Self { Acme }
//!
//!     fn describe(&self) -> Descriptor {
//!         DescriptorBuilder::new("acme", env!("CARGO_PKG_VERSION"))
//!             .field("full_name", FieldKind::Text, "Full name", "Ada Lovelace")
//!             .build()
//!     }
//!
//!     fn list(&self, cursor: Option<String>) -> Result<Page, Error> {
//!         let page = pagination::page_number(cursor.as_deref())?;
//!         let body: serde_json::Value = http::get_json("/people", &[("page", page.to_string())])?;
//!         let mut out = Page::default();
//!         for item in body["people"].as_array().into_iter().flatten() {
//!             match item["id"].as_str() {
//!                 Some(id) => out.people.push(
//!                     PersonBuilder::new(id, Lifecycle::Active, "active")
//!                         .text("full_name", item["name"].as_str())
//!                         .build(),
//!                 ),
//!                 None => out.rejected.push(invalid(None, Some("id"), "the record has no id")),
//!             }
//!         }
//!         out.next_cursor = pagination::next_cursor(page, body["pages"].as_u64().unwrap_or(1) as u32);
//!         Ok(out)
//!     }
//!
//!     fn get(&self, id: &str) -> Result<Person, Error> {
//!         Err(Error::Unsupported(format!("acme cannot fetch {id} alone")))
//!     }
//! }
//!
//! hrsync_sdk::export_connector!(Acme);
//! ```
//!
//! Test a connector's logic natively, without a host, with [`testing::Harness`].

#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "::hrsync_sdk::__private::bindings",
        additional_derives: [PartialEq],
    });
}

pub mod builders;
mod host;
pub mod http;
pub mod log;
pub mod pagination;
pub mod settings;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod webhook;

pub use bindings::exports::hrsync::connector::connector::{
    ActionOutput, ActionSpec, Descriptor, EventKind, FieldKind, FieldSpec, HrEvent, Page,
    WebhookError, WebhookRequest,
};
pub use bindings::hrsync::connector::types::{
    ConnectorError as Error, Field, FieldValue, InvalidRecord, Lifecycle, Person, RemoteFailure,
};
pub use builders::{DescriptorBuilder, PersonBuilder, invalid};

/// The contract version this SDK builds plugins for (the `hrsync:connector` WIT package version).
pub const CONTRACT_VERSION: &str = "0.1.0";

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
        ActionOutput, ActionSpec, Connector, Descriptor, DescriptorBuilder, Error, EventKind,
        Field, FieldKind, FieldSpec, FieldValue, HrEvent, InvalidRecord, Lifecycle, Page, Person,
        PersonBuilder, RemoteFailure, WebhookError, WebhookRequest, http, invalid, log, pagination,
        settings, webhook,
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
