//! `hrsync config check`: everything a later command would reject, found up front, all at once.
//! A command-level module: it reads the configuration ([`crate::config`], which imports no
//! engine module) with the engine's own rules (the mapping, the sync structure, the fields
//! templates name).
//!
//! [`Config::load`](crate::config::Config::load) stops at the first error in the file's shape; [`check`]
//! goes on to what is refused later — the mapping, the `[sync]` templates, the time zone, the sync
//! connector, each connector's plugin (a file that exists, a `builtin:` name this hrsync has),
//! template steps, every template's syntax — and reports every problem, each naming its key.

use minijinja::Environment;

use crate::config::{Config, ConfigError};
use crate::runtime::PluginSource;
use crate::runtime::builtin::Catalog;
use crate::sync::source::retain::{Scope, sources};

/// Every problem with a loaded configuration (empty when it is ready to use).
pub fn check(config: &Config) -> Vec<ConfigError> {
    check_with(config, &Catalog::from_env())
}

/// [`check`], finding `builtin:` plugins in `catalog`.
pub(crate) fn check_with(config: &Config, catalog: &Catalog) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    let mut invalid = |key: &str, message: String| {
        problems.push(ConfigError::Invalid {
            path: config.path.clone(),
            key: key.to_string(),
            message,
        });
    };
    if let Err(e) = crate::mapping::Mapper::new(&config.mapping) {
        invalid("mapping.attributes", e.to_string());
    }
    match &config.directory {
        None => invalid(
            "directory",
            "there is no [directory] section; plan, sync and serve need one".to_string(),
        ),
        Some(d) => {
            if let Err(e) = crate::sync::structure::Structure::new(&config.sync, &d.users_ou) {
                invalid("sync", e.to_string());
            }
        }
    }
    if config.sync.time_zone.parse::<chrono_tz::Tz>().is_err() {
        invalid(
            "sync.time_zone",
            format!(
                "`{}` is not a time zone name (e.g. Europe/Berlin)",
                config.sync.time_zone
            ),
        );
    }
    if config.sync.removed_termination_dates_action.is_some() {
        invalid(
            "sync.termination_dates_action",
            crate::sync::rules::TERMINATION_DATES_ACTION_REMOVED.to_string(),
        );
    }
    if let Err(e) = config.connector(&config.sync.connector) {
        invalid("sync.connector", sync_connector(config, &e));
    }
    for (key, message) in plugin_problems(config, catalog) {
        invalid(&key, message);
    }
    for (key, message) in step_problems(config) {
        invalid(&key, message);
    }
    let env = Environment::new();
    // `[mapping]` and `[sync]` templates were compiled above, with their filters.
    for source in sources(config).iter().filter(|s| s.scope == Scope::Person) {
        if let Err(e) = source.variables(&env) {
            invalid(
                &source.key,
                format!("`{}` does not compile: {e}", source.text),
            );
        }
    }
    problems
}

/// Each connector's plugin is there: a `builtin:` name this hrsync has (or finds), a file that
/// exists. Whether it is a valid component is for `connector test`.
fn plugin_problems(config: &Config, catalog: &Catalog) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (name, c) in &config.connectors {
        let key = format!("connectors.{name}.plugin");
        match &c.plugin {
            // The REST connector is the host's own: it has no component to find.
            PluginSource::Builtin(plugin) if plugin == crate::config::rest::BUILTIN => {}
            PluginSource::Builtin(plugin) => {
                if let Err(e) = catalog.find(plugin) {
                    problems.push((key, e.to_string()));
                }
            }
            PluginSource::File(path) => {
                if !path.is_file() {
                    problems.push((
                        key,
                        format!(
                            "{} is not a file; build the plugin (`cargo xtask build-plugins`), give its path, or use a built-in (`builtin:NAME`)",
                            path.display()
                        ),
                    ));
                }
            }
        }
    }
    problems
}

/// Why `sync.connector` names no connector.
fn sync_connector(config: &Config, e: &ConfigError) -> String {
    match e {
        ConfigError::Invalid { message, .. } => {
            format!("`{}`: {message}", config.sync.connector)
        }
        other => other.to_string(),
    }
}

