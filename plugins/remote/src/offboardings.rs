//! Remote's offboardings, folded into a person's end date.
//!
//! Remote keeps a termination's date on the offboarding record (`GET /v1/offboardings`), not on
//! the employment. For a detail whose status is `offboarding`, the connector reads that
//! employment's termination offboardings (one more request, only for those people) and reports
//! the latest `termination_date` of those not `canceled` as the person's `end_date`. The host
//! decides from it, in its own time zone, when the person becomes a leaver.
//!
//! Confidential terminations count only with the setting `include_confidential = "true"`
//! (Remote hides them otherwise).

use hrsync_sdk::prelude::*;
use serde_json::Value;

/// The Remote statuses whose detail carries an end date from the offboardings. `archived` and
/// `deleted` are terminated whatever the date; other statuses have no submitted offboarding.
pub fn has_offboarding(status: &str) -> bool {
    status == "offboarding"
}

/// The end date of employment `id`: the latest termination date among its offboardings that
/// are not canceled, or `None`.
pub fn end_date(id: &str) -> Result<Option<String>, Error> {
    let confidential = settings::flag("include_confidential", false)?;
    let mut latest: Option<String> = None;
    let mut page = 1u32;
    loop {
        let query = [
            ("employment_id", id.to_string()),
            ("type", "termination".to_string()),
            ("include_confidential", confidential.to_string()),
            ("page", page.to_string()),
            ("page_size", "100".to_string()),
        ];
        let body: Value = http::get_json("/v1/offboardings", &query)?;
        let data = &body["data"];
        for item in data["offboardings"].as_array().into_iter().flatten() {
            if let Some(date) = termination_date(id, item)? {
                latest = latest.max(Some(date));
            }
        }
        let total_pages = data["total_pages"].as_u64().unwrap_or(1) as u32;
        match pagination::next_cursor(page, total_pages) {
            Some(_) => page += 1,
            None => break,
        }
    }
    Ok(latest)
}

/// The termination date of one offboarding of employment `id`, unless it is canceled, belongs
/// to another employment or has none.
fn termination_date(id: &str, item: &Value) -> Result<Option<String>, Error> {
    if item["status"].as_str() == Some("canceled") {
        return Ok(None);
    }
    if item["employment_id"].as_str().is_some_and(|e| e != id) {
        return Ok(None);
    }
    match item["termination_date"].as_str() {
        None => Ok(None),
        Some(text) => dates::parse(text).map(Some).map_err(|e| {
            Error::InvalidData(invalid(
                Some(id),
                Some("offboardings.termination_date"),
                e.to_string(),
            ))
        }),
    }
}
