//! Mapping errors. Each names the attribute, and where relevant the person and the template.

/// Anything that can go wrong compiling or applying the attribute mapping.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// A rule is malformed (bad attribute name, duplicate name, missing template, …).
    #[error("attribute `{attribute}`: {message}")]
    InvalidRule { attribute: String, message: String },

    /// A template or `when` condition does not compile (or uses an unknown filter, test or
    /// function). `message` includes the line and column within `template`.
    #[error("attribute `{attribute}`: invalid template `{template}`: {message}")]
    Syntax {
        attribute: String,
        template: String,
        message: String,
    },

    /// A template failed while rendering for one person.
    #[error(
        "attribute `{attribute}`, person `{person_id}`: rendering `{template}` failed: {message}"
    )]
    Render {
        person_id: String,
        attribute: String,
        template: String,
        message: String,
    },

    /// A `when` condition failed while evaluating for one person.
    #[error(
        "attribute `{attribute}`, person `{person_id}`: condition `{condition}` failed: {message}"
    )]
    Condition {
        person_id: String,
        attribute: String,
        condition: String,
        message: String,
    },

    /// Every candidate for a unique attribute is already taken (or none rendered non-empty).
    #[error("attribute `{attribute}`: no free value; tried {}", display_tried(.tried))]
    UniqueExhausted {
        attribute: String,
        tried: Vec<String>,
    },

    /// The caller's "is this value taken?" lookup failed.
    #[error("attribute `{attribute}`: checking whether `{candidate}` is taken failed: {source}")]
    Lookup {
        attribute: String,
        candidate: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

fn display_tried(tried: &[String]) -> String {
    const SHOWN: usize = 5;
    if tried.is_empty() {
        return "nothing (every candidate rendered empty)".into();
    }
    let mut out = tried
        .iter()
        .take(SHOWN)
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if tried.len() > SHOWN {
        out.push_str(&format!(" and {} more", tried.len() - SHOWN));
    }
    out
}

/// Formats a minijinja error as "kind: detail (line L, column C)". `source` is the text that was
/// compiled and `prefix` how many of its leading bytes were added around the admin's text (for
/// `when` conditions), so positions are relative to what the admin wrote.
pub(crate) fn describe(err: &minijinja::Error, source: Option<&str>, prefix: usize) -> String {
    let mut msg = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    let before = match (err.range(), source) {
        (Some(range), Some(src)) if range.start >= prefix => src.get(prefix..range.start),
        _ => None,
    };
    match before {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            msg.push_str(&format!(" (line {line}, column {column})"));
        }
        None => {
            if let Some(line) = err.line() {
                msg.push_str(&format!(" (line {line})"));
            }
        }
    }
    msg
}
