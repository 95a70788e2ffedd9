//! Caps on what crosses the boundary between a plugin and the host.
//!
//! A plugin's answer is lifted into host memory (bounded by the plugin's own memory limit), then
//! checked here before the rest of the host sees it: people per page, items per list, bytes per
//! string. An answer over a cap ends the call with [`super::PluginError::Oversized`], naming the
//! value (`people[3].raw`) and the limit — never a silent cut, which could make people vanish
//! from a listing.

use super::wit;

/// Caps on one call's answer, requests and logs. [`Caps::default`] is what hrsync uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// People in one page, and rejected records in one page (each).
    pub people_per_page: usize,
    /// Items in any other list: fields of a person, values of a text list, webhook events,
    /// descriptor fields/events/actions, request headers and query parameters.
    pub list_items: usize,
    /// Bytes in any one string: ids, field names and values, `raw` JSON, cursors, messages,
    /// request paths and header values.
    pub string_bytes: usize,
    /// Bytes in one HTTP request body a plugin sends.
    pub request_body_bytes: usize,
    /// Bytes in one log line (`log`, stdout, stderr); a longer line is cut.
    pub log_line_bytes: usize,
    /// Log lines per call; the rest are dropped and counted in one "log truncated" line.
    pub log_lines: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            people_per_page: 10_000,
            list_items: 1_000,
            string_bytes: 1 << 20,
            request_body_bytes: 16 << 20,
            log_line_bytes: 4 << 10,
            log_lines: 1_000,
        }
    }
}

/// Bytes as the limit is written: `1 MiB`, `4 KiB`, `100 bytes`.
pub(super) fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Walks an answer, stopping at the first value over a cap.
pub(super) struct Check<'c> {
    caps: &'c Caps,
}

type Checked = Result<(), String>;

impl<'c> Check<'c> {
    pub(super) fn new(caps: &'c Caps) -> Self {
        Check { caps }
    }

    pub(super) fn string(&self, path: &dyn Fn() -> String, s: &str) -> Checked {
        if s.len() > self.caps.string_bytes {
            return Err(format!(
                "{} is {} bytes; the limit is {} per string",
                path(),
                s.len(),
                bytes(self.caps.string_bytes)
            ));
        }
        Ok(())
    }

    fn list<T>(&self, path: &dyn Fn() -> String, items: &[T]) -> Checked {
        if items.len() > self.caps.list_items {
            return Err(format!(
                "{} holds {} items; the limit is {} per list",
                path(),
                items.len(),
                self.caps.list_items
            ));
        }
        Ok(())
    }

    fn opt(&self, path: &dyn Fn() -> String, s: &Option<String>) -> Checked {
        s.as_deref().map_or(Ok(()), |s| self.string(path, s))
    }

    pub(super) fn page(&self, page: &wit::Page) -> Checked {
        for (what, n) in [
            ("people", page.people.len()),
            ("rejected", page.rejected.len()),
        ] {
            if n > self.caps.people_per_page {
                return Err(format!(
                    "the page's {what} holds {n} records; the limit is {} per page",
                    self.caps.people_per_page
                ));
            }
        }
        for (i, p) in page.people.iter().enumerate() {
            self.person(&|| format!("people[{i}]"), p)?;
        }
        for (i, r) in page.rejected.iter().enumerate() {
            self.invalid(&|| format!("rejected[{i}]"), r)?;
        }
        self.opt(&|| "next_cursor".to_string(), &page.next_cursor)?;
        self.opt(&|| "watermark".to_string(), &page.watermark)
    }

    pub(super) fn person(&self, at: &dyn Fn() -> String, p: &wit::Person) -> Checked {
        self.string(&|| format!("{}.id", at()), &p.id)?;
        self.string(&|| format!("{}.source_status", at()), &p.source_status)?;
        for (name, value) in [
            ("start_date", &p.start_date),
            ("end_date", &p.end_date),
            ("manager_id", &p.manager_id),
            ("given_name", &p.given_name),
            ("family_name", &p.family_name),
            ("display_name", &p.display_name),
            ("work_email", &p.work_email),
        ] {
            self.opt(&|| format!("{}.{name}", at()), value)?;
        }
        self.opt(&|| format!("{}.raw", at()), &p.raw)?;
        self.fields(&|| format!("{}.fields", at()), &p.fields)
    }

