//! The store: one SQLite file (WAL) holding runs and their plans, per-person state (hashes and
//! cached details, so a resync does not re-fetch unchanged people), the audit log of every
//! directory change, the quarantine, and the inbound event queue. Never a secret.

mod queue;
mod schema;

pub use queue::{StoredEvent, TemplateRun};

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A store failure, naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("store: {what}: {source}")]
    Sql {
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("store: {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("no run {0} in the store")]
    NoSuchRun(i64),
    #[error("cannot {what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sql { what, source }
}

/// A run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// A dry run: planned, never applied.
    Planned,
    /// Held by the safety gate until approved or rejected.
    Held,
    /// Being applied.
    Applying,
    /// Applied (possibly with some people failed; see the summary).
    Applied,
    /// Dropped by `reject`.
    Rejected,
    /// Stopped by an error.
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Planned => "planned",
            RunStatus::Held => "held",
            RunStatus::Applying => "applying",
            RunStatus::Applied => "applied",
            RunStatus::Rejected => "rejected",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "planned" => RunStatus::Planned,
            "held" => RunStatus::Held,
            "applying" => RunStatus::Applying,
            "applied" => RunStatus::Applied,
            "rejected" => RunStatus::Rejected,
            _ => RunStatus::Failed,
        }
    }
}

/// One run as stored.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub trigger: String,
    pub status: RunStatus,
    pub summary: Option<String>,
    pub plan: Option<String>,
}

/// What the store remembers of one person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonState {
    pub person_id: String,
    /// Hash of the last list item seen.
    pub list_hash: Option<String>,
    /// Hash of the list item when the detail was fetched.
    pub detail_hash: Option<String>,
    /// Whether a detail is cached (read it with [`Store::detail`]: a state list of 100,000
    /// people stays small without the details' text).
    pub has_detail: bool,
    /// When the detail was fetched (RFC 3339).
    pub detail_fetched_at: Option<String>,
    /// When hrsync disabled the account (a date), for delete-after.
    pub disabled_on: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub run_id: Option<i64>,
    pub at: String,
    pub person_id: Option<String>,
    pub dn: Option<String>,
    pub operation: String,
    pub detail: String,
    pub outcome: String,
}

/// One quarantined record.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineRecord {
    pub record_id: String,
    pub run_id: Option<i64>,
    pub at: String,
    pub field: Option<String>,
    pub reason: String,
}

/// The SQLite store.
pub struct Store {
    conn: Mutex<Connection>,
}

fn file_error<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::File {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// Owner-only files: the store holds HR details (names, dates, addresses).
#[cfg(unix)]
mod private {
    use std::fs::{OpenOptions, Permissions};
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    use super::{Result, file_error};

    /// The mode of the store's files.
    pub(super) const MODE: u32 = 0o600;

    /// Creates the file with mode 0600 if it is missing (the mode is given to `open(2)`, so the
    /// file never exists with a looser one), leaving an existing file's content alone.
    pub(super) fn create(path: &Path) -> Result<()> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(MODE)
            .open(path)
            .map_err(file_error("create", path))?;
        tighten(path)
    }

    /// The database and its `-wal` and `-shm` companions, those that exist, to 0600 at most.
    pub(super) fn tighten_all(path: &Path) -> Result<()> {
        tighten(path)?;
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let companion = PathBuf::from(name);
            if companion.exists() {
                tighten(&companion)?;
            }
        }
        Ok(())
    }

    /// Removes every group and other permission bit from an existing file.
    fn tighten(path: &Path) -> Result<()> {
        let mode = std::fs::metadata(path)
            .map_err(file_error("read the permissions of", path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, Permissions::from_mode((mode & 0o700) | MODE))
                .map_err(file_error("restrict the permissions of", path))?;
        }
        Ok(())
    }
}

/// Elsewhere the platform's defaults apply.
#[cfg(not(unix))]
mod private {
    use std::path::Path;

    use super::Result;

    pub(super) fn create(_path: &Path) -> Result<()> {
        Ok(())
    }

