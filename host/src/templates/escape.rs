//! Context escaping: what a value becomes when it enters a URL, a JSON body or an XML body, and
//! the checks a rendered URL or body passes before it is sent.
//!
//! A template's literal text is the admin's structure; every `{{ value }}` is data and is escaped
//! for the place it lands in. `|safe` opts a value out (the admin then vouches for it).

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::events::Event;

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded:
/// `/`, `?`, `#`, `&`, `=`, `%` and spaces in a value never act as URL syntax.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where a rendered template goes, which decides how its values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Plain text (headers, query values and form fields, which are encoded as a whole later).
    None,
    /// A URL or a URL path: each value percent-encoded as one path segment or query component.
    Url,
    /// A JSON document: each value written as a JSON value (a string with its quotes, a number,
    /// `true`, a list, an object; a missing value as `null`).
    Json,
    /// An XML document: each value's text with `& < > " '` as entities.
    Xml,
}

impl Escape {
    /// The marker minijinja's auto-escape callback and the formatter agree on.
    pub(crate) fn marker(self) -> &'static str {
        match self {
            Escape::None => "none",
            Escape::Url => "url",
            Escape::Json => "json",
            Escape::Xml => "xml",
        }
    }
}

/// A value as one URL component (a path segment or a query value).
pub fn url_component(text: &str) -> Cow<'_, str> {
    utf8_percent_encode(text, URL_COMPONENT).into()
}

/// A value as XML text (element content or an attribute value).
pub fn xml_text(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// A rendered URL's path holds no `.` or `..` segment (written as is or percent-encoded, which
/// URL parsers resolve alike): a value such as `..` can never climb out of the path it was
/// placed in.
pub fn check_path(rendered: &str) -> Result<(), String> {
    let after_scheme = rendered.split_once("://").map_or(rendered, |(_, rest)| {
        rest.find('/').map_or("", |i| &rest[i..])
    });
    let path = after_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or(after_scheme);
    for segment in path.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded == "." || decoded == ".." {
            return Err(format!(
                "the path `{path}` has a `{decoded}` segment, which would move the request elsewhere; a value that is `.` or `..` cannot be a path segment"
            ));
        }
    }
    Ok(())
}

/// The body parses as one JSON document.
pub fn check_json(body: &str) -> Result<(), String> {
    serde_json::from_str::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|e| format!("it is not valid JSON ({e})"))
}

/// The body is one well-formed XML document: tags nest and close by name, attributes are
/// well-formed, entities are XML's own or character references, and there is one root element.
pub fn check_xml(body: &str) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    let at = |reader: &quick_xml::Reader<&[u8]>| reader.buffer_position();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("it is not well-formed XML at byte {}: {e}", at(&reader)))?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                if depth == 0 {
                    roots += 1;
                }
                for attribute in element.attributes() {
                    let bad = |e: &dyn std::fmt::Display| {
                        format!("it is not well-formed XML at byte {}: {e}", at(&reader))
                    };
                    attribute
                        .map_err(|e| bad(&e))?
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| bad(&e))?;
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) if depth == 0 && !t.trim().is_empty() => {
                return Err(format!(
                    "it is not well-formed XML: text outside the root element at byte {}",
                    at(&reader)
                ));
            }
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let known = matches!(name, "amp" | "lt" | "gt" | "apos" | "quot")
                    || r.resolve_char_ref().ok().flatten().is_some();
                if !known || depth == 0 {
                    return Err(format!(
                        "it is not well-formed XML: unknown or misplaced entity `&{name};` at byte {}",
                        at(&reader)
                    ));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match (roots, depth) {
        (1, 0) => Ok(()),
        (0, _) => Err("it is not XML: there is no root element".to_string()),
        (_, 0) => Err(format!(
            "it is not well-formed XML: {roots} root elements, one is allowed"
        )),
        _ => Err("it is not well-formed XML: an element is not closed".to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn url_components_carry_no_syntax() {
        assert_eq!(
            url_component("../a b?c=d&e#f/g%"),
            "..%2Fa%20b%3Fc%3Dd%26e%23f%2Fg%25"
        );
        assert_eq!(url_component("José-1_2.3~"), "Jos%C3%A9-1_2.3~");
    }

    #[test]
    fn dot_segments_are_refused() {
        assert!(check_path("https://h/v1/a/..").is_err());
        assert!(check_path("https://h/v1/%2e%2E/x").is_err());
        assert!(check_path("/v1/./x?q=..").is_err());
        assert!(check_path("/v1/..%2F/x?q=..").is_ok());
        assert!(check_path("https://h/v1/x?q=../..").is_ok());
        assert!(check_path("https://h").is_ok());
    }

    #[test]
    fn json_and_xml_are_checked() {
        assert!(check_json(r#"{"a": [1, "x"]}"#).is_ok());
        assert!(check_json(r#"{"a": ""x""}"#).is_err());
        assert!(
            check_xml("<?xml version=\"1.0\"?><a k=\"v\"><b>x &amp; &#60;</b><c/></a>").is_ok()
        );
        for bad in [
            "<a><b></a></b>",
            "<a>",
            "<a></a><b></b>",
            "text",
            "<a>&nbsp;</a>",
            "<a k=v></a>",
            "<a></a>tail",
            "<a k=\"&bogus;\"></a>",
        ] {
            assert!(check_xml(bad).is_err(), "{bad} passed");
        }
    }
}
