//! An endpoint's answer as records, each record as person fields under `endpoint.`, and
//! company-wide records indexed by their primary key.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::Problem;
use crate::mapping::FieldValue;

/// The records at `pointer` (an array, or one object), or the whole answer as one record.
pub fn records(answer: &Value, pointer: Option<&str>) -> Result<Vec<Value>, Problem> {
    let Some(p) = pointer else {
        return Ok(vec![answer.clone()]);
    };
    match answer.pointer(p) {
        None => Err(Problem::NoRecords {
            pointer: p.to_string(),
            found: top_keys(answer),
        }),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(Value::Null) => Ok(Vec::new()),
        Some(one) => Ok(vec![one.clone()]),
    }
}

/// The answer's top-level keys, for a message about a pointer that finds nothing.
fn top_keys(answer: &Value) -> String {
    match answer {
        Value::Object(m) => m
            .keys()
            .map(|k| format!("/{k}"))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(_) => "an array".to_string(),
        other => format!("a {}", kind(other)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A record's primary key: the text or number at `key`.
pub fn key_of(record: &Value, key: &str) -> Option<String> {
    match record.pointer(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A short view of a record for messages (its first 120 characters of JSON).
pub fn describe(record: &Value) -> String {
    let text = record.to_string();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// A record as person fields: `endpoint.a`, `endpoint.b.c` for nested objects; lists of
/// scalars as text lists, other lists as their JSON text; a scalar record as `endpoint.value`.
pub fn fields(endpoint: &str, record: &Value) -> BTreeMap<String, FieldValue> {
    let mut out = BTreeMap::new();
    match record {
        Value::Object(_) => flatten(endpoint, record, &mut out),
        other => flatten(&format!("{endpoint}.value"), other, &mut out),
    }
    out
}

/// One value as person fields named `name` (nested objects as `name.a.b`).
pub fn flatten_value(name: &str, value: &Value) -> BTreeMap<String, FieldValue> {
    let mut out = BTreeMap::new();
    flatten(name, value, &mut out);
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, FieldValue>) {
    let v = match value {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
            return;
        }
        Value::Null => FieldValue::Null,
        Value::Bool(b) => FieldValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::Integer(i),
            None => FieldValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => FieldValue::Text(s.clone()),
        Value::Array(items) => {
            let scalars: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect();
            match scalars {
                Some(list) => FieldValue::TextList(list),
                None => FieldValue::Text(value.to_string()),
            }
        }
    };
    out.insert(prefix.to_string(), v);
}

/// Company-wide records by primary key; records without a key and keys held by two records are
/// problems (the duplicate key's records are all set aside: which one is right is unknown).
#[derive(Debug, Default, Clone)]
pub struct Index {
    pub by_key: BTreeMap<String, Value>,
    pub problems: Vec<(Option<String>, Problem)>,
    /// Records read in all.
    pub total: usize,
}

impl Index {
    /// Indexes `records` by `key`.
    pub fn new(records: Vec<Value>, key: &str) -> Index {
        let mut index = Index {
            total: records.len(),
            ..Index::default()
        };
        let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (i, record) in records.into_iter().enumerate() {
            match key_of(&record, key) {
                Some(k) => seen.entry(k).or_default().push(record),
                None => index.problems.push((
                    None,
                    Problem::MissingKey {
                        key: key.to_string(),
                        position: i,
                        record: describe(&record),
                    },
                )),
            }
        }
        for (k, mut found) in seen {
            if found.len() == 1 {
                if let Some(record) = found.pop() {
                    index.by_key.insert(k, record);
                }
            } else {
                index.problems.push((
                    Some(k.clone()),
                    Problem::DuplicateKey {
                        key: key.to_string(),
                        value: k,
                        records: found.iter().map(describe).collect(),
                    },
                ));
            }
        }
        index
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn records_and_fields() {
        let answer = json!({"data": {"items": [{"id": "a", "x": {"y": 1}, "tags": ["t", 2]}]}});
        let r = records(&answer, Some("/data/items")).unwrap();
        let f = fields("ep", &r[0]);
        assert_eq!(f["ep.id"], FieldValue::Text("a".into()));
        assert_eq!(f["ep.x.y"], FieldValue::Integer(1));
        assert_eq!(
            f["ep.tags"],
            FieldValue::TextList(vec!["t".into(), "2".into()])
        );
        let e = records(&answer, Some("/data/nope")).unwrap_err();
        assert!(
            e.to_string().contains("/data/nope") && e.to_string().contains("/data"),
            "{e}"
        );
        assert_eq!(records(&answer, None).unwrap().len(), 1);
    }

    #[test]
    fn an_index_sets_aside_records_without_a_key_and_duplicate_keys() {
        let index = Index::new(
            vec![
                json!({"employment_id": "a", "v": 1}),
                json!({"v": 2}),
                json!({"employment_id": "b", "v": 3}),
                json!({"employment_id": "b", "v": 4}),
                json!({"employment_id": 7}),
            ],
            "/employment_id",
        );
        assert_eq!(index.by_key.keys().collect::<Vec<_>>(), ["7", "a"]);
        assert_eq!(index.problems.len(), 2);
        let texts: Vec<String> = index.problems.iter().map(|(_, p)| p.to_string()).collect();
        assert!(
            texts[0].contains("record 2") || texts[0].contains("no `"),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("`b`") && t.contains("2 records")),
            "{texts:?}"
        );
    }
}
