//! Reading people from the connector while spending requests like money: list pages first, then
//! details only for people who are new, changed or stale (pre-hires first), within the budget;
//! every detail is cached in the store as it arrives, so an interrupted load resumes.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::SyncError;
use super::plan::Quarantined;
use super::progress::Progress;
use super::rules::SyncRules;
use crate::connector::{Connector, ConnectorError, Rejected};
use crate::mapping::{Lifecycle, Person};
use crate::store::{PersonState, Store};

/// What the source stage produced.
#[derive(Debug, Default)]
pub struct Sourced {
    pub people: Vec<Person>,
    pub rejected: Vec<Quarantined>,
    /// Details fetched in this run.
    pub fetched: usize,
    /// People still without a detail (budget spent or rate limited); fetched next run.
    pub deferred: usize,
}

fn quarantined(r: Rejected) -> Quarantined {
    Quarantined {
        record_id: r.record_id.clone().unwrap_or_else(|| "(no id)".to_string()),
        field: r.field.clone(),
        reason: r.message,
    }
}

/// A stable hash of what the list says of a person.
fn list_hash(p: &Person) -> String {
    let json = serde_json::to_vec(&(&p.status, &p.source_status, &p.fields)).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..12])
}

/// The detail overlaid with the (newer) list fields and status.
fn merge(list: Person, detail: &Person) -> Person {
    let mut merged = detail.clone();
    for (k, v) in list.fields {
        merged.fields.insert(k, v);
    }
    merged.status = list.status;
    merged.source_status = list.source_status;
    if list.raw.is_some() {
        // Keep the detail's raw (a superset) — but the list's is newer for the keys it has.
        if let (Some(serde_json::Value::Object(d)), Some(serde_json::Value::Object(l))) =
            (&mut merged.raw, list.raw)
        {
            for (k, v) in l {
                d.insert(k, v);
            }
        }
    }
    merged
}

fn is_stale(state: &PersonState, max_age_days: i64) -> bool {
    let Some(at) = state.detail_fetched_at.as_deref() else {
        return true;
    };
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => chrono::Utc::now().signed_duration_since(t) > chrono::Duration::days(max_age_days),
        Err(_) => true,
    }
}

/// Fetches one person (for `--only` and events): one detail request.
pub async fn fetch_one(
    connector: &Connector,
    store: &Store,
    id: &str,
) -> Result<Sourced, SyncError> {
    let mut out = Sourced::default();
    match connector.get(id).await? {
        Ok(p) => {
            let json = serde_json::to_string(&p).unwrap_or_default();
            store.save_detail(&p.id, None, &json)?;
            out.fetched = 1;
            out.people.push(p);
        }
        Err(r) => out.rejected.push(quarantined(r)),
    }
    Ok(out)
}

/// Lists everyone, then fetches the details that are needed.
pub async fn fetch_all(
    connector: &Connector,
    store: &Store,
    rules: &SyncRules,
    progress: &Progress,
) -> Result<Sourced, SyncError> {
    let mut out = Sourced::default();
    let mut listed: Vec<Person> = Vec::new();
    let mut cursor: Option<String> = None;
    let bar = progress.bar("listing", None);
    loop {
        let page = connector.list(cursor.as_deref()).await?;
        if let Some(total) = page.total {
            bar.set_length(u64::from(total));
        }
        bar.inc((page.people.len() + page.rejected.len()) as u64);
        out.rejected
            .extend(page.rejected.into_iter().map(quarantined));
        listed.extend(page.people);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    bar.finish(&format!("listed {} people", listed.len()));

    let states = store.person_states()?;
    let hashes: Vec<(String, String)> = listed
        .iter()
        .map(|p| (p.id.clone(), list_hash(p)))
        .collect();
    store.save_list_hashes(&hashes)?;
    let hash_of: HashMap<&str, &str> = hashes
        .iter()
        .map(|(i, h)| (i.as_str(), h.as_str()))
        .collect();

    // Who needs a detail, most urgent first: new pre-hires, other new people, changed, stale.
    let mut wanted: Vec<(u8, usize)> = Vec::new();
    for (i, p) in listed.iter().enumerate() {
        let state = states.get(&p.id);
        let rank = match state {
            None => Some(if p.status == Lifecycle::PreHire { 0 } else { 1 }),
            Some(s) if s.detail.is_none() => {
                Some(if p.status == Lifecycle::PreHire { 0 } else { 1 })
            }
            Some(s) if s.detail_hash.as_deref() != hash_of.get(p.id.as_str()).copied() => Some(2),
            Some(s) if is_stale(s, rules.detail_max_age_days) => Some(3),
            Some(_) => None,
        };
        if let Some(r) = rank {
            wanted.push((r, i));
        }
    }
    wanted.sort();
    let budget = rules.max_detail_fetches.unwrap_or(usize::MAX);
    let mut details: HashMap<String, Person> = HashMap::new();
    let bar = progress.bar("details", Some(wanted.len().min(budget) as u64));
    let mut stop_reason: Option<String> = None;
    for (_, i) in wanted.iter().take(budget) {
        let p = &listed[*i];
        match connector.get(&p.id).await {
            Ok(Ok(detail)) => {
                let json = serde_json::to_string(&detail).unwrap_or_default();
                store.save_detail(&p.id, hash_of.get(p.id.as_str()).copied(), &json)?;
                details.insert(p.id.clone(), detail);
                out.fetched += 1;
            }
            Ok(Err(r)) => out.rejected.push(quarantined(r)),
            Err(e @ (ConnectorError::Failed { auth: true, .. } | ConnectorError::Plugin(_))) => {
                // Credentials refused or the plugin broke: no point going on.
                return Err(e.into());
            }
            Err(ConnectorError::Failed {
                retry_after_ms: Some(ms),
                ..
            }) => {
                stop_reason = Some(format!("rate limited (retry in {ms} ms)"));
                break;
            }
            Err(e) => {
                tracing::warn!(person = %p.id, error = %e, "detail fetch failed; using the list data");
            }
        }
        bar.inc(1);
    }
    bar.finish(&format!("fetched {} details", out.fetched));
    out.deferred = wanted.len() - out.fetched.min(wanted.len());
    if let Some(reason) = stop_reason {
        tracing::warn!(
            deferred = out.deferred,
            "detail fetching stopped: {reason}; the rest is fetched next run"
        );
    }

    for p in listed {
        // A detail fetched for the list state we see now is the whole truth (its names come from
        // `basic_information`, not from splitting `full_name`); an older one is overlaid with the
        // newer list fields.
        if let Some(fresh) = details.remove(&p.id) {
            out.people.push(fresh);
            continue;
        }
        let state = states.get(&p.id);
        let cached = state
            .and_then(|s| s.detail.as_deref())
            .and_then(|d| serde_json::from_str::<Person>(d).ok());
        let current =
            state.and_then(|s| s.detail_hash.as_deref()) == hash_of.get(p.id.as_str()).copied();
        out.people.push(match cached {
            Some(d) if current => d,
            Some(d) => merge(p, &d),
            None => p,
        });
    }
    Ok(out)
}
