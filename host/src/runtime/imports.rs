//! The host side of the plugin's imports: one `Host` impl per WIT interface.

use hmac::{Hmac, Mac};

use super::bindings::hrsync::connector::{crypto, http, log, settings, types};
use super::state::PluginState;

impl types::Host for PluginState {}

impl http::Host for PluginState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        let backend = self.context.http.clone();
        Ok(backend.send(request).await)
    }
}

impl log::Host for PluginState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let plugin = self.context.name.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl settings::Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
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
