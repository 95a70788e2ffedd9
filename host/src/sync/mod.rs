//! The sync engine: source → snapshot → plan → safety gate → apply, one code path for `plan`
//! (which stops before applying) and `sync`.

pub mod account;
pub mod apply;
pub mod order;
pub mod plan;
pub mod progress;
pub mod report;
pub mod rules;
pub mod scope;
pub mod snapshot;
pub mod source;
pub mod structure;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::config::{Config, DirectorySettings};
use crate::connector::{Connector, ConnectorError};
use crate::directory::{Directory, DirectoryConfig, DirectoryError, DirectoryPool};
use crate::mapping::{Mapper, MappingError};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{RunStatus, Store, StoreError};
use account::Account;
use apply::{Applied, ApplyContext};
use plan::{Op, PersonPlan, Plan, PlanInput};
use progress::Progress;
use scope::WriteScope;
use snapshot::Snapshot;
use structure::Structure;

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("{0}")]
    Interrupted(String),
    #[error("directory check before the run: {0}")]
    Preflight(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("run {run} is {status:?}, not held: there is nothing to approve or reject")]
    NotHeld { run: i64, status: RunStatus },
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Apply the plan (`sync`); otherwise only plan (`plan`).
    pub apply: bool,
    /// Only this person (one detail request instead of the full list).
    pub only: Option<String>,
    /// What started the run (`cli`, `cron:NAME`, `event:ID`).
    pub trigger: String,
    /// The current time (tests pin it); `None` is now.
    pub now: Option<DateTime<Utc>>,
}

/// What a run did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: i64,
    pub status: RunStatus,
    pub plan: Plan,
    /// People whose destructive changes wait for `approve`.
    pub held: Vec<String>,
    pub operations_applied: usize,
    pub failed: Vec<plan::Quarantined>,
    /// What was left for a later run, and why.
    #[serde(default)]
    pub notes: Vec<String>,
    /// For an approval: how the re-planned changes differ from the held ones.
    #[serde(default)]
    pub changed_since_held: Vec<String>,
    pub details_fetched: usize,
    pub details_deferred: usize,
}

/// Clauses per LDAP filter when a run reads only what concerns a few people.
const FILTER_CLAUSES: usize = 400;

/// Details fetched and planned per batch during enrichment.
const DETAIL_BATCH: usize = 25;

/// What a run has done so far, phase after phase.
struct RunState {
    id: i64,
    today: NaiveDate,
    plan: Plan,
    held: Vec<PersonPlan>,
    operations: usize,
    failed: Vec<plan::Quarantined>,
    notes: Vec<String>,
    destructive: usize,
    /// Accounts managed at the start (the safety gate's share is of these).
    managed: Option<usize>,
    /// The gate tripped: every later destructive change is held too.
    hold: bool,
    fetched: usize,
    deferred: usize,
    /// Names and DNs of the creates planned so far (for later batches of the run).
    names: plan::RunNames,
    /// Ids of the people planned so far.
    planned: HashSet<String>,
    /// Ids of the people whose account the run creates.
    created: HashSet<String>,
    /// People whose manager link waits for the manager's account: person → manager.
    manager_waits: HashMap<String, String>,
    /// Shared by the applies of the listing's parts (see [`apply::Outcomes`]).
    outcomes: Option<Arc<std::sync::Mutex<apply::Outcomes>>>,
}

/// People's plans a run's report keeps in memory; every plan with something to do or say is
/// stored with the run (quiet ones, see [`PersonPlan::is_quiet`], are only counted).
pub const REPORT_PEOPLE: usize = 1000;

/// Runs whose people's plans the store keeps.
const RUNS_WITH_PEOPLE: usize = 20;

impl RunState {
    /// Adds people's plans to the run: tracked by id, and those with something to do or say
    /// stored with the run and kept in the report while it has room.
    fn keep(&mut self, store: &Store, people: Vec<PersonPlan>) -> Result<(), SyncError> {
        for p in &people {
            if p.ops.iter().any(|o| matches!(o, plan::Op::Create { .. })) {
                self.created.insert(p.person_id.clone());
            }
            match &p.manager_pending {
                Some(m) => self.manager_waits.insert(p.person_id.clone(), m.clone()),
                None => self.manager_waits.remove(&p.person_id),
            };
        }
        // Quiet people are counted (`unchanged`), not stored: a daily run of 100,000 would
        // store 100,000 empty plans, twenty runs over.
        let told: Vec<PersonPlan> = people.into_iter().filter(|p| !p.is_quiet()).collect();
        let rows: Vec<(&str, &PersonPlan)> =
            told.iter().map(|p| (p.person_id.as_str(), p)).collect();
        store.save_run_people(self.id, &rows)?;
        let room = REPORT_PEOPLE.saturating_sub(self.plan.people.len());
        let total = told.len();
        self.plan.people.extend(told.into_iter().take(room));
        self.plan.more += total.saturating_sub(room);
        Ok(())
    }

    /// Keeps the plans of quiet people (nothing to do, nothing to say) as soon as a listing's
    /// part plans them, instead of holding them to the safety gate with the rest: released
    /// from quarantine and tracked by id. Most of a daily run is quiet.
    fn keep_quiet(&mut self, store: &Store, people: Vec<PersonPlan>) -> Result<(), SyncError> {
        for p in &people {
            store.release(&p.person_id)?;
        }
        self.planned
            .extend(people.iter().map(|p| p.person_id.clone()));
        self.keep(store, people)
    }
}

impl RunState {
    fn new(id: i64, today: NaiveDate, realm: &str, unique: &[&str]) -> RunState {
        RunState {
            id,
            today,
            names: plan::RunNames::new(realm, unique),
            planned: HashSet::new(),
            created: HashSet::new(),
            manager_waits: HashMap::new(),
            outcomes: None,
            plan: Plan {
                today: today.to_string(),
                ..Plan::default()
            },
            held: Vec::new(),
            operations: 0,
            failed: Vec::new(),
            notes: Vec::new(),
            destructive: 0,
            managed: None,
            hold: false,
            fetched: 0,
            deferred: 0,
        }
    }
}

/// What a plan reads of the directory.
#[derive(Clone, Copy)]
enum Reading<'a> {
    /// Everything: the users under `base_dn` and every name in the uniqueness base (a full
    /// run's first read).
    All,
    /// What concerns these people: their accounts by GUID, the rest by one search (an event,
    /// `--only`).
    People(&'a [crate::mapping::Person]),
    /// These people's accounts by GUID, over the run's first read (see [`Snapshot::over`]):
    /// no search. `created` are the people whose account this run created (`None` for a dry
    /// run, which creates nothing); should one of them not be found by GUID, the batch
    /// searches instead (a create is never planned twice).
    Over {
        people: &'a [crate::mapping::Person],
        base: &'a Arc<Snapshot>,
        created: Option<&'a HashSet<String>>,
    },
}

impl<'a> Reading<'a> {
    fn people(&self) -> Option<&'a [crate::mapping::Person]> {
        match *self {
            Reading::All => None,
            Reading::People(p) | Reading::Over { people: p, .. } => Some(p),
        }
    }
}

/// Keeps the people of `plan` whose manager link waits for the manager's account (only
/// they are planned again at the end of the run; everyone else's record is dropped).
fn keep_waiting_for_manager(
    plan: &Plan,
    people: Vec<crate::mapping::Person>,
    kept: &mut HashMap<String, crate::mapping::Person>,
) {
    let waiting: HashSet<&str> = plan
        .people
        .iter()
        .filter(|p| p.manager_pending.is_some())
        .map(|p| p.person_id.as_str())
        .collect();
    for p in people
        .into_iter()
        .filter(|p| waiting.contains(p.id.as_str()))
    {
        kept.insert(p.id.clone(), p);
    }
}

/// Listed people who wait for their detail, with why (one shared text per reason).
#[derive(Debug, Default)]
struct Waiting {
    ids: Vec<String>,
    why: Vec<Arc<str>>,
    /// Each reason once (there are a handful).
    reasons: HashSet<Arc<str>>,
}

impl Waiting {
    fn push(&mut self, id: String, why: String) {
        let why = match self.reasons.get(why.as_str()) {
            Some(same) => Arc::clone(same),
            None => {
                let new: Arc<str> = Arc::from(why);
                self.reasons.insert(Arc::clone(&new));
                new
            }
        };
        self.ids.push(id);
        self.why.push(why);
    }

    /// The waiting people not in `planned`, with why.
    fn unplanned<'a>(
        &'a self,
        planned: &'a HashSet<String>,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.ids
            .iter()
            .zip(&self.why)
            .filter(|(id, _)| !planned.contains(id.as_str()))
            .map(|(id, why)| (id.as_str(), why.as_ref()))
    }
}

