//! A test world for the BambooHR connector: the BambooHR simulator, a fresh OU in the shared
//! Samba AD (also the search base), a temp dir with the config (the BambooHR plugin, Basic auth
//! with the simulator's API key from a file, `company_domain` from the settings) and the store.
//! Take [`crate::world::AD`] before building one.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use hrsync::config::Config;
use hrsync::directory::DirEntry;
use hrsync::sync::progress::Progress;
use hrsync::sync::{Engine, RunOptions, RunReport};

use crate::bamboo_sim::{BambooConfig, BambooHandle, Simulator};
use crate::fixtures::{AdEnv, ad_env, plugin_wasm, store_directory_toml};
use crate::world::{connect, delete_tree, fresh_ou_with_groups};

const OU_PREFIX: &str = "hrsync-bhr-";

pub struct BambooWorld {
    pub ad: AdEnv,
    pub ou: String,
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    /// Lines appended to `[sync]`.
    pub extra_sync: String,
}

impl BambooWorld {
    /// An OU `hrsync-bhr-NAME` with the groups `All Staff` and `Engineering`, and the simulator
    /// serving `config`.
    pub async fn new(name: &str, config: BambooConfig, extra_sync: &str) -> BambooWorld {
        let ad = ad_env();
        let ou = format!("OU={OU_PREFIX}{name},{}", ad.base_dn);
        fresh_ou_with_groups(&ad, &ou, &format!("bhr-{name}-")).await;
        let sim = Simulator::start(config).await.unwrap();
        BambooWorld {
            ad,
            ou,
            sim,
            dir: tempfile::tempdir().unwrap(),
            extra_sync: extra_sync.to_string(),
        }
    }

    pub fn sim(&self) -> BambooHandle {
        self.sim.state()
    }

    /// The config text; the secret files are written beside it.
    pub fn config_text(&self) -> String {
        let d = self.dir.path();
        std::fs::write(d.join("ldap.pw"), &self.ad.password).unwrap();
        let sim = self.sim.config();
        std::fs::write(d.join("bamboo.key"), &sim.api_key).unwrap();
        let head = store_directory_toml(&self.ad, &self.ou);
        let plugin = plugin_wasm("hrsync_plugin_bamboohr.wasm");
        format!(
            r#"{head}
[connectors.bamboohr]
plugin = "{plugin}"
base_url = "{base}"
allowed_hosts = ["{base}"]
auth = {{ kind = "basic", secret = {{ file = "bamboo.key" }} }}

[connectors.bamboohr.settings]
company_domain = "{company}"

[mapping.attributes]
givenName = "{{{{ first_name }}}}"
sn = "{{{{ last_name }}}}"
displayName = "{{{{ full_name }}}}"
title = "{{{{ job_title }}}}"
department = "{{{{ department }}}}"
sAMAccountName = {{ unique = [
  "{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}",
  "{{{{ first_name|ascii|lower|samsafe|first }}}}{{{{ last_name|ascii|lower|samsafe }}}}",
  "{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}{{{{ n }}}}",
], max_len = 20, apply = "on-create" }}

[sync]
connector = "bamboohr"
ou = "OU={{{{ department|default('Unassigned')|dn }}}},OU=Staff,{ou}"
time_zone = "Europe/Berlin"
prehire_days = 7
{extra_sync}

[[sync.groups]]
dn = "CN=All Staff,{ou}"

[[sync.groups]]
dn = "CN=Engineering,{ou}"
when = "department == 'Engineering'"
"#,
            ou = self.ou,
            plugin = plugin.display(),
            base = self.sim.base_url(),
            company = sim.company_domain,
            extra_sync = self.extra_sync,
        )
    }

    pub fn config(&self) -> Config {
        Config::parse(&self.dir.path().join("hrsync.toml"), &self.config_text()).unwrap()
    }

    /// Writes `hrsync.toml` (for the `hrsync` binary) and returns its path.
    pub fn write_config(&self) -> PathBuf {
        let path = self.dir.path().join("hrsync.toml");
        std::fs::write(&path, self.config_text()).unwrap();
        path
    }

    /// A plan (`apply = false`) or a sync, with the clock at `now` (`None`: the real time).
    pub async fn run(&self, apply: bool, now: Option<DateTime<Utc>>) -> RunReport {
        let config = self.config();
        let runtime = Engine::runtime(&config).unwrap();
        let engine = Engine::open(config, &runtime).unwrap();
        let opts = RunOptions {
            apply,
            only: None,
            trigger: "test".into(),
            now,
        };
        engine.run(&opts, &Progress::hidden()).await.unwrap()
    }

    /// Accounts under the test OU by their anchor (`employeeNumber` = the BambooHR id).
    pub async fn accounts(&self) -> HashMap<String, DirEntry> {
        let mut d = connect(&self.ad).await;
        let entries = d
            .search_paged(
                &self.ou,
                "(&(objectClass=user)(employeeNumber=*))",
                &[
                    "employeeNumber",
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

    pub async fn cleanup(self) {
        let mut d = connect(&self.ad).await;
        delete_tree(&mut d, &self.ou).await;
        let _ = d.unbind().await;
        self.sim.shutdown().await;
    }
}
