//! Applying a plan to the directory — the one write path (sync, approve, orchestration).
//!
//! Bounded concurrency (one LDAP connection per worker), each person's operations in order, a
//! failing person quarantined with the directory's reason while the others go on. Every
//! operation is checked against the write scope and has its audit row written *before* it is
//! sent; a store that cannot record it stops the operation. Managers are set last, once every
//! account exists; a report whose manager's account could not be created keeps its manager
//! unset (a note, not a failure) until a later run.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rand::Rng;
use rand::seq::SliceRandom;
use tracing::Instrument;

use super::SyncError;
use super::plan::{Op, PersonPlan, Quarantined};
use super::progress::Progress;
use super::scope::WriteScope;
use crate::directory::escape::normalize_dn;
use crate::directory::{
    Directory, DirectoryError, DirectoryPool, Modification, PooledDirectory, escape, uac,
};
use crate::store::{Store, StoreError};

/// What applying did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Operations that succeeded.
    pub operations: usize,
    /// People whose operations failed, with the reason.
    pub failed: Vec<Quarantined>,
    /// What was left for a later run, and why (e.g. a manager whose account failed).
    pub notes: Vec<String>,
}

/// How to apply.
#[derive(Clone)]
pub struct ApplyContext {
    /// Bound connections, shared with the rest of the engine.
    pub pool: Arc<DirectoryPool>,
    /// The anchor attribute (to recognise an add that reached AD before the connection broke).
    pub anchor: String,
    pub store: Arc<Store>,
    pub run: Option<i64>,
    pub concurrency: usize,
    pub today: NaiveDate,
    /// Where writes may go.
    pub scope: WriteScope,
}

/// Why one operation was not done.
#[derive(Debug, thiserror::Error)]
enum OpError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("{0}")]
    OutOfScope(String),
    #[error("not written, because the audit log cannot record it: {0}")]
    Audit(StoreError),
    #[error("written, but the store cannot record it: {0}")]
    Bookkeeping(StoreError),
}

/// What the workers of a phase share: where creates landed, and which failed. The applies of
/// one listing's parts share one, so a report in a later part follows its manager's account
/// to where it landed, or leaves the link unset when the manager's create failed.
#[derive(Default)]
pub struct Outcomes {
    /// Planned DN (normalized) → the DN the account was created at (a fallback was used).
    landed: HashMap<String, String>,
    /// Planned DNs (normalized) of creates that failed.
    failed_creates: HashSet<String>,
}

/// Attempts of one operation when the directory keeps dropping the connection.
const RECONNECTS: u64 = 4;

/// Members per group modify: AD takes a few hundred values in one write comfortably.
const GROUP_BATCH: usize = 250;

/// Applies the plans: each person's account operations, then every membership change gathered
/// per group (one modify for many members), then managers.
pub async fn apply(
    people: Vec<PersonPlan>,
    ctx: &ApplyContext,
    progress: &Progress,
) -> Result<Applied, SyncError> {
    apply_sharing(people, ctx, progress, Arc::default()).await
}

