//! The service's background work: stored HR events (several workers, supervised), cron
//! schedules, waiting templates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;
use tracing::Instrument;

use super::App;
use crate::automation::TemplateFor;
use crate::orchestration::{Orchestrator, Outcome};
use crate::store::StoredEvent;
use crate::sync::RunOptions;
use crate::sync::plan::Op;
use crate::sync::progress::Progress;

/// How often waiting templates are checked.
const TEMPLATE_POLL: Duration = Duration::from_secs(2);

/// The longest a crashed worker waits before it restarts (the delay doubles per panic in a row).
const MAX_RESTART_DELAY: Duration = Duration::from_secs(60);

/// How long an event that failed waits before it is taken again: half a second per attempt.
fn retry_backoff(attempt: i64) -> Duration {
    Duration::from_millis(500 * attempt.clamp(1, 60) as u64)
}

/// The event in a worker's hands.
#[derive(Debug, Clone)]
struct InHand {
    id: i64,
    /// This attempt's number (1 for the first).
    attempt: i64,
    since: Instant,
}

/// One worker slot.
#[derive(Debug, Default)]
struct Slot {
    /// Why the slot is not running (it crashed and waits to restart).
    down: Option<String>,
    in_hand: Option<InHand>,
    /// Panics since the slot last finished an event.
    panics_in_a_row: u32,
}

#[derive(Debug)]
struct HealthState {
    slots: Vec<Slot>,
    /// When an event last finished (applied, failed or sent back for a retry), or the start.
    last_progress: Instant,
    /// Set when the supervisor itself has ended while the service was not stopping.
    supervisor_gone: Option<String>,
    /// Events waiting out a retry backoff, and until when.
    cooling: HashMap<i64, Instant>,
}

/// What the event workers are doing, for `/readyz`: which are down and why, what each has in
/// hand, when an event last finished.
#[derive(Debug)]
pub struct WorkerHealth {
    state: Mutex<HealthState>,
}

