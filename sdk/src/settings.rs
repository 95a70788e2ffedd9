//! The connector's non-secret settings (`[connectors.NAME.settings]` in the admin's config).

use crate::Error;

/// One setting, or `None`.
pub fn get(key: &str) -> Option<String> {
    crate::host::setting(key)
}

/// One setting, or `default` when absent.
pub fn get_or(key: &str, default: &str) -> String {
    get(key).unwrap_or_else(|| default.to_string())
}

/// A boolean setting (`true`/`false`, `yes`/`no`, `1`/`0`), or `default` when absent.
pub fn flag(key: &str, default: bool) -> Result<bool, Error> {
    match get(key).as_deref().map(str::trim) {
        None => Ok(default),
        Some("true" | "yes" | "1") => Ok(true),
        Some("false" | "no" | "0") => Ok(false),
        Some(other) => Err(Error::Other(format!(
            "setting `{key}` must be true or false, not `{other}`"
        ))),
    }
}
