//! The host side of the plugin's imports: one `Host` impl per WIT interface.
//!
//! Every import first checks the call's deadline (a plugin looping over host calls is stopped
//! there), and `http.send` waits for its answer only until the deadline: the wall-clock limit
//! covers the host's work for the plugin, not only the plugin's own instructions.

use hmac::{Hmac, Mac};

use super::bindings::hrsync::connector::{crypto, http, log, settings, types};
use super::boundary::Check;
use super::state::{DeadlineExceeded, PluginState};

impl types::Host for PluginState {}

impl http::Host for PluginState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        self.check_deadline()?;
        if let Err(message) = Check::new(&self.caps).request(&request) {
            return Ok(Err(http::HttpError::InvalidRequest(message)));
        }
        let backend = self.context.http.clone();
        let deadline = tokio::time::Instant::from_std(self.deadline);
        match tokio::time::timeout_at(deadline, backend.send(request)).await {
            Ok(answer) => Ok(answer),
            Err(_) => {
                self.deadline_hit = true;
                Err(wasmtime::Error::new(DeadlineExceeded))
            }
        }
    }
}

impl log::Host for PluginState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.check_deadline()?;
        let plugin = self.context.name.as_str();
        let call = self.call;
        // One call of `log` may carry several lines; each counts.
        for line in message.lines() {
            let Some(line) = self.log.admit(line) else {
                break;
            };
            match level {
                log::Level::Trace => tracing::trace!(plugin, call, "{line}"),
                log::Level::Debug => tracing::debug!(plugin, call, "{line}"),
                log::Level::Info => tracing::info!(plugin, call, "{line}"),
                log::Level::Warn => tracing::warn!(plugin, call, "{line}"),
                log::Level::Error => tracing::error!(plugin, call, "{line}"),
            }
        }
        Ok(())
    }
}

impl settings::Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.check_deadline()?;
        Ok(self.context.settings.get(&key).cloned())
    }
}

impl crypto::Host for PluginState {
    async fn verify_hmac_sha256(
        &mut self,
        secret_name: String,
        message: Vec<u8>,
        signature_hex: String,
    ) -> wasmtime::Result<Result<bool, crypto::CryptoError>> {
        self.check_deadline()?;
        let Some(secret) = self.context.secrets.get(&secret_name) else {
            return Ok(Err(crypto::CryptoError::UnknownSecret(secret_name)));
        };
        let signature = match hex::decode(signature_hex.trim()) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Err(crypto::CryptoError::MalformedSignature(format!(
                    "the signature is not hex: {e}"
                ))));
            }
        };
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes()) else {
            return Ok(Err(crypto::CryptoError::UnknownSecret(secret_name)));
        };
        mac.update(&message);
        // `verify_slice` compares in constant time.
        Ok(Ok(mac.verify_slice(&signature).is_ok()))
    }
}
