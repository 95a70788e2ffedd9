//! The plan: HR people + the directory snapshot + the rules → what to change, person by person.
//!
//! A pure function: no I/O. `hrsync plan` prints it; `hrsync sync` applies the same plan.
//!
//! What the plan guarantees before anything is written:
//! - unique values are free in AD's shared namespaces (see [`super::snapshot::Names`]) and
//!   reserved for the run, with a few free fallbacks kept for a refused add;
//! - every value is cleaned and fits the schema (`rangeUpper`), or the person is quarantined
//!   naming the attribute and the limit;
//! - the OU and CN render to a valid DN inside the managed OUs, or the person is quarantined
//!   naming `sync.ou` / `sync.cn`;
//! - protected accounts and accounts outside the managed OUs are never touched;
//! - adopting an account found by a secondary match is marked (`adopt`) for the safety gate;
//! - an anchored account whose person a complete listing no longer holds is a leaver.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::account::Account;
use super::rules::SyncRules;
use super::scope::WriteScope;
use super::snapshot::{Names, Snapshot};
use super::structure::Structure;
use crate::directory::escape;
use crate::directory::escape::normalize_dn;
use crate::mapping::{Fact, Lifecycle, Mapper, Person, TooLong};

/// How many further free candidates a create keeps, for an add AD refuses as taken.
pub const CREATE_FALLBACKS: usize = 3;

/// AD's limit for logon names (pre-Windows 2000), whatever the schema says (256).
const SAM_MAX: usize = 20;

/// One directory operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// Add the account in one write: every attribute, `manager` when the manager's account
    /// exists already, a random password when `password` (over LDAPS or StartTLS), and the
    /// enabled state. `fallbacks` are tried in order when AD refuses a value as taken.
    Create {
        dn: String,
        attributes: BTreeMap<String, String>,
        enable: bool,
        #[serde(default)]
        password: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fallbacks: Vec<Fallback>,
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
    /// Set a new random password (never stored or logged).
    ResetPassword {
        dn: String,
    },
    Delete {
        dn: String,
    },
}

/// Another set of unique values for a create, should AD refuse the planned ones as taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fallback {
    pub dn: String,
    /// The unique attributes (and `cn`) that change.
    pub attributes: BTreeMap<String, String>,
}

impl Op {
    /// Disables and deletes: what the safety gate counts and holds.
    pub fn is_destructive(&self) -> bool {
        matches!(self, Op::Disable { .. } | Op::Delete { .. })
    }

    /// Every DN the operation writes (an account, and a group for memberships).
    pub fn written_dns(&self) -> Vec<&str> {
        match self {
            Op::Create { dn, .. }
            | Op::Modify { dn, .. }
            | Op::Enable { dn }
            | Op::Disable { dn }
            | Op::SetManager { dn, .. }
            | Op::ResetPassword { dn }
            | Op::Delete { dn } => vec![dn],
            Op::Move { from, to } => vec![from, to],
            Op::AddToGroup { dn, .. } | Op::RemoveFromGroup { dn, .. } => vec![dn],
        }
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
    /// The account was found by a secondary match and is being adopted (anchored): held for
    /// `hrsync approve` like a destructive change.
    #[serde(default)]
    pub adopt: bool,
    /// The HR manager whose account does not exist yet (the manager link waits for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_pending: Option<String>,
    /// Why nothing (or less) happens, when that needs saying.
    pub note: Option<String>,
}

impl PersonPlan {
    /// A listed person not planned this run because a fact it needs is still pending.
    pub fn pending(id: &str, why: &str) -> PersonPlan {
        PersonPlan {
            person_id: id.to_string(),
            name: id.to_string(),
            dn: None,
            ops: Vec::new(),
            leaver: false,
            adopt: false,
            manager_pending: None,
            note: Some(format!(
                "waits for its detail ({why}); fetched by a later run as budget allows"
            )),
        }
    }

    /// Nothing to do and nothing to say: no operation, note, waiting manager link or adoption,
    /// and not a leaver. Most of a daily run; stored with the run, not kept in its report.
    pub fn is_quiet(&self) -> bool {
        self.ops.is_empty()
            && !self.leaver
            && !self.adopt
            && self.manager_pending.is_none()
            && self.note.is_none()
    }

    /// Leaves this person alone for the rest of the run: no operation, and why.
    pub fn set_aside(&mut self, why: impl Into<String>) {
        self.ops.clear();
        self.manager_pending = None;
        self.note(why);
    }

    fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        match &mut self.note {
            Some(n) => {
                n.push_str("; ");
                n.push_str(&text);
            }
            None => self.note = Some(text),
        }
    }
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
    /// Accounts to adopt (held for approval).
    #[serde(default)]
    pub adopt: usize,
    /// Anchored accounts whose person is no longer in the (complete) listing.
    #[serde(default)]
    pub gone: usize,
}

impl Summary {
    /// Adds another part's counts of what happens to people (not of who was seen).
    fn add_outcomes(&mut self, o: &Summary) {
        self.create += o.create;
        self.update += o.update;
        self.moves += o.moves;
        self.enable += o.enable;
        self.disable += o.disable;
        self.delete += o.delete;
        self.groups += o.groups;
        self.managers += o.managers;
        self.adopt += o.adopt;
        self.gone += o.gone;
        self.unchanged += o.unchanged;
    }
}

