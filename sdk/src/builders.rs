//! Builders for the records a connector returns.

use crate::{
    ActionSpec, Descriptor, Field, FieldKind, FieldSpec, FieldValue, InvalidRecord, Lifecycle,
    Person,
};

/// Builds a [`Person`] field by field; `None` values become [`FieldValue::Null`].
#[derive(Debug, Clone)]
pub struct PersonBuilder(Person);

impl PersonBuilder {
    /// A person with its id, mapped lifecycle and the HR system's own status word.
    pub fn new(id: impl Into<String>, status: Lifecycle, source_status: impl Into<String>) -> Self {
        PersonBuilder(Person {
            id: id.into(),
            status,
            source_status: source_status.into(),
            fields: Vec::new(),
            raw: None,
            complete: false,
        })
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
#[derive(Debug, Clone)]
pub struct DescriptorBuilder(Descriptor);

impl DescriptorBuilder {
    /// A descriptor for the connector `name` at `version`.
    pub fn new(name: &str, version: &str) -> Self {
        DescriptorBuilder(Descriptor {
            name: name.to_string(),
            version: version.to_string(),
            contract_version: crate::CONTRACT_VERSION.to_string(),
            fields: Vec::new(),
            events: Vec::new(),
            actions: Vec::new(),
        })
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
