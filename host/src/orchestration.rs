//! Orchestration templates: named, ordered steps — directory operations, connector actions,
//! outbound webhooks, waits — with `when` conditions and on-failure branches, run for one person.
//!
//! Every step is audited. A wait is persisted (`resume_at` in the store), so a three-day wait
//! survives restarts. The loop guard: a template does not run again for a person whose inputs
//! (HR fields and AD attributes) are the same as at its last completed run, nor more than
//! [`MAX_RUNS_PER_HOUR`] times an hour for one person — a write-back that makes the HR system
//! send a webhook cannot start an endless chain.

use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::directory::{DirEntry, escape};
use crate::mapping::{FieldValue, Person};
use crate::outbound::{self, WebhookConfig};
use crate::sync::plan::{Change, Op};
use crate::sync::{Engine, RunOptions, SyncError};
use crate::templates::{Context, TemplateError, Templates};

pub use crate::config::templates::{
    DirectoryOperation, Step, StepAction, TemplateConfig, parse_duration,
};

/// The trigger of a run an admin asked for (`hrsync orchestrate`): the loop guard does not apply.
pub const MANUAL: &str = "manual";

/// At most this many runs of one template for one person in an hour.
pub const MAX_RUNS_PER_HOUR: i64 = 5;

/// Why a template could not run.
#[derive(Debug, thiserror::Error)]
pub enum OrchestrationError {
    #[error("no template named `{name}`; configured: {known}")]
    Unknown { name: String, known: String },
    #[error("template `{template}`, step {step}: {message}")]
    Step {
        template: String,
        step: usize,
        message: String,
    },
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// How a template run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step ran (or was skipped by its condition).
    Done { run: i64 },
    /// Waiting until the stored time.
    Waiting { run: i64, until: String },
    /// Skipped by the loop guard, with the reason.
    Skipped { reason: String },
    /// A step failed and the template stopped.
    Failed { run: i64, error: String },
}

/// Runs templates against one engine.
pub struct Orchestrator<'a> {
    engine: &'a Engine,
    templates: Templates,
}

/// Credentials of the engine's connector, for webhooks with `auth = { kind = "connector" }`.
pub struct EngineCredentials<'a>(&'a Engine);

/// The credentials source for outbound webhooks of this engine.
pub fn credentials(engine: &Engine) -> EngineCredentials<'_> {
    EngineCredentials(engine)
}

impl outbound::ConnectorCredentials for EngineCredentials<'_> {
    async fn credentials(
        &self,
        name: &str,
    ) -> Result<(Option<crate::secret::Secret>, crate::egress::AllowedHosts), String> {
        let settings = self.0.config().connector(name).map_err(|e| e.to_string())?;
        if name != self.0.connector().name() {
            return Err(format!(
                "connector `{name}` is not the one this engine runs (`{}`): its credentials are not loaded",
                self.0.connector().name()
            ));
        }
        // The connector's own token source and governor: no second token request outside the
        // budget, and a rotating refresh token rotated on one path only.
        let token = self
            .0
            .connector()
            .bearer()
            .await
            .map_err(|e| e.to_string())?;
        Ok((token, settings.allowed_hosts.clone()))
    }
}

impl<'a> Orchestrator<'a> {
    /// An orchestrator over the engine's configuration.
    pub fn new(engine: &'a Engine) -> Self {
        Orchestrator {
            engine,
            templates: Templates::new(),
        }
    }

    /// A group a template may change: one hrsync manages (`[[sync.groups]]`) or one inside the
    /// managed OUs — never a built-in privileged group elsewhere.
    fn check_group(&self, group: &str) -> Result<(), String> {
        let managed = self
            .engine
            .config()
            .sync
            .groups
            .iter()
            .any(|g| escape::dn_eq(&g.dn, group));
        if managed || self.engine.write_scope().holds_entry(group) {
            Ok(())
        } else {
            Err(format!(
                "group {group} is neither in [[sync.groups]] nor inside directory.managed_ous: hrsync does not change it"
            ))
        }
    }

