//! The plan: HR people + the directory snapshot + the rules → what to change, person by person.
//!
//! A pure function: no I/O. `hrsync plan` prints it; `hrsync sync` applies the same plan.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::rules::SyncRules;
use super::snapshot::{Account, Snapshot, normalize_dn};
use super::structure::Structure;
use crate::directory::escape;
use crate::mapping::{ExistingEntry, FieldValue, Lifecycle, Mapper, Person};

/// One directory operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// Add the account (disabled); `enable` says whether to enable it right after.
    Create {
        dn: String,
        attributes: BTreeMap<String, String>,
        enable: bool,
    },
    /// Change attributes.
    Modify {
        dn: String,
        changes: Vec<Change>,
    },
    /// Move (and keep the RDN).
    Move {
        from: String,
        to: String,
    },
    Enable {
        dn: String,
    },
    Disable {
        dn: String,
    },
    AddToGroup {
        group: String,
        dn: String,
    },
    RemoveFromGroup {
        group: String,
        dn: String,
    },
    /// Set (or clear) the `manager` attribute; applied after every create of the run.
    SetManager {
        dn: String,
        old: Option<String>,
        new: Option<String>,
    },
    Delete {
        dn: String,
    },
}

impl Op {
    /// Disables and deletes: what the safety gate counts and holds.
    pub fn is_destructive(&self) -> bool {
        matches!(self, Op::Disable { .. } | Op::Delete { .. })
    }
}

/// One attribute change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub attribute: String,
    pub old: Vec<String>,
    /// `None` clears the attribute.
    pub new: Option<String>,
}

/// What happens to one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonPlan {
    pub person_id: String,
    pub name: String,
    /// The account's DN after the plan is applied.
    pub dn: Option<String>,
    pub ops: Vec<Op>,
    /// The person is a leaver (disabled, moved, stripped).
    pub leaver: bool,
    /// Why nothing happens, when that needs saying.
    pub note: Option<String>,
}

/// A record that cannot be planned, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    pub record_id: String,
    pub field: Option<String>,
    pub reason: String,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub people: usize,
    pub create: usize,
    pub update: usize,
    #[serde(rename = "move")]
    pub moves: usize,
    pub enable: usize,
    pub disable: usize,
    pub delete: usize,
    pub groups: usize,
    pub managers: usize,
    pub unchanged: usize,
    pub out_of_scope: usize,
    pub quarantined: usize,
    /// Accounts hrsync manages (anchored) before the run.
    pub managed: usize,
}

/// The plan of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The day the plan was made for, in the configured time zone.
    pub today: String,
    pub people: Vec<PersonPlan>,
    pub quarantined: Vec<Quarantined>,
    pub summary: Summary,
}

impl Plan {
    /// Disables and deletes in the plan.
    pub fn destructive(&self) -> usize {
        self.people
            .iter()
            .flat_map(|p| &p.ops)
            .filter(|o| o.is_destructive())
            .count()
    }
}

/// Everything the plan is made of.
pub struct PlanInput<'a> {
    pub people: &'a [Person],
    pub rejected: &'a [Quarantined],
    pub snapshot: &'a Snapshot,
    pub rules: &'a SyncRules,
    pub mapper: &'a Mapper,
    pub structure: &'a Structure,
    pub disabled_ou: Option<&'a str>,
    pub today: NaiveDate,
    /// Termination dates by person id (from the connector's offboardings).
    pub termination_dates: &'a HashMap<String, NaiveDate>,
    /// When hrsync disabled each leaver's account.
    pub disabled_on: &'a HashMap<String, NaiveDate>,
}

/// What the person's account should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// No account yet (a pre-hire too far from the start date).
    NotYet,
    /// An account, enabled or not.
    Account { enabled: bool },
    /// Unknown status: keep the account as it is, update attributes, never create or disable.
    Keep,
    /// A leaver: disable, move, strip groups; delete when due.
    Leaver { delete: bool },
}