/// The plan of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The day the plan was made for, in the configured time zone.
    pub today: String,
    pub people: Vec<PersonPlan>,
    pub quarantined: Vec<Quarantined>,
    pub summary: Summary,
    /// Why the listing was incomplete (then nobody became a leaver by absence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// People planned but left out of `people` to keep a large run's memory flat: every
    /// person's plan is stored with the run ([`crate::store::Store::run_people`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: usize,
    /// Whether a first part was absorbed into this (run-level) plan already.
    #[serde(skip)]
    pub absorbed: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Plan {
    /// Adds a later part of the same run (a batch planned as its details arrived). `known`
    /// holds the ids planned so far, kept by the run (rebuilding it for every batch would cost
    /// a pass over everyone planned).
    ///
    /// The part's people come separately (`people`, taken out of `other`): the run decides
    /// which of them the report keeps (see `RunState::keep`).
    pub fn absorb(&mut self, other: Plan, known: &mut HashSet<String>, people: &[PersonPlan]) {
        let first = !self.absorbed;
        self.absorbed = true;
        let s = &mut self.summary;
        let o = &other.summary;
        if first {
            s.people = o.people;
            s.managed = o.managed;
            s.out_of_scope = o.out_of_scope;
            self.incomplete = other.incomplete.clone();
        } else {
            s.people += people
                .iter()
                .filter(|p| !known.contains(&p.person_id))
                .count();
        }
        s.add_outcomes(o);
        known.extend(people.iter().map(|p| p.person_id.clone()));
        self.quarantined.extend(other.quarantined);
        self.summary.quarantined = self.quarantined.len();
    }

    /// Adds a part planned on its own before anything was applied (a page of the listing):
    /// its people, quarantine and counts. The part's `incomplete` and `managed` are not this
    /// plan's (it was planned as a part, over the same read).
    pub fn add_part(&mut self, part: Plan) {
        let s = &mut self.summary;
        let o = &part.summary;
        s.people += o.people;
        s.out_of_scope += o.out_of_scope;
        s.add_outcomes(o);
        self.people.extend(part.people);
        self.quarantined.extend(part.quarantined);
        self.summary.quarantined = self.quarantined.len();
    }

    /// The final DN of each person this plan creates or moves.
    pub fn placed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.people.iter().filter_map(|p| {
            let dn = p.dn.as_deref()?;
            p.ops
                .iter()
                .any(|o| matches!(o, Op::Create { .. } | Op::Move { .. }))
                .then_some((p.person_id.as_str(), dn))
        })
    }

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
    /// Creates planned by earlier parts of the same run: their names and DNs are taken (a dry
    /// run has not written them).
    pub reserved: &'a RunNames,
    /// The final DN of each person an earlier part of the same plan creates or moves (a
    /// listing is planned a page at a time, all before anything is applied): a manager there
    /// is in flight.
    pub placed: &'a HashMap<String, String>,
    pub people: &'a [Person],
    pub rejected: &'a [Quarantined],
    pub snapshot: &'a Snapshot,
    pub rules: &'a SyncRules,
    pub mapper: &'a Mapper,
    pub structure: &'a Structure,
    pub disabled_ou: Option<&'a str>,
    /// Where hrsync may write.
    pub scope: &'a WriteScope,
    /// Today in `sync.time_zone` ([`today_in`]): every lifecycle decision turns over at its
    /// midnight.
    pub today: NaiveDate,
    /// When hrsync disabled each leaver's account.
    pub disabled_on: &'a HashMap<String, NaiveDate>,
    /// `Some(reason)` when the listing did not complete; `None` when `people` is everyone (then
    /// an anchored account whose person is absent is a leaver). A run for a few people (an
    /// event, `--only`) passes `Some`.
    pub incomplete: Option<&'a str>,
    /// People listed but not planned now (waiting for their detail): never leavers by absence.
    pub pending: &'a [String],
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

fn due_for_delete(id: &str, input: &PlanInput<'_>) -> bool {
    match (input.rules.delete_after_days, input.disabled_on.get(id)) {
        (Some(days), Some(since)) => input.today >= *since + Duration::days(days),
        _ => false,
    }
}

/// Where a person stands on a day, from the connector's status and the person's dates alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The status is `unknown`: nothing is decided (the account is kept as it is).
    Undecided,
    /// Starts later than the pre-hire lead time: no account yet.
    NotYet,
    /// A pre-hire within the lead time (or without a start date): a disabled account.
    PreHire,
    /// Started and not ended: an enabled account.
    Due,
    /// Terminated, or the end date has come: a leaver.
    Left,
}