    fn template(&self, name: &str) -> Result<&'a TemplateConfig, OrchestrationError> {
        let all = &self.engine.config().templates;
        all.get(name).ok_or_else(|| OrchestrationError::Unknown {
            name: name.to_string(),
            known: all.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// The person (cached detail, else fetched) and their account.
    async fn subject(
        &self,
        person_id: &str,
    ) -> Result<(Option<Person>, Option<DirEntry>), SyncError> {
        let store = self.engine.store();
        let cached = store
            .person_detail(person_id)?
            .and_then(|d| serde_json::from_str::<Person>(&d).ok());
        let person = match cached {
            Some(p) => Some(p),
            None => self.engine.connector().get(person_id).await?.ok(),
        };
        let account = self.engine.find_account(person_id).await?;
        Ok((person, account))
    }

    fn context(person: &Option<Person>, account: &Option<DirEntry>) -> Context {
        Context::new(
            person.as_ref(),
            account.as_ref().map(|a| (a.dn.as_str(), &a.attrs)),
        )
    }

    fn inputs_hash(template: &str, person: &Option<Person>, account: &Option<DirEntry>) -> String {
        let mut h = Sha256::new();
        h.update(template.as_bytes());
        if let Some(p) = person {
            h.update(serde_json::to_vec(&(&p.status, &p.fields)).unwrap_or_default());
        }
        if let Some(a) = account {
            h.update(a.dn.as_bytes());
            let mut attrs: Vec<_> = a
                .attrs
                .iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.to_ascii_lowercase().as_str(),
                        "whenchanged"
                            | "usnchanged"
                            | "lastlogon"
                            | "badpasswordtime"
                            | "pwdlastset"
                    )
                })
                .collect();
            attrs.sort();
            h.update(format!("{attrs:?}").as_bytes());
        }
        hex::encode(&h.finalize()[..12])
    }

    /// Starts `template` for a person when `when` (a condition over `person` and `user`) holds,
    /// unless the loop guard says it already ran for the same inputs.
    pub async fn start(
        &self,
        template: &str,
        person_id: &str,
        trigger: &str,
        when: Option<&str>,
    ) -> Result<Outcome, OrchestrationError> {
        self.template(template)?;
        let (person, account) = self.subject(person_id).await?;
        if let Some(cond) = when {
            let ctx = Self::context(&person, &account);
            let go = self
                .templates
                .condition(cond, &ctx)
                .map_err(|e| step_err(template, 0, e.at("when").to_string()))?;
            if !go {
                return Ok(Outcome::Skipped {
                    reason: format!("the condition `{cond}` is false for {person_id}"),
                });
            }
        }
        let hash = Self::inputs_hash(template, &person, &account);
        if trigger == MANUAL {
            let run = self
                .engine
                .store()
                .begin_template_run(template, person_id, trigger, &hash)
                .map_err(SyncError::from)?;
            return self.continue_run(run, template, person_id, 0).await;
        }
        let since = (chrono::Utc::now() - chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let store = self.engine.store();
        let (last, recent) = store
            .template_history(template, person_id, &since)
            .map_err(SyncError::from)?;
        if last.as_deref() == Some(hash.as_str()) {
            return Ok(Outcome::Skipped {
                reason: format!("`{template}` already ran for {person_id} with the same inputs"),
            });
        }
        if recent >= MAX_RUNS_PER_HOUR {
            let reason = format!(
                "loop guard: `{template}` ran {recent} times for {person_id} in the last hour"
            );
            tracing::warn!("{reason}");
            return Ok(Outcome::Skipped { reason });
        }
        let run = store
            .begin_template_run(template, person_id, trigger, &hash)
            .map_err(SyncError::from)?;
        self.continue_run(run, template, person_id, 0).await
    }

    /// Resumes waiting runs whose time has come and runs a stopped process left half-done.
    pub async fn resume_due(&self) -> Result<Vec<Outcome>, OrchestrationError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let due = self
            .engine
            .store()
            .due_template_runs(&now)
            .map_err(SyncError::from)?;
        let mut out = Vec::new();
        for r in due {
            // A waiting run resumes after its wait step; an interrupted one redoes its step.
            let step = if r.state == "waiting" {
                r.step + 1
            } else {
                r.step
            };
            self.engine
                .store()
                .update_template_run(r.id, step, "running", None, None)
                .map_err(SyncError::from)?;
            out.push(
                self.continue_run(r.id, &r.template, &r.person_id, step as usize)
                    .await?,
            );
        }
        Ok(out)
    }

    async fn continue_run(
        &self,
        run: i64,
        name: &str,
        person_id: &str,
        from: usize,
    ) -> Result<Outcome, OrchestrationError> {
        let span = tracing::info_span!("template", name, person = person_id, run);
        Box::pin(self.run_steps(run, name, person_id, from))
            .instrument(span)
            .await
    }

    async fn run_steps(
        &self,
        run: i64,
        name: &str,
        person_id: &str,
        from: usize,
    ) -> Result<Outcome, OrchestrationError> {
        let template = self.template(name)?;
        let store = self.engine.store().clone();
        for (i, step) in template.steps.iter().enumerate().skip(from) {
            store
                .update_template_run(run, i as i64, "running", None, None)
                .map_err(SyncError::from)?;
            let (person, account) = self.subject(person_id).await?;
            let ctx = Self::context(&person, &account);
            if let Some(cond) = &step.when {
                let go = self.templates.condition(cond, &ctx).map_err(|e| {
                    step_err(name, i, e.at(&format!("steps[{i}].when")).to_string())
                })?;
                if !go {
                    audit(
                        &store,
                        person_id,
                        account.as_ref(),
                        name,
                        i,
                        "skipped",
                        "condition false",
                    );
                    continue;
                }
            }
            if let StepAction::Wait { duration } = &step.action {
                let d = parse_duration(duration).map_err(|m| step_err(name, i, m))?;
                let until = (chrono::Utc::now()
                    + chrono::Duration::from_std(d).unwrap_or_default())
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                store
                    .update_template_run(run, i as i64, "waiting", Some(&until), None)
                    .map_err(SyncError::from)?;
                audit(
                    &store,
                    person_id,
                    account.as_ref(),
                    name,
                    i,
                    "ok",
                    &format!("waiting until {until}"),
                );
                return Ok(Outcome::Waiting { run, until });
            }
            match self
                .step(&step.action, person_id, &person, &account, &ctx, i)
                .await
            {
                Ok(detail) => audit(&store, person_id, account.as_ref(), name, i, "ok", &detail),
                Err(message) => {
                    audit(
                        &store,
                        person_id,
                        account.as_ref(),
                        name,
                        i,
                        "error",
                        &message,
                    );
                    match step.on_failure.as_deref() {
                        Some("continue") => continue,
                        None | Some("stop") => {
                            store
                                .update_template_run(run, i as i64, "failed", None, Some(&message))
                                .map_err(SyncError::from)?;
                            return Ok(Outcome::Failed {
                                run,
                                error: message,
                            });
                        }
                        Some(fallback) => {
                            store
                                .update_template_run(run, i as i64, "failed", None, Some(&message))
                                .map_err(SyncError::from)?;
                            let fallback_run = store
                                .begin_template_run(
                                    fallback,
                                    person_id,
                                    &format!("on-failure:{name}"),
                                    "-",
                                )
                                .map_err(SyncError::from)?;
                            return Box::pin(self.continue_run(
                                fallback_run,
                                fallback,
                                person_id,
                                0,
                            ))
                            .await;
                        }
                    }
                }
            }
        }
        store
            .update_template_run(run, template.steps.len() as i64, "done", None, None)
            .map_err(SyncError::from)?;
        Ok(Outcome::Done { run })
    }

    /// Runs one step; `Ok` carries a line for the audit log.
    async fn step(
        &self,
        action: &StepAction,
        person_id: &str,
        person: &Option<Person>,
        account: &Option<DirEntry>,
        ctx: &Context,
        i: usize,
    ) -> Result<String, String> {
        let render = |what: &str, s: &str| -> Result<String, String> {
            self.templates
                .render(s, ctx)
                .map_err(|e: TemplateError| e.at(&format!("steps[{i}].{what}")).to_string())
        };
        match action {
            StepAction::Directory {
                operation: DirectoryOperation::Create,
                ..
            } => {
                let opts = RunOptions {
                    apply: true,
                    only: Some(person_id.to_string()),
                    trigger: "template".into(),
                    now: None,
                };
                let r = self
                    .engine
                    .run(&opts, &crate::sync::progress::Progress::hidden())
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(f) = r.failed.first() {
                    return Err(f.reason.clone());
                }
                Ok(format!("provisioned ({} operations)", r.operations_applied))
            }
            StepAction::Directory {
                operation,
                attributes,
                group,
                target_ou,
            } => {
                let Some(account) = account else {
                    return Err(format!("{person_id} has no account"));
                };
                let dn = account.dn.clone();
                let (op, done) = match operation {
                    DirectoryOperation::Modify => {
                        let mut changes = Vec::new();
                        for (k, v) in attributes {
                            let value = render(&format!("attributes.{k}"), v)?;
                            let value = crate::mapping::clean::clean(&value).into_owned();
                            changes.push(Change {
                                attribute: k.clone(),
                                old: account.values(k).to_vec(),
                                new: (!value.is_empty()).then_some(value),
                            });
                        }
                        let names = attributes.keys().cloned().collect::<Vec<_>>().join(", ");
                        (Op::Modify { dn, changes }, format!("modified {names}"))
                    }
                    DirectoryOperation::Enable => (Op::Enable { dn }, "enabled".to_string()),
                    DirectoryOperation::Disable => (Op::Disable { dn }, "disabled".to_string()),
                    DirectoryOperation::Move => {
                        let ou = render(
                            "target_ou",
                            target_ou.as_deref().ok_or("a move needs target_ou")?,
                        )?;
                        let (rdn, _) = escape::split_first_rdn(&dn)
                            .ok_or("the account's DN cannot be read")?;
                        let to = format!("{rdn},{ou}");
                        let done = format!("moved to {to}");
                        (Op::Move { from: dn, to }, done)
                    }
                    DirectoryOperation::AddGroup | DirectoryOperation::RemoveGroup => {
                        let g =
                            render("group", group.as_deref().ok_or("a group step needs group")?)?;
                        self.check_group(&g)?;
                        if *operation == DirectoryOperation::AddGroup {
                            let done = format!("added to {g}");
                            (Op::AddToGroup { group: g, dn }, done)
                        } else {
                            let done = format!("removed from {g}");
                            (Op::RemoveFromGroup { group: g, dn }, done)
                        }
                    }
                    DirectoryOperation::ResetPassword => (
                        Op::ResetPassword { dn },
                        "password reset to a random value".to_string(),
                    ),
                    DirectoryOperation::Delete => (Op::Delete { dn }, "deleted".to_string()),
                    // Matched by the arm above; listed so that a new operation must be handled.
                    DirectoryOperation::Create => return Ok("provisioned".to_string()),
                };
                let applied = self
                    .engine
                    .apply_for(person_id, account, vec![op])
                    .await
                    .map_err(|e| e.to_string())?;
                match applied.failed.first() {
                    Some(f) => Err(f.reason.clone()),
                    None => Ok(done),
                }
            }
            StepAction::ConnectorAction {
                connector,
                action,
                params,
            } => {
                if connector != self.engine.connector().name() {
                    return Err(format!(
                        "connector `{connector}` is not the engine's connector `{}`",
                        self.engine.connector().name()
                    ));
                }
                let mut fields = Vec::new();
                for (k, v) in params {
                    let value = render(&format!("params.{k}"), v)?;
                    fields.push((k.clone(), FieldValue::Text(value)));
                }
                let _ = person;
                let out = self
                    .engine
                    .connector()
                    .invoke(action, &fields)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(out.summary)
            }
            StepAction::Webhook { webhook } => {
                let cfg: &WebhookConfig = self
                    .engine
                    .config()
                    .webhooks
                    .get(webhook)
                    .ok_or_else(|| format!("no webhook named `{webhook}`"))?;
                let base = self
                    .engine
                    .config()
                    .path
                    .parent()
                    .unwrap_or(std::path::Path::new("."));
                let (sent, answer) = outbound::call(
                    webhook,
                    cfg,
                    &self.engine.config().outbound_allowed_hosts,
                    base,
                    ctx,
                    &EngineCredentials(self.engine),
                )
                .await
                .map_err(|e| e.to_string())?;
                if !(200..300).contains(&answer.status) {
                    return Err(format!(
                        "{} {} answered {}",
                        sent.method, sent.url, answer.status
                    ));
                }
                Ok(format!("{} {} → {}", sent.method, sent.url, answer.status))
            }
            StepAction::Wait { .. } => Ok(String::new()),
        }
    }
}