/// Like [`apply`], with what earlier applies of the same listing found (see [`Outcomes`]).
pub async fn apply_sharing(
    people: Vec<PersonPlan>,
    ctx: &ApplyContext,
    progress: &Progress,
    outcomes: Arc<Mutex<Outcomes>>,
) -> Result<Applied, SyncError> {
    let total: usize = people.iter().map(|p| p.ops.len()).sum();
    let bar = Arc::new(progress.bar("applying", Some(total as u64)));
    let is_manager = |o: &Op| matches!(o, Op::SetManager { .. });
    let is_group = |o: &Op| matches!(o, Op::AddToGroup { .. } | Op::RemoveFromGroup { .. });
    // Each phase gets the people it has work for (a run of 100,000 unchanged people copies
    // none of them).
    let only = |p: &PersonPlan, keep: &dyn Fn(&Op) -> bool| {
        let ops: Vec<Op> = p.ops.iter().filter(|o| keep(o)).cloned().collect();
        (!ops.is_empty() || p.leaver).then(|| PersonPlan {
            person_id: p.person_id.clone(),
            name: p.name.clone(),
            dn: p.dn.clone(),
            ops,
            leaver: p.leaver,
            adopt: p.adopt,
            manager_pending: p.manager_pending.clone(),
            note: p.note.clone(),
        })
    };
    let managers: Vec<PersonPlan> = people.iter().filter_map(|p| only(p, &is_manager)).collect();
    let groups: Vec<PersonPlan> = people.iter().filter_map(|p| only(p, &is_group)).collect();
    let first: Vec<PersonPlan> = people
        .iter()
        .filter_map(|p| only(p, &|o| !is_manager(o) && !is_group(o)))
        .collect();
    drop(people);
    let mut out = run_phase(first, ctx, bar.clone(), outcomes.clone()).await?;

    let failed: HashSet<String> = out.failed.iter().map(|q| q.record_id.clone()).collect();
    let memberships = gather_memberships(groups, &failed, &outcomes);
    let grouped = apply_memberships(memberships, ctx, &bar).await?;
    out.operations += grouped.operations;
    out.failed.extend(grouped.failed);

    let failed: HashSet<String> = out.failed.iter().map(|q| q.record_id.clone()).collect();
    let (managers, notes) = settle_managers(managers, &failed, &outcomes);
    out.notes.extend(notes);
    let second = run_phase(managers, ctx, bar.clone(), outcomes).await?;
    out.operations += second.operations;
    out.failed.extend(second.failed);
    bar.finish(&format!(
        "{} operations applied, {} people failed",
        out.operations,
        out.failed.len()
    ));
    Ok(out)
}

/// One membership change of one person.
#[derive(Debug, Clone, PartialEq)]
struct Membership {
    person_id: String,
    member: String,
}

/// Membership changes by (group, add?), for people whose account operations succeeded, with
/// DNs of accounts created at a fallback followed.
fn gather_memberships(
    people: Vec<PersonPlan>,
    failed_people: &HashSet<String>,
    outcomes: &Mutex<Outcomes>,
) -> std::collections::BTreeMap<(String, bool), Vec<Membership>> {
    let landed = outcomes
        .lock()
        .map(|o| o.landed.clone())
        .unwrap_or_default();
    let mut out: std::collections::BTreeMap<(String, bool), Vec<Membership>> = Default::default();
    for p in people {
        if failed_people.contains(&p.person_id) {
            continue;
        }
        for op in p.ops {
            let (group, dn, add) = match op {
                Op::AddToGroup { group, dn } => (group, dn, true),
                Op::RemoveFromGroup { group, dn } => (group, dn, false),
                _ => continue,
            };
            let member = landed.get(&normalize_dn(&dn)).cloned().unwrap_or(dn);
            out.entry((group, add)).or_default().push(Membership {
                person_id: p.person_id.clone(),
                member,
            });
        }
    }
    out
}

/// Writes the membership changes, a batch per modify; a batch AD refuses is retried member by
/// member, so only the member at fault is reported.
async fn apply_memberships(
    changes: std::collections::BTreeMap<(String, bool), Vec<Membership>>,
    ctx: &ApplyContext,
    bar: &super::progress::Bar,
) -> Result<Applied, SyncError> {
    let mut out = Applied::default();
    if changes.is_empty() {
        return Ok(out);
    }
    let mut dir = ctx.pool.get().await?;
    for ((group, add), members) in changes {
        let name = if add {
            "add-to-group"
        } else {
            "remove-from-group"
        };
        for batch in members.chunks(GROUP_BATCH) {
            let span = tracing::info_span!("group", %group, add, members = batch.len());
            let part = apply_batch(&mut dir, ctx, &group, add, name, batch)
                .instrument(span)
                .await;
            out.operations += part.operations;
            out.failed.extend(part.failed);
            bar.inc(batch.len() as u64);
        }
    }
    Ok(out)
}

