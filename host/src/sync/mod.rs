//! The sync engine: source → snapshot → plan → safety gate → apply, one code path for `plan`
//! (which stops before applying) and `sync`.

pub mod apply;
pub mod plan;
pub mod progress;
pub mod report;
pub mod rules;
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
use crate::directory::{Directory, DirectoryConfig, DirectoryError};
use crate::mapping::{Mapper, MappingError};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{RunStatus, Store, StoreError};
use apply::{Applied, ApplyContext};
use plan::{PersonPlan, Plan, PlanInput};
use progress::Progress;
use snapshot::{Account, Snapshot};
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
    pub details_fetched: usize,
    pub details_deferred: usize,
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
        let mapper = Mapper::new(&config.mapping)?;
        let structure = Structure::new(&config.sync, &directory.users_ou)?;
        let tz: chrono_tz::Tz = config.sync.time_zone.parse().map_err(|_| {
            SyncError::Config(format!(
                "sync.time_zone `{}` is not a time zone name (e.g. Europe/Berlin)",
                config.sync.time_zone
            ))
        })?;
        let store = Arc::new(Store::open(&config.store_path)?);
        Ok(Engine {
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
        now.unwrap_or_else(Utc::now)
            .with_timezone(&self.tz)
            .date_naive()
    }

    /// Reads the managed accounts.
    /// An LDAP filter that finds what a plan for just these people needs: their accounts (by
    /// anchor and secondary matches), their managers' accounts, and any account holding one of
    /// their unique-name or CN candidates.
    fn focus_filter(&self, people: &[crate::mapping::Person]) -> String {
        use crate::directory::escape::escape_filter_value as esc;
        let rules = &self.config.sync;
        let mut clauses: Vec<String> = Vec::new();
        for p in people {
            clauses.push(format!("({}={})", rules.anchor, esc(&p.id)));
            if let Some(m) = p.text("manager_employment_id") {
                clauses.push(format!("({}={})", rules.anchor, esc(m)));
            }
            for m in &rules.matches {
                if let Some(v) = p.text(&m.person).filter(|v| !v.trim().is_empty()) {
                    clauses.push(format!("({}={})", m.directory, esc(v)));
                }
            }
            if let Ok(mapped) = self.mapper.map(p, None) {
                for u in &mapped.unique {
                    for c in &u.candidates {
                        clauses.push(format!("({}={})", u.attribute, esc(c)));
                    }
                }
            }
            if let Ok(st) = self.structure.evaluate(p) {
                for cn in &st.cn_candidates {
                    clauses.push(format!("(cn={})", esc(cn)));
                }
            }
        }
        format!(
            "(&(objectCategory=person)(objectClass=user)(|{}))",
            clauses.concat()
        )
    }

    async fn snapshot(
        &self,
        focus: Option<&[crate::mapping::Person]>,
    ) -> Result<Snapshot, SyncError> {
        let rules = &self.config.sync;
        let mut attrs: Vec<String> = vec![
            rules.anchor.clone(),
            "cn".into(),
            "userAccountControl".into(),
            "memberOf".into(),
            "manager".into(),
            "sAMAccountName".into(),
            "userPrincipalName".into(),
            "mail".into(),
        ];
        attrs.extend(rules.matches.iter().map(|m| m.directory.clone()));
        attrs.extend(self.mapper.attributes().map(str::to_string));
        let unique: Vec<String> = self
            .config
            .mapping
            .attributes
            .iter()
            .filter(|(_, r)| r.unique.is_some())
            .map(|(k, _)| k.clone())
            .chain([
                "sAMAccountName".to_string(),
                "userPrincipalName".to_string(),
            ])
            .collect();
        let mut seen = HashSet::new();
        attrs.retain(|a| seen.insert(a.to_ascii_lowercase()));
        let attr_refs: Vec<&str> = attrs.iter().map(String::as_str).collect();
        // A run for a few people (an event, `--only`) reads only what concerns them.
        let filter = match focus {
            Some(people) if !people.is_empty() => self.focus_filter(people),
            _ => "(&(objectCategory=person)(objectClass=user))".to_string(),
        };
        let mut dir = Directory::connect(&directory_config(&self.directory)).await?;
        let entries = dir
            .search_paged(&self.directory.base_dn, &filter, &attr_refs)
            .await?;
        let unique_refs: Vec<&str> = unique.iter().map(String::as_str).collect();
        // Unique names must be unique in the whole uniqueness base, not only among managed accounts.
        let same_base = crate::directory::escape::dn_eq(
            &self.directory.uniqueness_base_dn,
            &self.directory.base_dn,
        );
        let elsewhere = if same_base {
            Vec::new()
        } else {
            dir.search_paged(&self.directory.uniqueness_base_dn, &filter, &unique_refs)
                .await?
        };
        let _ = dir.unbind().await;
        let accounts: Vec<Account> = entries.iter().map(Account::from_entry).collect();
        let match_attrs: Vec<&str> = rules.matches.iter().map(|m| m.directory.as_str()).collect();
        let mut snapshot = Snapshot::new(accounts, &rules.anchor, &match_attrs, &unique_refs);
        let elsewhere: Vec<Account> = elsewhere.iter().map(Account::from_entry).collect();
        snapshot.add_taken(&elsewhere, &unique_refs);
        Ok(snapshot)
    }

    /// Termination dates from the connector action named in `sync.termination_dates_action`.
    async fn termination_dates(
        &self,
        only: Option<&str>,
    ) -> Result<HashMap<String, NaiveDate>, SyncError> {
        let Some(action) = &self.config.sync.termination_dates_action else {
            return Ok(HashMap::new());
        };
        // For one person, ask for that person's only (one request instead of every page).
        let params: Vec<crate::runtime::wit::Field> = only
            .map(|id| crate::runtime::wit::Field {
                name: "employment_id".into(),
                value: crate::runtime::wit::FieldValue::Text(id.to_string()),
            })
            .into_iter()
            .collect();
        let out = self.connector.invoke(action, &params).await?;
        let items: Vec<serde_json::Value> = serde_json::from_str(&out.data).unwrap_or_default();
        let mut dates = HashMap::new();
        for item in items {
            if item["status"].as_str() == Some("canceled") {
                continue;
            }
            let (Some(id), Some(date)) = (
                item["employment_id"].as_str(),
                item["termination_date"].as_str(),
            ) else {
                continue;
            };
            if let Ok(d) = NaiveDate::parse_from_str(date.get(..10).unwrap_or(date), "%Y-%m-%d") {
                dates.insert(id.to_string(), d);
            }
        }
        Ok(dates)
    }

    /// Plans, and with `apply`, applies — holding destructive changes past the safety gate.
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
        let span = tracing::info_span!("run", id = run_id, trigger);
        match self
            .run_inner(run_id, opts, progress)
            .instrument(span)
            .await
        {
            Ok(report) => Ok(report),
            Err(e) => {
                let _ = self
                    .store
                    .set_run_status(run_id, RunStatus::Failed, Some(&e.to_string()));
                Err(e)
            }
        }
    }

    async fn run_inner(
        &self,
        run_id: i64,
        opts: &RunOptions,
        progress: &Progress,
    ) -> Result<RunReport, SyncError> {
        let rules = &self.config.sync;
        let today = self.today(opts.now);
        let sourced = match &opts.only {
            Some(id) => source::fetch_one(&self.connector, &self.store, id).await?,
            None => source::fetch_all(&self.connector, &self.store, rules, progress).await?,
        };
        let focus = opts.only.as_ref().map(|_| sourced.people.as_slice());
        let snapshot = self.snapshot(focus).await?;
        let termination_dates = self.termination_dates(opts.only.as_deref()).await?;
        let disabled_on: HashMap<String, NaiveDate> = self
            .store
            .person_states()?
            .into_iter()
            .filter_map(|(id, s)| Some((id, s.disabled_on?.parse().ok()?)))
            .collect();
        let plan = plan::plan(&PlanInput {
            people: &sourced.people,
            rejected: &sourced.rejected,
            snapshot: &snapshot,
            rules,
            mapper: &self.mapper,
            structure: &self.structure,
            disabled_ou: self.directory.disabled_ou.as_deref(),
            today,
            termination_dates: &termination_dates,
            disabled_on: &disabled_on,
        });

        for q in &plan.quarantined {
            self.store
                .quarantine(Some(run_id), &q.record_id, q.field.as_deref(), &q.reason)?;
        }
        for p in &plan.people {
            self.store.release(&p.person_id)?;
        }

        let mut report = RunReport {
            run_id,
            status: RunStatus::Planned,
            held: Vec::new(),
            operations_applied: 0,
            failed: Vec::new(),
            details_fetched: sourced.fetched,
            details_deferred: sourced.deferred,
            plan,
        };
        let summary = report::summary_line(&report.plan);
        if !opts.apply {
            self.store
                .save_plan(run_id, &report.plan, RunStatus::Planned)?;
            self.store
                .set_run_status(run_id, RunStatus::Planned, Some(&summary))?;
            return Ok(report);
        }

        // The safety gate.
        let destructive = report.plan.destructive();
        let managed = report.plan.summary.managed.max(1);
        let percent = destructive as f64 * 100.0 / managed as f64;
        let gate = &rules.safety;
        // The share applies to full runs; a run for one person (an event) sees too few accounts to judge.
        let share_exceeded = opts.only.is_none() && percent > gate.max_destructive_percent;
        let hold = destructive > 0 && (destructive > gate.max_destructive || share_exceeded);
        let (now, later): (Vec<PersonPlan>, Vec<PersonPlan>) = report
            .plan
            .people
            .iter()
            .cloned()
            .partition(|p| !hold || !p.ops.iter().any(|o| o.is_destructive()));
        if hold {
            tracing::warn!(
                destructive,
                percent,
                "safety gate: destructive changes held for approval"
            );
            report.held = later.iter().map(|p| p.person_id.clone()).collect();
        }

        let ctx = self.apply_context(run_id, today);
        let applied = apply::apply(now, &ctx, progress).await?;
        self.record_failures(run_id, &applied)?;
        report.operations_applied = applied.operations;
        report.failed = applied.failed;
        if hold {
            self.store.save_plan(
                run_id,
                &HeldPlans {
                    today: today.to_string(),
                    people: later,
                },
                RunStatus::Held,
            )?;
            report.status = RunStatus::Held;
            self.store.set_run_status(
                run_id,
                RunStatus::Held,
                Some(&format!(
                    "{summary}; held: {destructive} disables/deletes ({percent:.1}% of {managed} managed accounts) wait for `hrsync approve {run_id}`"
                )),
            )?;
        } else {
            self.store
                .save_plan(run_id, &report.plan, RunStatus::Applied)?;
            report.status = RunStatus::Applied;
            self.store
                .set_run_status(run_id, RunStatus::Applied, Some(&summary))?;
        }
        Ok(report)
    }

    fn apply_context(&self, run: i64, today: NaiveDate) -> ApplyContext {
        ApplyContext {
            directory: directory_config(&self.directory),
            store: self.store.clone(),
            run,
            set_initial_password: self.config.sync.set_initial_password,
            concurrency: self.directory.concurrency,
            today,
        }
    }

    fn record_failures(&self, run: i64, applied: &Applied) -> Result<(), SyncError> {
        for f in &applied.failed {
            self.store
                .quarantine(Some(run), &f.record_id, f.field.as_deref(), &f.reason)?;
        }
        Ok(())
    }

    /// Applies the changes a held run kept back.
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
        let today: NaiveDate = held.today.parse().unwrap_or_else(|_| self.today(None));
        self.store
            .set_run_status(run_id, RunStatus::Applying, None)?;
        let ctx = self.apply_context(run_id, today);
        let held_ids: Vec<String> = held.people.iter().map(|p| p.person_id.clone()).collect();
        let applied = apply::apply(held.people.clone(), &ctx, progress).await?;
        self.record_failures(run_id, &applied)?;
        let summary = format!(
            "approved: {} operations for {} held people applied",
            applied.operations,
            held_ids.len()
        );
        self.store
            .set_run_status(run_id, RunStatus::Applied, Some(&summary))?;
        Ok(RunReport {
            run_id,
            status: RunStatus::Applied,
            plan: Plan {
                today: held.today,
                people: held.people,
                ..Plan::default()
            },
            held: held_ids,
            operations_applied: applied.operations,
            failed: applied.failed,
            details_fetched: 0,
            details_deferred: 0,
        })
    }

    /// The account anchored to a person, with all its attributes.
    pub async fn find_account(
        &self,
        person_id: &str,
    ) -> Result<Option<crate::directory::DirEntry>, SyncError> {
        self.find_account_by(&self.config.sync.anchor, person_id)
            .await
    }

    /// The account whose `attribute` is `value` (e.g. `sAMAccountName`), under the base DN.
    pub async fn find_account_by(
        &self,
        attribute: &str,
        value: &str,
    ) -> Result<Option<crate::directory::DirEntry>, SyncError> {
        let mut dir = Directory::connect(&directory_config(&self.directory)).await?;
        let filter = format!(
            "(&(objectClass=user)({attribute}={}))",
            crate::directory::escape::escape_filter_value(value)
        );
        let found = dir
            .search_paged(&self.directory.base_dn, &filter, &["*"])
            .await?;
        let _ = dir.unbind().await;
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
