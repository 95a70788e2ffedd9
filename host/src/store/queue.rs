//! The inbound event queue and the orchestration template runs: stored before they are
//! acknowledged, taken by workers, never lost across restarts.
//!
//! Events are taken in priority order (terminations, deletions and status changes first, then
//! hires, then everything else; by arrival within a priority), never for a person who already
//! has an event in progress, and with the person's other pending events merged in: several
//! workers can take events at once, and one person's events are still applied one at a time.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError, now, sql};

/// One stored HR event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub connector: String,
    pub kind: String,
    pub source_type: String,
    pub person_id: Option<String>,
    pub received_at: String,
    pub attempts: i64,
    /// Later pending events for the same person, merged into this one: `(source_type, kind)`.
    /// One fetch and one plan cover them all (the fetch happens after the take).
    pub merged: Vec<(String, String)>,
    /// When each of `merged` was received (RFC 3339), in the same order.
    pub merged_received_at: Vec<String>,
}

/// How urgent an event is, over the `kind` column, lower first: 0 for terminations, deletions
/// and status changes (an account that must be disabled should not wait behind a burst of
/// attribute updates), 1 for hires, 2 for the rest.
const PRIORITY_SQL: &str = "CASE kind WHEN 'terminated' THEN 0 WHEN 'deleted' THEN 0 WHEN 'status-changed' THEN 0 WHEN 'hired' THEN 1 ELSE 2 END";

/// One stored event with its state, for diagnostics and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: i64,
    pub kind: String,
    pub source_type: String,
    pub person_id: Option<String>,
    pub received_at: String,
    /// `pending`, `processing`, `done`, `failed` or `merged`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// One template run.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRun {
    pub id: i64,
    pub template: String,
    pub person_id: String,
    pub trigger: String,
    pub step: i64,
    pub state: String,
    pub resume_at: Option<String>,
    pub inputs_hash: String,
    pub last_error: Option<String>,
}

fn template_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<TemplateRun> {
    Ok(TemplateRun {
        id: r.get(0)?,
        template: r.get(1)?,
        person_id: r.get(2)?,
        trigger: r.get(3)?,
        step: r.get(4)?,
        state: r.get(5)?,
        resume_at: r.get(6)?,
        inputs_hash: r.get(7)?,
        last_error: r.get(8)?,
    })
}

const TEMPLATE_RUN_COLUMNS: &str =
    "id, template, person_id, trigger, step, state, resume_at, inputs_hash, last_error";