    pub(super) fn tighten_all(_path: &Path) -> Result<()> {
        Ok(())
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    ///
    /// The file and its `-wal` and `-shm` companions are readable by the owner only (0600)
    /// whatever the umask: they hold HR details. A file found with a looser mode is tightened.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(file_error("create the folder of", dir))?;
        }
        private::create(path)?;
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        schema::migrate(&conn).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        private::tighten_all(path)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a usable connection: SQLite rolls back.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- runs ----

    /// Starts a run record.
    pub fn begin_run(&self, trigger: &str) -> Result<i64> {
        let c = self.conn();
        c.execute(
            "INSERT INTO runs (started_at, trigger, status) VALUES (?1, ?2, 'applying')",
            params![now(), trigger],
        )
        .map_err(sql("starting a run"))?;
        Ok(c.last_insert_rowid())
    }

    /// Appends people's plans to a run (`(person id, plan)` each), in one transaction.
    pub fn save_run_people<P: Serialize>(&self, run: i64, people: &[(&str, &P)]) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("saving a run's people"))?;
        {
            let next: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(seq), 0) FROM run_people WHERE run_id = ?1",
                    params![run],
                    |r| r.get(0),
                )
                .map_err(sql("saving a run's people"))?;
            let mut st = tx
                .prepare(
                    "INSERT INTO run_people (run_id, seq, person_id, plan) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql("saving a run's people"))?;
            for (i, (id, plan)) in people.iter().enumerate() {
                let json = serde_json::to_string(plan).map_err(|source| StoreError::Json {
                    what: "encoding a person's plan",
                    source,
                })?;
                st.execute(params![run, next + 1 + i as i64, id, json])
                    .map_err(sql("saving a run's people"))?;
            }
        }
        tx.commit().map_err(sql("saving a run's people"))
    }

    /// Every person's plan of a run, in the order they were planned.
    pub fn run_people<P: serde::de::DeserializeOwned>(&self, run: i64) -> Result<Vec<P>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT plan FROM run_people WHERE run_id = ?1 ORDER BY seq")
            .map_err(sql("reading a run's people"))?;
        let rows = st
            .query_map(params![run], |r| r.get::<_, String>(0))
            .map_err(sql("reading a run's people"))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(sql("reading a run's people"))?;
            out.push(
                serde_json::from_str(&json).map_err(|source| StoreError::Json {
                    what: "decoding a person's plan",
                    source,
                })?,
            );
        }
        Ok(out)
    }

    /// Appends plans to a run's pending ones (applied once the run's listing is whole) as part
    /// `part` (parts are taken back lowest first), in one transaction.
    pub fn save_pending<P: Serialize>(&self, run: i64, part: u64, plans: &[P]) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("holding plans"))?;
        {
            let next: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(seq), 0) FROM run_pending WHERE run_id = ?1",
                    params![run],
                    |r| r.get(0),
                )
                .map_err(sql("holding plans"))?;
            let mut st = tx
                .prepare(
                    "INSERT INTO run_pending (run_id, seq, part, plan) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql("holding plans"))?;
            for (i, plan) in plans.iter().enumerate() {
                let json = serde_json::to_string(plan).map_err(|source| StoreError::Json {
                    what: "encoding a held plan",
                    source,
                })?;
                st.execute(params![run, next + 1 + i as i64, part as i64, json])
                    .map_err(sql("holding plans"))?;
            }
        }
        tx.commit().map_err(sql("holding plans"))
    }

    /// Takes a run's lowest pending part: its plans in the order they were saved, and its
    /// number (`None` when nothing is pending). Read and deleted in one transaction.
    pub fn take_pending<P: serde::de::DeserializeOwned>(
        &self,
        run: i64,
    ) -> Result<Option<(u64, Vec<P>)>> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("reading held plans"))?;
        let part: Option<i64> = tx
            .query_row(
                "SELECT MIN(part) FROM run_pending WHERE run_id = ?1",
                params![run],
                |r| r.get(0),
            )
            .map_err(sql("reading held plans"))?;
        let Some(part) = part else {
            return Ok(None);
        };
        let mut out = Vec::new();
        {
            let mut st = tx
                .prepare(
                    "SELECT plan FROM run_pending WHERE run_id = ?1 AND part = ?2 ORDER BY seq",
                )
                .map_err(sql("reading held plans"))?;
            let rows = st
                .query_map(params![run, part], |r| r.get::<_, String>(0))
                .map_err(sql("reading held plans"))?;
            for row in rows {
                let json = row.map_err(sql("reading held plans"))?;
                out.push(
                    serde_json::from_str(&json).map_err(|source| StoreError::Json {
                        what: "decoding a held plan",
                        source,
                    })?,
                );
            }
        }
        tx.execute(
            "DELETE FROM run_pending WHERE run_id = ?1 AND part = ?2",
            params![run, part],
        )
        .map_err(sql("reading held plans"))?;
        tx.commit().map_err(sql("reading held plans"))?;
        Ok(Some((part as u64, out)))
    }

    /// Drops a run's pending plans (at its end, whatever became of it: a run that stopped
    /// before applying them plans those people again next time).
    pub fn clear_pending(&self, run: i64) -> Result<()> {
        self.conn()
            .execute("DELETE FROM run_pending WHERE run_id = ?1", params![run])
            .map_err(sql("dropping held plans"))?;
        Ok(())
    }

    /// Drops the people's plans of all but the newest `keep` runs, and pending plans left by
    /// runs that stopped.
    pub fn prune_run_people(&self, keep: usize) -> Result<()> {
        self.conn()
            .execute(
                "DELETE FROM run_people WHERE run_id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?1)",
                params![keep as i64],
            )
            .map_err(sql("pruning old runs' people"))?;
        // Pending plans of a process that died mid-run (a run's own are dropped at its end):
        // never those of a run still applying (a long listing outlives many event runs),
        // unless it started a week ago.
        let week_ago = (chrono::Utc::now() - chrono::Duration::days(7))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.conn()
            .execute(
                "DELETE FROM run_pending WHERE run_id IN
                   (SELECT id FROM runs WHERE status != 'applying' OR started_at < ?1)",
                params![week_ago],
            )
            .map_err(sql("pruning old runs' pending plans"))?;
        Ok(())
    }

    /// Stores a run's plan (JSON) and status.
    pub fn save_plan<P: Serialize>(&self, run: i64, plan: &P, status: RunStatus) -> Result<()> {
        let json = serde_json::to_string(plan).map_err(|source| StoreError::Json {
            what: "encoding a plan",
            source,
        })?;
        self.conn()
            .execute(
                "UPDATE runs SET plan = ?2, status = ?3 WHERE id = ?1",
                params![run, json, status.as_str()],
            )
            .map_err(sql("saving a plan"))?;
        Ok(())
    }

    /// Sets a run's status (and summary, when given); final statuses stamp the end time.
    pub fn set_run_status(&self, run: i64, status: RunStatus, summary: Option<&str>) -> Result<()> {
        let finished = matches!(
            status,
            RunStatus::Applied | RunStatus::Rejected | RunStatus::Failed | RunStatus::Planned
        )
        .then(now);
        let n = self
            .conn()
            .execute(
                "UPDATE runs SET status = ?2, summary = COALESCE(?3, summary), finished_at = COALESCE(?4, finished_at) WHERE id = ?1",
                params![run, status.as_str(), summary, finished],
            )
            .map_err(sql("updating a run"))?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(run));
        }
        Ok(())
    }

    /// One run.
    pub fn run(&self, id: i64) -> Result<RunRecord> {
        self.conn()
            .query_row(
                "SELECT id, started_at, finished_at, trigger, status, summary, plan FROM runs WHERE id = ?1",
                params![id],
                run_row,
            )
            .optional()
            .map_err(sql("reading a run"))?
            .ok_or(StoreError::NoSuchRun(id))
    }

    /// The latest runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT id, started_at, finished_at, trigger, status, summary, NULL FROM runs ORDER BY id DESC LIMIT ?1")
            .map_err(sql("listing runs"))?;
        let rows = st
            .query_map(params![limit as i64], run_row)
            .map_err(sql("listing runs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("listing runs"))
    }

    // ---- people ----

    /// Every person's state (without the cached details' text).
    pub fn person_states(&self) -> Result<HashMap<String, PersonState>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT person_id, list_hash, detail_hash, detail IS NOT NULL, detail_fetched_at, disabled_on FROM people")
            .map_err(sql("reading people"))?;
        let rows = st
            .query_map([], |r| {
                Ok(PersonState {
                    person_id: r.get(0)?,
                    list_hash: r.get(1)?,
                    detail_hash: r.get(2)?,
                    has_detail: r.get(3)?,
                    detail_fetched_at: r.get(4)?,
                    disabled_on: r.get(5)?,
                })
            })
            .map_err(sql("reading people"))?;
        let mut out = HashMap::new();
        for row in rows {
            let p = row.map_err(sql("reading people"))?;
            out.insert(p.person_id.clone(), p);
        }
        Ok(out)
    }

    /// Claims one request to `connector` now if fewer than `requests` were claimed (by any
    /// process using this store) in the last `window`; otherwise returns how long until the
    /// oldest of them leaves the window. Atomic across processes (`BEGIN IMMEDIATE`).
    pub fn claim_request(
        &self,
        connector: &str,
        requests: u32,
        window: std::time::Duration,
    ) -> Result<Option<std::time::Duration>> {
        let now = chrono::Utc::now().timestamp_millis();
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let since = now.saturating_sub(window_ms);
        let mut c = self.conn();
        let tx = c
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql("claiming a request"))?;
        tx.execute(
            "DELETE FROM rate_log WHERE connector = ?1 AND at_ms < ?2",
            params![connector, since.saturating_sub(window_ms)],
        )
        .map_err(sql("claiming a request"))?;
        let (count, oldest): (i64, Option<i64>) = tx
            .query_row(
                "SELECT COUNT(*), MIN(at_ms) FROM rate_log WHERE connector = ?1 AND at_ms > ?2",
                params![connector, since],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql("claiming a request"))?;
        if count < i64::from(requests) {
            tx.execute(
                "INSERT INTO rate_log (connector, at_ms) VALUES (?1, ?2)",
                params![connector, now],
            )
            .map_err(sql("claiming a request"))?;
            tx.commit().map_err(sql("claiming a request"))?;
            return Ok(None);
        }
        tx.commit().map_err(sql("claiming a request"))?;
        let free_at = oldest.unwrap_or(now).saturating_add(window_ms);
        Ok(Some(std::time::Duration::from_millis(
            u64::try_from(free_at.saturating_sub(now))
                .unwrap_or(0)
                .max(1),
        )))
    }

    /// Remembers where people's accounts are (person id, objectGUID, DN), in one transaction.
    pub fn save_accounts<I, G, D>(
        &self,
        accounts: impl IntoIterator<Item = (I, G, D)>,
    ) -> Result<()>
    where
        I: AsRef<str>,
        G: AsRef<str>,
        D: AsRef<str>,
    {
        let mut accounts = accounts.into_iter().peekable();
        if accounts.peek().is_none() {
            return Ok(());
        }
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("recording accounts"))?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO accounts (person_id, guid, dn) VALUES (?1, ?2, ?3)
                     ON CONFLICT(person_id) DO UPDATE SET guid = excluded.guid, dn = excluded.dn
                     WHERE guid != excluded.guid OR dn != excluded.dn",
                )
                .map_err(sql("recording accounts"))?;
            for (id, guid, dn) in accounts {
                st.execute(params![id.as_ref(), guid.as_ref(), dn.as_ref()])
                    .map_err(sql("recording accounts"))?;
            }
        }
        tx.commit().map_err(sql("recording accounts"))?;
        Ok(())
    }

    /// Where a person's account was last seen: (objectGUID, DN).
    pub fn account(&self, person_id: &str) -> Result<Option<(String, String)>> {
        self.conn()
            .query_row(
                "SELECT guid, dn FROM accounts WHERE person_id = ?1",
                params![person_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql("reading an account"))
    }

    /// Remembers the list hashes seen in a run, in one transaction.
    pub fn save_list_hashes(&self, hashes: &[(String, String)]) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("saving list hashes"))?;
        {
            let mut st = tx
                .prepare("INSERT INTO people (person_id, list_hash) VALUES (?1, ?2) ON CONFLICT(person_id) DO UPDATE SET list_hash = excluded.list_hash")
                .map_err(sql("saving list hashes"))?;
            for (id, hash) in hashes {
                st.execute(params![id, hash])
                    .map_err(sql("saving list hashes"))?;
            }
        }
        tx.commit().map_err(sql("saving list hashes"))
    }

    /// Caches a fetched detail, with the list hash it belongs to. Written as it arrives, so an
    /// interrupted initial load resumes where it stopped.
    pub fn save_detail(
        &self,
        person_id: &str,
        list_hash: Option<&str>,
        detail_json: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO people (person_id, detail_hash, detail, detail_fetched_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(person_id) DO UPDATE SET detail_hash = excluded.detail_hash, detail = excluded.detail, detail_fetched_at = excluded.detail_fetched_at",
                params![person_id, list_hash, detail_json, now()],
            )
            .map_err(sql("saving a detail"))?;
        Ok(())
    }

    /// The person's cached detail (a JSON person), if one is stored.
    pub fn detail(&self, person_id: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT detail FROM people WHERE person_id = ?1",
                params![person_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a detail"))
            .map(Option::flatten)
    }

    /// The day hrsync disabled each account it disabled (for delete-after), by person.
    pub fn disabled_dates(&self) -> Result<HashMap<String, String>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT person_id, disabled_on FROM people WHERE disabled_on IS NOT NULL")
            .map_err(sql("reading disable dates"))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql("reading disable dates"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading disable dates"))
    }

    /// The hash of the person's last list record, if one was seen.
    pub fn list_hash(&self, person_id: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT list_hash FROM people WHERE person_id = ?1",
                params![person_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a list hash"))
            .map(Option::flatten)
    }

    /// People listed whose detail is missing or older than their list record (or was forgotten
    /// after a webhook): the enrichment still to do.
    pub fn details_pending(&self) -> Result<i64> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM people WHERE list_hash IS NOT NULL AND (detail_hash IS NULL OR detail_hash != list_hash)",
                [],
                |r| r.get(0),
            )
            .map_err(sql("counting pending details"))
    }

    /// Forgets a cached detail, so the next run fetches it again (e.g. after a webhook).
    pub fn invalidate_detail(&self, person_id: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE people SET detail_hash = NULL WHERE person_id = ?1",
                params![person_id],
            )
            .map_err(sql("invalidating a detail"))?;
        Ok(())
    }

    /// Records (or clears) the day hrsync disabled a person's account.
    pub fn set_disabled_on(&self, person_id: &str, day: Option<&str>) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO people (person_id, disabled_on) VALUES (?1, ?2) ON CONFLICT(person_id) DO UPDATE SET disabled_on = excluded.disabled_on",
                params![person_id, day],
            )
            .map_err(sql("recording a disable"))?;
        Ok(())
    }

    /// Records today as the disable day of a leaver whose account was already disabled.
    pub fn mark_disabled_if_missing(&self, person_id: &str, day: &str) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO people (person_id, disabled_on) VALUES (?1, ?2) ON CONFLICT(person_id) DO UPDATE SET disabled_on = COALESCE(people.disabled_on, excluded.disabled_on)",
                params![person_id, day],
            )
            .map_err(sql("recording a disable"))?;
        Ok(())
    }

    // ---- audit ----

    /// Appends an audit record.
    pub fn audit(
        &self,
        run: Option<i64>,
        person_id: Option<&str>,
        dn: Option<&str>,
        operation: &str,
        detail: &str,
        outcome: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO audit (run_id, at, person_id, dn, operation, detail, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![run, now(), person_id, dn, operation, detail, outcome],
            )
            .map_err(sql("writing the audit log"))?;
        Ok(())
    }

    /// Records an operation about to be sent (outcome `started`) and returns its row: a
    /// directory change is made only once its audit row exists.
    pub fn audit_begin(
        &self,
        run: Option<i64>,
        person_id: Option<&str>,
        dn: Option<&str>,
        operation: &str,
        detail: &str,
    ) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO audit (run_id, at, person_id, dn, operation, detail, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'started')",
            params![run, now(), person_id, dn, operation, detail],
        )
        .map_err(sql("writing the audit log"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Records how an operation begun with [`Store::audit_begin`] ended.
    pub fn audit_finish(&self, id: i64, outcome: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE audit SET outcome = ?2, at = ?3 WHERE id = ?1",
                params![id, outcome, now()],
            )
            .map_err(sql("writing the audit log"))?;
        Ok(())
    }

    /// The latest audit records, newest first; optionally of one person or one run.
    pub fn audit_log(
        &self,
        limit: usize,
        person_id: Option<&str>,
        run: Option<i64>,
    ) -> Result<Vec<AuditRecord>> {
        let c = self.conn();
        let mut st = c
            .prepare(
                "SELECT id, run_id, at, person_id, dn, operation, detail, outcome FROM audit
                 WHERE (?1 IS NULL OR person_id = ?1) AND (?2 IS NULL OR run_id = ?2)
                 ORDER BY id DESC LIMIT ?3",
            )
            .map_err(sql("reading the audit log"))?;
        let rows = st
            .query_map(params![person_id, run, limit as i64], |r| {
                Ok(AuditRecord {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    at: r.get(2)?,
                    person_id: r.get(3)?,
                    dn: r.get(4)?,
                    operation: r.get(5)?,
                    detail: r.get(6)?,
                    outcome: r.get(7)?,
                })
            })
            .map_err(sql("reading the audit log"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading the audit log"))
    }

    // ---- quarantine ----

    /// Quarantines a record (replacing an earlier reason for the same record).
    pub fn quarantine(
        &self,
        run: Option<i64>,
        record_id: &str,
        field: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO quarantine (record_id, run_id, at, field, reason) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(record_id) DO UPDATE SET run_id = excluded.run_id, at = excluded.at, field = excluded.field, reason = excluded.reason",
                params![record_id, run, now(), field, reason],
            )
            .map_err(sql("quarantining a record"))?;
        Ok(())
    }

    /// Releases a record from quarantine (it came through clean).
    pub fn release(&self, record_id: &str) -> Result<()> {
        self.conn()
            .execute(
                "DELETE FROM quarantine WHERE record_id = ?1",
                params![record_id],
            )
            .map_err(sql("releasing a record"))?;
        Ok(())
    }

    /// Everything in quarantine.
    pub fn quarantined(&self) -> Result<Vec<QuarantineRecord>> {
        let c = self.conn();
        let mut st = c
            .prepare(
                "SELECT record_id, run_id, at, field, reason FROM quarantine ORDER BY record_id",
            )
            .map_err(sql("reading the quarantine"))?;
        let rows = st
            .query_map([], |r| {
                Ok(QuarantineRecord {
                    record_id: r.get(0)?,
                    run_id: r.get(1)?,
                    at: r.get(2)?,
                    field: r.get(3)?,
                    reason: r.get(4)?,
                })
            })
            .map_err(sql("reading the quarantine"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading the quarantine"))
    }
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let status: String = r.get(4)?;
    Ok(RunRecord {
        id: r.get(0)?,
        started_at: r.get(1)?,
        finished_at: r.get(2)?,
        trigger: r.get(3)?,
        status: RunStatus::parse(&status),
        summary: r.get(5)?,
        plan: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pending_plans_come_back_a_part_at_a_time_in_order_and_only_the_run_s_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let (a, b) = (
            store.begin_run("test").unwrap(),
            store.begin_run("test").unwrap(),
        );
        store.save_pending(a, 1, &["a1", "a2", "a3"]).unwrap();
        store.save_pending(b, 1, &["b1"]).unwrap();
        store.save_pending(a, 2, &["a4", "a5"]).unwrap();
        let take = |run| store.take_pending::<String>(run).unwrap();
        assert_eq!(
            take(a),
            Some((1, vec!["a1".into(), "a2".into(), "a3".into()]))
        );
        // A part saved again behind the others comes back last.
        store.save_pending(a, 3, &["a1 again"]).unwrap();
        assert_eq!(take(a), Some((2, vec!["a4".into(), "a5".into()])));
        assert_eq!(take(a), Some((3, vec!["a1 again".into()])));
        assert_eq!(take(a), None);
        store.save_pending(b, 2, &["b2"]).unwrap();
        store.clear_pending(b).unwrap();
        assert_eq!(take(b), None);
    }

    #[test]
    fn pruning_keeps_the_pending_plans_of_a_run_still_applying() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let long = store.begin_run("listing").unwrap();
        store.save_pending(long, 1, &["p"]).unwrap();
        let stopped = store.begin_run("crashed").unwrap();
        store.save_pending(stopped, 1, &["q"]).unwrap();
        store
            .set_run_status(stopped, RunStatus::Failed, Some("test"))
            .unwrap();
        for _ in 0..3 {
            store.begin_run("event").unwrap();
        }
        store.prune_run_people(2).unwrap();
        assert!(store.take_pending::<String>(long).unwrap().is_some());
        assert!(store.take_pending::<String>(stopped).unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_store_found_readable_by_others_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hrsync.db");
        std::fs::write(&path, "").unwrap();
        let wal = dir.path().join("hrsync.db-wal");
        std::fs::write(&wal, "").unwrap();
        for p in [&path, &wal] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let _store = Store::open(&path).unwrap();
        for name in ["hrsync.db", "hrsync.db-wal", "hrsync.db-shm"] {
            let p = dir.path().join(name);
            if p.exists() {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{name} is {mode:o}");
            }
        }
    }

    #[test]
    fn state_survives_reopening_and_quarantine_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hrsync.db");
        {
            let s = Store::open(&path).unwrap();
            s.save_list_hashes(&[("e-1".into(), "h1".into())]).unwrap();
            s.save_detail("e-1", Some("h1"), "{}").unwrap();
            let run = s.begin_run("test").unwrap();
            s.quarantine(Some(run), "e-2", Some("full_name"), "no name")
                .unwrap();
            s.quarantine(Some(run), "e-2", None, "still no name")
                .unwrap();
            s.audit(Some(run), Some("e-1"), Some("CN=x"), "create", "{}", "ok")
                .unwrap();
            s.set_run_status(run, RunStatus::Applied, Some("1 created"))
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let st = s.person_states().unwrap();
        assert_eq!(st["e-1"].list_hash.as_deref(), Some("h1"));
        assert_eq!(st["e-1"].detail_hash.as_deref(), Some("h1"));
        assert_eq!(s.details_pending().unwrap(), 0);
        s.save_list_hashes(&[("e-1".into(), "h2".into()), ("e-3".into(), "h3".into())])
            .unwrap();
        assert_eq!(
            s.details_pending().unwrap(),
            2,
            "a changed record and a new one"
        );
        s.save_detail("e-3", Some("h3"), "{}").unwrap();
        s.invalidate_detail("e-1").unwrap();
        s.save_detail("e-1", Some("h2"), "{}").unwrap();
        assert_eq!(s.details_pending().unwrap(), 0);
        s.invalidate_detail("e-3").unwrap();
        assert_eq!(s.details_pending().unwrap(), 1, "a webhook forgot one");
        assert_eq!(s.list_hash("e-3").unwrap().as_deref(), Some("h3"));
        assert_eq!(s.list_hash("nobody").unwrap(), None);
        let q = s.quarantined().unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].reason, "still no name");
        assert_eq!(s.audit_log(10, Some("e-1"), None).unwrap().len(), 1);
        assert_eq!(s.runs(5).unwrap()[0].status, RunStatus::Applied);
        assert!(matches!(s.run(999), Err(StoreError::NoSuchRun(999))));
    }

    #[test]
    fn events_are_stored_once_and_a_persons_later_events_merge() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("hrsync.db")).unwrap();
        let ev = |key: &str, person: &str, t: &str| {
            (
                key.to_string(),
                "updated".to_string(),
                t.to_string(),
                Some(person.to_string()),
            )
        };
        assert_eq!(
            s.enqueue_events("remote", &[ev("k1", "e-1", "a"), ev("k2", "e-2", "a")])
                .unwrap(),
            2
        );
        assert_eq!(
            s.enqueue_events("remote", &[ev("k1", "e-1", "a"), ev("k3", "e-1", "b")])
                .unwrap(),
            1
        );
        let first = s.take_event().unwrap().unwrap();
        assert_eq!(first.person_id.as_deref(), Some("e-1"));
        assert_eq!(first.merged, vec![("b".to_string(), "updated".to_string())]);
        let second = s.take_event().unwrap().unwrap();
        assert_eq!(second.person_id.as_deref(), Some("e-2"));
        assert!(s.take_event().unwrap().is_none());
        s.finish_event(first.id, Some("boom"), true).unwrap();
        assert_eq!(
            s.queue_depth().unwrap().0,
            2,
            "the retry is pending again, the other still processing"
        );
        assert_eq!(s.requeue_interrupted_events().unwrap(), 1);
    }
}
