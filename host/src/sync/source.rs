//! Reading people from the connector while spending requests like money: list pages first, then
//! details only for people who are new, changed or stale (pre-hires first), within the budget;
//! every detail is cached in the store as it arrives, so an interrupted load resumes.
//!
//! A listing cannot run away: a failed page, a repeated cursor, too many pages or a person listed
//! twice end it as incomplete (the people listed so far are kept, and the plan makes nobody a
//! leaver by absence). People keep only the fields the configuration uses ([`retain`]).

pub mod retain;

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::SyncError;
use super::plan::Quarantined;
use super::progress::Progress;
use super::rules::SyncRules;
use crate::connector::{self, Connector, ConnectorError, Rejected};
use crate::mapping::{Lifecycle, Person};
use crate::store::{PersonState, Store, StoreError};

pub use retain::{FieldSet, retained, used_fields};

/// A listing stops (incomplete) after this many pages.
pub const MAX_PAGES: usize = 10_000;

/// What the source stage produced.
#[derive(Debug, Default)]
pub struct Sourced {
    pub people: Vec<Person>,
    pub rejected: Vec<Quarantined>,
    /// Details fetched in this run.
    pub fetched: usize,
    /// People still without a detail (budget spent or rate limited); fetched next run.
    pub deferred: usize,
    /// Why the listing did not complete (`None` when it did, and for one person).
    pub incomplete: Option<String>,
}

/// The bookkeeping of one listing: pages, cursors and people seen so far.
#[derive(Debug, Default)]
struct Listing {
    /// Pages received.
    pages: usize,
    cursors: HashSet<String>,
    ids: HashSet<String>,
    /// Listings of a person already listed (skipped), and the first such person.
    duplicates: usize,
    first_duplicate: Option<String>,
    /// The last page held people, all of them listed before: the HR system repeats itself.
    stale_page: bool,
}

impl Listing {
    /// Counts a page and keeps its people not listed before (the first listing of a person wins).
    fn page(&mut self, people: Vec<Person>) -> Vec<Person> {
        self.pages += 1;
        self.stale_page = !people.is_empty();
        let mut fresh = Vec::with_capacity(people.len());
        for p in people {
            if self.ids.insert(p.id.clone()) {
                self.stale_page = false;
                fresh.push(p);
            } else {
                self.duplicates += 1;
                self.first_duplicate.get_or_insert_with(|| p.id.clone());
            }
        }
        fresh
    }

    /// Whether the page at `cursor` may be fetched: not when the cursor was seen before or the
    /// page cap is reached (the reason says which).
    fn next(&mut self, cursor: &str) -> Result<(), String> {
        if self.stale_page {
            return Err(format!(
                "page {} listed only people earlier pages listed, and offers another page (`{cursor}`): the HR system is repeating itself (a page parameter it ignores?); stopped",
                self.pages
            ));
        }
        if !self.cursors.insert(cursor.to_string()) {
            return Err(format!(
                "page {} returned the cursor of an earlier page (`{cursor}`): the listing would loop",
                self.pages
            ));
        }
        if self.pages >= MAX_PAGES {
            return Err(format!(
                "the listing has more than {MAX_PAGES} pages; stopped there"
            ));
        }
        Ok(())
    }

    /// The number of the page about to be fetched.
    fn upcoming(&self) -> usize {
        self.pages + 1
    }

    /// Why the listing is incomplete: `stopped` (a failed page, a loop, the cap) and duplicates.
    fn incomplete(&self, stopped: Option<String>) -> Option<String> {
        let duplicates = self.first_duplicate.as_ref().map(|id| {
            format!(
                "person `{id}` was listed twice ({} duplicate listing(s) skipped, the first kept): pages moved while they were read",
                self.duplicates
            )
        });
        match (stopped, duplicates) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    }
}

fn quarantined(r: Rejected) -> Quarantined {
    Quarantined {
        record_id: r.record_id.clone().unwrap_or_else(|| "(no id)".to_string()),
        field: r.field.clone(),
        reason: r.message,
    }
}

/// A stable hash of what the list says of a person (its kept fields) and of which fields are
/// kept: when the configuration starts using another field, every cached detail is stale.
fn list_hash(p: &Person, keep: &FieldSet) -> String {
    let json = serde_json::to_vec(&(&p.status, &p.source_status, &p.facts, &p.fields, keep))
        .unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..12])
}

/// Caches a person's detail (only the kept fields).
fn save(store: &Store, p: &Person, list_hash: Option<&str>) -> Result<(), SyncError> {
    let json = serde_json::to_string(p).map_err(|source| StoreError::Json {
        what: "encoding a detail",
        source,
    })?;
    store.save_detail(&p.id, list_hash, &json)?;
    Ok(())
}

