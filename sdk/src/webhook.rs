//! Helpers for `parse-webhook`: headers, signatures checked by the host, timestamps.

use crate::{WebhookError, WebhookRequest};

/// The value of a request header (case-insensitive).
pub fn header<'a>(request: &'a WebhookRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks that `signature_hex` is HMAC-SHA256 of `message` under the connector's secret named
/// `secret_name`. The secret stays in the host.
pub fn verify_hmac_sha256(
    secret_name: &str,
    message: &[u8],
    signature_hex: &str,
) -> Result<(), WebhookError> {
    use crate::host::CryptoError;
    match crate::host::verify_hmac_sha256(secret_name, message, signature_hex) {
        Ok(true) => Ok(()),
        Ok(false) => Err(WebhookError::BadSignature(
            "the signature does not match the body".to_string(),
        )),
        Err(CryptoError::MalformedSignature(m)) => Err(WebhookError::BadSignature(m)),
        Err(CryptoError::UnknownSecret(name)) => Err(WebhookError::Other(format!(
            "no secret named `{name}` is configured for this connector"
        ))),
    }
}

/// Milliseconds since the Unix epoch, from the sandbox's wall clock.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
