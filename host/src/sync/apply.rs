//! Applying a plan to the directory: bounded concurrency (one LDAP connection per worker), each
//! person's operations in order, every operation audited, a failing person quarantined with the
//! directory's reason while the others go on. Managers are set last, once every account exists.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rand::Rng;
use rand::seq::SliceRandom;
use tracing::Instrument;

use super::SyncError;
use super::plan::{Op, PersonPlan, Quarantined};
use super::progress::Progress;
use crate::directory::{Directory, DirectoryConfig, DirectoryError, Modification, escape};
use crate::store::Store;

/// What applying did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Operations that succeeded.
    pub operations: usize,
    /// People whose operations failed, with the reason.
    pub failed: Vec<Quarantined>,
}

/// How to apply.
#[derive(Clone)]
pub struct ApplyContext {
    pub directory: DirectoryConfig,
    pub store: Arc<Store>,
    pub run: i64,
    pub set_initial_password: bool,
    pub concurrency: usize,
    pub today: NaiveDate,
}

/// Applies the plans.
pub async fn apply(
    people: Vec<PersonPlan>,
    ctx: &ApplyContext,
    progress: &Progress,
) -> Result<Applied, SyncError> {
    let total: usize = people.iter().map(|p| p.ops.len()).sum();
    let bar = Arc::new(progress.bar("applying", Some(total as u64)));
    let (managers, first): (Vec<PersonPlan>, Vec<PersonPlan>) = (
        people
            .iter()
            .map(|p| PersonPlan {
                ops: p
                    .ops
                    .iter()
                    .filter(|o| matches!(o, Op::SetManager { .. }))
                    .cloned()
                    .collect(),
                ..p.clone()
            })
            .collect(),
        people
            .into_iter()
            .map(|p| PersonPlan {
                ops: p
                    .ops
                    .iter()
                    .filter(|o| !matches!(o, Op::SetManager { .. }))
                    .cloned()
                    .collect(),
                ..p
            })
            .collect(),
    );
    let mut out = run_phase(first, ctx, bar.clone()).await?;
    let failed: std::collections::HashSet<String> =
        out.failed.iter().map(|q| q.record_id.clone()).collect();
    let managers: Vec<PersonPlan> = managers
        .into_iter()
        .filter(|p| !p.ops.is_empty() && !failed.contains(&p.person_id))
        .collect();
    let second = run_phase(managers, ctx, bar.clone()).await?;
    out.operations += second.operations;
    out.failed.extend(second.failed);
    bar.finish(&format!(
        "{} operations applied, {} people failed",
        out.operations,
        out.failed.len()
    ));
    Ok(out)
}

async fn run_phase(
    people: Vec<PersonPlan>,
    ctx: &ApplyContext,
    bar: Arc<super::progress::Bar>,
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
        tasks.spawn(async move {
            let mut dir = Directory::connect(&ctx.directory).await?;
            let mut ous = KnownOus::default();
            let mut out = Applied::default();
            loop {
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some(person) = next else { break };
                let span = tracing::info_span!("person", id = %person.person_id);
                let (done, failure) = apply_person(&mut dir, &mut ous, &ctx, &person)
                    .instrument(span)
                    .await;
                out.operations += done;
                bar.inc(person.ops.len() as u64);
                if let Some(f) = failure {
                    out.failed.push(f);
                }
            }
            let _ = dir.unbind().await;
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
    dir: &mut Directory,
    ous: &mut KnownOus,
    ctx: &ApplyContext,
    p: &PersonPlan,
) -> (usize, Option<Quarantined>) {
    let mut done = 0;
    for op in &p.ops {
        let detail = serde_json::to_string(op).unwrap_or_default();
        let (name, dn) = op_name(op);
        let result = apply_op(dir, ous, ctx, p, op).await;
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let _ = ctx.store.audit(
            Some(ctx.run),
            Some(&p.person_id),
            Some(dn),
            name,
            &detail,
            &outcome,
        );
        match result {
            Ok(()) => done += 1,
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(op = name, dn, error = %reason, "operation failed");
                return (
                    done,
                    Some(Quarantined {
                        record_id: p.person_id.clone(),
                        field: None,
                        reason: format!("{name} failed: {reason}"),
                    }),
                );
            }
        }
    }
    if p.leaver && !p.ops.iter().any(|o| matches!(o, Op::Disable { .. })) {
        let _ = ctx
            .store
            .mark_disabled_if_missing(&p.person_id, &ctx.today.to_string());
    }
    (done, None)
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
        Op::Delete { dn } => ("delete", dn),
    }
}

/// OUs this worker has already made sure of: one read per OU per run, not one per account.
#[derive(Default)]
struct KnownOus(std::collections::HashSet<String>);

impl KnownOus {
    async fn ensure(&mut self, dir: &mut Directory, ou: &str) -> Result<(), DirectoryError> {
        let key = super::snapshot::normalize_dn(ou);
        if !self.0.contains(&key) {
            dir.ensure_ou(ou).await?;
            self.0.insert(key);
        }
        Ok(())
    }
}

async fn apply_op(
    dir: &mut Directory,
    ous: &mut KnownOus,
    ctx: &ApplyContext,
    p: &PersonPlan,
    op: &Op,
) -> Result<(), DirectoryError> {
    match op {
        Op::Create {
            dn,
            attributes,
            enable,
        } => {
            if let Some(parent) = escape::parent_dn(dn) {
                ous.ensure(dir, parent).await?;
            }
            let mut attrs: Vec<(String, Vec<String>)> = attributes
                .iter()
                .map(|(k, v)| (k.clone(), vec![v.clone()]))
                .collect();
            attrs.push((
                "objectClass".into(),
                vec![
                    "top".into(),
                    "person".into(),
                    "organizationalPerson".into(),
                    "user".into(),
                ],
            ));
            attrs.push((
                "userAccountControl".into(),
                vec![crate::directory::uac::DISABLED_USER.to_string()],
            ));
            dir.add(dn, &attrs).await?;
            if ctx.set_initial_password {
                // Random, never stored or logged; the person gets a reset through IT's usual channel.
                dir.set_password(dn, &initial_password()).await?;
            }
            if *enable {
                // We just wrote the disabled value: set the enabled one without reading it back.
                let enabled = crate::directory::uac::ENABLED_USER.to_string();
                dir.modify(
                    dn,
                    &[Modification::replace("userAccountControl", vec![enabled])],
                )
                .await?;
            }
        }
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
            let _ = ctx.store.set_disabled_on(&p.person_id, None);
        }
        Op::Disable { dn } => {
            dir.disable(dn).await?;
            let _ = ctx
                .store
                .set_disabled_on(&p.person_id, Some(&ctx.today.to_string()));
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
        Op::Delete { dn } => {
            dir.delete(dn).await?;
        }
    }
    Ok(())
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