/// The detail overlaid with what the (newer) list record carries: the facts the connector's
/// list holds (a `None` there clears), the status when the list has one, every field of the
/// list record, and the top-level keys of `raw`. The rules of record are in
/// `wit/v0.2/connector.wit` ("List records, details, and how they merge").
fn merge(list: Person, detail: &Person, listing: &connector::Listing) -> Person {
    let mut merged = detail.clone();
    for (k, v) in list.fields {
        merged.fields.insert(k, v);
    }
    for fact in &listing.facts {
        *merged.facts.slot_mut(*fact) = list.facts.slot(*fact).clone();
    }
    if listing.has_status {
        merged.status = list.status;
        merged.source_status = list.source_status;
    }
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
    older_than(state, chrono::Duration::days(max_age_days))
}

/// A detail younger than this is not refreshed early: a run that resumes an interrupted one
/// fetches nothing twice.
const MIN_REFRESH_AGE: chrono::Duration = chrono::Duration::hours(1);

fn older_than(state: &PersonState, age: chrono::Duration) -> bool {
    let Some(at) = state.detail_fetched_at.as_deref() else {
        return true;
    };
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => chrono::Utc::now().signed_duration_since(t) > age,
        Err(_) => true,
    }
}

/// Fetches one person (for `--only` and events): one detail request. Only the fields in `keep`
/// are stored and returned.
pub async fn fetch_one(
    connector: &Connector,
    store: &Store,
    id: &str,
    keep: &FieldSet,
) -> Result<Sourced, SyncError> {
    let mut out = Sourced::default();
    match connector.get(id).await? {
        Ok(p) => {
            let p = retained(&p, keep);
            // Fresh as of the last list record seen: a full run refetches it only when the
            // list record changes (or it ages).
            let listed_as = store.list_hash(id)?;
            save(store, &p, listed_as.as_deref())?;
            out.fetched = 1;
            out.people.push(p);
        }
        Err(r) => out.rejected.push(quarantined(r)),
    }
    Ok(out)
}

/// What a listing leaves for the rest of the run: who was listed (status and list hash, a few
/// dozen bytes each), who needs a detail, most urgent first, and what was refused. The records
/// themselves went, a page at a time, to the caller of [`list_all`].
#[derive(Debug, Default)]
pub struct Listed {
    pub rejected: Vec<Quarantined>,
    /// Why the listing did not complete (`None` when it did).
    pub incomplete: Option<String>,
    /// People whose detail should be fetched, in priority order (see [`list_all`]).
    pub wanted: Vec<String>,
    /// How many of `wanted` are refreshes within the maximum age (see `refresh_while_budget`).
    refreshable: usize,
    /// What the list says of each person, by id.
    entries: HashMap<String, Entry>,
}

/// What a run keeps of a list record once it is handed on.
#[derive(Debug)]
struct Entry {
    status: Lifecycle,
    source_status: Box<str>,
    /// The list hash, stored with a detail fetched now.
    hash: Box<str>,
}

/// Details fetched for one batch.
#[derive(Debug, Default)]
pub struct Details {
    /// Fresh details (complete), only the kept fields.
    pub people: Vec<Person>,
    pub rejected: Vec<Quarantined>,
    /// Why fetching stopped early (rate limited), if it did.
    pub stopped: Option<String>,
}

