//! The inbound event queue and the orchestration template runs: stored before they are
//! acknowledged, taken by workers, never lost across restarts.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, now, sql};

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
    /// Stores events in one transaction; a delivery seen before (same dedupe key) is skipped.
    /// Returns how many were new.
    pub fn enqueue_events(
        &self,
        connector: &str,
        events: &[(String, String, String, Option<String>)],
    ) -> Result<usize> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("storing events"))?;
        let mut new = 0;
        {
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
        }
        tx.commit().map_err(sql("storing events"))?;
        Ok(new)
    }

    /// Takes the oldest pending event (marking it `processing`).
    pub fn take_event(&self) -> Result<Option<StoredEvent>> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(sql("taking an event"))?;
        let ev = tx
            .query_row(
                "SELECT id, connector, kind, source_type, person_id, received_at, attempts FROM events WHERE state = 'pending' ORDER BY id LIMIT 1",
                [],
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
                        "SELECT source_type, kind FROM events WHERE state = 'pending' AND connector = ?1 AND person_id = ?2 AND id > ?3",
                    )
                    .map_err(sql("merging events"))?;
                e.merged = st
                    .query_map(params![e.connector, person, e.id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(sql("merging events"))?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql("merging events"))?;
                drop(st);
                tx.execute(
                    "UPDATE events SET state = 'merged', last_error = 'merged into event ' || ?3 WHERE state = 'pending' AND connector = ?1 AND person_id = ?2 AND id > ?3",
                    params![e.connector, person, e.id],
                )
                .map_err(sql("merging events"))?;
            }
        }
        tx.commit().map_err(sql("taking an event"))?;
        Ok(ev)
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
