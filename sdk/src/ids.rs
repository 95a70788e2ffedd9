//! Record ids: read them from JSON whatever their type, and put them in URL paths safely.
//!
//! HR APIs give ids as strings (`"a1b2"`) or numbers (`1042`); hrsync anchors a directory account
//! to the id for the life of the employment, so it must be read the same way every time.
//!
//! ```
//! use hrsync_sdk::ids;
//! use serde_json::json;
//!
//! let record = json!({"id": 1042, "manager": {"id": " m-7 "}});
//! assert_eq!(ids::require(&record, "id").unwrap(), "1042");
//! assert_eq!(ids::from_json(&record["manager"]["id"]).as_deref(), Some("m-7"));
//! // An id never changes the path it is put in.
//! assert_eq!(format!("/v1/people/{}", ids::path_segment("a/../b?x")), "/v1/people/a%2F..%2Fb%3Fx");
//! ```

use crate::{InvalidRecord, invalid};

/// An id from JSON: a string (trimmed; not blank) or an integer. Anything else is `None`.
pub fn from_json(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The id in `record[key]`, or an [`InvalidRecord`] saying it is missing (for
/// [`crate::Page::rejected`]).
pub fn require(record: &serde_json::Value, key: &str) -> Result<String, InvalidRecord> {
    from_json(&record[key]).ok_or_else(|| {
        invalid(
            None,
            Some(key),
            format!("the record has no usable `{key}` (a non-blank string or an integer)"),
        )
    })
}

/// The id percent-encoded for one URL path segment: only `A–Z a–z 0–9 - . _ ~` stay as they are,
/// so an id holding `/`, `?`, `#` or `%` cannot reach another path or add a query.
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // `.` and `..` alone are path navigation, not names.
    match out.as_str() {
        "." => "%2E".to_string(),
        ".." => "%2E%2E".to_string(),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_strings_or_integers() {
        assert_eq!(from_json(&json!("abc")).as_deref(), Some("abc"));
        assert_eq!(from_json(&json!(42)).as_deref(), Some("42"));
        assert_eq!(from_json(&json!(-1)).as_deref(), Some("-1"));
        assert_eq!(from_json(&json!("  ")), None);
        assert_eq!(from_json(&json!(1.5)), None);
        assert_eq!(from_json(&json!(null)), None);
        assert_eq!(from_json(&json!({"id": 1})), None);
        let missing = require(&json!({"name": "x"}), "id").err();
        assert_eq!(
            missing.and_then(|r| r.field).as_deref(),
            Some("id"),
            "the rejection names the key"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("emp_1-2.3~"), "emp_1-2.3~");
        assert_eq!(path_segment("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("50%"), "50%25");
    }
}