/// Lists everyone (only the fields in `keep` are kept), handing each page's people to `page`
/// as it arrives — list records overlaid on cached details where there are some (`complete`
/// says which) — and ranks who needs a detail:
///
/// 0. people the store has no detail of (new people: their account may wait for it),
/// 1. pre-hires whose detail is not current (their start date decides when the account is due),
/// 2. people whose list record changed since their detail was fetched,
/// 3. details older than `sync.detail_max_age_days`, stalest first,
/// 4. every other detail older than an hour, stalest first — refreshed only while budget is
///    left (see [`Listed::refresh_while_budget`]): manager and date changes do not change the
///    list record.
///
/// A listing that cannot complete ends early with the reason in [`Listed::incomplete`]; refused
/// credentials and plugin failures are errors, and so is an error `page` returns.
pub async fn list_all(
    connector: &Connector,
    store: &Store,
    rules: &SyncRules,
    keep: &FieldSet,
    progress: &Progress,
    mut page_of: impl FnMut(Vec<Person>) -> Result<(), SyncError>,
) -> Result<Listed, SyncError> {
    let mut out = Listed::default();
    let states = store.person_states()?;
    let mut wanted: Vec<(u8, Option<String>, String)> = Vec::new();
    let mut listing = Listing::default();
    let mut cursor: Option<String> = None;
    let mut stopped: Option<String> = None;
    let bar = progress.bar("listing", None);
    loop {
        let number = listing.upcoming();
        let page = match connector.list(cursor.as_deref()).await {
            Ok(page) => page,
            Err(e @ (ConnectorError::Failed { auth: true, .. } | ConnectorError::Plugin(_))) => {
                return Err(e.into());
            }
            Err(e) => {
                stopped = Some(format!("page {number} failed: {e}"));
                break;
            }
        };
        if let Some(total) = page.total {
            bar.set_length(u64::from(total));
        }
        bar.inc((page.people.len() + page.rejected.len()) as u64);
        out.rejected
            .extend(page.rejected.into_iter().map(quarantined));
        let people: Vec<Person> = listing
            .page(page.people)
            .iter()
            .map(|p| retained(p, keep))
            .collect();
        page_of(out.take_page(people, &states, rules, store, keep, connector, &mut wanted)?)?;
        let Some(next) = page.next_cursor else { break };
        if let Err(reason) = listing.next(&next) {
            stopped = Some(reason);
            break;
        }
        cursor = Some(next);
    }
    bar.finish(&format!("listed {} people", out.entries.len()));
    out.incomplete = listing.incomplete(stopped);
    if let Some(why) = &out.incomplete {
        tracing::warn!(
            listed = out.entries.len(),
            "the listing is incomplete: {why}"
        );
    }
    wanted.sort();
    out.refreshable = wanted.iter().filter(|(r, _, _)| *r == 4).count();
    out.wanted = wanted.into_iter().map(|(_, _, id)| id).collect();
    Ok(out)
}

/// A person's cached detail, if the store has one: trimmed to the kept fields (details cached
/// before the configuration dropped a field are trimmed here too), and with the facts lifted
/// (a detail cached by hrsync 0.1 holds them as fields).
pub fn cached_detail(
    store: &Store,
    id: &str,
    keep: &FieldSet,
) -> Result<Option<Person>, SyncError> {
    Ok(store
        .detail(id)?
        .and_then(|d| serde_json::from_str::<Person>(&d).ok())
        .map(|d| retained(&d.lift_facts(), keep)))
}

impl Listed {
    /// Takes in one page of (new) list records: keeps what the run needs of each, stores the
    /// list hashes, ranks who needs a detail, and returns the records overlaid on the cached
    /// details.
    #[allow(clippy::too_many_arguments)]
    fn take_page(
        &mut self,
        people: Vec<Person>,
        states: &HashMap<String, PersonState>,
        rules: &SyncRules,
        store: &Store,
        keep: &FieldSet,
        connector: &Connector,
        wanted: &mut Vec<(u8, Option<String>, String)>,
    ) -> Result<Vec<Person>, SyncError> {
        let hashes: Vec<(String, String)> = people
            .iter()
            .map(|p| (p.id.clone(), list_hash(p, keep)))
            .collect();
        store.save_list_hashes(&hashes)?;
        let mut out = Vec::with_capacity(people.len());
        for (p, (id, hash)) in people.into_iter().zip(hashes) {
            let state = states.get(&id);
            let current = state.and_then(|s| s.detail_hash.as_deref()) == Some(hash.as_str());
            let fetched_at = state.and_then(|s| s.detail_fetched_at.clone());
            let rank = match state {
                None => Some(0),
                Some(s) if !s.has_detail => Some(0),
                Some(_) if p.status == Lifecycle::PreHire && !current => Some(1),
                Some(_) if !current => Some(2),
                Some(s) if is_stale(s, rules.detail_max_age_days) => Some(3),
                Some(s) if older_than(s, MIN_REFRESH_AGE) => Some(4),
                Some(_) => None,
            };
            if let Some(rank) = rank {
                wanted.push((rank, fetched_at, id.clone()));
            }
            let cached = match state {
                Some(s) if s.has_detail => cached_detail(store, &id, keep)?,
                _ => None,
            };
            let entry = Entry {
                status: p.status.clone(),
                source_status: p.source_status.as_str().into(),
                hash: hash.into_boxed_str(),
            };
            self.entries.insert(id, entry);
            out.push(match cached {
                Some(d) if current => d,
                Some(d) => merge(p, &d, connector.listing()),
                None => p,
            });
        }
        Ok(out)
    }

    /// Everyone listed, by id.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// How many of [`Listed::wanted`] (at its end) are refreshes of details younger than the
    /// maximum age: fetched only while the connector has budget left in its window (always,
    /// without an HR rate limit).
    pub fn refresh_while_budget(&self) -> usize {
        self.refreshable
    }

    /// The status the list gives a person (the HR system's word, then hrsync's), if listed.
    fn status(&self, id: &str) -> Option<(&Lifecycle, &str)> {
        self.entries
            .get(id)
            .map(|e| (&e.status, e.source_status.as_ref()))
    }