fn step_err(template: &str, step: usize, message: String) -> OrchestrationError {
    OrchestrationError::Step {
        template: template.to_string(),
        step,
        message,
    }
}

fn audit(
    store: &crate::store::Store,
    person: &str,
    account: Option<&DirEntry>,
    template: &str,
    step: usize,
    outcome: &str,
    detail: &str,
) {
    if let Err(e) = store.audit(
        None,
        Some(person),
        account.map(|a| a.dn.as_str()),
        &format!("template {template}[{step}]"),
        detail,
        outcome,
    ) {
        tracing::error!(error = %e, template, step, "the template step cannot be recorded in the audit log");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn steps_parse_from_toml() {
        let t: TemplateConfig = toml::from_str(
            r#"
            description = "write back"
            [[steps]]
            kind = "connector-action"
            connector = "remote"
            action = "update-employment"
            params = { employment_id = "{{ person.id }}", work_email = "{{ user.mail }}" }
            when = "user.mail"
            [[steps]]
            kind = "wait"
            duration = "3d"
            [[steps]]
            kind = "directory"
            operation = "add-group"
            group = "CN=x"
            on_failure = "continue"
            "#,
        )
        .unwrap();
        assert_eq!(t.steps.len(), 3);
        assert!(matches!(t.steps[1].action, StepAction::Wait { .. }));
        assert_eq!(t.steps[2].on_failure.as_deref(), Some("continue"));
    }
}