fn date_field(p: &Person, name: &str) -> Option<NaiveDate> {
    match p.field(name)? {
        FieldValue::Date(s) | FieldValue::Text(s) => {
            NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
        }
        _ => None,
    }
}

fn target(p: &Person, input: &PlanInput<'_>) -> Target {
    let today = input.today;
    let termination = input
        .termination_dates
        .get(&p.id)
        .copied()
        .or_else(|| date_field(p, "termination_date"));
    let leaver = || {
        let delete = match (input.rules.delete_after_days, input.disabled_on.get(&p.id)) {
            (Some(days), Some(since)) => today >= *since + Duration::days(days),
            _ => false,
        };
        Target::Leaver { delete }
    };
    let ended = termination.is_some_and(|t| today >= t);
    match p.status {
        Lifecycle::Unknown => Target::Keep,
        Lifecycle::Terminated => leaver(),
        Lifecycle::Leaving | Lifecycle::Active if ended => leaver(),
        Lifecycle::Leaving | Lifecycle::Active => Target::Account { enabled: true },
        Lifecycle::PreHire => match date_field(p, "start_date") {
            None => Target::Account { enabled: false },
            Some(start) if today >= start => Target::Account { enabled: true },
            Some(start) if today >= start - Duration::days(input.rules.prehire_days) => {
                Target::Account { enabled: false }
            }
            Some(_) => Target::NotYet,
        },
    }
}

/// Values reserved by earlier people of the same run.
#[derive(Default)]
struct Reserved {
    values: HashMap<String, HashSet<String>>,
    dns: HashSet<String>,
}

impl Reserved {
    fn taken(&self, snapshot: &Snapshot, attr: &str, value: &str) -> bool {
        snapshot.is_taken(attr, value)
            || self
                .values
                .get(&attr.to_ascii_lowercase())
                .is_some_and(|s| s.contains(&value.to_lowercase()))
    }
    fn reserve(&mut self, attr: &str, value: &str) {
        self.values
            .entry(attr.to_ascii_lowercase())
            .or_default()
            .insert(value.to_lowercase());
    }
}

/// Makes the plan.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut out = Plan {
        today: input.today.to_string(),
        ..Plan::default()
    };
    out.quarantined.extend(input.rejected.iter().cloned());
    out.summary.managed = input.snapshot.anchored();
    let mut reserved = Reserved::default();
    // Final DN of every person's account, for managers.
    let mut final_dn: HashMap<String, String> = HashMap::new();
    let mut current_manager: HashMap<String, Option<String>> = HashMap::new();

    let mut people: Vec<&Person> = input.people.iter().collect();
    people.sort_by(|a, b| a.id.cmp(&b.id));
    for p in people {
        out.summary.people += 1;
        match plan_person(p, input, &mut reserved) {
            Ok(Some((pp, manager_now))) => {
                if let Some(dn) = &pp.dn {
                    final_dn.insert(p.id.clone(), dn.clone());
                    current_manager.insert(p.id.clone(), manager_now);
                }
                out.people.push(pp);
            }
            Ok(None) => out.summary.out_of_scope += 1,
            Err(q) => out.quarantined.push(q),
        }
    }

    // Managers, now that every account's final DN is known.
    let people_by_id: HashMap<&str, &Person> =
        input.people.iter().map(|p| (p.id.as_str(), p)).collect();
    for pp in &mut out.people {
        let (Some(dn), false) = (pp.dn.clone(), pp.leaver) else {
            continue;
        };
        let Some(person) = people_by_id.get(pp.person_id.as_str()) else {
            continue;
        };
        let Some(manager_id) = person.text("manager_employment_id") else {
            continue;
        };
        let manager_dn = final_dn.get(manager_id).cloned().or_else(|| {
            input
                .snapshot
                .by_anchor(manager_id)
                .first()
                .map(|a| a.dn.clone())
        });
        let Some(manager_dn) = manager_dn else {
            pp.note
                .get_or_insert_with(|| format!("manager {manager_id} has no account yet"));
            continue;
        };
        let old = current_manager.get(&pp.person_id).cloned().flatten();
        if old.as_deref().map(normalize_dn) != Some(normalize_dn(&manager_dn)) {
            pp.ops.push(Op::SetManager {
                dn,
                old,
                new: Some(manager_dn),
            });
        }
    }

    for pp in &out.people {
        let s = &mut out.summary;
        if pp.ops.is_empty() {
            s.unchanged += 1;
        }
        for op in &pp.ops {
            match op {
                Op::Create { .. } => s.create += 1,
                Op::Modify { .. } => s.update += 1,
                Op::Move { .. } => s.moves += 1,
                Op::Enable { .. } => s.enable += 1,
                Op::Disable { .. } => s.disable += 1,
                Op::Delete { .. } => s.delete += 1,
                Op::AddToGroup { .. } | Op::RemoveFromGroup { .. } => s.groups += 1,
                Op::SetManager { .. } => s.managers += 1,
            }
        }
    }
    out.summary.quarantined = out.quarantined.len();
    out
}