impl Store {
    /// Stores events in one durable transaction; a delivery seen before (same dedupe key) is
    /// skipped. Returns how many were new. When this returns `Ok` the events are on disk, so the
    /// caller may acknowledge the delivery (see `Store::durably`).
    pub fn enqueue_events(
        &self,
        connector: &str,
        events: &[(String, String, String, Option<String>)],
    ) -> Result<usize> {
        self.durably("storing events", |tx| {
            let mut new = 0;
            let mut st = tx
                .prepare(
                    "INSERT OR IGNORE INTO events (connector, dedupe_key, kind, source_type, person_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql("storing events"))?;
            for (dedupe, kind, source_type, person) in events {
                new += st
                    .execute(params![connector, dedupe, kind, source_type, person, now()])
                    .map_err(sql("storing events"))?;
            }
            Ok(new)
        })
    }

    /// Runs `f` in a transaction whose commit is synced to disk before this returns.
    ///
    /// The store runs in WAL mode with `synchronous = NORMAL`: a commit survives the process
    /// dying, but the WAL is only fsynced at checkpoints, so after a power loss or an OS crash the
    /// last commits can be gone. For most of the store that is fine (a run is re-planned, an
    /// audit row is written before its change). An acknowledged webhook is different: the HR
    /// system will not deliver it again. So this transaction alone runs with
    /// `synchronous = FULL`, which makes SQLite fsync the WAL at its commit (and with it every
    /// earlier commit still in the WAL) — one fsync per delivery, cheaper than a checkpoint
    /// (`wal_checkpoint(FULL)` would also copy pages into the database file). The setting is
    /// put back to `NORMAL` afterwards, whether `f` succeeded or not.
    pub(crate) fn durably<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut c = self.conn();
        // `synchronous` cannot change inside a transaction: set it first.
        c.pragma_update(None, "synchronous", "FULL")
            .map_err(sql(what))?;
        let outcome = (|| {
            let tx = c.transaction().map_err(sql(what))?;
            let value = f(&tx)?;
            tx.commit().map_err(sql(what))?;
            Ok(value)
        })();
        let restored = c
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql("restoring synchronous = NORMAL"));
        match (outcome, restored) {
            (Ok(value), Ok(())) => Ok(value),
            (Err(e), Ok(())) => Err(e),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Err(restore)) => {
                tracing::error!(error = %restore, "after a failed durable write, the store stays synchronous = FULL");
                Err(e)
            }
        }
    }

    /// Takes the next pending event (marking it `processing`), merging the same person's other
    /// pending events into it. See [`Store::take_event_except`].
    pub fn take_event(&self) -> Result<Option<StoredEvent>> {
        self.take_event_except(&[])
    }

    /// Takes the next pending event, skipping the ids in `cooling` (events waiting out a retry
    /// backoff) and every person who has an event `processing`: the highest priority first
    /// (`PRIORITY_SQL`), the oldest within a priority. The person's other pending events
    /// (older or newer) are marked `merged` and listed in [`StoredEvent::merged`]: the person is
    /// fetched afresh after the take, so one plan covers them all.
    pub fn take_event_except(&self, cooling: &[i64]) -> Result<Option<StoredEvent>> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("taking an event"))?;
        let cooling = serde_json::to_string(cooling).map_err(|source| StoreError::Json {
            what: "listing cooling events",
            source,
        })?;
        let ev = tx
            .query_row(
                &format!(
                    "SELECT id, connector, kind, source_type, person_id, received_at, attempts FROM events e
                     WHERE state = 'pending'
                       AND id NOT IN (SELECT value FROM json_each(?1))
                       AND (person_id IS NULL OR NOT EXISTS (
                           SELECT 1 FROM events p WHERE p.state = 'processing'
                             AND p.connector = e.connector AND p.person_id = e.person_id))
                     ORDER BY {PRIORITY_SQL}, id LIMIT 1"
                ),
                params![cooling],
                |r| {
                    Ok(StoredEvent {
                        id: r.get(0)?,
                        connector: r.get(1)?,
                        kind: r.get(2)?,
                        source_type: r.get(3)?,
                        person_id: r.get(4)?,
                        received_at: r.get(5)?,
                        attempts: r.get(6)?,
                        merged: Vec::new(),
                        merged_received_at: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(sql("taking an event"))?;
        let mut ev = ev;
        if let Some(e) = ev.as_mut() {
            tx.execute(
                "UPDATE events SET state = 'processing', attempts = attempts + 1 WHERE id = ?1",
                params![e.id],
            )
            .map_err(sql("taking an event"))?;
            if let Some(person) = &e.person_id {
                let mut st = tx
                    .prepare(
                        "SELECT source_type, kind, received_at FROM events WHERE state = 'pending' AND connector = ?1 AND person_id = ?2 AND id != ?3 ORDER BY id",
                    )
                    .map_err(sql("merging events"))?;
                let merged: Vec<(String, String, String)> = st
                    .query_map(params![e.connector, person, e.id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(sql("merging events"))?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql("merging events"))?;
                drop(st);
                for (source_type, kind, received_at) in merged {
                    e.merged.push((source_type, kind));
                    e.merged_received_at.push(received_at);
                }
                tx.execute(
                    "UPDATE events SET state = 'merged', last_error = 'merged into event ' || ?3 WHERE state = 'pending' AND connector = ?1 AND person_id = ?2 AND id != ?3",
                    params![e.connector, person, e.id],
                )
                .map_err(sql("merging events"))?;
            }
        }
        tx.commit().map_err(sql("taking an event"))?;
        Ok(ev)
    }

    /// Whether hrsync has written an account for this person (an audit record that succeeded):
    /// an event for a person it never wrote may create an account, which reserves unique names.
    pub fn has_written_account(&self, person_id: &str) -> Result<bool> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM audit WHERE person_id = ?1 AND outcome LIKE 'ok%')",
                params![person_id],
                |r| r.get(0),
            )
            .map_err(sql("reading the audit log"))
    }

    /// Marks an event done, or failed (back to pending while attempts remain).
    pub fn finish_event(&self, id: i64, error: Option<&str>, retry: bool) -> Result<()> {
        let state = match (error, retry) {
            (None, _) => "done",
            (Some(_), true) => "pending",
            (Some(_), false) => "failed",
        };
        self.conn()
            .execute(
                "UPDATE events SET state = ?2, last_error = ?3 WHERE id = ?1",
                params![id, state, error],
            )
            .map_err(sql("finishing an event"))?;
        Ok(())
    }

    /// Events left `processing` by a process that stopped go back to the queue.
    pub fn requeue_interrupted_events(&self) -> Result<usize> {
        let n = self
            .conn()
            .execute(
                "UPDATE events SET state = 'pending' WHERE state = 'processing'",
                [],
            )
            .map_err(sql("requeueing events"))?;
        Ok(n)
    }

    /// Pending events: how many, and the oldest's receive time.
    pub fn queue_depth(&self) -> Result<(i64, Option<String>)> {
        self.conn()
            .query_row(
                "SELECT COUNT(*), MIN(received_at) FROM events WHERE state IN ('pending', 'processing')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql("reading the queue"))
    }

    /// Events by state, for tests and metrics.
    pub fn event_counts(&self) -> Result<Vec<(String, i64)>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT state, COUNT(*) FROM events GROUP BY state ORDER BY state")
            .map_err(sql("counting events"))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql("counting events"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("counting events"))
    }

    /// The latest events, newest first.
    pub fn recent_events(&self, limit: usize) -> Result<Vec<EventRecord>> {
        let c = self.conn();
        let mut st = c
            .prepare(
                "SELECT id, kind, source_type, person_id, received_at, state, attempts, last_error FROM events ORDER BY id DESC LIMIT ?1",
            )
            .map_err(sql("reading events"))?;
        let rows = st
            .query_map(params![limit as i64], |r| {
                Ok(EventRecord {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    source_type: r.get(2)?,
                    person_id: r.get(3)?,
                    received_at: r.get(4)?,
                    state: r.get(5)?,
                    attempts: r.get(6)?,
                    last_error: r.get(7)?,
                })
            })
            .map_err(sql("reading events"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading events"))
    }

    // ---- template runs ----

    /// Starts a template run.
    pub fn begin_template_run(
        &self,
        template: &str,
        person_id: &str,
        trigger: &str,
        inputs_hash: &str,
    ) -> Result<i64> {
        let c = self.conn();
        let t = now();
        c.execute(
            "INSERT INTO template_runs (template, person_id, trigger, step, state, inputs_hash, started_at, updated_at) VALUES (?1, ?2, ?3, 0, 'running', ?4, ?5, ?5)",
            params![template, person_id, trigger, inputs_hash, t],
        )
        .map_err(sql("starting a template run"))?;
        Ok(c.last_insert_rowid())
    }

    /// Records progress: the next step, the state, when to resume, the last error.
    pub fn update_template_run(
        &self,
        id: i64,
        step: i64,
        state: &str,
        resume_at: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE template_runs SET step = ?2, state = ?3, resume_at = ?4, last_error = COALESCE(?5, last_error), updated_at = ?6 WHERE id = ?1",
                params![id, step, state, resume_at, error, now()],
            )
            .map_err(sql("updating a template run"))?;
        Ok(())
    }

    /// One template run.
    pub fn template_run(&self, id: i64) -> Result<Option<TemplateRun>> {
        self.conn()
            .query_row(
                &format!("SELECT {TEMPLATE_RUN_COLUMNS} FROM template_runs WHERE id = ?1"),
                params![id],
                template_run,
            )
            .optional()
            .map_err(sql("reading a template run"))
    }

    /// Waiting runs whose time has come (`resume_at <= now`, RFC 3339), and runs left `running`
    /// by a process that stopped.
    pub fn due_template_runs(&self, now_rfc3339: &str) -> Result<Vec<TemplateRun>> {
        let c = self.conn();
        let mut st = c
            .prepare(&format!(
                "SELECT {TEMPLATE_RUN_COLUMNS} FROM template_runs WHERE (state = 'waiting' AND resume_at <= ?1) OR state = 'interrupted' ORDER BY id"
            ))
            .map_err(sql("reading due template runs"))?;
        let rows = st
            .query_map(params![now_rfc3339], template_run)
            .map_err(sql("reading due template runs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading due template runs"))
    }

    /// Makes a waiting run due now (an admin's "resume now"; tests use it to skip a long wait).
    pub fn resume_template_run_now(&self, id: i64) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE template_runs SET resume_at = ?2 WHERE id = ?1 AND state = 'waiting'",
                params![id, now()],
            )
            .map_err(sql("rescheduling a template run"))?;
        Ok(n == 1)
    }

    /// Runs left `running` by a stopped process are marked for resumption at their current step.
    pub fn interrupt_running_template_runs(&self) -> Result<usize> {
        self.conn()
            .execute(
                "UPDATE template_runs SET state = 'interrupted' WHERE state = 'running'",
                [],
            )
            .map_err(sql("recovering template runs"))
    }

    /// The last finished run of a template for a person: its inputs hash, and how many runs it had
    /// in the last hour (the loop guard).
    pub fn template_history(
        &self,
        template: &str,
        person_id: &str,
        since_rfc3339: &str,
    ) -> Result<(Option<String>, i64)> {
        let c = self.conn();
        let last: Option<String> = c
            .query_row(
                "SELECT inputs_hash FROM template_runs WHERE template = ?1 AND person_id = ?2 AND state = 'done' ORDER BY id DESC LIMIT 1",
                params![template, person_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading template history"))?;
        let recent: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM template_runs WHERE template = ?1 AND person_id = ?2 AND started_at >= ?3",
                params![template, person_id, since_rfc3339],
                |r| r.get(0),
            )
            .map_err(sql("reading template history"))?;
        Ok((last, recent))
    }

    /// The cached detail of one person, if any.
    pub fn person_detail(&self, person_id: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT detail FROM people WHERE person_id = ?1",
                params![person_id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(sql("reading a person"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ev(key: &str, kind: &str, person: &str) -> (String, String, String, Option<String>) {
        (
            key.to_string(),
            kind.to_string(),
            format!("employment.{kind}"),
            Some(person.to_string()),
        )
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("hrsync.db")).unwrap();
        (dir, s)
    }

    fn person(e: Option<StoredEvent>) -> String {
        e.unwrap().person_id.unwrap()
    }

    #[test]
    fn terminations_and_status_changes_are_taken_first_then_hires_then_updates() {
        let (_dir, s) = store();
        s.enqueue_events(
            "remote",
            &[
                ev("k1", "updated", "e-1"),
                ev("k2", "updated", "e-2"),
                ev("k3", "terminated", "e-3"),
                ev("k4", "hired", "e-4"),
                ev("k5", "status-changed", "e-5"),
                ev("k6", "unrecognized", "e-6"),
                ev("k7", "deleted", "e-7"),
            ],
        )
        .unwrap();
        let order: Vec<String> = (0..7).map(|_| person(s.take_event().unwrap())).collect();
        assert_eq!(order, ["e-3", "e-5", "e-7", "e-4", "e-1", "e-2", "e-6"]);
        assert!(s.take_event().unwrap().is_none());
    }

    #[test]
    fn a_person_with_an_event_in_progress_is_skipped_until_it_finishes() {
        let (_dir, s) = store();
        s.enqueue_events("remote", &[ev("k1", "updated", "e-1")])
            .unwrap();
        let first = s.take_event().unwrap().unwrap();
        // A new event for the same person while the first is in progress, and one for another.
        s.enqueue_events(
            "remote",
            &[ev("k2", "terminated", "e-1"), ev("k3", "updated", "e-2")],
        )
        .unwrap();
        assert_eq!(person(s.take_event().unwrap()), "e-2");
        assert!(
            s.take_event().unwrap().is_none(),
            "never two events of one person at once"
        );
        s.finish_event(first.id, None, false).unwrap();
        let next = s.take_event().unwrap().unwrap();
        assert_eq!(
            (next.person_id.as_deref(), next.kind.as_str()),
            (Some("e-1"), "terminated")
        );
    }

    #[test]
    fn a_termination_taken_first_merges_the_persons_older_updates() {
        let (_dir, s) = store();
        s.enqueue_events(
            "remote",
            &[
                ev("k1", "updated", "e-1"),
                ev("k2", "updated", "e-2"),
                ev("k3", "terminated", "e-1"),
            ],
        )
        .unwrap();
        let first = s.take_event().unwrap().unwrap();
        assert_eq!(first.kind, "terminated");
        assert_eq!(
            first.merged,
            vec![("employment.updated".to_string(), "updated".to_string())]
        );
        assert_eq!(first.merged_received_at.len(), 1);
        assert_eq!(person(s.take_event().unwrap()), "e-2");
        assert!(s.take_event().unwrap().is_none());
        assert!(
            s.event_counts()
                .unwrap()
                .contains(&("merged".to_string(), 1))
        );
    }

    #[test]
    fn cooling_events_are_not_taken() {
        let (_dir, s) = store();
        s.enqueue_events(
            "remote",
            &[ev("k1", "updated", "e-1"), ev("k2", "updated", "e-2")],
        )
        .unwrap();
        let first = s.take_event().unwrap().unwrap();
        s.finish_event(first.id, Some("boom"), true).unwrap();
        assert_eq!(person(s.take_event_except(&[first.id]).unwrap()), "e-2");
        assert!(s.take_event_except(&[first.id]).unwrap().is_none());
        let again = s.take_event_except(&[]).unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (first.id, 1));
    }

    #[test]
    fn events_are_committed_with_synchronous_full_and_the_store_goes_back_to_normal() {
        let (_dir, s) = store();
        {
            // Records the connection's `synchronous` level as each event row is inserted.
            let c = s.conn();
            c.execute_batch(
                "CREATE TEMP TABLE seen (level INTEGER);
                 CREATE TEMP TRIGGER seen_level AFTER INSERT ON events
                 BEGIN INSERT INTO seen SELECT synchronous FROM pragma_synchronous; END;",
            )
            .unwrap();
        }
        s.enqueue_events("remote", &[ev("k1", "updated", "e-1")])
            .unwrap();
        let c = s.conn();
        let seen: i64 = c
            .query_row("SELECT level FROM seen", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 2, "FULL while storing events");
        let after: i64 = c
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(after, 1, "NORMAL again afterwards");
        drop(c);
        // A failed durable write restores NORMAL too.
        let failed: Result<()> = s.durably("testing", |tx| {
            tx.execute("INSERT INTO no_such_table VALUES (1)", [])
                .map_err(sql("testing"))?;
            Ok(())
        });
        assert!(failed.is_err());
        let after: i64 = s
            .conn()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(after, 1);
    }
}
