//! Builders for the records a connector returns.

use crate::{
    ActionSpec, AuthScheme, Descriptor, Fact, Field, FieldKind, FieldSpec, FieldValue,
    InvalidRecord, Lifecycle, Listing, Person,
};

/// Builds a [`Person`]: its typed facts (dates, manager, names, work email) and its other fields;
/// `None` field values become [`FieldValue::Null`].
///
/// ```
/// use hrsync_sdk::prelude::*;
///
/// let p = PersonBuilder::new("e1", Lifecycle::Active, "active")
///     .given_name(Some("Ada"))
///     .family_name(Some("Lovelace"))
///     .start_date(Some("2026-03-01T09:00:00+01:00"))
///     .unwrap()
///     .text("job_title", Some("Engineer"))
///     .build();
/// assert_eq!(p.start_date.as_deref(), Some("2026-03-01"));
/// ```
#[derive(Debug, Clone)]
pub struct PersonBuilder(Person);

impl PersonBuilder {
    /// A person with its id, mapped lifecycle and the HR system's own status word; no facts, no
    /// fields, not complete.
    pub fn new(id: impl Into<String>, status: Lifecycle, source_status: impl Into<String>) -> Self {
        PersonBuilder(Person {
            id: id.into(),
            status,
            source_status: source_status.into(),
            start_date: None,
            end_date: None,
            manager_id: None,
            given_name: None,
            family_name: None,
            display_name: None,
            work_email: None,
            fields: Vec::new(),
            raw: None,
            complete: false,
        })
    }

    /// The first working day, from a date or an ISO 8601 date-time (kept as written, never
    /// shifted to UTC; [`crate::dates::parse`]); `None` or blank is none. A malformed value is
    /// an [`InvalidRecord`] naming this person and `start_date`.
    pub fn start_date(mut self, value: Option<&str>) -> Result<Self, InvalidRecord> {
        self.0.start_date = self.fact_date("start_date", value)?;
        Ok(self)
    }

    /// The last day of employment (termination, end of contract), as [`PersonBuilder::start_date`].
    /// From this day on, in the admin's time zone, hrsync treats the person as a leaver.
    pub fn end_date(mut self, value: Option<&str>) -> Result<Self, InvalidRecord> {
        self.0.end_date = self.fact_date("end_date", value)?;
        Ok(self)
    }

    /// The manager's id (the same kind of id as the person's).
    pub fn manager_id(mut self, value: Option<&str>) -> Self {
        self.0.manager_id = present(value);
        self
    }

    /// Given (first) name.
    pub fn given_name(mut self, value: Option<&str>) -> Self {
        self.0.given_name = present(value);
        self
    }

    /// Family (last) name.
    pub fn family_name(mut self, value: Option<&str>) -> Self {
        self.0.family_name = present(value);
        self
    }

    /// The name to show, as the HR system writes it.
    pub fn display_name(mut self, value: Option<&str>) -> Self {
        self.0.display_name = present(value);
        self
    }

    /// The work email address.
    pub fn work_email(mut self, value: Option<&str>) -> Self {
        self.0.work_email = present(value);
        self
    }

    fn fact_date(&self, name: &str, value: Option<&str>) -> Result<Option<String>, InvalidRecord> {
        match crate::dates::field(&self.0.id, name, value)? {
            FieldValue::Date(d) => Ok(Some(d)),
            _ => Ok(None),
        }
    }

    /// Adds any field value.
    pub fn value(mut self, name: &str, value: FieldValue) -> Self {
        self.0.fields.push(Field {
            name: name.to_string(),
            value,
        });
        self
    }

    /// Adds a text field.
    pub fn text(self, name: &str, value: Option<&str>) -> Self {
        let v = value.map_or(FieldValue::Null, |s| FieldValue::Text(s.to_string()));
        self.value(name, v)
    }

    /// Adds a date field that is already `YYYY-MM-DD` (see [`PersonBuilder::parse_date`] for
    /// anything else).
    pub fn date(self, name: &str, value: Option<&str>) -> Self {
        let v = value.map_or(FieldValue::Null, |s| FieldValue::Date(s.to_string()));
        self.value(name, v)
    }

    /// Adds a date field from a date or an ISO 8601 date-time, keeping the date as written
    /// ([`crate::dates::parse`]); `None` or blank is null. A malformed value is an
    /// [`InvalidRecord`] naming this person and the field, for [`crate::Page::rejected`].
    pub fn parse_date(self, name: &str, value: Option<&str>) -> Result<Self, InvalidRecord> {
        let v = crate::dates::field(&self.0.id, name, value)?;
        Ok(self.value(name, v))
    }

    /// Adds an integer field.
    pub fn integer(self, name: &str, value: Option<i64>) -> Self {
        self.value(name, value.map_or(FieldValue::Null, FieldValue::Integer))
    }

    /// Adds a list-of-text field (for example several email addresses).
    pub fn text_list(self, name: &str, values: Vec<String>) -> Self {
        self.value(name, FieldValue::TextList(values))
    }