async fn apply_batch(
    dir: &mut PooledDirectory,
    ctx: &ApplyContext,
    group: &str,
    add: bool,
    name: &str,
    batch: &[Membership],
) -> Applied {
    let mut out = Applied::default();
    let fail = |m: &Membership, reason: String| Quarantined {
        record_id: m.person_id.clone(),
        field: None,
        reason: format!("{name} {group} for {} failed: {reason}", m.member),
    };
    // Scope and audit first: a member outside the scope, or a change the store cannot record,
    // is never sent.
    let mut rows: Vec<(i64, &Membership)> = Vec::new();
    for m in batch {
        if let Some(why) = ctx.scope.refuse(&m.member) {
            out.failed.push(fail(m, why));
            continue;
        }
        let detail = serde_json::json!({"op": name, "group": group, "dn": m.member}).to_string();
        match ctx
            .store
            .audit_begin(ctx.run, Some(&m.person_id), Some(&m.member), name, &detail)
        {
            Ok(row) => rows.push((row, m)),
            Err(e) => out.failed.push(fail(
                m,
                format!("not written, because the audit log cannot record it: {e}"),
            )),
        }
    }
    let members: Vec<String> = rows.iter().map(|(_, m)| m.member.clone()).collect();
    let batch_result = if members.len() > 1 {
        match dir.change_members(group, &members, add).await {
            Err(e) if e.is_connection_error() => {
                tracing::warn!(error = %e, "the directory connection was lost; reconnecting");
                dir.mark_broken();
                match dir.reconnect().await {
                    // The batch may have landed: the one-by-one fallback below copes with
                    // members already added or removed.
                    Ok(()) => Err(e),
                    Err(again) => Err(again),
                }
            }
            other => other,
        }
    } else {
        Err(DirectoryError::Config {
            reason: "one member: written on its own".into(),
        })
    };
    for (row, m) in rows {
        let result = match &batch_result {
            Ok(()) => Ok(()),
            // One by one: already a member / not a member are fine; the rest names the member.
            Err(_) if add => dir.add_member(group, &m.member).await.map(|_| ()),
            Err(_) => dir.remove_member(group, &m.member).await.map(|_| ()),
        };
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        if let Err(e) = ctx.store.audit_finish(row, &outcome) {
            out.failed.push(fail(
                m,
                format!("written, but the store cannot record it: {e}"),
            ));
            continue;
        }
        match result {
            Ok(()) => out.operations += 1,
            Err(e) => {
                tracing::warn!(member = %m.member, error = %e, "membership change failed");
                out.failed.push(fail(m, e.to_string()));
            }
        }
    }
    out
}

/// The manager operations still to do after the first phase: DNs of accounts created at a
/// fallback are followed; a manager whose account could not be created is left unset (noted).
fn settle_managers(
    managers: Vec<PersonPlan>,
    failed_people: &HashSet<String>,
    outcomes: &Mutex<Outcomes>,
) -> (Vec<PersonPlan>, Vec<String>) {
    let Ok(outcomes) = outcomes.lock() else {
        return (
            Vec::new(),
            vec!["managers were not set: a worker panicked".into()],
        );
    };
    let follow = |dn: &str| {
        outcomes
            .landed
            .get(&normalize_dn(dn))
            .cloned()
            .unwrap_or_else(|| dn.to_string())
    };
    let mut notes = Vec::new();
    let mut kept = Vec::new();
    for mut p in managers {
        if p.ops.is_empty() || failed_people.contains(&p.person_id) {
            continue;
        }
        p.ops.retain_mut(|op| {
            let Op::SetManager { dn, new, .. } = op else {
                return true;
            };
            if let Some(m) = new {
                if outcomes.failed_creates.contains(&normalize_dn(m)) {
                    notes.push(format!(
                        "{}: manager left unset, because the manager's account ({m}) could not be created; it is set by the run that creates it",
                        p.person_id
                    ));
                    return false;
                }
                *m = follow(m);
            }
            *dn = follow(dn);
            true
        });
        if !p.ops.is_empty() {
            kept.push(p);
        }
    }
    (kept, notes)
}

