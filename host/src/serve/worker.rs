//! The service's background work: stored HR events, cron schedules, waiting templates.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

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

/// Takes stored events one at a time and applies each person's changes.
pub async fn events(app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    loop {
        if *stopped.borrow() {
            break;
        }
        match app.engine.store().take_event() {
            Ok(Some(ev)) => {
                let span = tracing::info_span!("event", id = ev.id, event_type = %ev.source_type, person = ev.person_id.as_deref().unwrap_or("-"));
                process(&app, ev).instrument(span).await;
            }
            Ok(None) => {
                tokio::select! {
                    _ = app.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the event queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn process(app: &App, ev: StoredEvent) {
    let store = app.engine.store();
    let Some(person) = ev.person_id.clone() else {
        tracing::warn!("the event names no person; nothing to do");
        let _ = store.finish_event(ev.id, None, false);
        return;
    };
    // The event says something changed: fetch this person afresh.
    let _ = store.invalidate_detail(&person);
    let result = {
        let _one_at_a_time = app.run_lock.lock().await;
        let opts = RunOptions {
            apply: true,
            only: Some(person.clone()),
            trigger: format!("event:{}", ev.id),
            now: None,
        };
        app.engine.run(&opts, &Progress::hidden()).await
    };
    match result {
        Ok(report) => {
            app.metrics.record_run("event", &report);
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
                    let _one_at_a_time = app.run_lock.lock().await;
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
            let _ = store.finish_event(ev.id, None, false);
            app.metrics.events_processed.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            let attempts = ev.attempts + 1;
            let retry = attempts < app.engine.config().serve.event_attempts;
            tracing::warn!(error = %e, attempts, retry, "event failed");
            let _ = store.finish_event(ev.id, Some(&e.to_string()), retry);
            app.metrics.errors.fetch_add(1, Ordering::Relaxed);
            if !retry {
                app.metrics.events_failed.fetch_add(1, Ordering::Relaxed);
            } else {
                // Back off before the queue hands it out again.
                tokio::time::sleep(Duration::from_millis(500 * attempts as u64)).await;
            }
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
            _ = stopped.changed() => {}
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
    let _one_at_a_time = app.run_lock.lock().await;
    let mut people: Vec<String> = Vec::new();
    if a.sync {
        let opts = RunOptions {
            apply: true,
            only: None,
            trigger: format!("cron:{}", a.name),
            now: None,
        };
        match app.engine.run(&opts, &Progress::hidden()).await {
            Ok(report) => {
                app.metrics.record_run("cron", &report);
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
                app.metrics.errors.fetch_add(1, Ordering::Relaxed);
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
        {
            let _one_at_a_time = app.run_lock.lock().await;
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
            _ = stopped.changed() => {}
        }
        if *stopped.borrow() {
            return;
        }
    }
}