    /// Adds a boolean field.
    pub fn boolean(self, name: &str, value: Option<bool>) -> Self {
        self.value(name, value.map_or(FieldValue::Null, FieldValue::Boolean))
    }

    /// Keeps the HR record as JSON, so admins can map fields by path (`raw.a.b`).
    pub fn raw(mut self, raw: &serde_json::Value) -> Self {
        self.0.raw = Some(raw.to_string());
        self
    }

    /// Marks the person as coming from a detail fetch (every field the HR system has).
    pub fn complete(mut self, complete: bool) -> Self {
        self.0.complete = complete;
        self
    }

    /// The person.
    pub fn build(self) -> Person {
        self.0
    }
}

/// `None` for a missing or blank value.
fn present(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl From<Person> for PersonBuilder {
    /// Goes on building a person (for example one read from a list item, to mark it complete).
    fn from(person: Person) -> Self {
        PersonBuilder(person)
    }
}

/// An [`InvalidRecord`]: which record, which field, what is wrong.
pub fn invalid(
    record_id: Option<&str>,
    field: Option<&str>,
    message: impl Into<String>,
) -> InvalidRecord {
    InvalidRecord {
        record_id: record_id.map(str::to_string),
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// Builds a [`Descriptor`]; the SDK stamps the contract version in.
///
/// By default a connector declares no authentication, list records that carry the status but
/// no typed facts, and no change listing.
///
/// ```
/// use hrsync_sdk::prelude::*;
///
/// let d = DescriptorBuilder::new("bamboo", "0.1.0")
///     .auth(AuthScheme::Basic(BasicAuth { secret_as: BasicPart::Username, other: Some("x".into()) }))
///     .list_facts(&[Fact::GivenName, Fact::FamilyName, Fact::WorkEmail])
///     .list_has_status(false)
///     .build();
/// assert!(!d.listing.has_status);
/// ```
#[derive(Debug, Clone)]
pub struct DescriptorBuilder(Descriptor);

impl DescriptorBuilder {
    /// A descriptor for the connector `name` at `version`.
    pub fn new(name: &str, version: &str) -> Self {
        DescriptorBuilder(Descriptor {
            name: name.to_string(),
            version: version.to_string(),
            contract_version: crate::CONTRACT_VERSION.to_string(),
            auth: Vec::new(),
            listing: Listing {
                facts: Vec::new(),
                has_status: true,
                changes: false,
            },
            fields: Vec::new(),
            events: Vec::new(),
            actions: Vec::new(),
        })
    }

    /// Declares an authentication scheme the HR system accepts (call it once per scheme,
    /// preferred first). The admin picks one and supplies the secret; the host attaches it.
    pub fn auth(mut self, scheme: AuthScheme) -> Self {
        self.0.auth.push(scheme);
        self
    }

    /// Declares the typed facts a list record carries whenever the HR system has them (for the
    /// others, a list record's `None` means "not known from the list").
    pub fn list_facts(mut self, facts: &[Fact]) -> Self {
        self.0.listing.facts = facts.to_vec();
        self
    }

    /// Declares whether a list record's status is the HR system's current word (default `true`);
    /// `false`: hrsync takes the status from the detail.
    pub fn list_has_status(mut self, has_status: bool) -> Self {
        self.0.listing.has_status = has_status;
        self
    }

    /// Declares that [`crate::Connector::list_changes`] is implemented.
    pub fn list_changes(mut self, changes: bool) -> Self {
        self.0.listing.changes = changes;
        self
    }

    /// Declares a field the connector yields.
    pub fn field(mut self, name: &str, kind: FieldKind, description: &str, example: &str) -> Self {
        self.0.fields.push(spec(name, kind, description, example));
        self
    }

    /// Declares an HR event type the connector recognizes.
    pub fn event(mut self, event_type: &str) -> Self {
        self.0.events.push(event_type.to_string());
        self
    }

    /// Declares an action with its parameters `(name, kind, description, example)`.
    pub fn action(
        mut self,
        name: &str,
        description: &str,
        params: &[(&str, FieldKind, &str, &str)],
    ) -> Self {
        self.0.actions.push(ActionSpec {
            name: name.to_string(),
            description: description.to_string(),
            params: params
                .iter()
                .map(|(n, k, d, e)| spec(n, *k, d, e))
                .collect(),
        });
        self
    }

    /// The descriptor.
    pub fn build(self) -> Descriptor {
        self.0
    }
}

fn spec(name: &str, kind: FieldKind, description: &str, example: &str) -> FieldSpec {
    FieldSpec {
        name: name.to_string(),
        kind,
        description: description.to_string(),
        example: example.to_string(),
    }
}

/// Looks up a parameter of an action by name.
pub fn param<'a>(params: &'a [Field], name: &str) -> Option<&'a FieldValue> {
    params.iter().find(|f| f.name == name).map(|f| &f.value)
}
