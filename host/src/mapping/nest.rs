//! Dotted field names as nested maps: a connector endpoint's fields are `NAME.FIELD`
//! (`cost_center.value`, `timeoff.end_date`), which templates read as `cost_center.value` — an
//! attribute of the map `cost_center`. The flat names stay too (`person["cost_center.value"]`).

use std::collections::BTreeMap;

use minijinja::Value;

/// Adds, for each dotted name `a.b.c`, a map `a` holding `b` → map `c` (unless a field is
/// already named `a`: a connector's own field wins over an endpoint of the same name).
pub fn nest(values: &mut BTreeMap<String, Value>) {
    let mut groups: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (name, value) in values.iter() {
        if let Some((head, rest)) = name.split_once('.')
            && !head.is_empty()
            && !rest.is_empty()
        {
            groups
                .entry(head.to_string())
                .or_default()
                .insert(rest.to_string(), value.clone());
        }
    }
    for (head, mut inner) in groups {
        if values.contains_key(&head) {
            continue;
        }
        nest(&mut inner);
        inner.retain(|k, _| !k.contains('.'));
        values.insert(head, Value::from(inner));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dotted_names_nest() {
        let mut m: BTreeMap<String, Value> = [
            ("ep.a".to_string(), Value::from("1")),
            ("ep.b.c".to_string(), Value::from(2)),
            ("department".to_string(), Value::from("R&D")),
            ("department.x".to_string(), Value::from("hidden")),
        ]
        .into();
        nest(&mut m);
        let env = minijinja::Environment::new();
        let out = env
            .render_str(
                "{{ ep.a }} {{ ep.b.c }} {{ department }} {{ person['ep.a'] }}",
                {
                    let mut ctx = m.clone();
                    ctx.insert("person".into(), Value::from(m.clone()));
                    ctx
                },
            )
            .unwrap();
        assert_eq!(out, "1 2 R&D 1");
    }
}
