//! Automations: a trigger (a cron schedule, HR event types, or by hand), a scope, and what runs —
//! the sync rules and/or an orchestration template.

use serde::Deserialize;

/// `[[automations]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationConfig {
    pub name: String,
    /// A cron expression with seconds: `sec min hour day month weekday` (`0 0 * * * *` hourly).
    #[serde(default)]
    pub schedule: Option<String>,
    /// HR event types (`employment.details.updated`) or kinds (`hired`, `updated`,
    /// `status-changed`, `terminated`, `deleted`, `unrecognized`, `*`) that trigger it.
    #[serde(default)]
    pub events: Vec<String>,
    /// Run the sync rules (a full sync on a schedule; that person's sync on an event).
    #[serde(default = "yes")]
    pub sync: bool,
    /// An orchestration template to run for the people concerned.
    #[serde(default)]
    pub template: Option<String>,
    /// A condition over `person` and `user` for running the template.
    #[serde(default)]
    pub when: Option<String>,
    /// On a schedule, who the template runs for: the run's `joiners` (default) or everyone the
    /// run `changed`.
    #[serde(default, rename = "for")]
    pub template_for: TemplateFor,
}

fn yes() -> bool {
    true
}

/// Whom a scheduled automation's template runs for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TemplateFor {
    #[default]
    Joiners,
    Changed,
}

impl AutomationConfig {
    /// The parsed schedule, or a message naming the automation.
    pub fn cron(&self) -> Result<Option<cron::Schedule>, String> {
        match &self.schedule {
            None => Ok(None),
            Some(s) => s.parse::<cron::Schedule>().map(Some).map_err(|e| {
                format!(
                    "automation `{}`: schedule `{s}` is not a cron expression with seconds (sec min hour day month weekday): {e}",
                    self.name
                )
            }),
        }
    }

    /// Whether an HR event (its type and kind) triggers this automation.
    pub fn matches_event(&self, source_type: &str, kind: &str) -> bool {
        self.events
            .iter()
            .any(|e| e == "*" || e == source_type || e == kind)
    }
}