impl WorkerHealth {
    /// The health of `workers` slots, all running, progress counted from now.
    pub fn new(workers: usize) -> Self {
        WorkerHealth {
            state: Mutex::new(HealthState {
                slots: (0..workers.max(1)).map(|_| Slot::default()).collect(),
                last_progress: Instant::now(),
                supervisor_gone: None,
                cooling: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // A panic elsewhere while holding this lock leaves plain data: keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn took(&self, slot: usize, ev: &StoredEvent) {
        if let Some(s) = self.lock().slots.get_mut(slot) {
            s.in_hand = Some(InHand {
                id: ev.id,
                attempt: ev.attempts + 1,
                since: Instant::now(),
            });
        }
    }

    fn finished(&self, slot: usize) {
        let mut st = self.lock();
        st.last_progress = Instant::now();
        if let Some(s) = st.slots.get_mut(slot) {
            s.in_hand = None;
            s.panics_in_a_row = 0;
        }
    }

    /// Marks a slot down after a panic; returns the event it had in hand and its panics in a row.
    fn crashed(&self, slot: usize, reason: String) -> (Option<InHand>, u32) {
        let mut st = self.lock();
        st.last_progress = Instant::now();
        match st.slots.get_mut(slot) {
            Some(s) => {
                s.down = Some(reason);
                s.panics_in_a_row += 1;
                (s.in_hand.take(), s.panics_in_a_row)
            }
            None => (None, 1),
        }
    }

    fn running(&self, slot: usize) {
        if let Some(s) = self.lock().slots.get_mut(slot) {
            s.down = None;
        }
    }

    fn supervisor_ended(&self, why: &str) {
        self.lock().supervisor_gone = Some(why.to_string());
    }

    fn cool(&self, id: i64, wait: Duration) {
        self.lock().cooling.insert(id, Instant::now() + wait);
    }

    /// Events still cooling (expired ones are forgotten).
    fn cooling(&self) -> Vec<i64> {
        let mut st = self.lock();
        let now = Instant::now();
        st.cooling.retain(|_, until| *until > now);
        st.cooling.keys().copied().collect()
    }

    /// Why the event workers are not fit to take traffic, if they are not: a worker down after
    /// a panic, the supervisor gone, or no event finished for `stall_after` while `depth` events
    /// wait or are in progress. Empty when all is well.
    pub fn problems(&self, depth: i64, stall_after: Duration) -> Vec<String> {
        let st = self.lock();
        let mut out = Vec::new();
        if let Some(why) = &st.supervisor_gone {
            out.push(format!("the event workers are gone: {why}"));
        }
        for (i, s) in st.slots.iter().enumerate() {
            if let Some(why) = &s.down {
                out.push(format!("event worker {i} is down: {why}"));
            }
        }
        let idle = st.last_progress.elapsed();
        if depth > 0 && idle >= stall_after {
            let longest = st
                .slots
                .iter()
                .filter_map(|s| s.in_hand.as_ref())
                .max_by_key(|h| h.since.elapsed());
            let detail = match longest {
                Some(h) => format!(
                    "; event {} has been in progress for {} s (attempt {})",
                    h.id,
                    h.since.elapsed().as_secs(),
                    h.attempt
                ),
                None => String::new(),
            };
            out.push(format!(
                "stalled: no event finished for {} s while {depth} wait or are in progress{detail}",
                idle.as_secs()
            ));
        }
        out
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Runs `event_workers` event workers and restarts any that panics, after a delay that doubles
/// with each panic in a row (up to a minute). The event a crashed worker had in hand goes back to
/// the queue for another attempt (after a backoff), or is marked failed once it has had
/// `serve.event_attempts`. While a worker is down, `/readyz` says so.
pub async fn supervise(app: Arc<App>, stopped: watch::Receiver<bool>) {
    struct Gone<'a>(&'a App, &'a watch::Receiver<bool>);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            if !*self.1.borrow() {
                self.0
                    .health
                    .supervisor_ended("the supervisor stopped while the service runs");
            }
        }
    }
    let _gone = Gone(&app, &stopped);
    let workers = app.options.event_workers.max(1);
    let mut set = tokio::task::JoinSet::new();
    let mut slots: HashMap<tokio::task::Id, usize> = HashMap::new();
    for slot in 0..workers {
        let handle = set.spawn(run_slot(app.clone(), slot, stopped.clone(), Duration::ZERO));
        slots.insert(handle.id(), slot);
    }
    while let Some(joined) = set.join_next_with_id().await {
        let (id, panic) = match joined {
            Ok((id, ())) => (id, None),
            Err(e) if e.is_panic() => {
                let id = e.id();
                (id, Some(panic_message(&*e.into_panic())))
            }
            Err(e) => (e.id(), None),
        };
        let Some(slot) = slots.remove(&id) else {
            continue;
        };
        let Some(message) = panic else {
            // Stopped (shutdown) or cancelled.
            continue;
        };
        app.metrics.worker_restarts.inc();
        app.metrics.errors.inc();
        let before = app
            .health
            .lock()
            .slots
            .get(slot)
            .map_or(0, |s| s.panics_in_a_row);
        let delay = app
            .options
            .restart_delay
            .saturating_mul(1 << before.min(16))
            .min(MAX_RESTART_DELAY);
        let (in_hand, in_a_row) = app.health.crashed(
            slot,
            format!(
                "it panicked ({message}); restarting in {} ms",
                delay.as_millis()
            ),
        );
        tracing::error!(
            worker = slot,
            panic = %message,
            in_a_row,
            event = in_hand.as_ref().map(|h| h.id),
            restart_in_ms = delay.as_millis() as u64,
            "an event worker panicked; restarting it"
        );
        if let Some(h) = in_hand {
            settle_after_panic(&app, &h, &message);
        }
        if *stopped.borrow() {
            continue;
        }
        let handle = set.spawn(run_slot(app.clone(), slot, stopped.clone(), delay));
        slots.insert(handle.id(), slot);
    }
}

/// The event a worker had in hand when it panicked: back to the queue after a backoff, or failed
/// after its attempts.
fn settle_after_panic(app: &App, h: &InHand, message: &str) {
    let retry = h.attempt < app.engine.config().serve.event_attempts;
    let error = format!("the event worker panicked: {message}");
    match app.engine.store().finish_event(h.id, Some(&error), retry) {
        Ok(()) if retry => app.health.cool(h.id, retry_backoff(h.attempt)),
        Ok(()) => {
            app.metrics.events_failed.inc();
            tracing::error!(
                event = h.id,
                attempts = h.attempt,
                "event failed after its attempts"
            );
        }
        Err(e) => {
            // It stays `processing`: the next start requeues it.
            tracing::error!(event = h.id, error = %e, "cannot record the crashed worker's event")
        }
    }
    app.wake.notify_one();
}

/// One worker slot: waits `delay` (a restart), then takes events until the service stops.
async fn run_slot(app: Arc<App>, slot: usize, mut stopped: watch::Receiver<bool>, delay: Duration) {
    if !delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped.changed() => {}
        }
    }
    app.health.running(slot);
    events(app, slot, stopped).await;
}

