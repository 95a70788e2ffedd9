//! # The BambooHR connector for hrsync
//!
//! Reads employees from BambooHR's v1 API (`/api/gateway.php/{companyDomain}/v1`) and turns them
//! into hrsync people; verifies and reads BambooHR's webhooks. No actions.
//!
//! ## Which endpoint lists people
//!
//! `list-people` runs one custom report, `POST /reports/custom?format=JSON&onlyCurrent=false`,
//! asking for the fields in [`api::FIELDS`] (and the setting `extra_fields`). The alternatives
//! fall short:
//!
//! - `GET /employees/directory` holds active people only (a terminated employee simply vanishes,
//!   so hrsync would see a leaver by absence with no end date), hides pre-hires unless
//!   `onlyCurrent=false`, carries no supervisor id and no dates, its fields are chosen by the
//!   company, and a company can switch it off (403). Every person would need a detail request
//!   before an account could be planned.
//! - `GET /employees/changed` gives ids and change times only.
//!
//! The custom report returns *everybody* — active, inactive, and (with `onlyCurrent=false`)
//! pre-hires with their future-dated department and supervisor — with the very fields a detail
//! has, in one request. So list records carry every typed fact ([`mapping::LIST_FACTS`]) and the
//! current status, and hrsync can plan every account from the listing alone, with nothing
//! waiting for a detail. (hrsync 0.2 still fetches each new person's detail once, and again every
//! `sync.detail_max_age_days`: contract 0.2 has no way to say a list record is as complete as a
//! detail. Those requests add nothing here; they cost budget only.) The report is not paged:
//! the whole company comes in one answer (the host's limits: 10,000 people per page, 32 MiB per
//! answer — about 50,000 employees' worth of these fields, far beyond the people limit).
//! A person deleted in BambooHR is absent from the report, and hrsync treats them as a leaver.
//!
//! ## The rest
//!
//! - `get-person`: `GET /employees/{id}?fields=…&onlyCurrent=false`, the same fields, mapped the
//!   same way ([`mapping::person`]), `complete`.
//! - Lifecycle: [`mapping::lifecycle`] (`Active` → active, `Inactive` → terminated, else
//!   unknown); hrsync decides pre-hire and leaver from `hireDate` and `terminationDate` in its
//!   `sync.time_zone` (the plugin has no clock). `0000-00-00` is no date.
//! - Authentication: HTTP Basic with the API key as the user name and `x` as the password
//!   (`auth = { kind = "basic", secret = { env = "BAMBOOHR_API_KEY" } }`); the host attaches it.
//! - Errors: BambooHR's `X-BambooHR-Error-Message` header is the message; 401/403 stop the run
//!   (`auth`), 429/503 are `rate-limited` with `Retry-After` (BambooHR throttled with 503 before
//!   moving to 429).
//! - Webhooks: see [`webhooks`] (`X-BambooHR-Signature`, HMAC-SHA256 of body + timestamp,
//!   checked by the host against the connector's `webhook_secret`).
//!
//! Configuration (`base_url` is the API's origin, without a path):
//!
//! ```toml
//! [connectors.bamboohr]
//! plugin = "/usr/lib/hrsync/plugins/hrsync_plugin_bamboohr.wasm"
//! base_url = "https://api.bamboohr.com"
//! allowed_hosts = ["https://api.bamboohr.com"]
//! auth = { kind = "basic", secret = { env = "BAMBOOHR_API_KEY" } }
//!
//! [connectors.bamboohr.settings]
//! company_domain = "acme"                  # https://acme.bamboohr.com
//! # extra_fields = "customShirtSize,4021"  # more fields, kept in `raw` (raw.customShirtSize)
//! ```

pub mod api;
pub mod mapping;
pub mod webhooks;

use hrsync_sdk::prelude::*;

/// The BambooHR connector.
pub struct Bamboohr;

impl Connector for Bamboohr {
    fn new() -> Self {
        Bamboohr
    }

    fn describe(&self) -> Descriptor {
        let mut d = DescriptorBuilder::new("bamboohr", env!("CARGO_PKG_VERSION"))
            // The API key is the Basic user name; BambooHR ignores the password.
            .auth(AuthScheme::Basic(BasicAuth {
                secret_as: BasicPart::Username,
                other: Some("x".into()),
            }))
            .list_facts(mapping::LIST_FACTS)
            .list_has_status(true);
        for (name, kind, description, example) in mapping::FIELDS {
            d = d.field(name, *kind, description, example);
        }
        for (event, _) in webhooks::EVENTS {
            d = d.event(event);
        }
        d.build()
    }

    fn list(&self, cursor: Option<String>) -> Result<Page, Error> {
        if let Some(cursor) = cursor {
            return Err(Error::Other(format!(
                "the BambooHR listing is one page; there is no page after `{cursor}`"
            )));
        }
        let settings = api::Settings::read()?;
        let employees = api::report(&settings)?;
        let mut page = Page::default();
        for record in &employees {
            match mapping::person(record, false) {
                Ok(p) => page.people.push(p),
                Err(rejected) => page.rejected.push(rejected),
            }
        }
        page.total = u32::try_from(employees.len()).ok();
        Ok(page)
    }

    fn get(&self, id: &str) -> Result<Person, Error> {
        let settings = api::Settings::read()?;
        let record = api::employee(&settings, id)?;
        if !record.is_object() {
            return Err(Error::InvalidData(invalid(
                Some(id),
                None,
                "the employee answer is not a JSON object",
            )));
        }
        mapping::person(&record, true).map_err(Error::InvalidData)
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<HrEvent>, WebhookError> {
        webhooks::parse(request, webhook::now_millis() / 1000)
    }
}

hrsync_sdk::export_connector!(Bamboohr);

#[cfg(test)]
mod tests;
