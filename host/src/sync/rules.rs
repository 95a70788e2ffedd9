//! `[sync]` as the engine reads it: the typed settings live in [`crate::config::rules`].

pub use crate::config::rules::*;
