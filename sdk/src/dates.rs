//! Dates as the host expects them: `YYYY-MM-DD`, a calendar date without a time zone
//! ([`FieldValue::Date`]).
//!
//! HR systems write dates as `2026-03-01`, or as date-times: `2026-03-01T00:00:00Z`,
//! `2026-03-01T09:30:00.000+01:00`, `2026-03-01 09:30:00`. [`parse`] accepts all of these and
//! keeps the calendar date *as written* — the date in the offset the HR system used, never shifted
//! to UTC: a start date of `2026-03-01T00:00:00+01:00` is the 1st of March, not the 28th of
//! February. Everything is checked (months, days of the month, leap years, the time, the offset),
//! so a malformed value becomes a rejected record naming the field instead of a wrong account.
//!
//! ```
//! use hrsync_sdk::dates;
//!
//! assert_eq!(dates::parse("2026-03-01").unwrap(), "2026-03-01");
//! assert_eq!(dates::parse("2026-03-01T00:00:00+01:00").unwrap(), "2026-03-01");
//! assert_eq!(dates::parse("2024-02-29 23:59:59.123Z").unwrap(), "2024-02-29");
//! assert!(dates::parse("2025-02-29").is_err());
//! assert!(dates::parse("01/03/2026").is_err());
//! ```

use std::fmt;

use crate::{FieldValue, InvalidRecord, invalid};

/// Why a text is not a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a date (YYYY-MM-DD or an ISO 8601 date-time): {}",
            self.input, self.reason
        )
    }
}

impl std::error::Error for DateError {}

