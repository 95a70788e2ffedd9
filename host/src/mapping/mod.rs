//! Attribute mapping: admin templates from person fields to LDAP attributes.
//!
//! # Admin reference
//!
//! Each directory attribute hrsync manages is described under `[mapping.attributes]`, by a
//! [minijinja](https://docs.rs/minijinja) (Jinja2-like) template. Attribute names keep the case
//! you write; two names differing only in case are rejected (LDAP names are case-insensitive).
//!
//! ```toml
//! [mapping.attributes]
//! givenName   = "{{ first_name }}"
//! sn          = "{{ last_name }}"
//! displayName = { template = "{{ first_name }} {{ last_name }}", apply = "always" }
//! sAMAccountName = { unique = [
//!     "{{ first_name|ascii|lower|samsafe }}.{{ last_name|ascii|lower|samsafe }}",
//!     "{{ first_name|ascii|lower|samsafe|first }}{{ last_name|ascii|lower|samsafe }}",
//!     "{{ first_name|ascii|lower|samsafe }}.{{ last_name|ascii|lower|samsafe }}{{ n }}",
//! ], max_len = 20, apply = "on-create" }
//! employeeType = { template = "{{ type }}", when = "type == 'contractor'" }
//! description  = { template = "{{ job_title }}", blank = "clear" }
//! employeeID   = "{{ raw.employee_number }}"
//! c            = "{{ raw.country.alpha_2_code|upper }}"
//! extensionAttribute1 = "{{ start_date|date('%d/%m/%Y') }}"
//! ```
//!
//! ## Rule options
//!
//! A rule is either a plain string (the template) or a table with:
//!
//! | key        | meaning |
//! |------------|---------|
//! | `template` | the template producing the value |
//! | `unique`   | instead of `template`: a list of candidate templates, tried in order until one gives a value nobody else has in the directory |
//! | `max_len`  | cut the value to this many characters (no "…") |
//! | `apply`    | `"always"` (default): written on every sync; `"on-create"`: only when the account is created |
//! | `when`     | an expression (no `{{ }}`), e.g. `"type == 'contractor' and department != 'Sales'"`; when false, hrsync leaves the attribute alone for that person |
//! | `blank`    | what an empty result does: `"keep"` (default) leaves the directory value alone (hrsync never blanks an attribute by accident); `"clear"` removes the attribute |
//!
//! HR text is cleaned before templates see it, and rendered values again before they are
//! written: whitespace runs (tabs, new lines) become one space, control and invisible characters
//! (zero-width spaces, bidi marks, the BOM) are removed, and the ends are trimmed. An HR field that
//! is empty after cleaning is *undefined*, so `default(...)` applies to it. Characters such as
//! `,+="\<>;#*()` are kept (LDAP escaping is hrsync's job, not yours). A value longer than the
//! directory's schema allows (`rangeUpper`) is cut when the rule says `too_long = "truncate"` (the
//! default for names: cn, displayName, givenName, sn, initials, middleName, description) and
//! otherwise quarantines the person with the attribute and the limit.
//!
//! ## Unique values
//!
//! For a `unique` rule the candidates are: each template in order; a template that uses `n` is
//! tried with `n` = 2, 3, … 99 (in other templates `n` is undefined). Each candidate is cut to
//! `max_len`; when a numbered candidate is too long and ends with its number, the number is kept
//! and the text before it shortened (`verylongfirstname.l7`). Empty candidates are skipped, as
//! are repeats (ignoring case). The first candidate not already used in the directory is taken;
//! if all are used, the person is reported as an error and the account is not created.
//!
//! With José Müller: `jose.muller`, then `jmuller`, then `jose.muller2`, `jose.muller3`, …
//!
//! ## Template variables
//!
//! | name            | value |
//! |-----------------|-------|
//! | *field name*    | every HR field reported by the connector (`first_name`, `last_name`, `department`, `start_date`, …): text and dates (`YYYY-MM-DD`) as strings, numbers, booleans, lists of strings as lists |
//! | `person`        | the same fields as a map — use `person["odd name"]` for field names that are not identifiers, or that clash with the names below |
//! | `id`            | the person's id in the HR system |
//! | `status`        | `pre-hire`, `active`, `leaving`, `terminated` or `unknown` |
//! | `source_status` | the HR system's own status text |
//! | `raw`           | the HR record as JSON, e.g. `raw.country.alpha_2_code` |
//! | `n`             | the counter in `unique` fallbacks (see above) |
//!
//! `id`, `status`, `source_status`, `raw`, `person` and `n` win over HR fields of the same name.
//! A missing field, a null field, a JSON null and a missing path (`raw.a.b.c`) all render as
//! empty: they are *undefined* rather than `none`, so `{{ middle_name|default('-') }}` and
//! `{% if middle_name is defined %}` work. Lists print as `['a', 'b']` (use `join`), booleans as
//! `True`/`False` (for LDAP booleans write `{{ 'TRUE' if manager else 'FALSE' }}`).
//!
//! ## Filters
//!
//! On top of minijinja's [builtins](https://docs.rs/minijinja/latest/minijinja/filters/index.html)
//! (`lower`, `upper`, `title`, `capitalize`, `trim`, `replace(a, b)`, `default(v)`, `length`, …).
//! The filters below and the string builtins (`lower`, `upper`, `title`, `capitalize`, `trim`,
//! `replace`) treat a missing value as empty; others may fail on it (e.g. `length`), so guard
//! them with `default`: `{{ nickname|default('')|length }}`.
//!
//! | filter            | result |
//! |-------------------|--------|
//! | `ascii`           | folds to ASCII: "Zoë Ångström" → "Zoe Angstrom", "Łukasz Żółć" → "Lukasz Zolc", "Nguyễn" → "Nguyen", "Strauß" → "Strauss", "Дмитрий" → "Dmitrii"; characters with no ASCII form are dropped |
//! | `samsafe`         | removes spaces, control characters and `"/\[]:;\|=,+*?<>@` (not allowed in `sAMAccountName`) |
//! | `truncate(n)`     | the first `n` characters, no ellipsis |
//! | `initials`        | the first letter of each word (words split at spaces and hyphens), uppercased: "Maria da Graça" → "MDG", "Jean-Luc Picard" → "JLP" |
//! | `first` / `last`  | the first / last character of a string, or item of a list |
//! | `first_word` / `last_word` | the first / last space-separated word: "Maria da Graça" → "Maria" / "Graça" |
//! | `split(sep)`      | a list of the parts between `sep` (between runs of spaces without `sep`) |
//! | `join(sep)`       | the items of a list joined by `sep`; missing items skipped |
//! | `date(format)`    | formats a `YYYY-MM-DD` date (or ISO date-time) with [strftime](https://docs.rs/chrono/latest/chrono/format/strftime/index.html) codes: `{{ start_date|date('%d/%m/%Y') }}` → `07/03/2024`; the default format is `%Y-%m-%d` |
//! | `dn`              | RFC 4514-escapes a value for a DN template: `OU={{ department|dn }},…` |
//! | `urlencode`       | percent-encodes a value as one URL component: "R&D / Ops" → `R%26D%20%2F%20Ops` |
//! | `tojson`          | the value as JSON (a string with its quotes, a list, a number; missing → `null`) |
//! | `xml`             | XML-escapes `& < > " '` |
//!
//! Attribute values are data in LDAP (no escaping needed); only DN templates need `dn`. Templates
//! that build requests (outbound webhooks, connector endpoints) escape every value for where it
//! lands without a filter (see `crate::templates`); these filters are for the places where a
//! value is deliberately built into such a text here, e.g. `wWWHomePage =
//! "https://wiki.example/people/{{ full_name|urlencode }}"`.
//!
//! Typical compositions: `{{ first_name|ascii|lower|samsafe }}`,
//! `{{ (first_name|first_word ~ ' ' ~ last_name)|trim }}`,
//! `{{ department|default('Unassigned') }}`.
//!
//! ## Errors
//!
//! Syntax errors and unknown filters are reported when the configuration is loaded, naming the
//! attribute, the template and the line/column. Errors while rendering (e.g. `date` on a value
//! that is not a date) name the attribute and the person; that person is skipped.

pub mod clean;
mod config;
mod engine;
mod error;
pub(crate) mod filters;
pub mod nest;
mod person;

#[cfg(test)]
mod tests;

pub use config::{Apply, AttributeRule, Blank, MappingConfig, TooLong};
pub use engine::{
    ExistingEntry, FIRST_N, LAST_N, MappedAttributes, Mapper, UniqueCandidate, UniqueCandidates,
    UniqueRequest, resolve_unique,
};
pub use error::MappingError;
pub use person::{Fact, Facts, FieldValue, Lifecycle, Person};
