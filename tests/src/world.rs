//! A test world: the Remote simulator, a fresh OU in the shared Samba AD (also the search base,
//! so tests never see each other's accounts), a temp dir with the config and the store.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hrsync::config::Config;
use hrsync::directory::{DirEntry, Directory, DirectoryConfig, uac};
use hrsync::sync::progress::Progress;
use hrsync::sync::{Engine, RunOptions, RunReport};
use tokio::sync::Mutex;

use crate::fixtures::{AdEnv, ad_env, sync_config_toml};
use crate::remote_sim::{SimConfig, SimHandle, Simulator};

/// One test at a time against the shared AD.
pub static AD: Mutex<()> = Mutex::const_new(());

const OU_PREFIX: &str = "hrsync-t-";

pub struct World {
    pub ad: AdEnv,
    pub ou: String,
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    pub extra_sync: String,
    /// Replaces the fixture's `[sync] ou` template when set (a template, e.g.
    /// `OU={{ department|default('Unassigned')|dn }},OU=Staff,…`).
    pub ou_template: Option<String>,
    /// Extra lines for `[connectors.remote]` (e.g. `rate_limit = "20/6s"`).
    pub connector_extra: String,
    /// Replaces the fixture's `sAMAccountName` rule (the TOML value after `=`) when set.
    pub sam_rule: Option<String>,
    /// Plan the listing per this many ready people (the engine's default is 1,000).
    pub listing_part: Option<usize>,
}

/// An on-create sAMAccountName from the list's `full_name` alone (no detail needed).
pub const SAM_FROM_FULL_NAME: &str = r#"{ unique = ["{{ full_name|ascii|lower|samsafe }}", "{{ full_name|ascii|lower|samsafe }}{{ n }}"], max_len = 20, apply = "on-create" }"#;

pub async fn connect(ad: &AdEnv) -> Directory {
    let cfg = DirectoryConfig::new(ad.url.clone(), ad.bind_dn.clone(), ad.password.clone())
        .with_ca_file(ad.ca_file.clone());
    Directory::connect(&cfg).await.unwrap()
}

/// Deletes a subtree, deepest entries first.
/// Makes `ou` empty and new (deleting a leftover of an interrupted earlier run: other tests'
/// OUs are theirs) with the groups `All Staff` and `Engineering`, whose sAMAccountNames start
/// with `sam_prefix` (unique in the domain).
pub async fn fresh_ou_with_groups(ad: &AdEnv, ou: &str, sam_prefix: &str) {
    let mut d = connect(ad).await;
    delete_tree(&mut d, ou).await;
    d.ensure_ou(ou).await.unwrap();
    for g in ["All Staff", "Engineering"] {
        d.add(
            &format!("CN={g},{ou}"),
            &[
                ("objectClass", vec!["top", "group"]),
                (
                    "sAMAccountName",
                    vec![&format!("{sam_prefix}{}", g.replace(' ', ""))],
                ),
            ],
        )
        .await
        .unwrap();
    }
    d.unbind().await.unwrap();
}

pub async fn delete_tree(d: &mut Directory, base: &str) {
    let Ok(mut entries) = d.search_paged(base, "(objectClass=*)", &["1.1"]).await else {
        return;
    };
    entries.sort_by_key(|e| {
        std::cmp::Reverse(hrsync::directory::escape::parse_dn(&e.dn).map_or(0, |r| r.len()))
    });
    for e in entries {
        let _ = d.delete(&e.dn).await;
    }
}

impl World {
    pub async fn new(name: &str, people: usize, extra_sync: &str) -> World {
        World::with_seed(name, people, extra_sync, 7).await
    }

    /// Like [`World::new`] with another workforce seed (the same seed in two tests gives the same
    /// names, and sAMAccountNames are unique across the whole shared domain).
    pub async fn with_seed(name: &str, people: usize, extra_sync: &str, seed: u64) -> World {
        World::with_sim(
            name,
            extra_sync,
            SimConfig {
                people,
                seed,
                ..SimConfig::default()
            },
        )
        .await
    }

    /// Like [`World::new`] with the simulator configured by hand (e.g. a rate limit).
    pub async fn with_sim(name: &str, extra_sync: &str, sim: SimConfig) -> World {
        let ad = ad_env();
        let ou = format!("OU={OU_PREFIX}{name},{}", ad.base_dn);
        fresh_ou_with_groups(&ad, &ou, &format!("{name}-")).await;
        let sim = Simulator::start(sim).await.unwrap();
        World {
            ad,
            ou,
            sim,
            dir: tempfile::tempdir().unwrap(),
            extra_sync: extra_sync.to_string(),
            ou_template: None,
            connector_extra: String::new(),
            sam_rule: None,
            listing_part: None,
        }
    }

    pub fn sim(&self) -> SimHandle {
        self.sim.state()
    }