async fn run_phase(
    people: Vec<PersonPlan>,
    ctx: &ApplyContext,
    bar: Arc<super::progress::Bar>,
    outcomes: Arc<Mutex<Outcomes>>,
) -> Result<Applied, SyncError> {
    let people: Vec<PersonPlan> = people
        .into_iter()
        .filter(|p| !p.ops.is_empty() || p.leaver)
        .collect();
    if people.is_empty() {
        return Ok(Applied::default());
    }
    let workers = ctx.concurrency.clamp(1, people.len());
    let queue = Arc::new(Mutex::new(VecDeque::from(people)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let queue = queue.clone();
        let ctx = ctx.clone();
        let bar = bar.clone();
        let outcomes = outcomes.clone();
        tasks.spawn(async move {
            let mut dir = ctx.pool.get().await?;
            let mut ous = KnownOus::default();
            let mut out = Applied::default();
            loop {
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some(person) = next else { break };
                let span = tracing::info_span!("person", id = %person.person_id);
                let (done, failure) = apply_person(&mut dir, &mut ous, &ctx, &person, &outcomes)
                    .instrument(span)
                    .await;
                out.operations += done;
                bar.inc(person.ops.len() as u64);
                if let Some(f) = failure {
                    out.failed.push(f);
                }
            }
            Ok::<Applied, SyncError>(out)
        });
    }
    let mut out = Applied::default();
    while let Some(joined) = tasks.join_next().await {
        let part = joined
            .map_err(|e| SyncError::Interrupted(format!("an apply worker stopped: {e}")))??;
        out.operations += part.operations;
        out.failed.extend(part.failed);
    }
    Ok(out)
}

/// Applies one person's operations in order; stops at the first failure.
async fn apply_person(
    dir: &mut PooledDirectory,
    ous: &mut KnownOus,
    ctx: &ApplyContext,
    p: &PersonPlan,
    outcomes: &Mutex<Outcomes>,
) -> (usize, Option<Quarantined>) {
    let mut done = 0;
    // Set when the account was created at a fallback DN: later operations follow it.
    let mut landed: Option<(String, String)> = None;
    for op in &p.ops {
        let mut op = op.clone();
        if let Some((planned, actual)) = &landed {
            retarget(&mut op, planned, actual);
        }
        let (name, dn) = op_name(&op);
        let dn = dn.to_string();
        let result = audited(dir, ous, ctx, p, &op).await;
        match result {
            Ok(Some(actual)) => {
                done += 1;
                remember_guid(dir, ctx, &p.person_id, &actual).await;
                if let Op::Create { dn: planned, .. } = &op {
                    if let Ok(mut o) = outcomes.lock() {
                        o.landed.insert(normalize_dn(planned), actual.clone());
                    }
                    landed = Some((planned.clone(), actual));
                }
            }
            Ok(None) => done += 1,
            Err(e) => {
                if let Op::Create { dn: planned, .. } = &op
                    && let Ok(mut o) = outcomes.lock()
                {
                    o.failed_creates.insert(normalize_dn(planned));
                }
                let reason = e.to_string();
                tracing::warn!(op = name, dn, error = %reason, "operation failed");
                return (
                    done,
                    Some(Quarantined {
                        record_id: p.person_id.clone(),
                        field: None,
                        reason: format!("{name} of {dn} failed: {reason}"),
                    }),
                );
            }
        }
    }
    if p.leaver
        && !p.ops.iter().any(|o| matches!(o, Op::Disable { .. }))
        && let Err(e) = ctx
            .store
            .mark_disabled_if_missing(&p.person_id, &ctx.today.to_string())
    {
        return (
            done,
            Some(Quarantined {
                record_id: p.person_id.clone(),
                field: None,
                reason: format!("the store cannot record when the account was disabled: {e}"),
            }),
        );
    }
    (done, None)
}

/// Stores the new account's `objectGUID`, so later runs find it by one base read. A failure here
/// is not the account's: the next full run's snapshot stores it.
async fn remember_guid(dir: &mut Directory, ctx: &ApplyContext, person_id: &str, dn: &str) {
    let guid = match dir.get(dn, &["objectGUID"]).await {
        Ok(Some(e)) => e
            .first_bytes("objectGUID")
            .and_then(super::account::guid_string),
        Ok(None) => None,
        Err(e) => {
            tracing::debug!(dn, error = %e, "reading the new account's GUID failed");
            None
        }
    };
    if let Some(guid) = guid
        && let Err(e) = ctx.store.save_accounts([(person_id, guid.as_str(), dn)])
    {
        tracing::warn!(dn, error = %e, "the new account's GUID cannot be stored");
    }
}

/// Points an operation planned for `planned` at `actual` (a create landed at a fallback DN).
fn retarget(op: &mut Op, planned: &str, actual: &str) {
    let fix = |dn: &mut String| {
        if normalize_dn(dn) == normalize_dn(planned) {
            *dn = actual.to_string();
        }
    };
    match op {
        Op::Modify { dn, .. }
        | Op::Enable { dn }
        | Op::Disable { dn }
        | Op::SetManager { dn, .. }
        | Op::ResetPassword { dn }
        | Op::Delete { dn }
        | Op::AddToGroup { dn, .. }
        | Op::RemoveFromGroup { dn, .. } => fix(dn),
        Op::Move { from, .. } => fix(from),
        Op::Create { .. } => {}
    }
}

/// One operation: scope check, audit row, the write, its outcome. `Ok(Some(dn))` for a create
/// names the DN the account was created at.
async fn audited(
    dir: &mut PooledDirectory,
    ous: &mut KnownOus,
    ctx: &ApplyContext,
    p: &PersonPlan,
    op: &Op,
) -> Result<Option<String>, OpError> {
    let (name, dn) = op_name(op);
    for written in op.written_dns() {
        if let Some(why) = ctx.scope.refuse(written) {
            return Err(OpError::OutOfScope(why));
        }
    }
    let detail = serde_json::to_string(op).unwrap_or_default();
    let row = ctx
        .store
        .audit_begin(ctx.run, Some(&p.person_id), Some(dn), name, &detail)
        .map_err(OpError::Audit)?;
    let mut result = apply_op(dir, ous, ctx, p, op).await;
    let mut attempt = 1;
    while let Err(OpError::Directory(e)) = &result
        && e.is_connection_error()
        && attempt < RECONNECTS
    {
        // The directory dropped the connection: again on a new one. An operation that reached
        // AD before the drop is recognised, never repeated into a duplicate.
        tracing::warn!(error = %e, attempt, "the directory connection was lost; reconnecting and retrying");
        attempt += 1;
        dir.mark_broken();
        tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
        result = match dir.reconnect().await {
            Ok(()) => retry_op(dir, ous, ctx, p, op).await,
            Err(e) => Err(e.into()),
        };
    }
    let outcome = match &result {
        Ok(Some(actual)) if actual != dn => format!("ok (created at {actual})"),
        Ok(_) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    };
    ctx.store
        .audit_finish(row, &outcome)
        .map_err(OpError::Bookkeeping)?;
    result
}

fn op_name(op: &Op) -> (&'static str, &str) {
    match op {
        Op::Create { dn, .. } => ("create", dn),
        Op::Modify { dn, .. } => ("modify", dn),
        Op::Move { from, .. } => ("move", from),
        Op::Enable { dn } => ("enable", dn),
        Op::Disable { dn } => ("disable", dn),
        Op::AddToGroup { dn, .. } => ("add-to-group", dn),
        Op::RemoveFromGroup { dn, .. } => ("remove-from-group", dn),
        Op::SetManager { dn, .. } => ("set-manager", dn),
        Op::ResetPassword { dn } => ("reset-password", dn),
        Op::Delete { dn } => ("delete", dn),
    }
}

/// OUs this worker has already made sure of: one read per OU per run, not one per account.
#[derive(Default)]
struct KnownOus(HashSet<String>);

impl KnownOus {
    async fn ensure(&mut self, dir: &mut Directory, ou: &str) -> Result<(), DirectoryError> {
        let key = normalize_dn(ou);
        if !self.0.contains(&key) {
            dir.ensure_ou(ou).await?;
            self.0.insert(key);
        }
        Ok(())
    }
}

/// An operation again after a reconnect, taking into account that the first attempt may have
/// been applied: an account already created with this person's anchor, a move or delete
/// already done.
async fn retry_op(
    dir: &mut Directory,
    ous: &mut KnownOus,
    ctx: &ApplyContext,
    p: &PersonPlan,
    op: &Op,
) -> Result<Option<String>, OpError> {
    match op {
        Op::Create { dn, .. } => {
            let parent = escape::parent_dn(dn).unwrap_or(dn);
            let filter = format!(
                "(&(objectClass=user)({}={}))",
                ctx.anchor,
                escape::escape_filter_value(&p.person_id)
            );
            if let Ok(found) = dir.search_paged(parent, &filter, &["1.1"]).await
                && let Some(e) = found.into_iter().next()
            {
                return Ok(Some(e.dn));
            }
            apply_op(dir, ous, ctx, p, op).await
        }
        Op::Move { to, .. } => match apply_op(dir, ous, ctx, p, op).await {
            Err(OpError::Directory(e)) if e.is_no_such_object() => {
                match dir.get(to, &["1.1"]).await? {
                    Some(_) => Ok(None),
                    None => Err(e.into()),
                }
            }
            other => other,
        },
        Op::Delete { .. } => match apply_op(dir, ous, ctx, p, op).await {
            Err(OpError::Directory(e)) if e.is_no_such_object() => Ok(None),
            other => other,
        },
        _ => apply_op(dir, ous, ctx, p, op).await,
    }
}

/// Whether AD refused an add because a value (or the DN) is taken: worth the next candidate.
fn is_taken_refusal(e: &DirectoryError) -> bool {
    match e {
        DirectoryError::AlreadyExists { .. } => true,
        DirectoryError::ConstraintViolation { diagnostic, .. } => {
            let d = diagnostic.to_ascii_lowercase();
            d.contains("in use") || d.contains("unique") || d.contains("already")
        }
        _ => false,
    }
}

/// Adds the account in one write, trying the fallbacks in order when AD says a value is taken
/// (another writer got there first). Returns the DN it was created at.
async fn create(dir: &mut Directory, ous: &mut KnownOus, op: &Op) -> Result<String, OpError> {
    let Op::Create {
        dn,
        attributes,
        enable,
        password,
        fallbacks,
    } = op
    else {
        return Err(OpError::OutOfScope("not a create".into()));
    };
    let state = match (*password, *enable) {
        (true, true) => uac::ENABLED_USER,
        // Without a password AD can only hold the account disabled.
        _ => uac::DISABLED_USER,
    };
    let mut attempt_dn = dn.clone();
    let mut attrs = attributes.clone();
    let mut next = fallbacks.iter();
    loop {
        if let Some(parent) = escape::parent_dn(&attempt_dn) {
            ous.ensure(dir, parent).await?;
        }
        let mut all: Vec<(String, Vec<String>)> = attrs
            .iter()
            .map(|(k, v)| (k.clone(), vec![v.clone()]))
            .collect();
        all.push((
            "objectClass".into(),
            vec![
                "top".into(),
                "person".into(),
                "organizationalPerson".into(),
                "user".into(),
            ],
        ));
        all.push(("userAccountControl".into(), vec![state.to_string()]));
        let result = if *password {
            // Random, never stored or logged; the person gets a reset through IT's usual channel.
            dir.add_with_password(&attempt_dn, &all, &initial_password())
                .await
        } else {
            dir.add(&attempt_dn, &all).await
        };
        match result {
            Ok(()) => return Ok(attempt_dn),
            Err(e) if is_taken_refusal(&e) => {
                let Some(f) = next.next() else {
                    return Err(e.into());
                };
                tracing::info!(dn = %attempt_dn, error = %e, next = %f.dn, "a value was taken at add time: trying the next candidate");
                attempt_dn = f.dn.clone();
                for (k, v) in &f.attributes {
                    attrs.insert(k.clone(), v.clone());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn apply_op(
    dir: &mut Directory,
    ous: &mut KnownOus,
    ctx: &ApplyContext,
    p: &PersonPlan,
    op: &Op,
) -> Result<Option<String>, OpError> {
    match op {
        Op::Create { .. } => return create(dir, ous, op).await.map(Some),
        Op::Modify { dn, changes } => {
            let mods: Vec<Modification> = changes
                .iter()
                .map(|c| match &c.new {
                    Some(v) => Modification::replace(c.attribute.clone(), vec![v.clone()]),
                    None => Modification::clear(c.attribute.clone()),
                })
                .collect();
            dir.modify(dn, &mods).await?;
        }
        Op::Move { from, to } => {
            let (rdn, _) = escape::split_first_rdn(from).unwrap_or((from.as_str(), ""));
            let parent = escape::parent_dn(to).unwrap_or_default().to_string();
            ous.ensure(dir, &parent).await?;
            dir.rename(from, rdn, Some(&parent)).await?;
        }
        Op::Enable { dn } => {
            dir.enable(dn).await?;
            ctx.store
                .set_disabled_on(&p.person_id, None)
                .map_err(OpError::Bookkeeping)?;
        }
        Op::Disable { dn } => {
            dir.disable(dn).await?;
            ctx.store
                .set_disabled_on(&p.person_id, Some(&ctx.today.to_string()))
                .map_err(OpError::Bookkeeping)?;
        }
        Op::AddToGroup { group, dn } => {
            dir.add_member(group, dn).await?;
        }
        Op::RemoveFromGroup { group, dn } => {
            dir.remove_member(group, dn).await?;
        }
        Op::SetManager { dn, new, .. } => {
            let m = match new {
                Some(m) => Modification::replace("manager", vec![m.clone()]),
                None => Modification::clear("manager"),
            };
            dir.modify(dn, &[m]).await?;
        }
        Op::ResetPassword { dn } => {
            dir.set_password(dn, &initial_password()).await?;
        }
        Op::Delete { dn } => {
            dir.delete(dn).await?;
        }
    }
    Ok(None)
}

/// A random password that meets AD's default complexity (upper, lower, digit, symbol; 20 long).
pub fn initial_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"!#%+-=?@^_";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[rng.random_range(0..set.len())] as char;
    let mut chars: Vec<char> = vec![pick(UPPER), pick(LOWER), pick(DIGIT), pick(SYMBOL)];
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
    while chars.len() < 20 {
        chars.push(pick(&all));
    }
    chars.shuffle(&mut rand::rng());
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn manager_plan(id: &str, dn: &str, manager: &str) -> PersonPlan {
        PersonPlan {
            person_id: id.into(),
            name: id.into(),
            dn: Some(dn.into()),
            ops: vec![Op::SetManager {
                dn: dn.into(),
                old: None,
                new: Some(manager.into()),
            }],
            leaver: false,
            adopt: false,
            manager_pending: None,
            note: None,
        }
    }

    #[test]
    fn a_failed_managers_reports_keep_no_manager_and_are_not_failed() {
        let outcomes = Mutex::new(Outcomes::default());
        {
            let mut o = outcomes.lock().unwrap();
            o.failed_creates.insert(normalize_dn("CN=Boss,OU=S,DC=x"));
            o.landed.insert(
                normalize_dn("CN=Other,OU=S,DC=x"),
                "CN=Other (2),OU=S,DC=x".into(),
            );
        }
        let plans = vec![
            manager_plan("a", "CN=A,OU=S,DC=x", "CN=Boss,OU=S,DC=x"),
            manager_plan("b", "CN=B,OU=S,DC=x", "CN=Other,OU=S,DC=x"),
        ];
        let (kept, notes) = settle_managers(plans, &HashSet::new(), &outcomes);
        assert_eq!(kept.len(), 1);
        assert!(
            matches!(&kept[0].ops[0], Op::SetManager { new: Some(m), .. } if m == "CN=Other (2),OU=S,DC=x")
        );
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("a: manager left unset"), "{notes:?}");
    }

    #[test]
    fn later_operations_follow_a_create_that_landed_at_a_fallback() {
        let mut op = Op::AddToGroup {
            group: "CN=G,DC=x".into(),
            dn: "CN=Ada,OU=S,DC=x".into(),
        };
        retarget(&mut op, "cn=ada,ou=s,dc=x", "CN=Ada (e1),OU=S,DC=x");
        assert!(matches!(op, Op::AddToGroup { dn, .. } if dn == "CN=Ada (e1),OU=S,DC=x"));
    }

    #[test]
    fn taken_values_are_retried_and_other_refusals_are_not() {
        let taken = DirectoryError::ConstraintViolation {
            operation: crate::directory::Operation::Add,
            dn: "CN=x".into(),
            attribute: Some("userPrincipalName".into()),
            diagnostic: "userPrincipalName 'a@b' is already in use (implied by sAMAccountName)"
                .into(),
        };
        assert!(is_taken_refusal(&taken));
        let other = DirectoryError::ConstraintViolation {
            operation: crate::directory::Operation::Add,
            dn: "CN=x".into(),
            attribute: Some("manager".into()),
            diagnostic: "Referenced object not found".into(),
        };
        assert!(!is_taken_refusal(&other));
    }
}