    /// The list hash of a person.
    fn hash(&self, id: &str) -> Option<&str> {
        self.entries.get(id).map(|e| e.hash.as_ref())
    }
}

/// Fetches the details of `ids` in order, storing each as it arrives (so an interrupted run
/// resumes without fetching it again). Stops early, with the reason, when the HR system rate
/// limits; refused credentials and plugin failures are errors.
pub async fn fetch_details(
    connector: &Connector,
    store: &Store,
    keep: &FieldSet,
    listed: &Listed,
    ids: &[String],
) -> Result<Details, SyncError> {
    let mut out = Details::default();
    for id in ids {
        match connector.get(id).await {
            Ok(Ok(detail)) => {
                let mut detail = retained(&detail, keep);
                // The list's status is the newer word on where the person stands (when the
                // connector's list has one).
                if connector.listing().has_status
                    && let Some((status, source_status)) = listed.status(id)
                {
                    detail.status = status.clone();
                    detail.source_status = source_status.to_string();
                }
                save(store, &detail, listed.hash(id))?;
                out.people.push(detail);
            }
            Ok(Err(r)) => out.rejected.push(quarantined(r)),
            Err(e @ (ConnectorError::Failed { auth: true, .. } | ConnectorError::Plugin(_))) => {
                return Err(e.into());
            }
            Err(ConnectorError::Failed {
                retry_after_ms: Some(ms),
                ..
            }) => {
                out.stopped = Some(format!("rate limited (retry in {ms} ms)"));
                break;
            }
            Err(e) => {
                tracing::warn!(person = %id, error = %e, "detail fetch failed; using the list data");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn person(id: &str) -> Person {
        Person {
            id: id.to_string(),
            status: Lifecycle::Active,
            source_status: "active".into(),
            facts: Default::default(),
            fields: Default::default(),
            raw: None,
            complete: false,
        }
    }

    fn ids(people: &[Person]) -> Vec<&str> {
        people.iter().map(|p| p.id.as_str()).collect()
    }

    #[test]
    fn a_complete_listing_has_no_reason() {
        let mut l = Listing::default();
        assert_eq!(ids(&l.page(vec![person("a"), person("b")])), ["a", "b"]);
        l.next("c2").unwrap();
        assert_eq!(l.upcoming(), 2);
        assert_eq!(ids(&l.page(vec![person("c")])), ["c"]);
        assert_eq!(l.incomplete(None), None);
    }

    #[test]
    fn a_repeated_cursor_stops_the_listing() {
        let mut l = Listing::default();
        l.page(vec![person("a")]);
        l.next("c2").unwrap();
        l.page(vec![person("b")]);
        l.next("c3").unwrap();
        l.page(vec![person("c")]);
        let e = l.next("c2").unwrap_err();
        assert!(e.contains("page 3") && e.contains("`c2`"), "{e}");
    }

    #[test]
    fn a_person_listed_twice_is_kept_once_and_makes_the_listing_incomplete() {
        let mut l = Listing::default();
        l.page(vec![person("a"), person("b")]);
        l.next("c2").unwrap();
        assert_eq!(
            ids(&l.page(vec![person("b"), person("c"), person("a")])),
            ["c"]
        );
        let why = l.incomplete(None).unwrap();
        assert!(why.contains("`b`") && why.contains("2 duplicate"), "{why}");
        let both = l.incomplete(Some("page 3 failed: 503".into())).unwrap();
        assert!(both.starts_with("page 3 failed: 503; person `b`"), "{both}");
    }

    #[test]
    fn a_page_of_people_all_listed_before_stops_the_listing() {
        let mut l = Listing::default();
        l.page(vec![person("a"), person("b")]);
        l.next("2").unwrap();
        // One new person among repeats: the listing goes on.
        l.page(vec![person("b"), person("c")]);
        l.next("3").unwrap();
        // An empty page is no repeat either.
        l.page(vec![]);
        l.next("4").unwrap();
        l.page(vec![person("a"), person("c")]);
        let e = l.next("5").unwrap_err();
        assert!(
            e.contains("page 4") && e.contains("repeating itself"),
            "{e}"
        );
    }

    #[test]
    fn the_page_cap_stops_the_listing() {
        let mut l = Listing::default();
        for i in 0..MAX_PAGES {
            l.page(Vec::new());
            if i + 1 < MAX_PAGES {
                l.next(&format!("c{i}")).unwrap();
            }
        }
        let e = l.next("one-more").unwrap_err();
        assert!(e.contains("more than 10000 pages"), "{e}");
    }

    #[test]
    fn the_hash_changes_when_the_kept_fields_do() {
        let p = person("a");
        assert_ne!(
            list_hash(&p, &FieldSet::engine()),
            list_hash(&p, &FieldSet::everything())
        );
    }
}