/// Takes stored events one at a time and applies each person's changes; several run side by
/// side, never two for one person (the queue sees to it).
async fn events(app: Arc<App>, slot: usize, mut stopped: watch::Receiver<bool>) {
    loop {
        if *stopped.borrow() {
            break;
        }
        let cooling = app.health.cooling();
        match app.engine.store().take_event_except(&cooling) {
            Ok(Some(ev)) => {
                app.health.took(slot, &ev);
                // There may be more: let another idle worker look.
                app.wake.notify_one();
                let span = tracing::info_span!(
                    "event",
                    worker = slot,
                    id = ev.id,
                    attempt = ev.attempts + 1,
                    event_type = %ev.source_type,
                    person = ev.person_id.as_deref().unwrap_or("-")
                );
                process(&app, ev).instrument(span).await;
                app.health.finished(slot);
                // The person's later events can be taken now.
                app.wake.notify_one();
            }
            Ok(None) => {
                tokio::select! {
                    _ = app.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    changed = stopped.changed() => {
                        if changed.is_err() {
                            // The service is gone.
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(worker = slot, error = %e, "cannot read the event queue");
                app.metrics.errors.inc();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Held for an event's run: shared with other people's events, or alone.
enum RunGuard<'a> {
    Shared {
        _held: tokio::sync::RwLockReadGuard<'a, ()>,
    },
    Alone {
        _held: tokio::sync::RwLockWriteGuard<'a, ()>,
    },
}

/// Processes one event; its HR requests spend the events' share of the budget.
async fn process(app: &App, ev: StoredEvent) {
    crate::http::governor::for_events(process_event(app, ev)).await
}

async fn process_event(app: &App, ev: StoredEvent) {
    let started = Instant::now();
    if let Some(hook) = &app.options.before_event {
        hook(ev.clone()).await;
    }
    let store = app.engine.store();
    let Some(person) = ev.person_id.clone() else {
        tracing::warn!("the event names no person; nothing to do");
        if let Err(e) = store.finish_event(ev.id, None, false) {
            tracing::error!(error = %e, "cannot mark the event done");
        }
        return;
    };
    // The event says something changed: fetch this person afresh.
    if let Err(e) = store.invalidate_detail(&person) {
        tracing::warn!(error = %e, "cannot forget the cached detail; the run may use it");
    }
    // A run for someone without a known account may create one, and a create reserves unique
    // names (sAMAccountName, UPN, mail) that a concurrent run for a namesake could also pick:
    // such runs go alone. A known account: its objectGUID is stored, or hrsync wrote it. Leavers
    // never create. Other runs share.
    let leaver = matches!(ev.kind.as_str(), "terminated" | "deleted");
    let known = || -> Result<bool, crate::store::StoreError> {
        Ok(store.account(&person)?.is_some() || store.has_written_account(&person)?)
    };
    let alone = !leaver && !known().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot tell whether the person has an account; running alone");
        false
    });
    let (result, took) = {
        let _guard = if alone {
            RunGuard::Alone {
                _held: app.run_lock.write().await,
            }
        } else {
            RunGuard::Shared {
                _held: app.run_lock.read().await,
            }
        };
        let opts = RunOptions {
            apply: true,
            only: Some(person.clone()),
            trigger: format!("event:{}", ev.id),
            now: None,
        };
        let t0 = Instant::now();
        let result = app.engine.run(&opts, &Progress::hidden()).await;
        (result, t0.elapsed())
    };
    match result {
        Ok(report) => {
            app.metrics.record_run("event", &report, took);
            let types: Vec<(&str, &str)> =
                std::iter::once((ev.source_type.as_str(), ev.kind.as_str()))
                    .chain(ev.merged.iter().map(|(t, k)| (t.as_str(), k.as_str())))
                    .collect();
            let matching = app
                .engine
                .config()
                .automations
                .iter()
                .filter(|a| types.iter().any(|(t, k)| a.matches_event(t, k)));
            for a in matching {
                if let Some(t) = &a.template {
                    // A template works on this person only: it shares like the event's run.
                    let _shared = app.run_lock.read().await;
                    let outcome = Orchestrator::new(&app.engine)
                        .start(
                            t,
                            &person,
                            &format!("automation:{}", a.name),
                            a.when.as_deref(),
                        )
                        .await;
                    log_outcome(t, &person, outcome);
                }
            }
            if let Err(e) = store.finish_event(ev.id, None, false) {
                // It stays `processing` until the next start requeues it (applying it again
                // finds nothing to change).
                tracing::error!(error = %e, "cannot mark the event done");
                app.metrics.errors.inc();
            }
            app.metrics.events_processed.inc();
            let received: Vec<&str> = std::iter::once(ev.received_at.as_str())
                .chain(ev.merged_received_at.iter().map(String::as_str))
                .collect();
            app.metrics.record_event(started.elapsed(), &received);
        }
        Err(e) => {
            let attempts = ev.attempts + 1;
            let retry = attempts < app.engine.config().serve.event_attempts;
            tracing::warn!(error = %e, attempts, retry, "event failed");
            match store.finish_event(ev.id, Some(&e.to_string()), retry) {
                // Back off before the queue hands it out again.
                Ok(()) if retry => app.health.cool(ev.id, retry_backoff(attempts)),
                Ok(()) => {
                    app.metrics.events_failed.inc();
                }
                Err(store_error) => {
                    tracing::error!(error = %store_error, "cannot record the event's failure")
                }
            }
            app.metrics.errors.inc();
            app.metrics.record_event(started.elapsed(), &[]);
        }
    }
}

fn log_outcome(
    template: &str,
    person: &str,
    outcome: Result<Outcome, crate::orchestration::OrchestrationError>,
) {
    match outcome {
        Ok(Outcome::Done { run }) => tracing::info!(template, person, run, "template done"),
        Ok(Outcome::Waiting { run, until }) => {
            tracing::info!(template, person, run, %until, "template waiting")
        }
        Ok(Outcome::Skipped { reason }) => {
            tracing::info!(template, person, %reason, "template skipped")
        }
        Ok(Outcome::Failed { run, error }) => {
            tracing::warn!(template, person, run, %error, "template failed")
        }
        Err(e) => tracing::warn!(template, person, error = %e, "template could not run"),
    }
}

/// Fires each scheduled automation at its cron times.
pub async fn schedules(app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    let scheduled: Vec<(crate::automation::AutomationConfig, cron::Schedule)> = app
        .engine
        .config()
        .automations
        .iter()
        .filter_map(|a| Some((a.clone(), a.cron().ok()??)))
        .collect();
    if scheduled.is_empty() {
        return;
    }
    loop {
        let now = Utc::now();
        let Some((next, index)) = scheduled
            .iter()
            .enumerate()
            .filter_map(|(i, (_, s))| s.after(&now).next().map(|t| (t, i)))
            .min()
        else {
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = stopped.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        if *stopped.borrow() {
            return;
        }
        let (automation, _) = &scheduled[index];
        let span = tracing::info_span!("automation", name = %automation.name);
        fire(&app, automation).instrument(span).await;
    }
}

async fn fire(app: &App, a: &crate::automation::AutomationConfig) {
    // A full run goes alone: no event runs beside it.
    let _alone = app.run_lock.write().await;
    let mut people: Vec<String> = Vec::new();
    if a.sync {
        let opts = RunOptions {
            apply: true,
            only: None,
            trigger: format!("cron:{}", a.name),
            now: None,
        };
        let t0 = Instant::now();
        match app.engine.run(&opts, &Progress::hidden()).await {
            Ok(report) => {
                app.metrics.record_run("cron", &report, t0.elapsed());
                people = report
                    .plan
                    .people
                    .iter()
                    .filter(|p| match a.template_for {
                        TemplateFor::Joiners => {
                            p.ops.iter().any(|o| matches!(o, Op::Create { .. }))
                        }
                        TemplateFor::Changed => !p.ops.is_empty(),
                    })
                    .map(|p| p.person_id.clone())
                    .collect();
            }
            Err(e) => {
                app.metrics.errors.inc();
                tracing::error!(error = %e, "scheduled sync failed");
            }
        }
    }
    if let Some(t) = &a.template {
        let o = Orchestrator::new(&app.engine);
        for p in people {
            log_outcome(
                t,
                &p,
                o.start(t, &p, &format!("automation:{}", a.name), a.when.as_deref())
                    .await,
            );
        }
    }
}

/// Resumes waiting templates when their time comes (and after a restart).
pub async fn templates(app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    loop {
        // Look before taking the lock: taking it alone every poll would pause the event workers.
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let due = match app.engine.store().due_template_runs(&now) {
            Ok(due) => !due.is_empty(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read waiting templates");
                false
            }
        };
        if due {
            let _alone = app.run_lock.write().await;
            match Orchestrator::new(&app.engine).resume_due().await {
                Ok(outcomes) => {
                    for o in outcomes {
                        tracing::info!(?o, "resumed a template");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "resuming templates failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TEMPLATE_POLL) => {}
            changed = stopped.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        if *stopped.borrow() {
            return;
        }
    }
}