/// Ready people planned per this many, as the listing's pages arrive.
const LISTING_PART: usize = 1000;

/// What earlier parts of a plan hold: names and DNs of their creates, and where the people
/// they create or move will be (see `plan::PlanInput::placed`).
#[derive(Clone, Copy)]
struct Parts<'a> {
    names: &'a plan::RunNames,
    placed: &'a HashMap<String, String>,
}

/// Where a listing's planned people go, a part at a time (see [`Engine::hold_part`]).
enum Keeping<'r> {
    /// To the run: the quiet ones kept at once, the others held in the store until the whole
    /// listing is judged.
    Run(&'r mut RunState),
    /// Into the listing's plan, only these people (approval compares held people's plans
    /// with fresh ones).
    Only(&'r HashSet<String>),
}

/// The listing's plan as it is made, a part at a time.
struct ListingParts<'r> {
    /// Where the parts' people go as they are planned.
    keeping: Keeping<'r>,
    /// The plans held in the store so far.
    pending: Pending,
    /// Listed people ready to plan, not planned yet.
    ready: Vec<crate::mapping::Person>,
    waiting: Waiting,
    plan: Plan,
    names: plan::RunNames,
    placed: HashMap<String, String>,
    /// Whether people whose manager link waits are kept (for the run's follow-up).
    follow_up: bool,
    manager_waits: HashMap<String, crate::mapping::Person>,
}

/// Plans of a listing's people held in the store until the listing is whole.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    people: usize,
    /// Parts saved (numbered from 1 in planning order).
    parts: u64,
}

/// The plan of a listing's people (see [`Engine::plan_listing`]).
struct ListingPlan {
    /// The listing's counts and quarantine, and the people not held in the store.
    plan: Plan,
    /// The people held in the store (`Store::take_pending`).
    pending: Pending,
    waiting: Waiting,
    /// The run's first read of the directory, which later batches read over.
    base: Arc<Snapshot>,
    /// People planned from their list record whose manager link waits, by id.
    manager_waits: HashMap<String, crate::mapping::Person>,
}

/// How re-planned people differ from their held plans, a line each.
fn held_changes(held: &[PersonPlan], fresh: &[PersonPlan]) -> Vec<String> {
    let by_id: HashMap<&str, &PersonPlan> =
        fresh.iter().map(|p| (p.person_id.as_str(), p)).collect();
    let mut out = Vec::new();
    for h in held {
        match by_id.get(h.person_id.as_str()) {
            None => out.push(format!(
                "{} ({}): no longer planned (out of scope, quarantined or gone); nothing is applied",
                h.name, h.person_id
            )),
            Some(f) if f.ops != h.ops => out.push(format!(
                "{} ({}): the plan changed since it was held: {} operations then, {} now",
                h.name,
                h.person_id,
                h.ops.len(),
                f.ops.len()
            )),
            Some(_) => {}
        }
    }
    out
}

/// The plans held by the safety gate, as stored with the run.
#[derive(Debug, Serialize, Deserialize)]
struct HeldPlans {
    today: String,
    people: Vec<PersonPlan>,
}

/// Everything a run needs, opened once.
pub struct Engine {
    config: Config,
    directory: DirectorySettings,
    store: Arc<Store>,
    connector: Connector,
    mapper: Mapper,
    structure: Structure,
    tz: chrono_tz::Tz,
    /// The HR fields some rule uses: the only ones kept and stored.
    keep: source::FieldSet,
    /// Bound directory connections, kept between uses.
    pool: Arc<DirectoryPool>,
    /// HR fields the write-once rules use (a list record without them waits for its detail).
    create_fields: Vec<String>,
    /// When the directory's preflight last passed: runs for one person (events) within
    /// [`PREFLIGHT_FRESH`] of it skip it.
    preflight_passed: std::sync::Mutex<Option<std::time::Instant>>,
    /// The schema's length limits, read at most every [`LIMITS_FRESH`].
    limits: std::sync::Mutex<Option<(std::time::Instant, HashMap<String, usize>)>>,
    /// Ready people of the listing planned (and later settled) per this many.
    listing_part: usize,
}

/// How long a passed preflight holds for runs about one person (a full run always checks).
const PREFLIGHT_FRESH: std::time::Duration = std::time::Duration::from_secs(60);
/// How long the schema's length limits are kept before they are read again.
const LIMITS_FRESH: std::time::Duration = std::time::Duration::from_secs(600);

/// Candidates searched one by one; the rest of a long list (numbered fallbacks such as
/// `ada.lovelace2` … `ada.lovelace99`) by their common prefix.
const EXACT_CANDIDATES: usize = 3;

/// The filter clauses that find every object holding one of `candidates`: the first few
/// exactly, the rest by one prefix (`(sAMAccountName=ada.lovelace*)`), which matches more than
/// the candidates and so only ever marks more values taken, never fewer.
fn candidate_clauses(attribute: &str, candidates: &[String], realm: &str) -> Vec<String> {
    let (head, tail) = candidates.split_at(candidates.len().min(EXACT_CANDIDATES));
    let mut out: Vec<String> = head
        .iter()
        .flat_map(|c| namespace_clauses(attribute, c, realm))
        .collect();
    let prefix = common_prefix(tail);
    if tail.len() > 1 && prefix.chars().count() >= 3 {
        out.extend(prefix_clauses(attribute, &prefix));
    } else {
        out.extend(
            tail.iter()
                .flat_map(|c| namespace_clauses(attribute, c, realm)),
        );
    }
    out
}

/// The longest prefix every string shares (by characters).
fn common_prefix(values: &[String]) -> String {
    let Some(first) = values.first() else {
        return String::new();
    };
    let mut end = first.len();
    for v in &values[1..] {
        end = first
            .char_indices()
            .zip(v.chars())
            .take_while(|((_, a), b)| a.eq_ignore_ascii_case(b))
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(end);
    }
    first[..end].to_string()
}

/// Prefix clauses in the attribute's namespace (a logon name prefix also finds UPNs that
/// start with it, a mail prefix the `smtp:` proxy addresses).
fn prefix_clauses(attribute: &str, prefix: &str) -> Vec<String> {
    use crate::directory::escape::escape_filter_value as esc;
    let p = esc(prefix);
    let mut out = vec![format!("({attribute}={p}*)")];
    match attribute.to_ascii_lowercase().as_str() {
        "samaccountname" => out.push(format!("(userPrincipalName={p}*)")),
        "userprincipalname" => out.push(format!("(sAMAccountName={p}*)")),
        "mail" => out.push(format!("(proxyAddresses=smtp:{p}*)")),
        _ => {}
    }
    out
}

/// The LDAP filter clauses of the objects that hold `value` of `attribute` in AD's shared
/// namespaces: a sAMAccountName and the UPN `name@realm`, a mail and its `smtp:` proxy address.
fn namespace_clauses(attribute: &str, value: &str, realm: &str) -> Vec<String> {
    use crate::directory::escape::escape_filter_value as esc;
    let mut out = vec![format!("({attribute}={})", esc(value))];
    match attribute.to_ascii_lowercase().as_str() {
        "samaccountname" if !realm.is_empty() => {
            out.push(format!("(userPrincipalName={}@{})", esc(value), esc(realm)));
        }
        "userprincipalname" => {
            if let Some((prefix, _)) = value.rsplit_once('@') {
                out.push(format!("(sAMAccountName={})", esc(prefix)));
            }
        }
        "mail" => out.push(format!("(proxyAddresses=smtp:{})", esc(value))),
        _ => {}
    }
    out
}

