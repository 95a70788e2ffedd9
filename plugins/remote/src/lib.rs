//! # The Remote (remote.com) connector for hrsync
//!
//! Reads employments from Remote's API and turns them into hrsync people; verifies and reads
//! Remote's webhooks; writes back what IT decides (`update-employment`) and reads offboardings.
//!
//! - `list-people`: `GET /v1/employments?page_size=100&page=N`; the cursor is the next page number.
//!   List items carry no manager and no start date: the engine asks `get-person` for those.
//! - `get-person`: `GET /v1/employments/{id}`; for an employment in `offboarding`, also
//!   `GET /v1/offboardings?employment_id=…`, whose termination date becomes the person's
//!   `end_date` (see [`offboardings`]).
//! - Lifecycle: see [`mapping::lifecycle`] for the table; no clock (the host decides from the
//!   start and end dates when an account is due).
//! - Authentication: a bearer token (Remote's API token) or OAuth 2.0 (client credentials or a
//!   rotating refresh token).
//! - Names: see [`mapping::split_name`].
//! - Webhooks: `X-Remote-Signature` is the lowercase hex HMAC-SHA256 of `body + ":" +
//!   X-Remote-Timestamp`, checked by the host against the connector's `webhook_secret`; a
//!   timestamp more than 5 minutes from now is refused.
//!
//! Settings (`[connectors.remote.settings]`): `page_size` (default 100),
//! `include_confidential` (default false: confidential terminations stay hidden).

mod actions;
pub mod mapping;
pub mod offboardings;
mod webhooks;

use hrsync_sdk::prelude::*;

/// The Remote connector.
pub struct Remote;

/// Remote's page size ceiling.
const MAX_PAGE_SIZE: u32 = 100;

impl Connector for Remote {
    fn new() -> Self {
        Remote
    }

    fn describe(&self) -> Descriptor {
        let mut d = DescriptorBuilder::new("remote", env!("CARGO_PKG_VERSION"))
            .auth(AuthScheme::Bearer)
            .auth(AuthScheme::OauthClientCredentials)
            .auth(AuthScheme::OauthRefreshToken)
            .list_facts(mapping::LIST_FACTS);
        for (name, kind, description, example) in mapping::FIELDS {
            d = d.field(name, *kind, description, example);
        }
        for event in webhooks::EVENTS {
            d = d.event(event.0);
        }
        actions::declare(d).build()
    }

    fn list(&self, cursor: Option<String>) -> Result<Page, Error> {
        let page = pagination::page_number(cursor.as_deref())?;
        let page_size = settings::get("page_size")
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(MAX_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let body: serde_json::Value = http::get_json(
            "/v1/employments",
            &[
                ("page", page.to_string()),
                ("page_size", page_size.to_string()),
            ],
        )?;
        let data = &body["data"];
        let Some(items) = data["employments"].as_array() else {
            return Err(Error::InvalidData(invalid(
                None,
                Some("data.employments"),
                "the employments list answer has no `data.employments` array",
            )));
        };
        let mut out = Page::default();
        for item in items {
            match mapping::person(item, false) {
                Ok(p) => out.people.push(p),
                Err(rejected) => out.rejected.push(rejected),
            }
        }
        let total_pages = data["total_pages"].as_u64().unwrap_or(u64::from(page)) as u32;
        out.next_cursor = pagination::next_cursor(page, total_pages);
        out.total = data["total_count"].as_u64().map(|n| n as u32);
        Ok(out)
    }

    fn get(&self, id: &str) -> Result<Person, Error> {
        let path = format!("/v1/employments/{}", mapping::path_segment(id)?);
        let body: serde_json::Value = http::get_json(&path, &[])?;
        let employment = &body["data"]["employment"];
        if !employment.is_object() {
            return Err(Error::InvalidData(invalid(
                Some(id),
                Some("data.employment"),
                "the employment answer has no `data.employment` object",
            )));
        }
        let mut person = mapping::person(employment, true).map_err(Error::InvalidData)?;
        if offboardings::has_offboarding(&person.source_status) {
            person.end_date = offboardings::end_date(&person.id)?;
        }
        Ok(person)
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<HrEvent>, WebhookError> {
        webhooks::parse(request, webhook::now_millis())
    }

    fn invoke(&self, action: &str, params: &[Field]) -> Result<ActionOutput, Error> {
        actions::invoke(action, params)
    }
}

hrsync_sdk::export_connector!(Remote);

#[cfg(test)]
mod tests;
