//! The store's schema, versioned with SQLite's `user_version`.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: runs, people, audit, quarantine, events.
    "
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        summary TEXT,
        plan TEXT
    );
    CREATE TABLE people (
        person_id TEXT PRIMARY KEY,
        list_hash TEXT,
        detail_hash TEXT,
        detail TEXT,
        detail_fetched_at TEXT,
        disabled_on TEXT
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER,
        at TEXT NOT NULL,
        person_id TEXT,
        dn TEXT,
        operation TEXT NOT NULL,
        detail TEXT NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE INDEX audit_person ON audit(person_id);
    CREATE INDEX audit_run ON audit(run_id);
    CREATE TABLE quarantine (
        record_id TEXT PRIMARY KEY,
        run_id INTEGER,
        at TEXT NOT NULL,
        field TEXT,
        reason TEXT NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connector TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        source_type TEXT NOT NULL,
        person_id TEXT,
        received_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        UNIQUE(connector, dedupe_key)
    );
    ",
    // 2: orchestration template runs (persisted waits).
    "
    CREATE TABLE template_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        template TEXT NOT NULL,
        person_id TEXT NOT NULL,
        trigger TEXT NOT NULL,
        step INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        resume_at TEXT,
        inputs_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_error TEXT
    );
    CREATE INDEX template_runs_due ON template_runs(state, resume_at);
    CREATE INDEX template_runs_person ON template_runs(template, person_id);
    CREATE INDEX events_state ON events(state, id);
    ",
    // 3: where each person's account is: its objectGUID (certain across moves and renames) and
    // last known DN, so one account is found by a base read instead of an anchor search.
    "
    CREATE TABLE accounts (
        person_id TEXT PRIMARY KEY,
        guid TEXT NOT NULL,
        dn TEXT NOT NULL
    );
    ",
    // 4: requests sent to each connector by any hrsync process sharing this store: one budget
    // per company, whatever runs at once.
    "
    CREATE TABLE rate_log (
        connector TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX rate_log_at ON rate_log(connector, at_ms);
    ",
    // 5: every person's plan of a run, a row each, written as each part of the run is planned
    // (a run's report keeps only the first ones in memory).
    "
    CREATE TABLE run_people (
        run_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        person_id TEXT NOT NULL,
        plan TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    ",
    // 6: plans of a listing's people with something to do, held here (not in memory) until
    // the listing is whole and the safety gate has judged it; settled a part at a time.
    "
    CREATE TABLE run_pending (
        run_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        part INTEGER NOT NULL,
        plan TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    ",
];

/// Brings the schema up to date.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
}