/// The HR fields the write-once rules use: `apply = "on-create"` attributes and `sync.cn`.
fn create_fields(config: &Config) -> Vec<String> {
    let mut templates: Vec<&str> = config.sync.cn.iter().map(String::as_str).collect();
    for rule in config.mapping.attributes.values() {
        if rule.apply == crate::mapping::Apply::OnCreate {
            templates.extend(rule.template.as_deref());
            templates.extend(rule.unique.iter().flatten().map(String::as_str));
        }
    }
    let env = minijinja::Environment::new();
    let mut fields: Vec<String> = templates
        .iter()
        .filter_map(|t| env.template_from_str(t).ok())
        .flat_map(|t| t.undeclared_variables(false))
        .filter(|v| {
            !matches!(
                v.as_str(),
                "id" | "status" | "source_status" | "raw" | "person" | "n"
            )
        })
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

/// The store's request log as the connector's company-wide rate window.
struct StoreWindow {
    store: Arc<Store>,
    connector: String,
}

impl std::fmt::Debug for StoreWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWindow")
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl crate::http::SharedWindow for StoreWindow {
    fn claim(&self, budget: crate::http::Budget) -> Result<Option<std::time::Duration>, String> {
        // A request reaches the server a little after it is claimed: a margin keeps two
        // claims a window apart from landing in one server window.
        let margin = (budget.window / 20).max(std::time::Duration::from_millis(150));
        self.store
            .claim_request(&self.connector, budget.requests, budget.window + margin)
            .map_err(|e| e.to_string())
    }
}

/// The `DirectoryConfig` of the directory settings.
pub fn directory_config(d: &DirectorySettings) -> DirectoryConfig {
    let mut c = DirectoryConfig::new(d.url.clone(), d.bind_dn.clone(), d.bind_password.clone())
        .with_starttls(d.starttls)
        .with_timeout(d.timeout)
        .with_page_size(d.page_size);
    if let Some(ca) = &d.ca_file {
        c = c.with_ca_file(ca.clone());
    }
    c
}

impl Engine {
    /// Opens the store, loads the connector's plugin, compiles the templates.
    pub fn open(config: Config, runtime: &Runtime) -> Result<Engine, SyncError> {
        let directory = config.directory.clone().ok_or_else(|| {
            SyncError::Config(format!(
                "{}: there is no [directory] section",
                config.path.display()
            ))
        })?;
        let connector_settings = config
            .connector(&config.sync.connector)
            .map_err(|e| SyncError::Config(e.to_string()))?;
        let connector = Connector::open(connector_settings, runtime)?;
        if config.sync.removed_termination_dates_action.is_some() {
            tracing::warn!(
                "sync.termination_dates_action {}",
                rules::TERMINATION_DATES_ACTION_REMOVED
            );
        }
        let mapper = Mapper::new(&config.mapping)?;
        let structure = Structure::new(&config.sync, &directory.users_ou)?;
        let tz: chrono_tz::Tz = config.sync.time_zone.parse().map_err(|_| {
            SyncError::Config(format!(
                "sync.time_zone `{}` is not a time zone name (e.g. Europe/Berlin)",
                config.sync.time_zone
            ))
        })?;
        let store = Arc::new(Store::open(&config.store_path)?);
        // One budget per company: every hrsync process on this store counts against it.
        connector.share_budget(Arc::new(StoreWindow {
            store: store.clone(),
            connector: connector.name().to_string(),
        }));
        let keep = source::used_fields(&config);
        let pool = DirectoryPool::new(directory_config(&directory), directory.concurrency + 1);
        let create_fields = create_fields(&config);
        Ok(Engine {
            keep,
            pool,
            create_fields,
            preflight_passed: std::sync::Mutex::new(None),
            limits: std::sync::Mutex::new(None),
            listing_part: LISTING_PART,
            config,
            directory,
            store,
            connector,
            mapper,
            structure,
            tz,
        })
    }

    /// A runtime for the engine, with the configured compilation cache.
    pub fn runtime(config: &Config) -> Result<Runtime, SyncError> {
        Runtime::new(&RuntimeConfig {
            cache_dir: Some(config.cache_dir.clone()),
        })
        .map_err(|e| SyncError::Config(format!("cannot start the plugin runtime: {e:#}")))
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The connector.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn today(&self, now: Option<DateTime<Utc>>) -> NaiveDate {
        plan::today_in(self.tz, now.unwrap_or_else(Utc::now))
    }

    /// An LDAP filter that finds what a plan for just these people needs: their accounts (by
    /// anchor and secondary matches), their managers' accounts, and any object holding one of
    /// their unique-name candidates (in AD's shared namespaces) or CN candidates.
    ///
    /// People in `found` (accounts already read by GUID) are not searched by anchor: the anchor
    /// is not indexed, and an equality search on it scans every user. Nor are their secondary
    /// matches or name candidates, unless a unique value of theirs is to change: a webhook event
    /// for a known account then reads the directory by GUID alone, with no search.
    fn focus_filter(
        &self,
        people: &[crate::mapping::Person],
        realm: &str,
        found: &HashMap<String, Account>,
    ) -> Vec<String> {
        use crate::directory::escape::escape_filter_value as esc;
        let rules = &self.config.sync;
        let mut clauses: Vec<String> = Vec::new();
        for p in people {
            let ids = std::iter::once(p.id.as_str()).chain(p.text("manager_employment_id"));
            for id in ids.filter(|id| !found.contains_key(*id)) {
                clauses.push(format!("({}={})", rules.anchor, esc(id)));
            }
            if found.get(&p.id).is_some_and(|a| self.keeps_names(p, a)) {
                // The account is known and its names stay: nothing about it to search for.
                continue;
            }
            for m in &rules.matches {
                if let Some(v) = p.text(&m.person).filter(|v| !v.trim().is_empty()) {
                    clauses.push(format!("({}={})", m.directory, esc(v)));
                }
            }
            if let Ok(mapped) = self.mapper.map(p, None) {
                for u in &mapped.unique {
                    clauses.extend(candidate_clauses(&u.attribute, &u.candidates, realm));
                }
            }
            if let Ok(st) = self.structure.evaluate(p) {
                for cn in &st.cn_candidates {
                    clauses.push(format!("(cn={})", esc(cn)));
                }
            }
        }
        // AD and Samba refuse (or drop the connection on) very large filters: a batch of people
        // with many numbered candidates is searched in slices.
        clauses.sort();
        clauses.dedup();
        clauses
            .chunks(FILTER_CLAUSES)
            .map(|c| format!("(|{})", c.concat()))
            .collect()
    }

    /// The attributes whose mapping rule asks for a unique value.
    fn unique_attributes(&self) -> Vec<&str> {
        self.config
            .mapping
            .attributes
            .iter()
            .filter(|(_, r)| r.unique.is_some())
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Whether the plan keeps every unique value of this person's account as it is (the same
    /// test `plan::update` makes), so no taken names need reading for them.
    fn keeps_names(&self, p: &crate::mapping::Person, account: &Account) -> bool {
        let existing = account.to_existing();
        self.mapper.map(p, Some(&existing)).is_ok_and(|mapped| {
            mapped.unique.iter().all(|u| {
                account
                    .first(&u.attribute)
                    .is_some_and(|o| u.candidates.iter().any(|c| c.eq_ignore_ascii_case(o)))
            })
        })
    }

    async fn snapshot(
        &self,
        dir: &mut Directory,
        reading: Reading<'_>,
    ) -> Result<Snapshot, SyncError> {
        let focus = reading.people();
        let rules = &self.config.sync;
        let realm = snapshot::realm_of(&self.directory.uniqueness_base_dn);
        let mut attrs: Vec<String> = vec![
            rules.anchor.clone(),
            "objectGUID".into(),
            "cn".into(),
            "userAccountControl".into(),
            "memberOf".into(),
            "manager".into(),
            "adminCount".into(),
            "isCriticalSystemObject".into(),
            "pwdLastSet".into(),
        ];
        attrs.extend(snapshot::NAMESPACE_ATTRIBUTES.iter().map(|a| a.to_string()));
        attrs.extend(rules.matches.iter().map(|m| m.directory.clone()));
        attrs.extend(self.mapper.attributes().map(str::to_string));
        let mut seen = HashSet::new();
        attrs.retain(|a| seen.insert(a.to_ascii_lowercase()));
        let attr_refs: Vec<&str> = attrs.iter().map(String::as_str).collect();
        let unique_refs = self.unique_attributes();
        let mut taken_attrs: Vec<&str> = snapshot::NAMESPACE_ATTRIBUTES.to_vec();
        taken_attrs.extend(unique_refs.iter().copied());
        // A run for a few people (an event, `--only`) reads only what concerns them: their
        // accounts (and their managers') by GUID where known, the rest by one search.
        if let Reading::Over {
            people,
            base,
            created,
        } = reading
            && let Some(s) = self
                .snapshot_over(dir, people, base, created, &attr_refs, &unique_refs, &realm)
                .await?
        {
            return Ok(s);
        }
        let users = "(&(objectCategory=person)(objectClass=user))";
        let mut by_guid: Vec<crate::directory::DirEntry> = Vec::new();
        let (filters, taken_filters): (Vec<String>, Vec<String>) = match focus {
            Some(people) if !people.is_empty() => {
                by_guid = self.accounts_by_guid(dir, people, &attr_refs).await?;
                let found: HashMap<String, Account> = by_guid
                    .iter()
                    .filter_map(|e| {
                        Some((e.first(&rules.anchor)?.to_string(), Account::from_entry(e)))
                    })
                    .collect();
                let slices = self.focus_filter(people, &realm, &found);
                (
                    slices.iter().map(|f| format!("(&{users}{f})")).collect(),
                    slices,
                )
            }
            _ => {
                let any: String = taken_attrs.iter().map(|a| format!("({a}=*)")).collect();
                (vec![users.to_string()], vec![format!("(|{any})")])
            }
        };
        let match_attrs: Vec<&str> = rules.matches.iter().map(|m| m.directory.as_str()).collect();
        let mut snapshot = Snapshot::empty(&rules.anchor, &match_attrs, &unique_refs, &realm);
        // Each entry becomes an account as it arrives: the read holds one page of raw entries.
        for filter in &filters {
            dir.search_each(&self.directory.base_dn, filter, &attr_refs, |e| {
                snapshot.push(Account::from_entry(&e));
            })
            .await?;
        }
        for e in &by_guid {
            snapshot.push(Account::from_entry(e));
        }
        drop(by_guid);
        // Names must be unique in the whole uniqueness base, against every object that holds
        // one (users elsewhere, groups, computers, contacts), not only the managed accounts.
        for filter in &taken_filters {
            dir.search_each(
                &self.directory.uniqueness_base_dn,
                filter,
                &taken_attrs,
                |e| snapshot.add_taken(&e),
            )
            .await?;
        }
        let mut limit_attrs: Vec<&str> = attr_refs.clone();
        limit_attrs.push("cn");
        snapshot.limits = self.attribute_limits(dir, &limit_attrs).await?;
        self.remember_accounts(&snapshot.accounts)?;
        Ok(snapshot)
    }

    /// A batch's read over the run's first one: the people's (and managers') accounts by
    /// GUID, fresh; accounts the first read found by anchor or secondary match for the rest.
    /// `None` when a person whose account this run created is not found by GUID (the caller
    /// then searches).
    #[allow(clippy::too_many_arguments)]
    async fn snapshot_over(
        &self,
        dir: &mut Directory,
        people: &[crate::mapping::Person],
        base: &Arc<Snapshot>,
        created: Option<&HashSet<String>>,
        attrs: &[&str],
        unique: &[&str],
        realm: &str,
    ) -> Result<Option<Snapshot>, SyncError> {
        let rules = &self.config.sync;
        let by_guid = self.accounts_by_guid(dir, people, attrs).await?;
        let mut accounts: Vec<Account> = by_guid.iter().map(Account::from_entry).collect();
        let found: HashSet<String> = accounts
            .iter()
            .filter_map(|a| a.first(&rules.anchor).map(str::to_string))
            .collect();
        let mut dns: HashSet<String> = accounts.iter().map(|a| a.dn.to_lowercase()).collect();
        let mut from_base = |a: &Account, accounts: &mut Vec<Account>| {
            if dns.insert(a.dn.to_lowercase()) {
                accounts.push(a.clone());
            }
        };
        for p in people {
            let ids = std::iter::once(p.id.as_str()).chain(p.text("manager_employment_id"));
            for id in ids.filter(|id| !found.contains(*id)) {
                if created.is_some_and(|c| c.contains(id)) {
                    tracing::debug!(
                        person = id,
                        "created in this run but not found by GUID: searching"
                    );
                    return Ok(None);
                }
                for a in base.by_anchor(id) {
                    from_base(a, &mut accounts);
                }
            }
            if found.contains(&p.id) {
                continue;
            }
            for m in &rules.matches {
                if let Some(v) = p.text(&m.person).filter(|v| !v.trim().is_empty()) {
                    for a in base.by_value(&m.directory, v) {
                        from_base(a, &mut accounts);
                    }
                }
            }
        }
        self.remember_accounts(&accounts)?;
        let match_attrs: Vec<&str> = rules.matches.iter().map(|m| m.directory.as_str()).collect();
        let snapshot = Snapshot::new(accounts, &rules.anchor, &match_attrs, unique, realm);
        Ok(Some(snapshot.over(base.clone())))
    }

    /// The schema's length limits of `attrs`, from the cache while it is fresh (the attributes
    /// come from the configuration, which does not change while the engine runs).
    async fn attribute_limits(
        &self,
        dir: &mut Directory,
        attrs: &[&str],
    ) -> Result<HashMap<String, usize>, SyncError> {
        if let Ok(cache) = self.limits.lock()
            && let Some((at, limits)) = cache.as_ref()
            && at.elapsed() < LIMITS_FRESH
        {
            return Ok(limits.clone());
        }
        let limits = dir.attribute_limits(attrs).await?;
        if let Ok(mut cache) = self.limits.lock() {
            *cache = Some((std::time::Instant::now(), limits.clone()));
        }
        Ok(limits)
    }

    /// The accounts of these people (and their managers) whose GUID the store knows, each by one
    /// base read of `<GUID=…>` — certain after moves and renames. An account that is gone, or
    /// no longer carries the person's anchor, is left to the anchor search.
    async fn accounts_by_guid(
        &self,
        dir: &mut Directory,
        people: &[crate::mapping::Person],
        attrs: &[&str],
    ) -> Result<Vec<crate::directory::DirEntry>, SyncError> {
        let anchor = &self.config.sync.anchor;
        let ids: HashSet<&str> = people
            .iter()
            .flat_map(|p| std::iter::once(p.id.as_str()).chain(p.text("manager_employment_id")))
            .collect();
        let mut out = Vec::new();
        for id in ids {
            let Some((guid, _)) = self.store.account(id)? else {
                continue;
            };
            match dir.get(&format!("<GUID={guid}>"), attrs).await {
                Ok(Some(e)) if e.first(anchor) == Some(id) => out.push(e),
                Ok(_) => {
                    tracing::debug!(person = id, "the stored GUID no longer finds the account")
                }
                Err(e) => {
                    tracing::debug!(person = id, error = %e, "reading by GUID failed; searching by anchor")
                }
            }
        }
        Ok(out)
    }

    /// Stores where anchored accounts are (GUID and DN), for later one-read lookups.
    fn remember_accounts(&self, accounts: &[Account]) -> Result<(), SyncError> {
        let anchor = &self.config.sync.anchor;
        self.store.save_accounts(
            accounts
                .iter()
                .filter_map(|a| Some((a.first(anchor)?, a.guid()?, a.dn.as_str()))),
        )?;
        Ok(())
    }

    /// Checks the directory before a single HR request is spent: the bind, `base_dn`, the
    /// uniqueness base, the parents of `users_ou` and `disabled_ou`, and the managed groups.
    async fn preflight(&self, one_person: bool) -> Result<(), SyncError> {
        let fresh = self
            .preflight_passed
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < PREFLIGHT_FRESH);
        if one_person && fresh {
            return Ok(());
        }
        self.check_directory().await?;
        if let Ok(mut at) = self.preflight_passed.lock() {
            *at = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// The directory's entries the configuration names must exist before any HR request.
    async fn check_directory(&self) -> Result<(), SyncError> {
        let d = &self.directory;
        let mut dir = self.pool.get().await?;
        let mut must_exist: Vec<(String, String)> = vec![
            ("directory.base_dn".into(), d.base_dn.clone()),
            (
                "directory.uniqueness_base_dn".into(),
                d.uniqueness_base_dn.clone(),
            ),
        ];
        for (key, ou) in [
            ("directory.users_ou", Some(&d.users_ou)),
            ("directory.disabled_ou", d.disabled_ou.as_ref()),
        ] {
            if let Some(parent) = ou.and_then(|o| crate::directory::escape::parent_dn(o)) {
                must_exist.push((format!("the parent of {key}"), parent.to_string()));
            }
        }
        for (i, g) in self.config.sync.groups.iter().enumerate() {
            must_exist.push((format!("sync.groups[{i}].dn"), g.dn.clone()));
        }
        let mut missing = Vec::new();
        for (key, dn) in must_exist {
            if dir.get(&dn, &["1.1"]).await?.is_none() {
                missing.push(format!("{key} ({dn})"));
            }
        }
        if !missing.is_empty() {
            return Err(SyncError::Preflight(format!(
                "the directory has no entry at {}: fix the configuration or create them; nothing was read from HR",
                missing.join(", ")
            )));
        }
        Ok(())
    }

    /// Plans, and with `apply`, applies — holding destructive changes and adoptions past the
    /// safety gate.
    pub async fn run(
        &self,
        opts: &RunOptions,
        progress: &Progress,
    ) -> Result<RunReport, SyncError> {
        let trigger = if opts.trigger.is_empty() {
            "cli"
        } else {
            &opts.trigger
        };
        let run_id = self.store.begin_run(trigger)?;
        self.store.prune_run_people(RUNS_WITH_PEOPLE)?;
        let span = tracing::info_span!("run", id = run_id, trigger);
        let result = self
            .run_inner(run_id, opts, progress)
            .instrument(span)
            .await;
        // Plans still held in the store when the run stopped early: the next run plans
        // those people afresh.
        if let Err(e) = self.store.clear_pending(run_id) {
            tracing::warn!(error = %e, "the run's held plans cannot be dropped; the next runs prune them");
        }
        match result {
            Ok(report) => Ok(report),
            Err(e) => {
                if let Err(store) =
                    self.store
                        .set_run_status(run_id, RunStatus::Failed, Some(&e.to_string()))
                {
                    tracing::error!(error = %store, "the failed run cannot be recorded");
                }
                Err(e)
            }
        }
    }

    /// Plans (and settles) a listing's ready people per `n` instead of 1,000: lets a test put a
    /// small company's listing in several parts.
    #[doc(hidden)]
    pub fn set_listing_part(&mut self, n: usize) {
        self.listing_part = n.max(1);
    }

    /// Where hrsync may write.
    pub fn write_scope(&self) -> WriteScope {
        WriteScope::new(&self.directory.managed_ous)
    }

    /// Reads the directory (see [`Reading`]), on a new connection should the pooled one be
    /// lost.
    async fn read(&self, reading: Reading<'_>) -> Result<Snapshot, SyncError> {
        let mut dir = self.pool.get().await?;
        match self.snapshot(&mut dir, reading).await {
            Err(SyncError::Directory(e)) if e.is_connection_error() => {
                tracing::warn!(error = %e, "the directory connection was lost; reading again on a new one");
                dir.mark_broken();
                dir.reconnect().await?;
                self.snapshot(&mut dir, reading).await
            }
            other => other,
        }
    }

    /// Reads the directory (see [`Reading`]) and plans `people`.
    #[allow(clippy::too_many_arguments)]
    async fn plan_for(
        &self,
        people: &[crate::mapping::Person],
        rejected: &[plan::Quarantined],
        reading: Reading<'_>,
        incomplete: Option<&str>,
        pending: &[String],
        today: NaiveDate,
        earlier: &plan::RunNames,
    ) -> Result<Plan, SyncError> {
        let snapshot = self.read(reading).await?;
        let parts = Parts {
            names: earlier,
            placed: &HashMap::new(),
        };
        self.plan_with(
            people, rejected, &snapshot, incomplete, pending, today, parts,
        )
    }

    /// Plans `people` against a read of the directory.
    #[allow(clippy::too_many_arguments)]
    fn plan_with(
        &self,
        people: &[crate::mapping::Person],
        rejected: &[plan::Quarantined],
        snapshot: &Snapshot,
        incomplete: Option<&str>,
        pending: &[String],
        today: NaiveDate,
        earlier: Parts<'_>,
    ) -> Result<Plan, SyncError> {
        let disabled_on: HashMap<String, NaiveDate> = self
            .store
            .disabled_dates()?
            .into_iter()
            .filter_map(|(id, day)| Some((id, day.parse().ok()?)))
            .collect();
        let scope = self.write_scope();
        Ok(plan::plan(&PlanInput {
            reserved: earlier.names,
            placed: earlier.placed,
            people,
            rejected,
            snapshot,
            rules: &self.config.sync,
            mapper: &self.mapper,
            structure: &self.structure,
            disabled_ou: self.directory.disabled_ou.as_deref(),
            scope: &scope,
            today,
            disabled_on: &disabled_on,
            incomplete,
            pending,
        }))
    }

    /// Why a listed person cannot be planned before their detail arrives, if they cannot: a
    /// pre-hire (the start date decides when the account is due), or a person whose write-once
    /// rules (`apply = "on-create"` attributes, `sync.cn`) use a field the list record lacks.
    /// Rules applied always start from the list data and are corrected by the detail.
    fn waits_for_detail(&self, p: &crate::mapping::Person) -> Option<String> {
        if p.complete {
            return None;
        }
        let listing = self.connector.listing();
        if !listing.has_status {
            return Some(
                "the connector's list has no status: it comes with the detail".to_string(),
            );
        }
        if p.status == crate::mapping::Lifecycle::PreHire && p.facts.start_date.is_none() {
            return Some("a pre-hire: the start date comes with the detail".to_string());
        }
        let missing: Vec<&str> = self
            .create_fields
            .iter()
            .map(String::as_str)
            .filter(|f| p.text(f).is_none_or(|v| v.trim().is_empty()))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "on-create rules use {} that only the detail has",
                missing.join(", ")
            )
        })
    }

    /// Reads the whole directory, then lists everyone, planning each page's people who can be
    /// planned from what is known now as the page arrives (the others wait for a detail), and
    /// at the end the leavers (a complete listing makes absent people leavers). Nothing is
    /// applied until the whole listing is planned (the safety gate sees it whole), but only
    /// plans are held, not the records: of the people planned, only those whose manager link
    /// waits are kept (for the run's follow-up).
    ///
    /// `follow_up` says whether the run links managers created later in it (a dry run does
    /// not: it creates nothing, so the people waiting are not kept).
    async fn plan_listing(
        &self,
        today: NaiveDate,
        follow_up: bool,
        keeping: Keeping<'_>,
        progress: &Progress,
    ) -> Result<(source::Listed, ListingPlan), SyncError> {
        let base = Arc::new(self.read(Reading::All).await?);
        let realm = snapshot::realm_of(&self.directory.uniqueness_base_dn);
        let mut parts = ListingParts {
            keeping,
            pending: Pending::default(),
            ready: Vec::new(),
            waiting: Waiting::default(),
            plan: Plan::default(),
            names: plan::RunNames::new(&realm, &self.unique_attributes()),
            placed: HashMap::new(),
            follow_up,
            manager_waits: HashMap::new(),
        };
        let listed = source::list_all(
            &self.connector,
            &self.store,
            &self.config.sync,
            &self.keep,
            progress,
            |page| {
                for p in page {
                    match self.waits_for_detail(&p) {
                        Some(why) => parts.waiting.push(p.id, why),
                        None => parts.ready.push(p),
                    }
                }
                if parts.ready.len() >= self.listing_part {
                    self.plan_part(&mut parts, &base, today)?;
                }
                Ok(())
            },
        )
        .await?;
        self.plan_part(&mut parts, &base, today)?;
        // Leavers and the listing's quarantine, now that the listing is whole.
        let ids: Vec<String> = listed.ids().map(str::to_string).collect();
        let mut plan = self.plan_with(
            &[],
            &listed.rejected,
            &base,
            listed.incomplete.as_deref(),
            &ids,
            today,
            Parts {
                names: &parts.names,
                placed: &parts.placed,
            },
        )?;
        drop(ids);
        self.hold_part(&mut plan, &mut parts)?;
        plan.add_part(std::mem::take(&mut parts.plan));
        Ok((
            listed,
            ListingPlan {
                plan,
                pending: parts.pending,
                waiting: parts.waiting,
                base,
                manager_waits: parts.manager_waits,
            },
        ))
    }

    /// Accounts may change while a long listing is read (behind an HR rate limit, minutes):
    /// before the listing's plan is applied, every existing account it writes to is read again
    /// by GUID. One that became protected, moved, lost the person's anchor or went away since
    /// the run's read is left alone this run, with a note; the next run plans it from a fresh
    /// read.
    async fn recheck(&self, plan: &mut Plan, base: &Snapshot) -> Result<(), SyncError> {
        let anchor = self.config.sync.anchor.as_str();
        let attrs = [anchor, "adminCount", "isCriticalSystemObject", "memberOf"];
        let mut dir = None;
        let writes = plan
            .people
            .iter_mut()
            .filter(|p| p.ops.iter().any(|o| !matches!(o, Op::Create { .. })));
        for pp in writes {
            let (dn, guid) = match base.by_anchor(&pp.person_id).as_slice() {
                [was] => match was.guid() {
                    Some(guid) => (was.dn.clone(), guid),
                    None => continue,
                },
                // No account or several: nothing but creates, or a conflict the plan reports.
                _ => continue,
            };
            let dir = match &mut dir {
                Some(d) => d,
                None => dir.insert(self.pool.get().await?),
            };
            let now = dir
                .get(&format!("<GUID={guid}>"), &attrs)
                .await?
                .as_ref()
                .map(Account::from_entry);
            let why = match now {
                None => Some("the account is gone from the directory since the run read it".to_string()),
                Some(a) if a.first(anchor) != Some(pp.person_id.as_str()) => {
                    Some(format!("the account no longer carries the person's {anchor} since the run read it"))
                }
                Some(a) if a.is_protected() => Some(
                    "the account became protected (adminCount, a critical system object or a privileged group) since the run read it: hrsync does not write to it".to_string(),
                ),
                Some(a) if crate::directory::escape::normalize_dn(&a.dn) != crate::directory::escape::normalize_dn(&dn) => {
                    Some(format!("the account moved since the run read it ({dn} → {})", a.dn))
                }
                Some(_) => None,
            };
            if let Some(why) = why {
                tracing::warn!(person = %pp.person_id, "{why}; left alone this run");
                pp.set_aside(format!(
                    "{why}; left alone this run, planned again from a fresh read next run"
                ));
            }
        }
        Ok(())
    }

    /// Plans the ready people of the listing so far over the run's first read, as one more
    /// part of the listing's plan.
    fn plan_part(
        &self,
        parts: &mut ListingParts,
        base: &Snapshot,
        today: NaiveDate,
    ) -> Result<(), SyncError> {
        if parts.ready.is_empty() {
            return Ok(());
        }
        let ready = std::mem::take(&mut parts.ready);
        let part = self.plan_with(
            &ready,
            &[],
            base,
            Some("a part of the listing"),
            &[],
            today,
            Parts {
                names: &parts.names,
                placed: &parts.placed,
            },
        )?;
        parts.names.add(&part);
        for (id, dn) in part.placed() {
            parts.placed.insert(id.to_string(), dn.to_string());
        }
        if parts.follow_up {
            keep_waiting_for_manager(&part, ready, &mut parts.manager_waits);
        }
        let mut part = part;
        self.hold_part(&mut part, parts)?;
        parts.plan.add_part(part);
        Ok(())
    }

    /// Takes a listing part's people out of memory when a run keeps them: the quiet ones
    /// (most of a daily run) go to the run at once; the others wait in the store until the
    /// listing is whole and the safety gate has judged all of it (an initial load plans
    /// tens of thousands of creates before the first is applied). The part keeps its counts
    /// and quarantine.
    fn hold_part(&self, part: &mut Plan, parts: &mut ListingParts) -> Result<(), SyncError> {
        let run = match &mut parts.keeping {
            Keeping::Run(run) => run,
            Keeping::Only(ids) => {
                part.people.retain(|p| ids.contains(&p.person_id));
                return Ok(());
            }
        };
        let (quiet, told): (Vec<PersonPlan>, Vec<PersonPlan>) = std::mem::take(&mut part.people)
            .into_iter()
            .partition(PersonPlan::is_quiet);
        run.keep_quiet(&self.store, quiet)?;
        if told.is_empty() {
            return Ok(());
        }
        parts.pending.people += told.len();
        parts.pending.parts += 1;
        // Counted in the listing's summary already (a later absorb must not count them again).
        run.planned.extend(told.iter().map(|p| p.person_id.clone()));
        self.store
            .save_pending(run.id, parts.pending.parts, &told)?;
        Ok(())
    }

    /// Settles the listing's plan. With writes, every held part is first re-checked against
    /// the directory (an account that changed while the listing was read is set aside) and
    /// saved again behind the others, so that the safety gate judges the destructive changes
    /// of the whole listing, as they will be applied, before any write. Then the parts are
    /// settled one at a time in planning order: a part's manager links point at accounts that
    /// exist, at people planned in an earlier part (settled already), or in the same part
    /// (apply sets managers once the part's creates are done). The applies share where creates
    /// landed and which failed.
    async fn settle_listing(
        &self,
        mut plan: Plan,
        pending: Pending,
        base: &Snapshot,
        opts: &RunOptions,
        run: &mut RunState,
        progress: &Progress,
    ) -> Result<(), SyncError> {
        let today = plan.today.clone();
        let as_plan = |people: Vec<PersonPlan>| Plan {
            today: today.clone(),
            people,
            ..Plan::default()
        };
        if opts.apply {
            self.recheck(&mut plan, base).await?;
            let mut destructive = plan.destructive();
            for _ in 0..pending.parts {
                let Some((n, people)) = self.store.take_pending::<PersonPlan>(run.id)? else {
                    break;
                };
                let mut part = as_plan(people);
                self.recheck(&mut part, base).await?;
                destructive += part.destructive();
                self.store
                    .save_pending(run.id, n + pending.parts, &part.people)?;
            }
            self.judge(destructive, &plan, opts, run);
        }
        run.outcomes = Some(Arc::default());
        let settled = async {
            self.settle_judged(plan, opts, run, progress).await?;
            let mut settled = 0usize;
            while let Some((_, people)) = self.store.take_pending::<PersonPlan>(run.id)? {
                settled += people.len();
                self.settle_judged(as_plan(people), opts, run, progress)
                    .await?;
            }
            if settled != pending.people {
                return Err(SyncError::Interrupted(format!(
                    "{} of the listing's {} held plans were not found in the store (was it pruned by another process?); the next run plans those people again",
                    pending.people.saturating_sub(settled),
                    pending.people
                )));
            }
            Ok(())
        }
        .await;
        run.outcomes = None;
        settled
    }

    async fn run_inner(
        &self,
        run_id: i64,
        opts: &RunOptions,
        progress: &Progress,
    ) -> Result<RunReport, SyncError> {
        let rules = &self.config.sync;
        let today = self.today(opts.now);
        self.preflight(opts.only.is_some()).await?;
        let realm = snapshot::realm_of(&self.directory.uniqueness_base_dn);
        let mut run = RunState::new(run_id, today, &realm, &self.unique_attributes());

        if let Some(id) = &opts.only {
            let sourced = source::fetch_one(&self.connector, &self.store, id, &self.keep).await?;
            run.fetched = sourced.fetched;
            let plan = self
                .plan_for(
                    &sourced.people,
                    &sourced.rejected,
                    Reading::People(&sourced.people),
                    Some("a run for one person: absence means nothing"),
                    &[],
                    today,
                    &run.names,
                )
                .await?;
            self.settle(plan, opts, &mut run, progress).await?;
            return self.finish(run, opts);
        }

        // 1. Every list page, then everyone who can be planned from it, at once.
        let (
            mut listed,
            ListingPlan {
                plan,
                pending,
                waiting,
                base,
                manager_waits: listed_waits,
            },
        ) = self
            .plan_listing(today, opts.apply, Keeping::Run(&mut run), progress)
            .await?;
        self.settle_listing(plan, pending, &base, opts, &mut run, progress)
            .await?;

        // 2. Details in priority order, applied as they arrive, a batch at a time.
        let budget = rules.max_detail_fetches.unwrap_or(usize::MAX);
        let must = listed.wanted.len() - listed.refresh_while_budget();
        let bar = progress.bar("details", Some(listed.wanted.len().min(budget) as u64));
        // Managers before reports only when details are cheap (no HR rate limit): behind a
        // limit, an account comes with its detail and its manager link may follow as a modify.
        let hold = self.connector.rate_limit().is_none();
        let mut queue = order::Queue::new(std::mem::take(&mut listed.wanted), must, hold);
        let mut stop: Option<String> = None;
        let has_account = |id: &str| match self.store.account(id) {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the stored account; not waiting for a manager");
                true
            }
        };
        while !queue.is_empty() && run.fetched < budget {
            let mut take = DETAIL_BATCH.min(budget - run.fetched);
            let (done, must) = (queue.taken(), queue.must());
            if done >= must {
                // Refreshing details younger than the maximum age: only while the window has
                // budget left (always, without an HR rate limit).
                match self.connector.request_budget() {
                    Some(0) => {
                        stop = Some("the rate window's budget is spent; fresher details are refreshed next run".into());
                        break;
                    }
                    Some(left) => take = take.min(left as usize),
                    None => {}
                }
            } else {
                take = take.min(must - done);
            }
            let ids = queue.take(take);
            let details =
                source::fetch_details(&self.connector, &self.store, &self.keep, &listed, &ids)
                    .await?;
            if let Some(left) = self.connector.request_budget() {
                bar.note(format!(
                    "{left} request(s) left in the rate window, {} must-have detail(s) to go",
                    queue.must().saturating_sub(queue.taken())
                ));
            }
            bar.inc(ids.len() as u64);
            run.fetched += details.people.len();
            // Managers before their reports: a new person whose manager comes later waits.
            let ready = queue.sort_batch(details.people, &has_account);
            let plan = self
                .plan_for(
                    &ready,
                    &details.rejected,
                    Reading::Over {
                        people: &ready,
                        base: &base,
                        created: opts.apply.then_some(&run.created),
                    },
                    Some("enrichment: a batch of details"),
                    &[],
                    today,
                    &run.names,
                )
                .await?;
            self.settle(plan, opts, &mut run, progress).await?;
            if let Some(why) = details.stopped {
                stop = Some(why);
                break;
            }
        }
        // People held for a manager: a level of the tree at a time, then whoever is left.
        while queue.has_held() {
            let mut ready = queue.sort_batch(Vec::new(), &has_account);
            if ready.is_empty() {
                ready = queue.release_all();
            }
            let plan = self
                .plan_for(
                    &ready,
                    &[],
                    Reading::Over {
                        people: &ready,
                        base: &base,
                        created: opts.apply.then_some(&run.created),
                    },
                    Some("enrichment: people held for their manager"),
                    &[],
                    today,
                    &run.names,
                )
                .await?;
            self.settle(plan, opts, &mut run, progress).await?;
        }
        let (done, must) = (queue.taken(), queue.must());
        bar.finish(&format!("fetched {} details", run.fetched));

        // 3. Reports planned before their manager's account was created in a later batch get
        //    the link now, in the same run.
        let follow: Vec<String> = run
            .manager_waits
            .iter()
            .filter(|(_, manager)| run.created.contains(*manager))
            .map(|(id, _)| id.clone())
            .collect();
        // (A dry run created nothing: its reports keep their "manager pending" note.) Their
        // detail is read back from the store; people planned from their list record were kept.
        if opts.apply && !follow.is_empty() {
            let mut people: Vec<crate::mapping::Person> = Vec::with_capacity(follow.len());
            for id in &follow {
                match source::cached_detail(&self.store, id, &self.keep)? {
                    Some(p) => people.push(p),
                    None => people.extend(listed_waits.get(id).cloned()),
                }
            }
            let plan = self
                .plan_for(
                    &people,
                    &[],
                    Reading::Over {
                        people: &people,
                        base: &base,
                        created: opts.apply.then_some(&run.created),
                    },
                    Some("managers created later in this run"),
                    &[],
                    today,
                    &run.names,
                )
                .await?;
            self.settle(plan, opts, &mut run, progress).await?;
        }
        run.deferred = must.saturating_sub(done.min(must));
        if let Some(why) = &stop {
            tracing::warn!(deferred = run.deferred, "detail fetching stopped: {why}");
        }
        // People still waiting for a detail this run could not fetch: say what is pending.
        let still: Vec<plan::PersonPlan> = waiting
            .unplanned(&run.planned)
            .map(|(id, why)| plan::PersonPlan::pending(id, why))
            .collect();
        run.keep(&self.store, still)?;
        self.finish(run, opts)
    }

    /// Records a plan's quarantine, then (for `sync`) gates and applies it, adding it to the run.
    async fn settle(
        &self,
        plan: Plan,
        opts: &RunOptions,
        run: &mut RunState,
        progress: &Progress,
    ) -> Result<(), SyncError> {
        if opts.apply {
            self.judge(plan.destructive(), &plan, opts, run);
        }
        self.settle_judged(plan, opts, run, progress).await
    }

    /// The safety gate: mass disables and deletes, counted over the whole run. `destructive`
    /// more of them are about to be settled; once the gate trips, every later destructive
    /// change of the run is held too.
    fn judge(&self, destructive: usize, plan: &Plan, opts: &RunOptions, run: &mut RunState) {
        let gate = &self.config.sync.safety;
        run.destructive += destructive;
        if run.managed.is_none() {
            run.managed = Some(plan.summary.managed.max(1));
        }
        let managed = run.managed.unwrap_or(1);
        let percent = run.destructive as f64 * 100.0 / managed as f64;
        // The share applies to full runs; a run for one person sees too few accounts to judge.
        let share_exceeded = opts.only.is_none() && percent > gate.max_destructive_percent;
        run.hold |=
            run.destructive > 0 && (run.destructive > gate.max_destructive || share_exceeded);
    }

    /// Settles a plan the gate has judged (see [`Engine::judge`]): quarantine recorded, the
    /// people applied (every adoption, and destructive changes when the gate tripped, held for
    /// approval instead), and kept with the run.
    async fn settle_judged(
        &self,
        plan: Plan,
        opts: &RunOptions,
        run: &mut RunState,
        progress: &Progress,
    ) -> Result<(), SyncError> {
        for q in &plan.quarantined {
            self.store
                .quarantine(Some(run.id), &q.record_id, q.field.as_deref(), &q.reason)?;
        }
        for p in &plan.people {
            self.store.release(&p.person_id)?;
        }
        if opts.apply {
            let hold = run.hold;
            // Only people with work go to apply (unchanged people are most of a daily run).
            let (mut now, mut later) = (Vec::new(), Vec::new());
            for p in &plan.people {
                if p.adopt || hold && p.ops.iter().any(|o| o.is_destructive()) {
                    later.push(p.clone());
                } else if !p.ops.is_empty() || p.leaver {
                    now.push(p.clone());
                }
            }
            if !later.is_empty() {
                tracing::warn!(
                    held = later.len(),
                    destructive = run.destructive,
                    "safety gate: changes held for approval"
                );
            }
            let ctx = self.apply_context(Some(run.id), run.today);
            let outcomes = run.outcomes.clone().unwrap_or_default();
            let applied = apply::apply_sharing(now, &ctx, progress, outcomes).await?;
            self.record_failures(run.id, &applied)?;
            run.operations += applied.operations;
            run.failed.extend(applied.failed);
            run.notes.extend(applied.notes);
            run.held.extend(later);
        }
        run.names.add(&plan);
        let mut plan = plan;
        let people = std::mem::take(&mut plan.people);
        run.plan.absorb(plan, &mut run.planned, &people);
        run.keep(&self.store, people)?;
        Ok(())
    }

    /// Stores the run's outcome and makes its report.
    fn finish(&self, mut run: RunState, opts: &RunOptions) -> Result<RunReport, SyncError> {
        // A person planned twice in one run (list data, then their fresh detail) is held once,
        // with the later plan.
        let mut seen = HashSet::new();
        run.held.reverse();
        run.held.retain(|p| seen.insert(p.person_id.clone()));
        run.held.reverse();
        // Connector endpoints that gave someone no fields (the run went on without them).
        let endpoint_notes = self.connector.endpoints().take_notes();
        run.notes
            .extend(endpoint_notes.iter().map(ToString::to_string));
        let summary = report::summary_line(&run.plan);
        let mut report = RunReport {
            run_id: run.id,
            status: RunStatus::Planned,
            held: run.held.iter().map(|p| p.person_id.clone()).collect(),
            operations_applied: run.operations,
            failed: run.failed,
            notes: run.notes,
            changed_since_held: Vec::new(),
            details_fetched: run.fetched,
            details_deferred: run.deferred,
            plan: run.plan,
        };
        if !opts.apply {
            self.store
                .save_plan(run.id, &report.plan, RunStatus::Planned)?;
            self.store
                .set_run_status(run.id, RunStatus::Planned, Some(&summary))?;
            return Ok(report);
        }
        if run.held.is_empty() {
            self.store
                .save_plan(run.id, &report.plan, RunStatus::Applied)?;
            report.status = RunStatus::Applied;
            self.store
                .set_run_status(run.id, RunStatus::Applied, Some(&summary))?;
            return Ok(report);
        }
        let adoptions = run.held.iter().filter(|p| p.adopt).count();
        let mut why = Vec::new();
        if run.hold {
            why.push(format!(
                "{} disables/deletes (more than sync.safety allows of {} managed accounts)",
                run.destructive,
                run.managed.unwrap_or(0)
            ));
        }
        if adoptions > 0 {
            why.push(format!("{adoptions} adoptions of existing accounts"));
        }
        self.store.save_plan(
            run.id,
            &HeldPlans {
                today: run.today.to_string(),
                people: run.held,
            },
            RunStatus::Held,
        )?;
        report.status = RunStatus::Held;
        self.store.set_run_status(
            run.id,
            RunStatus::Held,
            Some(&format!(
                "{summary}; held: {} wait for `hrsync approve {}`",
                why.join(" and "),
                run.id
            )),
        )?;
        Ok(report)
    }

    fn apply_context(&self, run: Option<i64>, today: NaiveDate) -> ApplyContext {
        ApplyContext {
            pool: self.pool.clone(),
            anchor: self.config.sync.anchor.clone(),
            store: self.store.clone(),
            run,
            concurrency: self.directory.concurrency,
            today,
            scope: self.write_scope(),
        }
    }

    fn record_failures(&self, run: i64, applied: &Applied) -> Result<(), SyncError> {
        for f in &applied.failed {
            self.store
                .quarantine(Some(run), &f.record_id, f.field.as_deref(), &f.reason)?;
        }
        Ok(())
    }

    /// Applies the changes a held run kept back — re-planned against today's HR data and
    /// directory first; the report names the people whose plan differs from the held one.
    pub async fn approve(&self, run_id: i64, progress: &Progress) -> Result<RunReport, SyncError> {
        let run = self.store.run(run_id)?;
        if run.status != RunStatus::Held {
            return Err(SyncError::NotHeld {
                run: run_id,
                status: run.status,
            });
        }
        let held: HeldPlans =
            serde_json::from_str(run.plan.as_deref().unwrap_or("{}")).map_err(|e| {
                SyncError::Interrupted(format!("run {run_id}: the stored plan cannot be read: {e}"))
            })?;
        self.store
            .set_run_status(run_id, RunStatus::Applying, None)?;
        let today = self.today(None);
        let held_ids: HashSet<String> = held.people.iter().map(|p| p.person_id.clone()).collect();
        let replanned = async {
            self.preflight(false).await?;
            // (Approval applies the held plans only: no follow-up.)
            self.plan_listing(today, false, Keeping::Only(&held_ids), progress)
                .await
                .map(|(_, l)| l.plan)
        };
        let replanned: Plan = match replanned.await {
            Ok(p) => p,
            Err(e) => {
                self.store.set_run_status(
                    run_id,
                    RunStatus::Held,
                    Some(&format!("approval failed: {e}")),
                )?;
                return Err(e);
            }
        };
        let fresh: Vec<PersonPlan> = replanned
            .people
            .into_iter()
            .filter(|p| held_ids.contains(&p.person_id))
            .collect();
        let changed_since_held = held_changes(&held.people, &fresh);
        for line in &changed_since_held {
            tracing::warn!("approve: {line}");
        }
        let ctx = self.apply_context(Some(run_id), today);
        let applied = apply::apply(fresh.clone(), &ctx, progress).await?;
        self.record_failures(run_id, &applied)?;
        let summary = format!(
            "approved: {} operations for {} held people applied ({} re-planned differently)",
            applied.operations,
            fresh.len(),
            changed_since_held.len()
        );
        self.store
            .set_run_status(run_id, RunStatus::Applied, Some(&summary))?;
        Ok(RunReport {
            run_id,
            status: RunStatus::Applied,
            plan: Plan {
                today: today.to_string(),
                people: fresh,
                ..Plan::default()
            },
            held: held.people.iter().map(|p| p.person_id.clone()).collect(),
            operations_applied: applied.operations,
            failed: applied.failed,
            notes: applied.notes,
            changed_since_held,
            details_fetched: 0,
            details_deferred: 0,
        })
    }

    /// Applies operations on one person's account through the one write path: the account must
    /// not be protected, every DN must be in the managed OUs, the safety gate's count applies,
    /// and every operation is audited (orchestration's directory steps come here).
    pub async fn apply_for(
        &self,
        person_id: &str,
        account: &crate::directory::DirEntry,
        ops: Vec<Op>,
    ) -> Result<Applied, SyncError> {
        let a = Account::from_entry(account);
        if a.is_protected() {
            return Err(SyncError::Refused(format!(
                "{} is a protected account (adminCount, isCriticalSystemObject or a built-in privileged group): hrsync never writes to it",
                a.dn
            )));
        }
        let destructive = ops.iter().filter(|o| o.is_destructive()).count();
        if destructive > self.config.sync.safety.max_destructive {
            return Err(SyncError::Refused(format!(
                "{destructive} disables/deletes exceed sync.safety.max_destructive ({})",
                self.config.sync.safety.max_destructive
            )));
        }
        let person = PersonPlan {
            person_id: person_id.to_string(),
            name: a.first("cn").unwrap_or(person_id).to_string(),
            dn: Some(a.dn.clone()),
            leaver: false,
            adopt: false,
            manager_pending: None,
            note: None,
            ops,
        };
        let ctx = self.apply_context(None, self.today(None));
        apply::apply(vec![person], &ctx, &Progress::hidden()).await
    }

    /// The account anchored to a person, with all its attributes.
    pub async fn find_account(
        &self,
        person_id: &str,
    ) -> Result<Option<crate::directory::DirEntry>, SyncError> {
        if let Some((guid, _)) = self.store.account(person_id)? {
            let mut dir = self.pool.get().await?;
            let found = dir.get(&format!("<GUID={guid}>"), &["*"]).await;
            if let Ok(Some(e)) = found
                && e.first(&self.config.sync.anchor) == Some(person_id)
            {
                return Ok(Some(e));
            }
        }
        self.find_account_by(&self.config.sync.anchor, person_id)
            .await
    }

    /// The account whose `attribute` is `value` (e.g. `sAMAccountName`), under the base DN.
    pub async fn find_account_by(
        &self,
        attribute: &str,
        value: &str,
    ) -> Result<Option<crate::directory::DirEntry>, SyncError> {
        let mut dir = self.pool.get().await?;
        let filter = format!(
            "(&(objectClass=user)({attribute}={}))",
            crate::directory::escape::escape_filter_value(value)
        );
        let found = dir
            .search_paged(&self.directory.base_dn, &filter, &["*"])
            .await?;
        Ok(found.into_iter().next())
    }

    /// Drops what a held run kept back.
    pub fn reject(&self, run_id: i64) -> Result<(), SyncError> {
        let run = self.store.run(run_id)?;
        if run.status != RunStatus::Held {
            return Err(SyncError::NotHeld {
                run: run_id,
                status: run.status,
            });
        }
        self.store.set_run_status(
            run_id,
            RunStatus::Rejected,
            Some("rejected: the held changes were dropped"),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{candidate_clauses, common_prefix};

    #[test]
    fn numbered_candidates_are_searched_by_their_prefix() {
        let candidates: Vec<String> = ["ada.lovelace", "alovelace", "ada.lovelace2"]
            .iter()
            .map(|s| s.to_string())
            .chain((3..=99).map(|n| format!("ada.lovelace{n}")))
            .collect();
        let clauses = candidate_clauses("sAMAccountName", &candidates, "corp.example");
        assert!(clauses.len() <= 8, "{clauses:?}");
        assert!(clauses.contains(&"(sAMAccountName=ada.lovelace*)".to_string()));
        assert!(clauses.contains(&"(userPrincipalName=ada.lovelace*)".to_string()));
        assert!(clauses.contains(&"(userPrincipalName=alovelace@corp.example)".to_string()));
        assert_eq!(common_prefix(&["Ab1".into(), "ab2".into()]), "Ab");
        assert_eq!(common_prefix(&["x".into(), "y".into()]), "");
    }
}

#[cfg(test)]
mod run_state_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn person_plan(id: &str, create: bool, manager_pending: Option<&str>) -> PersonPlan {
        let mut p = PersonPlan::pending(id, "test");
        p.note = None;
        if create {
            p.ops.push(Op::Create {
                dn: format!("CN={id},OU=People,DC=example,DC=test"),
                attributes: [("sAMAccountName".to_string(), id.to_string())].into(),
                enable: true,
                password: true,
                fallbacks: Vec::new(),
            });
        }
        p.manager_pending = manager_pending.map(str::to_string);
        p
    }

    #[test]
    fn a_large_run_keeps_the_first_people_in_memory_and_every_one_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let id = store.begin_run("test").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let mut run = RunState::new(id, today, "example.test", &[]);
        let n = REPORT_PEOPLE + 500;
        for chunk in (0..n).collect::<Vec<_>>().chunks(300) {
            let people = chunk
                .iter()
                .map(|i| {
                    let pending = (i % 2 == 1).then(|| format!("p{}", i - 1));
                    person_plan(&format!("p{i}"), i % 2 == 0, pending.as_deref())
                })
                .collect();
            run.keep(&store, people).unwrap();
        }
        assert_eq!(run.plan.people.len(), REPORT_PEOPLE);
        assert_eq!(run.plan.more, 500);
        assert_eq!(run.plan.people[0].person_id, "p0");
        let stored: Vec<PersonPlan> = store.run_people(id).unwrap();
        assert_eq!(stored.len(), n);
        assert_eq!(stored[n - 1].person_id, format!("p{}", n - 1));
        assert_eq!(run.created.len(), n / 2);
        assert_eq!(run.manager_waits.len(), n / 2);
        // A later plan of a person without a pending manager clears the wait. It is quiet
        // (nothing to do or say): counted only, neither stored nor in the report.
        run.keep(&store, vec![person_plan("p1", false, None)])
            .unwrap();
        assert!(!run.manager_waits.contains_key("p1"));
        assert_eq!(run.plan.more, 500);
        assert_eq!(store.run_people::<PersonPlan>(id).unwrap().len(), n);
        let mut noted = person_plan("p2", false, None);
        noted.note = Some("waits for its start date".into());
        run.keep(&store, vec![noted]).unwrap();
        assert_eq!(run.plan.more, 501, "a plan with a note is reported");
        assert_eq!(store.run_people::<PersonPlan>(id).unwrap().len(), n + 1);
    }

    #[test]
    fn only_the_newest_runs_keep_their_people() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let runs: Vec<i64> = (0..3).map(|_| store.begin_run("test").unwrap()).collect();
        for r in &runs {
            let p = person_plan("p", false, None);
            store.save_run_people(*r, &[("p", &p)]).unwrap();
        }
        store.prune_run_people(2).unwrap();
        assert!(store.run_people::<PersonPlan>(runs[0]).unwrap().is_empty());
        assert_eq!(store.run_people::<PersonPlan>(runs[1]).unwrap().len(), 1);
        assert_eq!(store.run_people::<PersonPlan>(runs[2]).unwrap().len(), 1);
    }
}