type Planned = Option<(PersonPlan, Option<String>)>;

fn quarantine(p: &Person, field: Option<&str>, reason: impl Into<String>) -> Quarantined {
    Quarantined {
        record_id: p.id.clone(),
        field: field.map(str::to_string),
        reason: reason.into(),
    }
}

/// Finds the person's account: by anchor, else by the secondary matches. Two candidates are a
/// dispute, never a guess.
fn correlate<'s>(p: &Person, input: &PlanInput<'s>) -> Result<Option<&'s Account>, Quarantined> {
    let anchor = &input.rules.anchor;
    let anchored = input.snapshot.by_anchor(&p.id);
    match anchored.as_slice() {
        [one] => return Ok(Some(one)),
        [] => {}
        many => {
            let dns: Vec<&str> = many.iter().map(|a| a.dn.as_str()).collect();
            return Err(quarantine(
                p,
                Some(anchor),
                format!(
                    "disputed: {} accounts carry {anchor}={}: {}",
                    many.len(),
                    p.id,
                    dns.join("; ")
                ),
            ));
        }
    }
    let mut found: Vec<&Account> = Vec::new();
    for m in &input.rules.matches {
        let Some(value) = p.text(&m.person).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        for a in input.snapshot.by_value(&m.directory, value) {
            if !found.iter().any(|f| f.dn == a.dn) {
                found.push(a);
            }
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [one] => match one.first(anchor) {
            Some(other) if other != p.id => Err(quarantine(
                p,
                Some(anchor),
                format!(
                    "disputed: {} matches by secondary attributes but belongs to person {other}",
                    one.dn
                ),
            )),
            _ => Ok(Some(one)),
        },
        many => {
            let dns: Vec<&str> = many.iter().map(|a| a.dn.as_str()).collect();
            Err(quarantine(
                p,
                None,
                format!(
                    "disputed: the secondary matches find {} accounts: {}",
                    many.len(),
                    dns.join("; ")
                ),
            ))
        }
    }
}

fn display_name(p: &Person) -> String {
    p.text("full_name")
        .map(str::to_string)
        .unwrap_or_else(|| p.id.clone())
}