    /// The config text, with its secret files written beside it.
    fn config_text(&self) -> String {
        let d = self.dir.path();
        std::fs::write(d.join("ldap.pw"), &self.ad.password).unwrap();
        std::fs::write(d.join("remote.token"), &self.sim.config().api_token).unwrap();
        std::fs::write(
            d.join("webhook.secret"),
            &self.sim.config().webhook_signing_key,
        )
        .unwrap();
        let mut text = sync_config_toml(&self.ad, &self.ou, &self.sim.base_url(), &self.extra_sync);
        if !self.connector_extra.is_empty() {
            let line = "webhook_secret = { file = \"webhook.secret\" }";
            text = text.replacen(line, &format!("{line}\n{}", self.connector_extra), 1);
        }
        if let Some(rule) = &self.sam_rule {
            let start = text
                .find("sAMAccountName = {")
                .expect("the fixture config has a sAMAccountName rule");
            let end = start
                + text[start..]
                    .find("apply = \"on-create\" }")
                    .expect("the rule ends with its apply")
                + "apply = \"on-create\" }".len();
            text.replace_range(start..end, &format!("sAMAccountName = {rule}"));
        }
        if let Some(template) = &self.ou_template {
            let line = text
                .lines()
                .find(|l| l.starts_with("ou = "))
                .expect("the fixture config has an `ou` line")
                .to_string();
            let escaped = template.replace('\\', "\\\\").replace('"', "\\\"");
            text = text.replacen(&line, &format!("ou = \"{escaped}\""), 1);
        }
        text
    }

    pub fn config(&self) -> Config {
        let text = self.config_text();
        Config::parse(&self.dir.path().join("hrsync.toml"), &text).unwrap()
    }

    /// Writes `hrsync.toml` (for the `hrsync` binary) and returns its path.
    pub fn write_config(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("hrsync.toml");
        std::fs::write(&path, self.config_text()).unwrap();
        path
    }

    pub async fn run(&self, apply: bool, now: Option<DateTime<Utc>>) -> RunReport {
        self.try_run(apply, now).await.unwrap()
    }

    /// Like [`World::run`], returning the engine's error instead of panicking.
    pub async fn try_run(
        &self,
        apply: bool,
        now: Option<DateTime<Utc>>,
    ) -> Result<RunReport, hrsync::sync::SyncError> {
        let (engine, _runtime) = self.engine().await;
        let opts = RunOptions {
            apply,
            only: None,
            trigger: "test".into(),
            now,
        };
        engine.run(&opts, &Progress::hidden()).await
    }

    pub async fn engine(&self) -> (Engine, hrsync::runtime::Runtime) {
        let config = self.config();
        let runtime = Engine::runtime(&config).unwrap();
        let mut engine = Engine::open(config, &runtime).unwrap();
        if let Some(n) = self.listing_part {
            engine.set_listing_part(n);
        }
        (engine, runtime)
    }

    /// Accounts under the test OU by employeeNumber.
    pub async fn accounts(&self) -> HashMap<String, DirEntry> {
        let mut d = connect(&self.ad).await;
        let entries = d
            .search_paged(
                &self.ou,
                "(&(objectClass=user)(employeeNumber=*))",
                &[
                    "employeeNumber",
                    "description",
                    "cn",
                    "givenName",
                    "sn",
                    "displayName",
                    "department",
                    "title",
                    "sAMAccountName",
                    "userAccountControl",
                    "memberOf",
                    "manager",
                    "c",
                ],
            )
            .await
            .unwrap();
        let _ = d.unbind().await;
        entries
            .into_iter()
            .map(|e| (e.first("employeeNumber").unwrap().to_string(), e))
            .collect()
    }

    /// Every user account under the test OU with an employeeNumber, duplicates included.
    pub async fn accounts_all(&self) -> Vec<DirEntry> {
        let mut d = connect(&self.ad).await;
        let entries = d
            .search_paged(
                &self.ou,
                "(&(objectClass=user)(employeeNumber=*))",
                &["employeeNumber", "sAMAccountName", "userAccountControl"],
            )
            .await
            .unwrap();
        let _ = d.unbind().await;
        entries
    }

    pub async fn cleanup(self) {
        let mut d = connect(&self.ad).await;
        delete_tree(&mut d, &self.ou).await;
        let _ = d.unbind().await;
        self.sim.shutdown().await;
    }
}

pub fn enabled(e: &DirEntry) -> bool {
    !uac::is_disabled(e.first("userAccountControl").and_then(uac::parse).unwrap())
}

pub fn in_group(e: &DirEntry, group_cn: &str) -> bool {
    e.values("memberOf")
        .iter()
        .any(|g| g.starts_with(&format!("CN={group_cn},")))
}

pub fn total_ops(r: &RunReport) -> usize {
    r.plan.people.iter().map(|p| p.ops.len()).sum()
}

pub fn active_in(sim: &SimHandle, department: &str) -> String {
    sim.employments()
        .into_iter()
        .find(|e| {
            e["status"] == "active"
                && e["department"] == department
                && e["full_name"]
                    .as_str()
                    .is_some_and(|n| n.split_whitespace().count() >= 2)
        })
        .map(|e| e["id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no active person in {department}"))
}
