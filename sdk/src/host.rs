//! The host's imports, or — when built for the host target — the native test harness.
//!
//! Everything in the SDK that talks to the host goes through here, so the same connector logic
//! runs inside hrsync (wasm32) and under `cargo test` (native, with [`crate::testing::Harness`]).

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::hrsync::connector::{crypto, http, log, settings};

    pub use crypto::CryptoError;
    pub use http::{HttpError, Method, Request, Response};
    pub use log::Level;

    pub fn send(request: &Request) -> Result<Response, HttpError> {
        http::send(request)
    }
    pub fn log(level: Level, message: &str) {
        log::log(level, message)
    }
    pub fn setting(key: &str) -> Option<String> {
        settings::get(key)
    }
    pub fn verify_hmac_sha256(
        secret: &str,
        message: &[u8],
        signature_hex: &str,
    ) -> Result<bool, CryptoError> {
        crypto::verify_hmac_sha256(secret, message, signature_hex)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::bindings::hrsync::connector::crypto::CryptoError;
    pub use crate::bindings::hrsync::connector::http::{HttpError, Method, Request, Response};
    pub use crate::bindings::hrsync::connector::log::Level;
    use crate::testing::with_harness;

    pub fn send(request: &Request) -> Result<Response, HttpError> {
        with_harness(|h| h.send(request))
    }
    pub fn log(level: Level, message: &str) {
        with_harness(|h| h.log(level, message))
    }
    pub fn setting(key: &str) -> Option<String> {
        with_harness(|h| h.setting_value(key))
    }
    pub fn verify_hmac_sha256(
        secret: &str,
        message: &[u8],
        signature_hex: &str,
    ) -> Result<bool, CryptoError> {
        with_harness(|h| h.verify_hmac_sha256(secret, message, signature_hex))
    }
}

pub use imp::*;
