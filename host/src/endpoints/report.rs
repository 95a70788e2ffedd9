//! "Test & Save" for endpoints: what `hrsync connector test` prints of each endpoint — the
//! requests it made (credentials masked), every field it yields with a sample, and how many
//! records matched the primary key.

use super::Trial;
use crate::mapping::FieldValue;

/// A field value as a sample.
pub fn sample(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(s) | FieldValue::Date(s) if s.is_empty() => "(empty)".to_string(),
        FieldValue::Text(s) | FieldValue::Date(s) => s.clone(),
        FieldValue::Null => "(empty)".to_string(),
        FieldValue::Integer(n) => n.to_string(),
        FieldValue::Number(n) => n.to_string(),
        FieldValue::Boolean(b) => b.to_string(),
        FieldValue::TextList(l) => format!("{l:?}"),
    }
}

/// The trials as text, one block per endpoint.
pub fn render(trials: &[Trial], sample_id: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for t in trials {
        let what = if t.per_person {
            format!("per person, for person {sample_id}")
        } else {
            format!("company-wide, {} request(s)", t.requests.len())
        };
        lines.push(format!("\nendpoint {} ({what})", t.endpoint));
        for r in &t.requests {
            let status = r
                .status
                .map_or_else(|| "no answer".to_string(), |s| s.to_string());
            lines.push(format!("  {} {} → {status}", r.method, r.url));
            for (k, v) in &r.headers {
                lines.push(format!("    {k}: {v}"));
            }
            lines.push(
                "    authorization: *** (the connector's credentials, attached by hrsync; masked)"
                    .to_string(),
            );
            if let Some(body) = &r.body {
                lines.push(format!("    body: {body}"));
            }
        }
        lines.push(format!(
            "  {} record(s); {} of {} people tried matched the primary key",
            t.records, t.matched, t.people
        ));
        for (record, problem) in &t.problems {
            lines.push(match record {
                Some(r) => format!("  ✗ record {r}: {problem}"),
                None => format!("  ✗ {problem}"),
            });
        }
        if t.fields.is_empty() {
            lines.push("  no fields for the sample".to_string());
            continue;
        }
        let width = t.fields.keys().map(String::len).max().unwrap_or(0).max(24);
        lines.push(format!("  {:<width$} sample", "field"));
        for (name, value) in &t.fields {
            lines.push(format!("  {name:<width$} {}", sample(value)));
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