/// The date in `tz` at the instant `now`: "today" for every lifecycle decision.
pub fn today_in(tz: chrono_tz::Tz, now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// Derives a person's [`Stage`] on `today` (in `sync.time_zone`) from the connector's status
/// and the start and end dates (the table in `wit/v0.2/connector.wit`). Plugins report facts;
/// only the host reads a clock.
///
/// - `unknown` decides nothing, `terminated` has left;
/// - otherwise an end date on or before today has left;
/// - otherwise a start date after today is a pre-hire (whatever the status) within
///   `prehire_days` of it and not yet before; a `pre-hire` without a start date is a pre-hire;
/// - otherwise the person is due an enabled account.
pub fn stage(
    status: &Lifecycle,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    today: NaiveDate,
    prehire_days: i64,
) -> Stage {
    match status {
        Lifecycle::Unknown => return Stage::Undecided,
        Lifecycle::Terminated => return Stage::Left,
        Lifecycle::PreHire | Lifecycle::Active | Lifecycle::Leaving => {}
    }
    if end.is_some_and(|end| today >= end) {
        return Stage::Left;
    }
    match (status, start) {
        (_, Some(start)) if today >= start => Stage::Due,
        (_, Some(start)) if today >= start - Duration::days(prehire_days) => Stage::PreHire,
        (_, Some(_)) => Stage::NotYet,
        (Lifecycle::PreHire, None) => Stage::PreHire,
        (_, None) => Stage::Due,
    }
}

fn target(p: &Person, input: &PlanInput<'_>) -> Target {
    let stage = stage(
        &p.status,
        p.date(Fact::StartDate),
        p.date(Fact::EndDate),
        input.today,
        input.rules.prehire_days,
    );
    match stage {
        Stage::Undecided => Target::Keep,
        Stage::Left => Target::Leaver {
            delete: due_for_delete(&p.id, input),
        },
        Stage::NotYet => Target::NotYet,
        Stage::PreHire => Target::Account { enabled: false },
        Stage::Due => Target::Account { enabled: true },
    }
}

/// The names and DNs of the creates planned by earlier parts of a run (a dry run has not
/// written them, and a later batch's snapshot does not see them): kept by the run and added to
/// as each part is planned, so a batch never re-reads what came before it.
#[derive(Debug, Clone, Default)]
pub struct RunNames {
    names: Names,
    dns: HashSet<String>,
    /// The attributes whose values are reserved: AD's namespaces and the unique ones.
    attributes: HashSet<String>,
}

impl RunNames {
    /// Empty, for a domain whose DNS name is `realm`, reserving AD's namespaces and `unique`.
    pub fn new(realm: &str, unique: &[&str]) -> RunNames {
        RunNames {
            names: Names::new(realm),
            dns: HashSet::new(),
            attributes: super::snapshot::NAMESPACE_ATTRIBUTES
                .iter()
                .chain(unique)
                .map(|a| a.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Reserves the names and DN of every create in `plan`.
    pub fn add(&mut self, plan: &Plan) {
        for op in plan.people.iter().flat_map(|p| &p.ops) {
            if let Op::Create { dn, attributes, .. } = op {
                for (k, v) in attributes {
                    if self.attributes.contains(&k.to_ascii_lowercase()) {
                        self.names.insert(k, v);
                    }
                }
                self.dns.insert(normalize_dn(dn));
            }
        }
    }
}

/// Values and DNs reserved by earlier people of the same plan, and of the run before it.
struct Reserved<'a> {
    earlier: &'a RunNames,
    names: Names,
    dns: HashSet<String>,
}

impl<'a> Reserved<'a> {
    fn new(realm: &str, earlier: &'a RunNames) -> Reserved<'a> {
        Reserved {
            earlier,
            names: Names::new(realm),
            dns: HashSet::new(),
        }
    }

    fn taken(&self, snapshot: &Snapshot, attr: &str, value: &str) -> bool {
        snapshot.is_taken(attr, value)
            || self.names.is_taken(attr, value)
            || self.earlier.names.is_taken(attr, value)
    }

    fn dn_taken(&self, snapshot: &Snapshot, dn: &str) -> bool {
        let key = normalize_dn(dn);
        snapshot.has_dn(dn) || self.dns.contains(&key) || self.earlier.dns.contains(&key)
    }
}

/// Makes the plan.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut out = Plan {
        today: input.today.to_string(),
        incomplete: input.incomplete.map(str::to_string),
        ..Plan::default()
    };
    out.quarantined.extend(input.rejected.iter().cloned());
    out.summary.managed = input.snapshot.anchored();
    let mut reserved = Reserved::new(input.snapshot.realm(), input.reserved);
    // Final DN of every person's account, for managers.
    let mut final_dn: HashMap<String, String> = HashMap::new();
    let mut current_manager: HashMap<String, Option<String>> = HashMap::new();
    // People whose account is created or moved in this run (their DN is not there yet).
    let mut in_flight: HashSet<String> = HashSet::new();

    let mut people: Vec<&Person> = input.people.iter().collect();
    people.sort_by(|a, b| a.id.cmp(&b.id));
    for p in people {
        out.summary.people += 1;
        match plan_person(p, input, &mut reserved) {
            Ok(Some((pp, manager_now))) => {
                if let Some(dn) = &pp.dn {
                    final_dn.insert(p.id.clone(), dn.clone());
                    current_manager.insert(p.id.clone(), manager_now);
                    if pp
                        .ops
                        .iter()
                        .any(|o| matches!(o, Op::Create { .. } | Op::Move { .. }))
                    {
                        in_flight.insert(p.id.clone());
                    }
                }
                out.people.push(pp);
            }
            Ok(None) => out.summary.out_of_scope += 1,
            Err(q) => out.quarantined.push(q),
        }
    }

    if input.incomplete.is_none() {
        plan_gone(input, &mut out);
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
        let Some(manager_id) = person
            .facts
            .manager_id
            .as_deref()
            .filter(|m| !m.trim().is_empty())
        else {
            continue;
        };
        if manager_id == pp.person_id {
            pp.note("HR names this person as their own manager: manager left unset");
            continue;
        }
        let manager_dn = final_dn
            .get(manager_id)
            .or_else(|| input.placed.get(manager_id))
            .cloned()
            .or_else(|| match input.snapshot.by_anchor(manager_id).as_slice() {
                [one] if !one.is_protected() => Some(one.dn.clone()),
                _ => None,
            });
        let Some(manager_dn) = manager_dn else {
            pp.manager_pending = Some(manager_id.to_string());
            pp.note(format!(
                "manager {manager_id} has no account yet: manager left unset until their account exists"
            ));
            continue;
        };
        let old = current_manager.get(&pp.person_id).cloned().flatten();
        if old.as_deref().map(normalize_dn) == Some(normalize_dn(&manager_dn)) {
            continue;
        }
        // One write per new account: the manager goes into the add when their account is
        // already where it will stay; otherwise (created or moved this run) it is set after.
        if !in_flight.contains(manager_id)
            && !input.placed.contains_key(manager_id)
            && let Some(Op::Create { attributes, .. }) = pp.ops.first_mut()
        {
            attributes.insert("manager".to_string(), manager_dn);
            continue;
        }
        pp.ops.push(Op::SetManager {
            dn,
            old,
            new: Some(manager_dn),
        });
    }

    for pp in &out.people {
        let s = &mut out.summary;
        if pp.ops.is_empty() {
            s.unchanged += 1;
        }
        if pp.adopt {
            s.adopt += 1;
        }
        for op in &pp.ops {
            match op {
                Op::Create { .. } => s.create += 1,
                Op::Modify { .. } | Op::ResetPassword { .. } => s.update += 1,
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

/// Anchored accounts whose person a complete listing no longer holds: leavers.
fn plan_gone(input: &PlanInput<'_>, out: &mut Plan) {
    let listed: HashSet<&str> = input
        .people
        .iter()
        .map(|p| p.id.as_str())
        .chain(input.rejected.iter().map(|r| r.record_id.as_str()))
        .chain(input.pending.iter().map(String::as_str))
        .collect();
    let mut gone: Vec<&Account> = input
        .snapshot
        .accounts
        .iter()
        .filter(|a| {
            a.first(&input.rules.anchor)
                .is_some_and(|id| !listed.contains(id))
        })
        .collect();
    gone.sort_by(|a, b| a.dn.cmp(&b.dn));
    for account in gone {
        let id = account.first(&input.rules.anchor).unwrap_or_default();
        let mut pp = PersonPlan {
            person_id: id.to_string(),
            name: account.first("cn").unwrap_or(id).to_string(),
            dn: Some(account.dn.clone()),
            ops: Vec::new(),
            leaver: true,
            adopt: false,
            manager_pending: None,
            note: None,
        };
        out.summary.gone += 1;
        if let Some(why) = refuse_account(account, input.scope) {
            pp.note(format!("no longer in HR, but {why}"));
            pp.leaver = false;
            out.people.push(pp);
            continue;
        }
        pp.note("no longer in HR (absent from a complete listing): a leaver");
        leave(account, input, due_for_delete(id, input), &mut pp);
        out.people.push(pp);
    }
}

type Planned = Option<(PersonPlan, Option<String>)>;

fn quarantine(p: &Person, field: Option<&str>, reason: impl Into<String>) -> Quarantined {
    Quarantined {
        record_id: p.id.clone(),
        field: field.map(str::to_string),
        reason: reason.into(),
    }
}

/// Why hrsync must not write to this account, if it must not.
fn refuse_account(account: &Account, scope: &WriteScope) -> Option<String> {
    if account.is_protected() {
        return Some(format!(
            "{} is a protected account (adminCount, isCriticalSystemObject or a built-in privileged group): hrsync never writes to it; if this person should own it, an administrator must link it by hand",
            account.dn
        ));
    }
    scope.refuse(&account.dn)
}

/// Finds the person's account: by anchor, else by the secondary matches. Two candidates are a
/// dispute, never a guess. Returns the account and whether it was found by a secondary match.
fn correlate<'s>(
    p: &Person,
    input: &PlanInput<'s>,
) -> Result<Option<(&'s Account, bool)>, Quarantined> {
    let anchor = &input.rules.anchor;
    let anchored = input.snapshot.by_anchor(&p.id);
    match anchored.as_slice() {
        [one] => return Ok(Some((one, false))),
        [] => {}
        many => {
            let dns: Vec<&str> = many.iter().map(|a| a.dn.as_str()).collect();
            return Err(quarantine(
                p,
                Some(anchor),
                format!(
                    "disputed: {} accounts carry {anchor}={}: {}; remove the anchor from all but one",
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
            _ => Ok(Some((one, true))),
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
    p.facts
        .display_name
        .as_deref()
        .map(|n| crate::mapping::clean::clean(n).into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| p.id.clone())
}

/// The fields a template uses that are empty for this person, for messages.
fn empty_fields(template: &str, p: &Person) -> Vec<String> {
    let env = minijinja::Environment::new();
    let Ok(t) = env.template_from_str(template) else {
        return Vec::new();
    };
    let mut names: Vec<String> = t
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| {
            p.text(v)
                .is_none_or(|s| crate::mapping::clean::clean(s).is_empty())
        })
        .collect();
    names.sort();
    names
}

/// Checks the rendered OU: a DN whose every value is non-empty, inside the managed OUs.
fn check_ou(p: &Person, ou: &str, input: &PlanInput<'_>) -> Result<(), Quarantined> {
    let template = input.rules.ou.as_deref().unwrap_or("directory.users_ou");
    let valid = escape::parse_dn(ou)
        .is_some_and(|rdns| !rdns.is_empty() && rdns.iter().all(|r| !r.value.trim().is_empty()));
    if !valid {
        let empty = empty_fields(template, p);
        let hint = if empty.is_empty() {
            String::new()
        } else {
            format!(
                ": {} empty for this person; give it a fallback, e.g. `{{{{ {}|default('Unassigned')|dn }}}}`",
                empty.join(", "),
                empty[0]
            )
        };
        return Err(quarantine(
            p,
            Some("sync.ou"),
            format!("sync.ou `{template}` renders `{ou}`, which is not a valid DN{hint}"),
        ));
    }
    if !input.scope.contains(ou) {
        return Err(quarantine(
            p,
            Some("sync.ou"),
            format!(
                "sync.ou renders {ou}, outside the managed OUs ({}): fix sync.ou or add the OU to directory.managed_ous",
                input.scope.describe()
            ),
        ));
    }
    Ok(())
}

fn plan_person(
    p: &Person,
    input: &PlanInput<'_>,
    reserved: &mut Reserved<'_>,
) -> Result<Planned, Quarantined> {
    let structure = input
        .structure
        .evaluate(p)
        .map_err(|e| quarantine(p, None, e.to_string()))?;
    if !structure.in_scope {
        return Ok(None);
    }
    let found = correlate(p, input)?;
    if let Some((account, _)) = found
        && let Some(why) = refuse_account(account, input.scope)
    {
        return Err(quarantine(p, Some(&input.rules.anchor), why));
    }
    let target = target(p, input);
    let mut pp = PersonPlan {
        person_id: p.id.clone(),
        name: display_name(p),
        dn: found.map(|(a, _)| a.dn.clone()),
        ops: Vec::new(),
        leaver: false,
        adopt: found.is_some_and(|(_, secondary)| secondary),
        manager_pending: None,
        note: None,
    };
    let manager_now = found.and_then(|(a, _)| a.first("manager").map(str::to_string));

    let Some((account, _)) = found else {
        return match target {
            Target::Account { enabled } => {
                check_ou(p, &structure.ou, input)?;
                create(p, input, &structure, enabled, reserved, pp).map(|pp| Some((pp, None)))
            }
            Target::NotYet => {
                pp.note("pre-hire: the account is created closer to the start date");
                Ok(Some((pp, None)))
            }
            Target::Keep => {
                pp.note(format!(
                    "status `{}` is unknown: no account is created",
                    p.source_status
                ));
                Ok(Some((pp, None)))
            }
            Target::Leaver { .. } => {
                pp.note("leaver without an account: nothing to do");
                Ok(Some((pp, None)))
            }
        };
    };

    if pp.adopt {
        pp.note(format!(
            "adopts {} (found by a secondary match): held until `hrsync approve`",
            account.dn
        ));
    }
    match target {
        Target::Leaver { delete } => {
            if pp.adopt {
                // Taking over an account only to disable it: anchor it first, nothing else.
                pp.ops.push(Op::Modify {
                    dn: account.dn.clone(),
                    changes: vec![anchor_change(account, p, input)],
                });
                pp.note("a leaver in HR: adopted only; disable it by hand if it is theirs");
            } else {
                leave(account, input, delete, &mut pp);
            }
        }
        Target::Account { .. } | Target::Keep | Target::NotYet => {
            if matches!(target, Target::Account { .. }) {
                check_ou(p, &structure.ou, input)?;
            }
            update(p, input, &structure, account, target, reserved, &mut pp)?;
        }
    }
    Ok(Some((pp, manager_now)))
}

/// A leaver's operations: delete when due; else disable, move to the disabled OU, strip the
/// managed groups.
fn leave(account: &Account, input: &PlanInput<'_>, delete: bool, pp: &mut PersonPlan) {
    let dn = account.dn.clone();
    pp.leaver = true;
    if delete {
        pp.ops.push(Op::Delete { dn });
        pp.dn = None;
        return;
    }
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

fn anchor_change(account: &Account, p: &Person, input: &PlanInput<'_>) -> Change {
    Change {
        attribute: input.rules.anchor.clone(),
        old: account.values(&input.rules.anchor).to_vec(),
        new: Some(p.id.clone()),
    }
}

/// The free candidates of a unique attribute, in order: the first is the value, the rest
/// fallbacks (at most [`CREATE_FALLBACKS`]). The person's own current values count as free.
fn free_candidates(
    u: &crate::mapping::UniqueRequest,
    own: &[String],
    snapshot: &Snapshot,
    reserved: &Reserved<'_>,
    limit: usize,
) -> Vec<String> {
    let is_own = |c: &String| own.iter().any(|o| o.eq_ignore_ascii_case(c));
    u.candidates
        .iter()
        .filter(|c| c.chars().count() <= limit || is_own(c))
        .filter(|c| is_own(c) || !reserved.taken(snapshot, &u.attribute, c))
        .take(1 + CREATE_FALLBACKS)
        .cloned()
        .collect()
}

fn exhausted(p: &Person, u: &crate::mapping::UniqueRequest, limit: usize) -> Quarantined {
    let too_long = u
        .candidates
        .iter()
        .filter(|c| c.chars().count() > limit)
        .count();
    let extra = if too_long > 0 {
        format!(" ({too_long} of them longer than the directory's limit of {limit} characters)")
    } else {
        String::new()
    };
    quarantine(
        p,
        Some(&u.attribute),
        format!(
            "every candidate for {} is taken in the directory (sAMAccountName and user principal names share one namespace){extra}: {}; add a fallback to mapping.attributes.{}",
            u.attribute,
            u.candidates.join(", "),
            u.attribute
        ),
    )
}

/// The schema's limit for an attribute (AD's 20 for logon names).
fn limit_of(attribute: &str, snapshot: &Snapshot) -> usize {
    let key = attribute.to_ascii_lowercase();
    let schema = snapshot.limits.get(&key).copied().unwrap_or(usize::MAX);
    if key == "samaccountname" {
        schema.min(SAM_MAX)
    } else {
        schema
    }
}

/// Fits a value to the schema: cut when the rule says so, else a quarantine naming the limit.
fn fit_value(
    p: &Person,
    attribute: &str,
    value: String,
    input: &PlanInput<'_>,
) -> Result<String, Quarantined> {
    let limit = limit_of(attribute, input.snapshot);
    let len = value.chars().count();
    if len <= limit {
        return Ok(value);
    }
    match input.mapper.too_long(attribute) {
        TooLong::Truncate => Ok(value
            .chars()
            .take(limit)
            .collect::<String>()
            .trim_end()
            .to_string()),
        TooLong::Quarantine => Err(quarantine(
            p,
            Some(attribute),
            format!(
                "{attribute} would be {len} characters; the directory allows {limit} (rangeUpper): shorten mapping.attributes.{attribute}, add max_len = {limit}, or set too_long = \"truncate\""
            ),
        )),
    }
}

/// The DN of `dn` moved under `parent`, or `None` if it is there already.
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
    reserved: &mut Reserved<'_>,
    mut pp: PersonPlan,
) -> Result<PersonPlan, Quarantined> {
    let mapped = input
        .mapper
        .map(p, None)
        .map_err(|e| quarantine(p, None, e.to_string()))?;
    let mut attributes: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in mapped.values {
        if let Some(v) = v {
            let v = fit_value(p, &k, v, input)?;
            attributes.insert(k, v);
        }
    }
    // Each unique attribute: its value and up to CREATE_FALLBACKS further free candidates.
    let mut options: Vec<(String, Vec<String>)> = Vec::new();
    for u in &mapped.unique {
        let limit = limit_of(&u.attribute, input.snapshot);
        let free = free_candidates(u, &[], input.snapshot, reserved, limit);
        if free.is_empty() {
            return Err(exhausted(p, u, limit));
        }
        options.push((u.attribute.clone(), free));
    }
    for required in ["sAMAccountName"] {
        if !options
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(required))
            && !attributes.keys().any(|k| k.eq_ignore_ascii_case(required))
        {
            return Err(quarantine(
                p,
                Some(required),
                format!(
                    "the mapping gives no {required} for this person: its template renders empty (check the person's name fields, or add a fallback candidate)"
                ),
            ));
        }
    }
    let ou = &structure.ou;
    if structure.cn_candidates.is_empty() {
        let empty = empty_fields(&input.rules.cn.join(" "), p);
        return Err(quarantine(
            p,
            Some("sync.cn"),
            format!(
                "every sync.cn candidate renders empty for this person{}; add a candidate that uses another field",
                if empty.is_empty() {
                    String::new()
                } else {
                    format!(" ({} empty)", empty.join(", "))
                }
            ),
        ));
    }
    let free_cns: Vec<(String, String)> = structure
        .cn_candidates
        .iter()
        .map(|cn| (cn.clone(), escape::cn_dn(cn, ou)))
        .filter(|(_, dn)| !reserved.dn_taken(input.snapshot, dn))
        .take(1 + CREATE_FALLBACKS)
        .collect();
    let Some((cn, dn)) = free_cns.first().cloned() else {
        return Err(quarantine(
            p,
            Some("sync.cn"),
            format!(
                "every CN candidate is taken in {ou}: {}; add a candidate to sync.cn (e.g. one with the id)",
                structure.cn_candidates.join(", ")
            ),
        ));
    };
    for (attr, free) in &options {
        attributes.insert(attr.clone(), free[0].clone());
        reserved.names.insert(attr, &free[0]);
    }
    reserved.dns.insert(normalize_dn(&dn));
    let fallbacks: Vec<Fallback> = (1..=CREATE_FALLBACKS)
        .filter_map(|i| {
            let mut changed: BTreeMap<String, String> = options
                .iter()
                .filter_map(|(a, free)| free.get(i).map(|v| (a.clone(), v.clone())))
                .collect();
            let (fcn, fdn) = free_cns
                .get(i)
                .cloned()
                .unwrap_or_else(|| (cn.clone(), dn.clone()));
            if fcn != cn {
                changed.insert("cn".to_string(), fcn);
            }
            (!changed.is_empty()).then_some(Fallback {
                dn: fdn,
                attributes: changed,
            })
        })
        .collect();
    attributes.insert("cn".to_string(), cn);
    attributes.insert(input.rules.anchor.clone(), p.id.clone());
    let password = input.rules.set_initial_password;
    if !password && enabled {
        pp.note("created disabled: set_initial_password is off, so an administrator sets the password and enables the account");
    }
    pp.dn = Some(dn.clone());
    pp.ops.push(Op::Create {
        dn: dn.clone(),
        attributes,
        enable: enabled && password,
        password,
        fallbacks,
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
    reserved: &mut Reserved<'_>,
    pp: &mut PersonPlan,
) -> Result<(), Quarantined> {
    let existing = account.to_existing();
    let mapped = input
        .mapper
        .map(p, Some(&existing))
        .map_err(|e| quarantine(p, None, e.to_string()))?;
    let dn = account.dn.clone();
    let mut changes = Vec::new();
    for (attr, value) in &mapped.values {
        let old = account.values(attr).to_vec();
        match value {
            Some(v) => {
                let v = fit_value(p, attr, v.clone(), input)?;
                if old.len() != 1 || old[0] != v {
                    changes.push(Change {
                        attribute: attr.clone(),
                        old,
                        new: Some(v),
                    });
                }
            }
            None if !old.is_empty() => changes.push(Change {
                attribute: attr.clone(),
                old,
                new: None,
            }),
            None => {}
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
        let limit = limit_of(&u.attribute, input.snapshot);
        let Some(value) = free_candidates(u, &old, input.snapshot, reserved, limit)
            .into_iter()
            .next()
        else {
            return Err(exhausted(p, u, limit));
        };
        reserved.names.insert(&u.attribute, &value);
        changes.push(Change {
            attribute: u.attribute.clone(),
            old,
            new: Some(value),
        });
    }
    if account.first(&input.rules.anchor) != Some(p.id.as_str()) {
        // Adopted by a secondary match: anchor it.
        changes.push(anchor_change(account, p, input));
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
        Target::Account { enabled: true } if account.is_disabled() && pp.adopt => pp.note(
            "the adopted account is disabled and stays so: enable it by hand if it is theirs",
        ),
        Target::Account { enabled: true } if account.is_disabled() && !account.has_password() => {
            // Windows AD refuses to enable an account without a password.
            if input.rules.set_initial_password {
                pp.ops.push(Op::ResetPassword {
                    dn: final_dn.clone(),
                });
                pp.ops.push(Op::Enable {
                    dn: final_dn.clone(),
                });
            } else {
                pp.note("the account has no password yet (pwdLastSet = 0) and set_initial_password is off: set a password and enable it by hand");
            }
        }
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
    use crate::mapping::{AttributeRule, FieldValue, MappingConfig};
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
            facts: Default::default(),
            fields: f,
            raw: None,
            complete: true,
        }
        .lift_facts()
    }

    fn account(dn: &str, attrs: &[(&str, &str)]) -> Account {
        Account::new(dn.into(), attrs.iter().map(|(k, v)| (k, [v])), None)
    }

    struct Fixture {
        rules: SyncRules,
        mapper: Mapper,
        structure: Structure,
        /// `None`: the people given are everyone (a complete listing).
        incomplete: Option<String>,
    }

    fn fixture(mut rules: SyncRules) -> Fixture {
        rules.set_initial_password = true;
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
            incomplete: None,
        }
    }

    fn run(
        f: &Fixture,
        people: &[Person],
        accounts: Vec<Account>,
        today: &str,
        disabled_on: &[(&str, &str)],
    ) -> Plan {
        run_part(f, people, accounts, today, disabled_on, &HashMap::new())
    }

    /// A part of a plan whose earlier parts create or move the people in `placed`.
    fn run_part(
        f: &Fixture,
        people: &[Person],
        accounts: Vec<Account>,
        today: &str,
        disabled_on: &[(&str, &str)],
        placed: &HashMap<String, String>,
    ) -> Plan {
        let snapshot = Snapshot::new(accounts, &f.rules.anchor, &["mail"], &[], "corp.example");
        let disabled: HashMap<String, NaiveDate> = disabled_on
            .iter()
            .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
            .collect();
        plan(&PlanInput {
            reserved: &RunNames::default(),
            placed,
            people,
            rejected: &[],
            snapshot: &snapshot,
            rules: &f.rules,
            mapper: &f.mapper,
            structure: &f.structure,
            disabled_ou: Some("OU=Disabled,DC=corp,DC=example"),
            scope: &WriteScope::new(&[
                OU.to_string(),
                "OU=Disabled,DC=corp,DC=example".to_string(),
            ]),
            today: today.parse().unwrap(),
            disabled_on: &disabled,
            incomplete: f.incomplete.as_deref(),
            pending: &[],
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
                password,
                fallbacks,
            } => {
                assert_eq!(dn, ADA);
                assert!(password, "a new account gets its password in the add");
                assert_eq!(attributes["sAMAccountName"], "ada2");
                assert_eq!(
                    fallbacks[0].attributes["sAMAccountName"], "ada3",
                    "the next free candidate is kept for a refused add"
                );
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

    fn created_attributes(p: &Plan) -> &BTreeMap<String, String> {
        match &p.people[0].ops[0] {
            Op::Create { attributes, .. } => attributes,
            other => panic!("expected a create, got {other:?}"),
        }
    }

    fn mail_match() -> SyncRules {
        SyncRules {
            matches: vec![MatchRule {
                person: "work_email".into(),
                directory: "mail".into(),
            }],
            ..SyncRules::default()
        }
    }

    #[test]
    fn a_upn_at_the_realm_claims_its_prefix_as_a_logon_name() {
        let f = fixture(SyncRules::default());
        let legacy = account(
            "CN=U1,OU=Legacy,DC=corp,DC=example",
            &[
                ("sAMAccountName", "u123456"),
                ("userPrincipalName", "Ada.Lovelace@corp.example"),
            ],
        );
        let p = run(
            &f,
            &[person("e1", Lifecycle::Active, &[])],
            vec![legacy],
            "2026-01-10",
            &[],
        );
        assert_eq!(created_attributes(&p)["sAMAccountName"], "ada2");

        // Another suffix claims nothing.
        let other_suffix = account(
            "CN=U2,OU=Legacy,DC=corp,DC=example",
            &[("userPrincipalName", "ada.lovelace@partner.example")],
        );
        let p = run(
            &f,
            &[person("e1", Lifecycle::Active, &[])],
            vec![other_suffix],
            "2026-01-10",
            &[],
        );
        assert_eq!(created_attributes(&p)["sAMAccountName"], "ada.lovelace");
    }

    #[test]
    fn names_are_reserved_within_the_run() {
        let f = fixture(SyncRules::default());
        let twins = [
            person("e1", Lifecycle::Active, &[]),
            person("e2", Lifecycle::Active, &[]),
        ];
        let p = run(&f, &twins, vec![], "2026-01-10", &[]);
        let sams: Vec<&str> = p
            .people
            .iter()
            .map(|pp| match &pp.ops[0] {
                Op::Create { attributes, .. } => attributes["sAMAccountName"].as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(sams, ["ada.lovelace", "ada2"]);
        let dns: HashSet<&str> = p.people.iter().filter_map(|pp| pp.dn.as_deref()).collect();
        assert_eq!(dns.len(), 2, "CNs are unique within the OU too");
    }

    #[test]
    fn a_protected_account_is_never_matched() {
        let f = fixture(mail_match());
        let admin = account(
            "CN=Admin Ada,OU=Staff,DC=corp,DC=example",
            &[
                ("mail", "ada@corp.example"),
                ("adminCount", "1"),
                ("userAccountControl", "514"),
            ],
        );
        for status in [Lifecycle::Active, Lifecycle::Terminated, Lifecycle::PreHire] {
            let p = run(
                &f,
                &[person("e1", status, &[("work_email", "ada@corp.example")])],
                vec![admin.clone()],
                "2026-01-10",
                &[],
            );
            assert!(p.people.is_empty(), "{:?}", p.people);
            assert!(
                p.quarantined[0].reason.contains("protected"),
                "{:?}",
                p.quarantined
            );
        }
    }

    #[test]
    fn an_account_outside_the_managed_ous_is_quarantined_not_moved() {
        let f = fixture(mail_match());
        let legacy = account(
            "CN=Ada,OU=Legacy,DC=corp,DC=example",
            &[("mail", "ada@corp.example"), ("userAccountControl", "512")],
        );
        let p = run(
            &f,
            &[person(
                "e1",
                Lifecycle::Active,
                &[("work_email", "ada@corp.example")],
            )],
            vec![legacy],
            "2026-01-10",
            &[],
        );
        assert!(p.people.is_empty());
        assert!(
            p.quarantined[0].reason.contains("outside the managed OUs"),
            "{:?}",
            p.quarantined
        );
    }

    #[test]
    fn adopting_is_marked_and_never_enables() {
        let f = fixture(mail_match());
        let old = account(
            "CN=Ada,OU=Staff,DC=corp,DC=example",
            &[("mail", "ada@corp.example"), ("userAccountControl", "514")],
        );
        let p = run(
            &f,
            &[person(
                "e1",
                Lifecycle::Active,
                &[("work_email", "ada@corp.example")],
            )],
            vec![old],
            "2026-01-10",
            &[],
        );
        let pp = &p.people[0];
        assert!(pp.adopt);
        assert!(
            !pp.ops.iter().any(|o| matches!(o, Op::Enable { .. })),
            "{:?}",
            pp.ops
        );
        assert!(pp.ops.iter().any(|o| matches!(o, Op::Modify { changes, .. }
            if changes.iter().any(|c| c.attribute == "employeeNumber"))));
        assert_eq!(p.summary.adopt, 1);
    }

    #[test]
    fn an_anchored_account_gone_from_a_complete_listing_is_a_leaver() {
        let mut f = fixture(SyncRules::default());
        let gone = account(
            "CN=Gone,OU=Staff,DC=corp,DC=example",
            &[("employeeNumber", "e9"), ("userAccountControl", "512")],
        );
        let p = run(
            &f,
            &[person("e1", Lifecycle::Active, &[])],
            vec![gone.clone()],
            "2026-01-10",
            &[],
        );
        let pp = p.people.iter().find(|pp| pp.person_id == "e9").unwrap();
        assert!(pp.leaver);
        assert!(matches!(pp.ops[0], Op::Disable { .. }), "{:?}", pp.ops);
        assert_eq!(p.summary.gone, 1);

        f.incomplete = Some("page 2 failed".into());
        let p = run(
            &f,
            &[person("e1", Lifecycle::Active, &[])],
            vec![gone],
            "2026-01-10",
            &[],
        );
        assert!(p.people.iter().all(|pp| pp.person_id != "e9"));
        assert_eq!(p.destructive(), 0);
    }

    #[test]
    fn an_ou_that_renders_empty_is_quarantined_at_plan_time_naming_sync_ou() {
        let rules = SyncRules {
            ou: Some("OU={{ department|dn }},OU=Staff,DC=corp,DC=example".into()),
            ..SyncRules::default()
        };
        let f = fixture(rules);
        let p = run(
            &f,
            &[person("e1", Lifecycle::Active, &[("department", " ")])],
            vec![],
            "2026-01-10",
            &[],
        );
        let q = &p.quarantined[0];
        assert_eq!(q.field.as_deref(), Some("sync.ou"));
        assert!(q.reason.contains("department"), "{}", q.reason);
    }

    #[test]
    fn values_are_held_against_the_schema() {
        let mut cfg = MappingConfig::default();
        cfg.attributes.insert(
            "givenName".into(),
            AttributeRule::template("{{ first_name }}"),
        );
        cfg.attributes
            .insert("title".into(), AttributeRule::template("{{ job_title }}"));
        let mut sam = AttributeRule::unique(["{{ first_name|lower }}"]);
        sam.max_len = Some(20);
        cfg.attributes.insert("sAMAccountName".into(), sam);
        let rules = SyncRules {
            set_initial_password: true,
            ..SyncRules::default()
        };
        let f = Fixture {
            mapper: Mapper::new(&cfg).unwrap(),
            structure: Structure::new(&rules, OU).unwrap(),
            rules,
            incomplete: None,
        };
        let limits = |s: &mut Snapshot| {
            s.limits = [("givenname", 64usize), ("title", 128), ("cn", 64)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        };
        let long = "A".repeat(300);
        let people = [person(
            "e1",
            Lifecycle::Active,
            &[("first_name", &long), ("job_title", "Eng")],
        )];
        let mut snapshot = Snapshot::new(vec![], "employeeNumber", &[], &[], "corp.example");
        limits(&mut snapshot);
        let input = |snapshot: &Snapshot, people: &[Person]| {
            plan(&PlanInput {
                reserved: &RunNames::default(),
                placed: &HashMap::new(),
                people,
                rejected: &[],
                snapshot,
                rules: &f.rules,
                mapper: &f.mapper,
                structure: &f.structure,
                disabled_ou: None,
                scope: &WriteScope::new(&[OU.to_string()]),
                today: "2026-01-10".parse().unwrap(),
                disabled_on: &HashMap::new(),
                incomplete: None,
                pending: &[],
            })
        };
        let p = input(&snapshot, &people);
        let attrs = created_attributes(&p);
        assert_eq!(attrs["givenName"].chars().count(), 64, "names are cut");
        assert!(attrs["cn"].chars().count() <= 64);
        assert!(attrs["sAMAccountName"].chars().count() <= 20);

        let people = [person("e1", Lifecycle::Active, &[("job_title", &long)])];
        let p = input(&snapshot, &people);
        assert_eq!(p.quarantined[0].field.as_deref(), Some("title"));
        assert!(
            p.quarantined[0].reason.contains("128"),
            "{}",
            p.quarantined[0].reason
        );
    }

    #[test]
    fn a_manager_an_earlier_part_creates_or_moves_is_linked_at_their_new_dn_after_the_add() {
        let f = fixture(SyncRules::default());
        // The boss's account is at its old DN in the read; the first part moves it.
        let boss = account(
            "CN=Boss,OU=Old,OU=Staff,DC=corp,DC=example",
            &[("employeeNumber", "b1"), ("sAMAccountName", "boss")],
        );
        let first = run(
            &f,
            &[person("m1", Lifecycle::Active, &[("first_name", "Mia")])],
            vec![boss.clone()],
            "2026-01-10",
            &[],
        );
        let mut placed: HashMap<String, String> = first
            .placed()
            .map(|(id, dn)| (id.to_string(), dn.to_string()))
            .collect();
        let m1_dn = placed
            .get("m1")
            .cloned()
            .expect("m1 is created by the first part");
        let moved = "CN=Boss,OU=Staff,DC=corp,DC=example";
        placed.insert("b1".into(), moved.into());
        let second = run_part(
            &f,
            &[
                person(
                    "e1",
                    Lifecycle::Active,
                    &[("first_name", "Eve"), ("manager_employment_id", "m1")],
                ),
                person(
                    "e2",
                    Lifecycle::Active,
                    &[("first_name", "Sam"), ("manager_employment_id", "b1")],
                ),
            ],
            vec![boss],
            "2026-01-10",
            &[],
            &placed,
        );
        for (id, manager) in [("e1", m1_dn.as_str()), ("e2", moved)] {
            let pp = second.people.iter().find(|p| p.person_id == id).unwrap();
            assert_eq!(pp.manager_pending, None, "{id}");
            let Op::Create { attributes, .. } = &pp.ops[0] else {
                panic!("{id} is created: {:?}", pp.ops)
            };
            assert_eq!(
                attributes.get("manager"),
                None,
                "{id}: the manager is in flight"
            );
            assert!(
                pp.ops
                    .iter()
                    .any(|o| matches!(o, Op::SetManager { new: Some(m), .. } if m == manager)),
                "{id}'s manager is set to {manager} after the add: {:?}",
                pp.ops
            );
        }
    }

    #[test]
    fn managers_go_into_the_add_when_they_exist_and_are_never_oneself() {
        let f = fixture(SyncRules::default());
        let boss = account(
            "CN=Boss,OU=Staff,DC=corp,DC=example",
            &[
                ("employeeNumber", "b1"),
                ("userAccountControl", "512"),
                ("givenName", "Ada"),
                ("department", "Engineering"),
                ("sAMAccountName", "boss"),
            ],
        );
        let people = [
            person("b1", Lifecycle::Active, &[]),
            person(
                "e1",
                Lifecycle::Active,
                &[("first_name", "Eve"), ("manager_employment_id", "b1")],
            ),
            person(
                "e2",
                Lifecycle::Active,
                &[("first_name", "Sam"), ("manager_employment_id", "e2")],
            ),
            person(
                "e3",
                Lifecycle::Active,
                &[("first_name", "Zed"), ("manager_employment_id", "e1")],
            ),
            person(
                "e4",
                Lifecycle::Active,
                &[("first_name", "Kim"), ("manager_employment_id", "nobody")],
            ),
        ];
        let p = run(&f, &people, vec![boss], "2026-01-10", &[]);
        let of = |id: &str| p.people.iter().find(|pp| pp.person_id == id).unwrap();
        assert_eq!(
            match &of("e1").ops[0] {
                Op::Create { attributes, .. } => attributes.get("manager").cloned(),
                _ => None,
            }
            .as_deref(),
            Some("CN=Boss,OU=Staff,DC=corp,DC=example")
        );
        assert!(
            of("e2")
                .note
                .as_deref()
                .unwrap_or("")
                .contains("own manager")
        );
        assert!(
            of("e3")
                .ops
                .iter()
                .any(|o| matches!(o, Op::SetManager { .. })),
            "a manager created in the same run is set after the creates"
        );
        assert!(
            of("e4")
                .note
                .as_deref()
                .unwrap_or("")
                .contains("no account yet")
        );
        assert!(p.quarantined.is_empty(), "{:?}", p.quarantined);
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_stage_comes_from_the_status_and_the_dates_alone() {
        let today = d("2026-03-10");
        let s = |status: Lifecycle, start: Option<&str>, end: Option<&str>| {
            stage(&status, start.map(d), end.map(d), today, 7)
        };
        // Unknown decides nothing, whatever the dates; terminated has left, whatever the dates.
        assert_eq!(
            s(Lifecycle::Unknown, None, Some("2026-01-01")),
            Stage::Undecided
        );
        assert_eq!(
            s(Lifecycle::Terminated, Some("2027-01-01"), None),
            Stage::Left
        );
        // An end date on or before today has left; after today, not yet.
        assert_eq!(s(Lifecycle::Leaving, None, Some("2026-03-10")), Stage::Left);
        assert_eq!(s(Lifecycle::Active, None, Some("2026-03-09")), Stage::Left);
        assert_eq!(s(Lifecycle::Leaving, None, Some("2026-03-11")), Stage::Due);
        // A future start is a pre-hire whatever the status (a system without a pre-hire status).
        assert_eq!(
            s(Lifecycle::Active, Some("2026-03-17"), None),
            Stage::PreHire
        );
        assert_eq!(
            s(Lifecycle::Active, Some("2026-03-18"), None),
            Stage::NotYet
        );
        assert_eq!(s(Lifecycle::PreHire, Some("2026-03-10"), None), Stage::Due);
        assert_eq!(s(Lifecycle::PreHire, Some("2026-03-01"), None), Stage::Due);
        assert_eq!(s(Lifecycle::PreHire, None, None), Stage::PreHire);
        assert_eq!(s(Lifecycle::Active, None, None), Stage::Due);
        // A pre-hire whose end date came before the start (an offer withdrawn) has left.
        assert_eq!(
            s(Lifecycle::PreHire, Some("2026-04-01"), Some("2026-03-01")),
            Stage::Left
        );
    }

    #[test]
    fn today_turns_over_at_midnight_in_the_configured_time_zone() {
        use chrono::TimeZone;
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let end = Some(d("2026-03-10"));
        // 22:30 UTC on the 9th is 23:30 in Berlin (UTC+1 in March): still the 9th.
        let before = chrono::Utc.with_ymd_and_hms(2026, 3, 9, 22, 30, 0).unwrap();
        // 23:30 UTC is 00:30 on the 10th in Berlin, but still the 9th in UTC.
        let after = chrono::Utc.with_ymd_and_hms(2026, 3, 9, 23, 30, 0).unwrap();
        assert_eq!(today_in(berlin, before), d("2026-03-09"));
        assert_eq!(today_in(berlin, after), d("2026-03-10"));
        assert_eq!(today_in(chrono_tz::UTC, after), d("2026-03-09"));
        let stage_at = |tz, now| stage(&Lifecycle::Leaving, None, end, today_in(tz, now), 7);
        assert_eq!(stage_at(berlin, before), Stage::Due);
        assert_eq!(stage_at(berlin, after), Stage::Left);
        assert_eq!(stage_at(chrono_tz::UTC, after), Stage::Due);
        // The same for a start date west of UTC: 02:00 UTC on the 10th is the 9th in New York.
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let early = chrono::Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap();
        let start = Some(d("2026-03-10"));
        assert_eq!(
            stage(&Lifecycle::Active, start, None, today_in(ny, early), 0),
            Stage::NotYet
        );
        assert_eq!(
            stage(
                &Lifecycle::Active,
                start,
                None,
                today_in(chrono_tz::UTC, early),
                0
            ),
            Stage::Due
        );
    }

    #[test]
    fn an_end_date_fact_makes_a_leaver_in_the_plan() {
        let f = fixture(SyncRules::default());
        let mut p = person("e1", Lifecycle::Leaving, &[]);
        p.facts.end_date = Some("2026-01-01".into());
        let enabled = account(
            "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example",
            &[("employeeNumber", "e1"), ("userAccountControl", "512")],
        );
        let before = run(&f, &[p.clone()], vec![enabled.clone()], "2025-12-31", &[]);
        assert!(!before.people[0].leaver, "{:?}", before.people[0]);
        let on = run(&f, &[p], vec![enabled], "2026-01-01", &[]);
        assert!(on.people[0].leaver, "{:?}", on.people[0]);
    }

    #[test]
    fn old_field_names_still_reach_the_facts() {
        let p = person("e1", Lifecycle::Active, &[("manager_employment_id", "b1")]);
        assert_eq!(p.facts.manager_id.as_deref(), Some("b1"));
        assert_eq!(p.facts.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(p.text("full_name"), Some("Ada Lovelace"));
        assert_eq!(p.text("display_name"), Some("Ada Lovelace"));
        assert_eq!(p.text("manager_employment_id"), Some("b1"));
        assert_eq!(p.text("manager_id"), Some("b1"));
    }
}
