//! hrsync: keeps a company's directory in step with its HR system.
//!
//! The host owns everything that needs trust — scheduling, OAuth, LDAP, secrets, the store — and
//! runs HR connectors as sandboxed WebAssembly components (see `wit/v0.2/connector.wit`).

pub mod auth;
pub mod automation;
pub mod checks;
pub mod cli;
pub mod config;
pub mod connector;
pub mod directory;
pub mod egress;
pub mod endpoints;
pub mod hr_types;
pub mod http;
pub mod mapping;
pub mod orchestration;
pub mod outbound;
pub mod rest;
pub mod runtime;
pub mod secret;
pub mod serve;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod templates;