fn plan_person(
    p: &Person,
    input: &PlanInput<'_>,
    reserved: &mut Reserved,
) -> Result<Planned, Quarantined> {
    let structure = input
        .structure
        .evaluate(p)
        .map_err(|e| quarantine(p, None, e.to_string()))?;
    if !structure.in_scope {
        return Ok(None);
    }
    let account = correlate(p, input)?;
    let target = target(p, input);
    let mut pp = PersonPlan {
        person_id: p.id.clone(),
        name: display_name(p),
        dn: account.map(|a| a.dn.clone()),
        ops: Vec::new(),
        leaver: false,
        note: None,
    };
    let manager_now = account.and_then(|a| a.first("manager").map(str::to_string));

    let Some(account) = account else {
        return match target {
            Target::Account { enabled } => {
                create(p, input, &structure, enabled, reserved, pp).map(|pp| Some((pp, None)))
            }
            Target::NotYet => {
                pp.note = Some("pre-hire: the account is created closer to the start date".into());
                Ok(Some((pp, None)))
            }
            Target::Keep => {
                pp.note = Some(format!(
                    "status `{}` is unknown: no account is created",
                    p.source_status
                ));
                Ok(Some((pp, None)))
            }
            Target::Leaver { .. } => {
                pp.note = Some("leaver without an account: nothing to do".into());
                Ok(Some((pp, None)))
            }
        };
    };

    let dn = account.dn.clone();
    match target {
        Target::Leaver { delete: true } => {
            pp.ops.push(Op::Delete { dn });
            pp.dn = None;
            pp.leaver = true;
        }
        Target::Leaver { delete: false } => {
            pp.leaver = true;
            if !account.is_disabled() {
                pp.ops.push(Op::Disable { dn: dn.clone() });
            }
            let mut final_dn = dn.clone();
            if let Some(ou) = input.disabled_ou
                && let Some(moved) = move_to(&dn, ou)
            {
                pp.ops.push(Op::Move {
                    from: dn.clone(),
                    to: moved.clone(),
                });
                final_dn = moved;
            }
            let member_of = account.groups();
            for g in &input.rules.groups {
                if member_of.contains(&normalize_dn(&g.dn)) {
                    pp.ops.push(Op::RemoveFromGroup {
                        group: g.dn.clone(),
                        dn: final_dn.clone(),
                    });
                }
            }
            pp.dn = Some(final_dn);
        }
        Target::Account { .. } | Target::Keep | Target::NotYet => {
            update(p, input, &structure, account, target, reserved, &mut pp)?;
        }
    }
    Ok(Some((pp, manager_now)))
}

/// The first candidate nobody holds (the person's own current values count as free), reserved
/// for this run; all taken quarantines the person with the candidates tried.
fn pick_unique(
    p: &Person,
    u: &crate::mapping::UniqueRequest,
    own: &[String],
    snapshot: &Snapshot,
    reserved: &mut Reserved,
) -> Result<String, Quarantined> {
    let is_own = |c: &String| own.iter().any(|o| o.eq_ignore_ascii_case(c));
    let Some(value) = u
        .candidates
        .iter()
        .find(|c| is_own(c) || !reserved.taken(snapshot, &u.attribute, c))
    else {
        return Err(quarantine(
            p,
            Some(&u.attribute),
            format!(
                "every candidate for {} is taken: {}",
                u.attribute,
                u.candidates.join(", ")
            ),
        ));
    };
    reserved.reserve(&u.attribute, value);
    Ok(value.clone())
}

/// The DN after moving `dn` under `parent`, or `None` if it is there already.
fn move_to(dn: &str, parent: &str) -> Option<String> {
    let (rdn, current_parent) = escape::split_first_rdn(dn)?;
    if normalize_dn(current_parent) == normalize_dn(parent) {
        None
    } else {
        Some(format!("{rdn},{parent}"))
    }
}