    fn fields(&self, at: &dyn Fn() -> String, fields: &[wit::Field]) -> Checked {
        self.list(at, fields)?;
        for (i, f) in fields.iter().enumerate() {
            let here = || format!("{}[{i}] (`{}`)", at(), short(&f.name));
            self.string(&|| format!("{} name", here()), &f.name)?;
            match &f.value {
                wit::FieldValue::Text(s) | wit::FieldValue::Date(s) => self.string(&here, s)?,
                wit::FieldValue::TextList(items) => {
                    self.list(&here, items)?;
                    for (j, s) in items.iter().enumerate() {
                        self.string(&|| format!("{}[{j}]", here()), s)?;
                    }
                }
                wit::FieldValue::Null
                | wit::FieldValue::Integer(_)
                | wit::FieldValue::Number(_)
                | wit::FieldValue::Boolean(_) => {}
            }
        }
        Ok(())
    }

    fn invalid(&self, at: &dyn Fn() -> String, r: &wit::InvalidRecord) -> Checked {
        self.opt(&|| format!("{}.record_id", at()), &r.record_id)?;
        self.opt(&|| format!("{}.field", at()), &r.field)?;
        self.string(&|| format!("{}.message", at()), &r.message)
    }

    pub(super) fn connector_error(&self, e: &wit::ConnectorError) -> Checked {
        let at = || "the error's message".to_string();
        match e {
            wit::ConnectorError::Auth(m)
            | wit::ConnectorError::Unsupported(m)
            | wit::ConnectorError::Other(m) => self.string(&at, m),
            wit::ConnectorError::Http(e) => match e {
                wit::HttpError::Denied(m)
                | wit::HttpError::Transport(m)
                | wit::HttpError::Auth(m)
                | wit::HttpError::InvalidRequest(m) => self.string(&at, m),
                wit::HttpError::Timeout(_) => Ok(()),
            },
            wit::ConnectorError::Remote(r) => self.string(&at, &r.message),
            wit::ConnectorError::InvalidData(r) => self.invalid(&|| "the error".to_string(), r),
            wit::ConnectorError::RateLimited(_) => Ok(()),
        }
    }

    pub(super) fn webhook_error(&self, e: &wit::WebhookError) -> Checked {
        match e {
            wit::WebhookError::BadSignature(m)
            | wit::WebhookError::Stale(m)
            | wit::WebhookError::Malformed(m)
            | wit::WebhookError::Other(m) => self.string(&|| "the error's message".to_string(), m),
        }
    }

    pub(super) fn events(&self, events: &[wit::HrEvent]) -> Checked {
        self.list(&|| "the events".to_string(), events)?;
        for (i, e) in events.iter().enumerate() {
            self.string(&|| format!("events[{i}].source_type"), &e.source_type)?;
            self.opt(&|| format!("events[{i}].person_id"), &e.person_id)?;
            self.string(&|| format!("events[{i}].dedupe_key"), &e.dedupe_key)?;
        }
        Ok(())
    }

    pub(super) fn action_output(&self, o: &wit::ActionOutput) -> Checked {
        self.string(&|| "summary".to_string(), &o.summary)?;
        self.string(&|| "data".to_string(), &o.data)
    }

    pub(super) fn descriptor(&self, d: &wit::Descriptor) -> Checked {
        self.string(&|| "name".to_string(), &d.name)?;
        self.string(&|| "version".to_string(), &d.version)?;
        self.string(&|| "contract_version".to_string(), &d.contract_version)?;
        self.list(&|| "auth".to_string(), &d.auth)?;
        for (i, a) in d.auth.iter().enumerate() {
            match a {
                wit::AuthScheme::Basic(b) => {
                    self.opt(&|| format!("auth[{i}].other"), &b.other)?;
                }
                wit::AuthScheme::ApiKey(
                    wit::KeyPlacement::Header(name) | wit::KeyPlacement::Query(name),
                ) => self.string(&|| format!("auth[{i}] name"), name)?,
                wit::AuthScheme::Bearer
                | wit::AuthScheme::OauthClientCredentials
                | wit::AuthScheme::OauthRefreshToken => {}
            }
        }
        self.list(&|| "listing.facts".to_string(), &d.listing.facts)?;
        self.specs(&|| "fields".to_string(), &d.fields)?;
        self.list(&|| "events".to_string(), &d.events)?;
        for (i, e) in d.events.iter().enumerate() {
            self.string(&|| format!("events[{i}]"), e)?;
        }
        self.list(&|| "actions".to_string(), &d.actions)?;
        for (i, a) in d.actions.iter().enumerate() {
            self.string(&|| format!("actions[{i}].name"), &a.name)?;
            self.string(&|| format!("actions[{i}].description"), &a.description)?;
            self.specs(&|| format!("actions[{i}].params"), &a.params)?;
        }
        Ok(())
    }

