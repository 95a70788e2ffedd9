//! Filters registered on the mapping environment, on top of minijinja's builtins.
//!
//! Every filter here treats a missing value (undefined or none) as empty instead of failing, so
//! an optional HR field that is absent renders as an empty string.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

/// Characters Active Directory refuses in `sAMAccountName` (besides whitespace and controls).
const SAM_FORBIDDEN: &[char] = &[
    '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@',
];

pub(crate) fn register(env: &mut Environment<'_>) {
    env.add_filter("ascii", ascii);
    env.add_filter("samsafe", samsafe);
    env.add_filter("truncate", truncate);
    env.add_filter("initials", initials);
    env.add_filter("first", first);
    env.add_filter("last", last);
    env.add_filter("split", split);
    env.add_filter("join", join);
    env.add_filter("first_word", first_word);
    env.add_filter("last_word", last_word);
    env.add_filter("date", date);
    env.add_filter("dn", dn);
    env.add_filter("urlencode", urlencode);
    env.add_filter("tojson", tojson);
    env.add_filter("xml", xml);
}

/// `urlencode`: percent-encodes a value as one URL component (everything but `A-Z a-z 0-9 - . _ ~`).
fn urlencode(value: Value) -> Value {
    Value::from_safe_string(
        text(&value)
            .map(|s| crate::templates::escape::url_component(&s).into_owned())
            .unwrap_or_default(),
    )
}

/// `tojson`: the value as a JSON value (a string with its quotes; missing is `null`).
fn tojson(value: Value) -> Result<Value, Error> {
    if value.is_undefined() {
        return Ok(Value::from_safe_string("null".to_string()));
    }
    serde_json::to_string(&value)
        .map(Value::from_safe_string)
        .map_err(|e| invalid(format!("tojson: {e}")))
}

/// `xml`: the value's text with `& < > " '` as XML entities.
fn xml(value: Value) -> Value {
    Value::from_safe_string(
        text(&value)
            .map(|s| crate::templates::escape::xml_text(&s).into_owned())
            .unwrap_or_default(),
    )
}

/// `dn`: RFC 4514-escapes a value for use inside a DN template (`OU={{ department|dn }},…`).
fn dn(value: Value) -> String {
    text(&value)
        .map(|s| crate::directory::escape::escape_dn_value(&s))
        .unwrap_or_default()
}

/// The value as text; `None` for undefined and none.
fn text(value: &Value) -> Option<String> {
    if value.is_undefined() || value.is_none() {
        None
    } else if let Some(s) = value.as_str() {
        Some(s.to_owned())
    } else {
        Some(value.to_string())
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Folds to ASCII with `deunicode` ("Zoë Ångström" → "Zoe Angstrom", "Łukasz" → "Lukasz");
/// characters with no ASCII rendering are dropped.
pub(crate) fn ascii(value: &Value) -> String {
    text(value).map_or_else(String::new, |s| deunicode::deunicode_with_tofu(&s, ""))
}

/// Removes whitespace, control characters and `"/\[]:;|=,+*?<>@`, which `sAMAccountName` does not
/// allow.
pub(crate) fn samsafe(value: &Value) -> String {
    text(value).map_or_else(String::new, |s| {
        s.chars()
            .filter(|c| !c.is_whitespace() && !c.is_control() && !SAM_FORBIDDEN.contains(c))
            .collect()
    })
}

/// The first `length` characters; no ellipsis is added.
pub(crate) fn truncate(value: &Value, length: usize) -> String {
    text(value).map_or_else(String::new, |s| s.chars().take(length).collect())
}

/// The first letter or digit of each word (words split at whitespace and hyphens), uppercased:
/// "Maria da Graça" → "MDG", "Jean-Luc Picard" → "JLP".
pub(crate) fn initials(value: &Value) -> String {
    let Some(s) = text(value) else {
        return String::new();
    };
    s.split(|c: char| c.is_whitespace() || c == '-')
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .flat_map(char::to_uppercase)
        .collect()
}

/// First character of a string, first item of a list; undefined when empty or missing.
pub(crate) fn first(value: &Value) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(Value::UNDEFINED);
    }
    if let Some(s) = value.as_str() {
        return Ok(s.chars().next().map_or(Value::UNDEFINED, Value::from));
    }
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            Ok(value.try_iter()?.next().unwrap_or(Value::UNDEFINED))
        }
        _ => Ok(value
            .to_string()
            .chars()
            .next()
            .map_or(Value::UNDEFINED, Value::from)),
    }
}