fn create(
    p: &Person,
    input: &PlanInput<'_>,
    structure: &super::structure::Evaluated,
    enabled: bool,
    reserved: &mut Reserved,
    mut pp: PersonPlan,
) -> Result<PersonPlan, Quarantined> {
    let mapped = input
        .mapper
        .map(p, None)
        .map_err(|e| quarantine(p, None, e.to_string()))?;
    let mut attributes: BTreeMap<String, String> = mapped
        .values
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    for u in &mapped.unique {
        let value = pick_unique(p, u, &[], input.snapshot, reserved)?;
        attributes.insert(u.attribute.clone(), value);
    }
    let ou = &structure.ou;
    let Some((cn, dn)) = structure
        .cn_candidates
        .iter()
        .map(|cn| (cn, escape::cn_dn(cn, ou)))
        .find(|(_, dn)| !input.snapshot.has_dn(dn) && !reserved.dns.contains(&normalize_dn(dn)))
    else {
        return Err(quarantine(
            p,
            Some("cn"),
            format!(
                "every CN candidate is taken in {ou}: {}",
                structure.cn_candidates.join(", ")
            ),
        ));
    };
    let cn = cn.clone();
    reserved.dns.insert(normalize_dn(&dn));
    for required in ["sAMAccountName"] {
        if !attributes.keys().any(|k| k.eq_ignore_ascii_case(required)) {
            return Err(quarantine(
                p,
                Some(required),
                format!("the mapping gives no {required}: check the person's name fields"),
            ));
        }
    }
    attributes.insert("cn".to_string(), cn);
    attributes.insert(input.rules.anchor.clone(), p.id.clone());
    pp.dn = Some(dn.clone());
    pp.ops.push(Op::Create {
        dn: dn.clone(),
        attributes,
        enable: enabled,
    });
    for (g, want) in input.rules.groups.iter().zip(&structure.groups) {
        if *want {
            pp.ops.push(Op::AddToGroup {
                group: g.dn.clone(),
                dn: dn.clone(),
            });
        }
    }
    Ok(pp)
}

