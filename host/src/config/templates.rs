//! `[templates.NAME]`: orchestration templates as configured — named, ordered steps (directory
//! operations, connector actions, outbound webhooks, waits). [`crate::orchestration`] runs them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// `[templates.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    #[serde(default)]
    pub description: String,
    pub steps: Vec<Step>,
}

/// One step.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: StepAction,
    /// A condition; the step is skipped when false.
    #[serde(default)]
    pub when: Option<String>,
    /// `stop` (default), `continue`, or the name of a template to run instead of the rest.
    #[serde(default)]
    pub on_failure: Option<String>,
}

/// What a step does.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepAction {
    /// A directory operation on the person's account.
    Directory {
        operation: DirectoryOperation,
        #[serde(default)]
        attributes: BTreeMap<String, String>,
        #[serde(default)]
        group: Option<String>,
        #[serde(default)]
        target_ou: Option<String>,
    },
    /// A connector action, e.g. `remote` / `update-employment`, with templated parameters.
    ConnectorAction {
        connector: String,
        action: String,
        #[serde(default)]
        params: BTreeMap<String, String>,
    },
    /// An outbound webhook by name (`[webhooks.NAME]`).
    Webhook { webhook: String },
    /// Wait, e.g. `3d`, `12h`, `30m`, `10s` — persisted.
    Wait { duration: String },
}

/// Directory operations a step may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirectoryOperation {
    /// Provision the person through the sync rules (create or update).
    Create,
    Modify,
    Enable,
    Disable,
    Move,
    AddGroup,
    RemoveGroup,
    ResetPassword,
    Delete,
}

/// Parses `3d`, `12h`, `30m`, `10s`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 3d, 12h, 30m, 10s"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => return Err(format!("`{text}` is not a duration like 3d, 12h, 30m, 10s")),
    })
}

/// A template's mistakes that would otherwise show only when a step runs: a wait that is no
/// duration, an `on_failure` that is neither `stop`, `continue` nor a template, a webhook or
/// connector that is not configured. Each as (the step's key, the message).
pub fn check_templates(
    templates: &BTreeMap<String, TemplateConfig>,
    webhooks: &dyn Fn(&str) -> bool,
    connectors: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, t) in templates {
        for (i, step) in t.steps.iter().enumerate() {
            let key = format!("templates.{name}.steps[{i}]");
            match &step.action {
                StepAction::Wait { duration } => {
                    if let Err(m) = parse_duration(duration) {
                        out.push((format!("{key}.duration"), m));
                    }
                }
                StepAction::Webhook { webhook } if !webhooks(webhook) => {
                    out.push((
                        key.clone(),
                        format!("webhook `{webhook}` is not configured"),
                    ));
                }
                StepAction::ConnectorAction { connector, .. } if !connectors(connector) => {
                    out.push((
                        format!("{key}.connector"),
                        format!("connector `{connector}` is not configured"),
                    ));
                }
                StepAction::Directory {
                    operation: DirectoryOperation::AddGroup | DirectoryOperation::RemoveGroup,
                    group: None,
                    ..
                } => out.push((
                    format!("{key}.group"),
                    "add-group and remove-group need `group` (the group's DN)".to_string(),
                )),
                StepAction::Directory {
                    operation: DirectoryOperation::Move,
                    target_ou: None,
                    ..
                } => out.push((
                    format!("{key}.target_ou"),
                    "move needs `target_ou` (the OU's DN, a template)".to_string(),
                )),
                _ => {}
            }
            if let Some(target) = step.on_failure.as_deref()
                && !matches!(target, "stop" | "continue")
                && !templates.contains_key(target)
            {
                out.push((
                    format!("{key}.on_failure"),
                    format!("`{target}` is not `stop`, `continue` or a configured template"),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3d").unwrap(), Duration::from_secs(259_200));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }

    #[test]
    fn every_step_mistake_is_named_at_load() {
        let t: BTreeMap<String, TemplateConfig> = toml::from_str(
            r#"
[onboard]
steps = [
  { kind = "wait", duration = "soon" },
  { kind = "webhook", webhook = "nope", on_failure = "rollback" },
  { kind = "connector-action", connector = "workday", action = "x" },
  { kind = "directory", operation = "add-group" },
  { kind = "directory", operation = "move", on_failure = "offboard" },
  { kind = "directory", operation = "enable", on_failure = "continue" },
]
[offboard]
steps = [{ kind = "directory", operation = "disable" }]
"#,
        )
        .unwrap();
        let found = check_templates(&t, &|w| w == "slack", &|c| c == "remote");
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "templates.onboard.steps[0].duration",
                "templates.onboard.steps[1]",
                "templates.onboard.steps[1].on_failure",
                "templates.onboard.steps[2].connector",
                "templates.onboard.steps[3].group",
                "templates.onboard.steps[4].target_ou",
            ],
            "{found:?}"
        );
        assert!(found[2].1.contains("`rollback`"), "{found:?}");
    }
}
