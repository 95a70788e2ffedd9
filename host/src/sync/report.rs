//! The plan as an admin reads it: per person, the action and each attribute's old → new.

use std::fmt::Write;

use super::plan::{Op, Plan};

/// One line: what the run would do.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    format!(
        "{} people: {} create, {} update, {} move, {} enable, {} disable, {} delete, {} group changes, {} manager changes, {} adopt, {} gone from HR, {} unchanged, {} out of scope, {} quarantined",
        s.people,
        s.create,
        s.update,
        s.moves,
        s.enable,
        s.disable,
        s.delete,
        s.groups,
        s.managers,
        s.adopt,
        s.gone,
        s.unchanged,
        s.out_of_scope,
        s.quarantined
    )
}

fn show(values: &[String]) -> String {
    match values {
        [] => "(none)".to_string(),
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    }
}

/// The plan, person by person (people with nothing to do are left out); at most `limit` people
/// with changes are shown in full.
pub fn render(plan: &Plan, limit: Option<usize>) -> String {
    let mut out = String::new();
    let mut shown = 0usize;
    let changing = plan.people.iter().filter(|p| !p.ops.is_empty()).count();
    for p in &plan.people {
        if !p.ops.is_empty() {
            if limit.is_some_and(|l| shown >= l) {
                continue;
            }
            shown += 1;
        }
        if p.ops.is_empty() {
            // Notes (pre-hire not due yet, leaver without account, …) are in `--json`.
            continue;
        }
        let _ = writeln!(out, "● {} ({})", p.name, p.person_id);
        for op in &p.ops {
            match op {
                Op::Create {
                    dn,
                    attributes,
                    enable,
                    password,
                    ..
                } => {
                    let state = match (*enable, *password) {
                        (true, _) => "enabled, random password",
                        (false, true) => "disabled, random password",
                        (false, false) => "disabled, no password",
                    };
                    let _ = writeln!(out, "    create {dn} ({state})");
                    for (k, v) in attributes {
                        let _ = writeln!(out, "      {k}: {v:?}");
                    }
                }
                Op::Modify { dn, changes } => {
                    let _ = writeln!(out, "    update {dn}");
                    for c in changes {
                        let new = c
                            .new
                            .as_ref()
                            .map_or("(cleared)".to_string(), |v| format!("{v:?}"));
                        let _ = writeln!(out, "      {}: {} → {new}", c.attribute, show(&c.old));
                    }
                }
                Op::Move { from, to } => {
                    let _ = writeln!(out, "    move {from}\n      → {to}");
                }
                Op::Enable { dn } => {
                    let _ = writeln!(out, "    enable {dn}");
                }
                Op::Disable { dn } => {
                    let _ = writeln!(out, "    disable {dn}");
                }
                Op::AddToGroup { group, .. } => {
                    let _ = writeln!(out, "    add to group {group}");
                }
                Op::RemoveFromGroup { group, .. } => {
                    let _ = writeln!(out, "    remove from group {group}");
                }
                Op::SetManager { old, new, .. } => {
                    let _ = writeln!(
                        out,
                        "    manager: {} → {}",
                        old.as_deref().unwrap_or("(none)"),
                        new.as_deref().unwrap_or("(none)")
                    );
                }
                Op::ResetPassword { dn } => {
                    let _ = writeln!(out, "    reset the password of {dn} (random)");
                }
                Op::Delete { dn } => {
                    let _ = writeln!(out, "    DELETE {dn}");
                }
            }
        }
        if let Some(note) = &p.note {
            let _ = writeln!(out, "    note: {note}");
        }
    }
    if shown < changing {
        let _ = writeln!(
            out,
            "… and {} more people with changes (`--json` or no `--limit` shows all)",
            changing - shown
        );
    }
    if plan.more > 0 {
        let _ = writeln!(
            out,
            "… and {} more people planned, kept in the store rather than in memory (`--json` or no `--limit` shows all)",
            plan.more
        );
    }
    for q in &plan.quarantined {
        let field = q
            .field
            .as_deref()
            .map(|f| format!(", field `{f}`"))
            .unwrap_or_default();
        let _ = writeln!(out, "✗ quarantined {}{field}: {}", q.record_id, q.reason);
    }
    if let Some(why) = &plan.incomplete {
        let _ = writeln!(
            out,
            "! the listing was incomplete ({why}): nobody became a leaver by absence"
        );
    }
    let _ = writeln!(out, "{}", summary_line(plan));
    out
}