/// Template steps whose `on_failure` names no template or whose wait is not a duration (a
/// config that loaded has none; kept for configs built in code).
fn step_problems(config: &Config) -> Vec<(String, String)> {
    crate::config::templates::check_templates(
        &config.templates,
        &|w| config.webhooks.contains_key(w),
        &|c| config.connectors.contains_key(c),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BASE: &str = r#"
[directory]
url = "ldaps://dc1.corp.example:636"
bind_dn = "CN=svc,DC=corp,DC=example"
bind_password = { file = "pw" }
base_dn = "DC=corp,DC=example"
users_ou = "OU=Staff,DC=corp,DC=example"

[connectors.remote]
plugin = "remote.wasm"
base_url = "https://gateway.remote.com"
allowed_hosts = ["https://gateway.remote.com"]
"#;

    fn problems(extra: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "x").unwrap();
        std::fs::write(dir.path().join("remote.wasm"), "").unwrap();
        let text = format!("{BASE}{extra}");
        let c = Config::parse_lenient(&dir.path().join("hrsync.toml"), &text).unwrap();
        check(&c).into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_plugin_that_is_not_there_is_reported_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "x").unwrap();
        let c = Config::parse(&dir.path().join("hrsync.toml"), BASE).unwrap();
        let p: Vec<String> = check(&c).iter().map(ToString::to_string).collect();
        assert_eq!(
            p,
            [format!(
                "{0}/hrsync.toml: `connectors.remote.plugin`: {0}/remote.wasm is not a file; build the plugin (`cargo xtask build-plugins`), give its path, or use a built-in (`builtin:NAME`)",
                dir.path().display()
            )]
        );

        let text = BASE.replace("\"remote.wasm\"", "\"builtin:remot\"");
        let c = Config::parse(&dir.path().join("hrsync.toml"), &text).unwrap();
        static BUILT_IN: &[(&str, &[u8])] = &[("bamboohr", b"b"), ("remote", b"r")];
        let p: Vec<String> = check_with(&c, &Catalog::new(BUILT_IN, Vec::new()))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            p,
            [format!(
                "{}/hrsync.toml: `connectors.remote.plugin`: there is no built-in plugin `remot`; available: builtin:bamboohr, builtin:remote (or give the plugin's path)",
                dir.path().display()
            )]
        );
    }

    #[test]
    fn a_good_config_has_no_problems() {
        assert_eq!(problems(""), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let p = problems(
            r#"
[sync]
connector = "bamboo"
time_zone = "Mars/Olympus"
termination_dates_action = "list-offboardings"

[templates.offboard]
steps = [
  { kind = "wait", duration = "3 days", on_failure = "escalate" },
  { kind = "directory", operation = "disable", when = "person.status ==" },
]
"#,
        );
        let has = |key: &str, text: &str| {
            p.iter()
                .any(|e| e.contains(&format!("`{key}`")) && e.contains(text))
        };
        assert!(has("sync.time_zone", "Mars/Olympus"), "{p:#?}");
        assert!(
            has("sync.termination_dates_action", "delete this line"),
            "{p:#?}"
        );
        assert!(has("sync.connector", "configured: remote"), "{p:#?}");
        assert!(
            has("templates.offboard.steps[0].on_failure", "escalate"),
            "{p:#?}"
        );
        assert!(
            has("templates.offboard.steps[0].duration", "3 days"),
            "{p:#?}"
        );
        assert!(
            has("templates.offboard.steps[1].when", "does not compile"),
            "{p:#?}"
        );
        assert_eq!(p.len(), 6, "{p:#?}");
    }

    #[test]
    fn a_mapping_that_does_not_compile_is_reported() {
        let p = problems("[mapping.attributes]\nsn = \"{{ last_name \"\n");
        assert!(
            p.iter()
                .any(|e| e.contains("`mapping.attributes`") && e.contains("sn")),
            "{p:#?}"
        );
    }
}