    fn specs(&self, at: &dyn Fn() -> String, specs: &[wit::FieldSpec]) -> Checked {
        self.list(at, specs)?;
        for (i, s) in specs.iter().enumerate() {
            self.string(&|| format!("{}[{i}].name", at()), &s.name)?;
            self.string(&|| format!("{}[{i}].description", at()), &s.description)?;
            self.string(&|| format!("{}[{i}].example", at()), &s.example)?;
        }
        Ok(())
    }

    /// A request the plugin asks the host to send.
    pub(super) fn request(&self, r: &wit::HttpRequest) -> Checked {
        self.string(&|| "the request's path".to_string(), &r.path)?;
        self.list(&|| "the request's query".to_string(), &r.query)?;
        self.list(&|| "the request's headers".to_string(), &r.headers)?;
        for (k, v) in r.query.iter().chain(&r.headers) {
            self.string(&|| format!("`{}`", short(k)), k)?;
            self.string(&|| format!("the value of `{}`", short(k)), v)?;
        }
        if let Some(body) = &r.body
            && body.len() > self.caps.request_body_bytes
        {
            return Err(format!(
                "the request body is {} bytes; the limit is {}",
                body.len(),
                bytes(self.caps.request_body_bytes)
            ));
        }
        Ok(())
    }
}

/// A name as it may appear in a message: at most 40 characters.
fn short(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        let cut: String = s.chars().take(40).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn person(id: &str, fields: Vec<wit::Field>) -> wit::Person {
        wit::Person {
            id: id.to_string(),
            status: wit::Lifecycle::Active,
            source_status: "active".to_string(),
            start_date: None,
            end_date: None,
            manager_id: None,
            given_name: None,
            family_name: None,
            display_name: None,
            work_email: None,
            fields,
            raw: None,
            complete: false,
        }
    }

    #[test]
    fn every_cap_names_the_value_and_the_limit() {
        let caps = Caps {
            people_per_page: 2,
            list_items: 2,
            string_bytes: 8,
            request_body_bytes: 4,
            ..Caps::default()
        };
        let check = Check::new(&caps);
        let mut page = wit::Page {
            people: vec![person("a", vec![]); 3],
            rejected: vec![],
            next_cursor: None,
            total: None,
            watermark: None,
        };
        let e = check.page(&page).unwrap_err();
        assert_eq!(
            e,
            "the page's people holds 3 records; the limit is 2 per page"
        );
        page.people = vec![
            person("a", vec![]),
            person(
                "b",
                vec![wit::Field {
                    name: "name".into(),
                    value: wit::FieldValue::Text("Ada Lovelace".into()),
                }],
            ),
        ];
        let e = check.page(&page).unwrap_err();
        assert_eq!(
            e,
            "people[1].fields[0] (`name`) is 12 bytes; the limit is 8 bytes per string"
        );
        page.people[1].fields = vec![
            wit::Field {
                name: "x".into(),
                value: wit::FieldValue::Null,
            };
            3
        ];
        let e = check.page(&page).unwrap_err();
        assert_eq!(e, "people[1].fields holds 3 items; the limit is 2 per list");
        let request = wit::HttpRequest {
            method: wit::Method::Post,
            path: "/p".into(),
            query: vec![],
            headers: vec![],
            body: Some(vec![0; 5]),
        };
        assert_eq!(
            check.request(&request).unwrap_err(),
            "the request body is 5 bytes; the limit is 4 bytes"
        );
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(4096), "4 KiB");
    }
}