/// Last character of a string, last item of a list; undefined when empty or missing.
pub(crate) fn last(value: &Value) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(Value::UNDEFINED);
    }
    if let Some(s) = value.as_str() {
        return Ok(s.chars().next_back().map_or(Value::UNDEFINED, Value::from));
    }
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            Ok(value.try_iter()?.last().unwrap_or(Value::UNDEFINED))
        }
        _ => Ok(value
            .to_string()
            .chars()
            .next_back()
            .map_or(Value::UNDEFINED, Value::from)),
    }
}

/// Splits at `sep`, or at runs of whitespace when `sep` is missing or empty.
pub(crate) fn split(value: &Value, sep: Option<String>) -> Value {
    let Some(s) = text(value) else {
        return Value::from(Vec::<Value>::new());
    };
    match sep.as_deref() {
        None | Some("") => Value::from_iter(s.split_whitespace().map(Value::from)),
        Some(sep) => Value::from_iter(s.split(sep).map(Value::from)),
    }
}

/// Joins the items of a list with `sep` (default: nothing); missing items are skipped. A plain
/// string is returned as is.
pub(crate) fn join(value: &Value, sep: Option<String>) -> Result<String, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(String::new());
    }
    if let Some(s) = value.as_str() {
        return Ok(s.to_owned());
    }
    let sep = sep.unwrap_or_default();
    let mut out = String::new();
    let mut any = false;
    for item in value.try_iter()? {
        let Some(item) = text(&item) else { continue };
        if any {
            out.push_str(&sep);
        }
        out.push_str(&item);
        any = true;
    }
    Ok(out)
}