#[allow(clippy::too_many_arguments)]
fn update(
    p: &Person,
    input: &PlanInput<'_>,
    structure: &super::structure::Evaluated,
    account: &Account,
    target: Target,
    reserved: &mut Reserved,
    pp: &mut PersonPlan,
) -> Result<(), Quarantined> {
    let existing = ExistingEntry::new(account.attrs.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let mapped = input
        .mapper
        .map(p, Some(&existing))
        .map_err(|e| quarantine(p, None, e.to_string()))?;
    let dn = account.dn.clone();
    let mut changes = Vec::new();
    for (attr, value) in &mapped.values {
        let old = account.values(attr).to_vec();
        match value {
            Some(v) if old.len() != 1 || &old[0] != v => changes.push(Change {
                attribute: attr.clone(),
                old,
                new: Some(v.clone()),
            }),
            None if !old.is_empty() => changes.push(Change {
                attribute: attr.clone(),
                old,
                new: None,
            }),
            _ => {}
        }
    }
    for u in &mapped.unique {
        let old = account.values(&u.attribute).to_vec();
        let keeps = old
            .first()
            .is_some_and(|o| u.candidates.iter().any(|c| c.eq_ignore_ascii_case(o)));
        if keeps {
            continue;
        }
        let value = pick_unique(p, u, &old, input.snapshot, reserved)?;
        changes.push(Change {
            attribute: u.attribute.clone(),
            old,
            new: Some(value),
        });
    }
    if account.first(&input.rules.anchor) != Some(p.id.as_str()) {
        // Adopted by a secondary match: anchor it.
        changes.push(Change {
            attribute: input.rules.anchor.clone(),
            old: account.values(&input.rules.anchor).to_vec(),
            new: Some(p.id.clone()),
        });
    }
    if !changes.is_empty() {
        pp.ops.push(Op::Modify {
            dn: dn.clone(),
            changes,
        });
    }

    let mut final_dn = dn.clone();
    if matches!(target, Target::Account { .. })
        && let Some(moved) = move_to(&dn, &structure.ou)
    {
        pp.ops.push(Op::Move {
            from: dn.clone(),
            to: moved.clone(),
        });
        final_dn = moved;
    }
    match target {
        Target::Account { enabled: true } if account.is_disabled() => pp.ops.push(Op::Enable {
            dn: final_dn.clone(),
        }),
        Target::Account { enabled: false } | Target::NotYet if !account.is_disabled() => {
            pp.ops.push(Op::Disable {
                dn: final_dn.clone(),
            })
        }
        _ => {}
    }
    let member_of = account.groups();
    for (g, want) in input.rules.groups.iter().zip(&structure.groups) {
        let has = member_of.contains(&normalize_dn(&g.dn));
        if *want && !has {
            pp.ops.push(Op::AddToGroup {
                group: g.dn.clone(),
                dn: final_dn.clone(),
            });
        } else if !*want && has {
            pp.ops.push(Op::RemoveFromGroup {
                group: g.dn.clone(),
                dn: final_dn.clone(),
            });
        }
    }
    pp.dn = Some(final_dn);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use super::*;
    use crate::mapping::{AttributeRule, MappingConfig};
    use crate::sync::rules::MatchRule;

    const OU: &str = "OU=Staff,DC=corp,DC=example";

    fn person(id: &str, status: Lifecycle, fields: &[(&str, &str)]) -> Person {
        let mut f: std::collections::BTreeMap<String, FieldValue> = [
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("full_name", "Ada Lovelace"),
            ("department", "Engineering"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), FieldValue::Text(v.to_string())))
        .collect();
        for (k, v) in fields {
            f.insert(k.to_string(), FieldValue::Text(v.to_string()));
        }
        Person {
            id: id.into(),
            status,
            source_status: "x".into(),
            fields: f,
            raw: None,
            complete: true,
        }
    }

    fn account(dn: &str, attrs: &[(&str, &str)]) -> Account {
        Account {
            dn: dn.into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), vec![v.to_string()]))
                .collect(),
        }
    }

    struct Fixture {
        rules: SyncRules,
        mapper: Mapper,
        structure: Structure,
    }

    fn fixture(rules: SyncRules) -> Fixture {
        let mut cfg = MappingConfig::default();
        cfg.attributes.insert(
            "givenName".into(),
            AttributeRule::template("{{ first_name }}"),
        );
        cfg.attributes.insert(
            "department".into(),
            AttributeRule::template("{{ department }}"),
        );
        let mut sam = AttributeRule::unique([
            "{{ first_name|lower }}.{{ last_name|lower }}",
            "{{ first_name|lower }}{{ n }}",
        ]);
        sam.max_len = Some(20);
        cfg.attributes.insert("sAMAccountName".into(), sam);
        Fixture {
            mapper: Mapper::new(&cfg).unwrap(),
            structure: Structure::new(&rules, OU).unwrap(),
            rules,
        }
    }

    fn run(
        f: &Fixture,
        people: &[Person],
        accounts: Vec<Account>,
        today: &str,
        disabled_on: &[(&str, &str)],
    ) -> Plan {
        let snapshot = Snapshot::new(accounts, &f.rules.anchor, &["mail"], &["sAMAccountName"]);
        let disabled: HashMap<String, NaiveDate> = disabled_on
            .iter()
            .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
            .collect();
        plan(&PlanInput {
            people,
            rejected: &[],
            snapshot: &snapshot,
            rules: &f.rules,
            mapper: &f.mapper,
            structure: &f.structure,
            disabled_ou: Some("OU=Disabled,DC=corp,DC=example"),
            today: today.parse().unwrap(),
            termination_dates: &HashMap::new(),
            disabled_on: &disabled,
        })
    }

    const ADA: &str = "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example";

    #[test]
    fn a_new_person_gets_a_free_name_and_a_taken_one_is_skipped() {
        let f = fixture(SyncRules::default());
        let other = account(
            "CN=Other,OU=Elsewhere,DC=corp,DC=example",
            &[("sAMAccountName", "ada.lovelace")],
        );
        let p = run(
            &f,
            &[person("e1", Lifecycle::Active, &[])],
            vec![other],
            "2026-01-10",
            &[],
        );
        match &p.people[0].ops[0] {
            Op::Create {
                dn,
                attributes,
                enable,
            } => {
                assert_eq!(dn, ADA);
                assert_eq!(attributes["sAMAccountName"], "ada2");
                assert_eq!(attributes["employeeNumber"], "e1");
                assert!(enable);
            }
            other => panic!("expected a create, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_status_updates_but_never_disables_or_creates() {
        let f = fixture(SyncRules::default());
        let acct = account(
            ADA,
            &[
                ("employeeNumber", "e1"),
                ("givenName", "Ada"),
                ("department", "Sales"),
                ("userAccountControl", "512"),
                ("sAMAccountName", "ada.lovelace"),
            ],
        );
        let p = run(
            &f,
            &[
                person("e1", Lifecycle::Unknown, &[]),
                person("e2", Lifecycle::Unknown, &[]),
            ],
            vec![acct],
            "2026-01-10",
            &[],
        );
        let ops: Vec<&Op> = p.people.iter().flat_map(|pp| &pp.ops).collect();
        assert!(
            ops.iter()
                .all(|o| !o.is_destructive() && !matches!(o, Op::Create { .. } | Op::Move { .. })),
            "{ops:?}"
        );
        assert!(
            ops.iter().any(|o| matches!(o, Op::Modify { .. })),
            "department still follows HR"
        );
    }

    #[test]
    fn a_leaver_is_deleted_only_after_the_configured_days() {
        let rules = SyncRules {
            delete_after_days: Some(30),
            ..SyncRules::default()
        };
        let f = fixture(rules);
        let disabled = account(
            "CN=Ada Lovelace,OU=Disabled,DC=corp,DC=example",
            &[("employeeNumber", "e1"), ("userAccountControl", "514")],
        );
        let leaver = [person("e1", Lifecycle::Terminated, &[])];
        let early = run(
            &f,
            &leaver,
            vec![disabled.clone()],
            "2026-01-20",
            &[("e1", "2026-01-01")],
        );
        assert!(early.people[0].ops.is_empty(), "{:?}", early.people[0].ops);
        let due = run(
            &f,
            &leaver,
            vec![disabled],
            "2026-01-31",
            &[("e1", "2026-01-01")],
        );
        assert!(matches!(due.people[0].ops.as_slice(), [Op::Delete { .. }]));
    }

    #[test]
    fn two_accounts_matching_one_person_are_a_dispute() {
        let rules = SyncRules {
            matches: vec![MatchRule {
                person: "work_email".into(),
                directory: "mail".into(),
            }],
            ..SyncRules::default()
        };
        let f = fixture(rules);
        let a = account(
            "CN=A,OU=Staff,DC=corp,DC=example",
            &[("mail", "ada@corp.example")],
        );
        let b = account(
            "CN=B,OU=Other,DC=corp,DC=example",
            &[("mail", "ADA@corp.example")],
        );
        let p = run(
            &f,
            &[person(
                "e1",
                Lifecycle::Active,
                &[("work_email", "ada@corp.example")],
            )],
            vec![a, b],
            "2026-01-10",
            &[],
        );
        assert!(p.people.is_empty());
        assert!(
            p.quarantined[0].reason.starts_with("disputed:"),
            "{:?}",
            p.quarantined
        );
    }

    #[test]
    fn a_pre_hire_waits_until_the_lead_days() {
        let f = fixture(SyncRules::default());
        let hire = [person(
            "e1",
            Lifecycle::PreHire,
            &[("start_date", "2026-02-01")],
        )];
        assert!(
            run(&f, &hire, vec![], "2026-01-20", &[]).people[0]
                .ops
                .is_empty()
        );
        let p = run(&f, &hire, vec![], "2026-01-26", &[]);
        assert!(matches!(
            &p.people[0].ops[0],
            Op::Create { enable: false, .. }
        ));
    }
}