/// The `YYYY-MM-DD` date of a date or an ISO 8601 date-time, as written (surrounding spaces are
/// ignored).
pub fn parse(text: &str) -> Result<String, DateError> {
    let fail = |reason| DateError {
        input: text.to_string(),
        reason,
    };
    let s = text.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(fail("the date must be written YYYY-MM-DD"));
    }
    let year = digits(&b[0..4]).ok_or_else(|| fail("the year is not four digits"))?;
    let month = digits(&b[5..7]).ok_or_else(|| fail("the month is not two digits"))?;
    let day = digits(&b[8..10]).ok_or_else(|| fail("the day is not two digits"))?;
    if !(1..=12).contains(&month) {
        return Err(fail("there is no such month"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(fail("there is no such day in that month"));
    }
    let rest = &s[10..];
    if !rest.is_empty() {
        let Some(time) = rest
            .strip_prefix('T')
            .or_else(|| rest.strip_prefix('t'))
            .or_else(|| rest.strip_prefix(' '))
        else {
            return Err(fail("a time must follow the date after `T` or a space"));
        };
        check_time(time).map_err(fail)?;
    }
    Ok(s[..10].to_string())
}

/// A date field's value: `None` or blank is [`FieldValue::Null`], a date is [`FieldValue::Date`],
/// anything else an [`InvalidRecord`] naming the record and the field (put it in
/// [`crate::Page::rejected`]).
pub fn field(
    record_id: &str,
    field: &str,
    value: Option<&str>,
) -> Result<FieldValue, InvalidRecord> {
    match value.map(str::trim) {
        None | Some("") => Ok(FieldValue::Null),
        Some(v) => parse(v)
            .map(FieldValue::Date)
            .map_err(|e| invalid(Some(record_id), Some(field), e.to_string())),
    }
}

/// As [`field`], from a JSON value: `null` or absent is [`FieldValue::Null`], a string is
/// parsed, anything else is invalid.
pub fn from_json(
    record_id: &str,
    field_name: &str,
    value: &serde_json::Value,
) -> Result<FieldValue, InvalidRecord> {
    match value {
        serde_json::Value::Null => Ok(FieldValue::Null),
        serde_json::Value::String(s) => field(record_id, field_name, Some(s)),
        other => Err(invalid(
            Some(record_id),
            Some(field_name),
            format!("`{other}` is not a date (YYYY-MM-DD or an ISO 8601 date-time)"),
        )),
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// `HH:MM[:SS[.fraction]]` and an optional `Z` or `±HH[:MM]` offset.
fn check_time(time: &str) -> Result<(), &'static str> {
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => (&time[..i], Some(&time[i..])),
        None => (time, None),
    };
    let b = clock.as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return Err("the time must be written HH:MM or HH:MM:SS");
    }
    let hour = digits(&b[0..2]).ok_or("the hour is not two digits")?;
    let minute = digits(&b[3..5]).ok_or("the minutes are not two digits")?;
    if hour > 23 || minute > 59 {
        return Err("there is no such time of day");
    }
    let rest = &clock[5..];
    if !rest.is_empty() {
        let b = rest.as_bytes();
        if b.len() < 3 || b[0] != b':' {
            return Err("the seconds must be written :SS");
        }
        // 60 is a leap second.
        let second = digits(&b[1..3]).ok_or("the seconds are not two digits")?;
        if second > 60 {
            return Err("there is no such second");
        }
        let fraction = &rest[3..];
        if !fraction.is_empty() {
            let f = fraction
                .strip_prefix('.')
                .or_else(|| fraction.strip_prefix(','))
                .ok_or("unexpected text after the seconds")?;
            if f.is_empty() || f.len() > 9 || digits(f.as_bytes()).is_none() {
                return Err("the fraction of a second is not 1 to 9 digits");
            }
        }
    }
    match offset {
        None | Some("Z" | "z") => Ok(()),
        Some(o) => {
            let b = &o.as_bytes()[1..];
            let (h, m) = match b.len() {
                2 => (digits(b), Some(0)),
                4 => (digits(&b[..2]), digits(&b[2..])),
                5 if b[2] == b':' => (digits(&b[..2]), digits(&b[3..])),
                _ => (None, None),
            };
            match (h, m) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 => Ok(()),
                _ => Err("the offset must be Z or ±HH:MM"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn dates_and_date_times_give_the_date_as_written() {
        for (input, date) in [
            ("2026-03-01", "2026-03-01"),
            ("  2026-03-01 ", "2026-03-01"),
            ("2026-03-01T00:00:00Z", "2026-03-01"),
            ("2026-03-01T00:00:00+01:00", "2026-03-01"),
            ("2026-03-01T23:30:00-05:00", "2026-03-01"),
            ("2026-03-01T09:30", "2026-03-01"),
            ("2026-03-01t09:30:15.123456789z", "2026-03-01"),
            ("2026-03-01 09:30:15,5+0530", "2026-03-01"),
            ("2026-03-01T09:30:15+02", "2026-03-01"),
            ("2024-02-29", "2024-02-29"),
            ("2000-02-29", "2000-02-29"),
            ("2016-12-31T23:59:60Z", "2016-12-31"),
        ] {
            assert_eq!(parse(input).as_deref(), Ok(date), "{input}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for (input, reason) in [
            ("", "the date must be written YYYY-MM-DD"),
            ("01/03/2026", "the date must be written YYYY-MM-DD"),
            ("20260301", "the date must be written YYYY-MM-DD"),
            ("2026-13-01", "there is no such month"),
            ("2026-00-10", "there is no such month"),
            ("2025-02-29", "there is no such day in that month"),
            ("1900-02-29", "there is no such day in that month"),
            ("2026-04-31", "there is no such day in that month"),
            ("2026-O4-01", "the month is not two digits"),
            (
                "2026-03-01X",
                "a time must follow the date after `T` or a space",
            ),
            ("2026-03-01T25:00", "there is no such time of day"),
            (
                "2026-03-01T9:00",
                "the time must be written HH:MM or HH:MM:SS",
            ),
            (
                "2026-03-01T09:00:00.",
                "the fraction of a second is not 1 to 9 digits",
            ),
            ("2026-03-01T09:00:00+1", "the offset must be Z or ±HH:MM"),
            (
                "2026-03-01T09:00:00+01:00:00",
                "the offset must be Z or ±HH:MM",
            ),
        ] {
            assert_eq!(parse(input).map_err(|e| e.reason), Err(reason), "{input}");
        }
        let e = parse("2026-02-30").unwrap_err().to_string();
        assert_eq!(
            e,
            "`2026-02-30` is not a date (YYYY-MM-DD or an ISO 8601 date-time): there is no such day in that month"
        );
    }

    #[test]
    fn fields_are_null_dates_or_invalid_records() {
        assert_eq!(field("p1", "start_date", None), Ok(FieldValue::Null));
        assert_eq!(field("p1", "start_date", Some(" ")), Ok(FieldValue::Null));
        assert_eq!(
            from_json(
                "p1",
                "start_date",
                &serde_json::json!("2026-03-01T08:00:00Z")
            ),
            Ok(FieldValue::Date("2026-03-01".into()))
        );
        let bad = from_json("p1", "start_date", &serde_json::json!(20260301)).unwrap_err();
        assert_eq!(
            (bad.record_id.as_deref(), bad.field.as_deref()),
            (Some("p1"), Some("start_date"))
        );
        let bad = field("p1", "end_date", Some("soon")).unwrap_err();
        assert!(
            bad.message.contains("`soon` is not a date"),
            "{}",
            bad.message
        );
    }
}