/// The first whitespace-separated word.
pub(crate) fn first_word(value: &Value) -> String {
    text(value)
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

/// The last whitespace-separated word.
pub(crate) fn last_word(value: &Value) -> String {
    text(value)
        .and_then(|s| s.split_whitespace().next_back().map(str::to_owned))
        .unwrap_or_default()
}

/// Formats a date (`YYYY-MM-DD`, or an RFC 3339 / ISO date-time) with a strftime `format`
/// (default `%Y-%m-%d`).
pub(crate) fn date(value: &Value, format: Option<String>) -> Result<String, Error> {
    let Some(s) = text(value) else {
        return Ok(String::new());
    };
    let s = s.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let format = format.unwrap_or_else(|| "%Y-%m-%d".to_owned());
    let items = StrftimeItems::new(&format)
        .parse()
        .map_err(|_| invalid(format!("date: invalid format `{format}`")))?;
    let items: &[Item<'_>] = &items;
    let mut out = String::new();
    let written = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        write!(out, "{}", d.format_with_items(items.iter()))
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        write!(out, "{}", dt.format_with_items(items.iter()))
    } else if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
    {
        write!(out, "{}", dt.format_with_items(items.iter()))
    } else {
        return Err(invalid(format!(
            "date: cannot read `{s}` as a date (expected YYYY-MM-DD)"
        )));
    };
    written.map_err(|_| {
        invalid(format!(
            "date: format `{format}` needs parts (time, zone) that `{s}` does not have"
        ))
    })?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from(s)
    }

    #[test]
    fn ascii_folds_names_from_many_countries() {
        let cases = [
            ("Zoë Ångström", "Zoe Angstrom"),
            ("Łukasz Żółć", "Lukasz Zolc"),
            ("Nguyễn Văn Thành", "Nguyen Van Thanh"),
            ("José Müller", "Jose Muller"),
            ("François Lefèvre", "Francois Lefevre"),
            ("Søren Kierkegård", "Soren Kierkegard"),
            ("Björn Þórðarson", "Bjorn Thordarson"),
            ("Ştefan Ţiriac", "Stefan Tiriac"),
            ("Çağla Gökçe Şahin", "Cagla Gokce Sahin"),
            ("Dvořák Čapek", "Dvorak Capek"),
            ("Íñigo Peña", "Inigo Pena"),
            ("João Gonçalves", "Joao Goncalves"),
            ("Strauß", "Strauss"),
            ("Ærøskøbing", "AEroskobing"),
            ("Дмитрий Иванов", "Dmitrii Ivanov"),
            ("O’Brien", "O'Brien"),
            ("Ana-María", "Ana-Maria"),
        ];
        for (input, want) in cases {
            assert_eq!(ascii(&v(input)), want, "input {input}");
        }
        for (input, _) in cases {
            assert!(ascii(&v(input)).is_ascii());
        }
        assert_eq!(ascii(&Value::UNDEFINED), "");
        assert_eq!(ascii(&Value::from(())), "");
    }

    #[test]
    fn samsafe_removes_forbidden_characters() {
        assert_eq!(
            samsafe(&v(r#" a"b/c\d[e]f:g;h|i=j,k+l*m?n<o>p@q r	s"#)),
            "abcdefghijklmnopqrs"
        );
        assert_eq!(
            samsafe(&v("o'brien.smith-jones_2")),
            "o'brien.smith-jones_2"
        );
    }

    #[test]
    fn truncate_counts_characters_without_ellipsis() {
        assert_eq!(truncate(&v("ångströmångström"), 5), "ångst");
        assert_eq!(truncate(&v("short"), 20), "short");
        assert_eq!(truncate(&Value::UNDEFINED, 3), "");
    }

    #[test]
    fn initials_take_first_letter_of_each_word() {
        assert_eq!(initials(&v("Maria da Graça")), "MDG");
        assert_eq!(initials(&v("Jean-Luc  Picard")), "JLP");
        assert_eq!(initials(&v("élodie (Lo) d'Arc")), "ÉLD");
        assert_eq!(initials(&v("")), "");
    }

    #[test]
    fn words_and_first_last() {
        assert_eq!(first_word(&v("  Maria da Graça ")), "Maria");
        assert_eq!(last_word(&v("  Maria da Graça ")), "Graça");
        assert_eq!(first_word(&Value::UNDEFINED), "");
        assert_eq!(first(&v("Élise")).expect("ok"), Value::from('É'));
        assert_eq!(last(&v("Élise")).expect("ok"), Value::from('e'));
        assert!(first(&v("")).expect("ok").is_undefined());
        assert!(first(&Value::UNDEFINED).expect("ok").is_undefined());
        let list = Value::from(vec!["a", "b"]);
        assert_eq!(first(&list).expect("ok"), v("a"));
        assert_eq!(last(&list).expect("ok"), v("b"));
    }

    #[test]
    fn split_and_join() {
        let parts = split(&v("a-b-c"), Some("-".into()));
        assert_eq!(join(&parts, Some("+".into())).expect("ok"), "a+b+c");
        let words = split(&v(" a  b "), None);
        assert_eq!(join(&words, Some(",".into())).expect("ok"), "a,b");
        assert_eq!(join(&split(&Value::UNDEFINED, None), None).expect("ok"), "");
        assert_eq!(join(&Value::UNDEFINED, Some(",".into())).expect("ok"), "");
    }

    #[test]
    fn escaping_filters() {
        assert_eq!(urlencode(v("../a?b")).as_str(), Some("..%2Fa%3Fb"));
        assert_eq!(tojson(v("a\"b")).unwrap().as_str(), Some("\"a\\\"b\""));
        assert_eq!(tojson(Value::UNDEFINED).unwrap().as_str(), Some("null"));
        assert_eq!(
            xml(v("<a & 'b'>")).as_str(),
            Some("&lt;a &amp; &apos;b&apos;&gt;")
        );
        assert!(urlencode(v("x")).is_safe());
    }

    #[test]
    fn date_formats_with_strftime() {
        assert_eq!(
            date(&v("2024-03-07"), Some("%d/%m/%Y".into())).expect("ok"),
            "07/03/2024"
        );
        assert_eq!(date(&v("2024-03-07"), None).expect("ok"), "2024-03-07");
        assert_eq!(
            date(&v("2024-03-07T10:30:00Z"), Some("%Y%m%d %H:%M".into())).expect("ok"),
            "20240307 10:30"
        );
        assert_eq!(date(&Value::UNDEFINED, Some("%Y".into())).expect("ok"), "");
        assert!(date(&v("07/03/2024"), Some("%Y".into())).is_err());
        assert!(date(&v("2024-03-07"), Some("%Q".into())).is_err());
        // A time part on a plain date is an error, not a panic.
        assert!(date(&v("2024-03-07"), Some("%H:%M".into())).is_err());
    }
}
