//! The demo: Samba AD (started by `cargo xtask demo`) and the Remote simulator with 200 people.
//! Runs the real `hrsync` commands: connector test, plan, sync; then a department change and an
//! offboarding in Remote, and plan + sync again to show what changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Parser;
use hrsync::directory::{Directory, DirectoryConfig, SearchScope};
use hrsync_tests::fixtures::{AdEnv, ad_env, sync_config_toml, workspace_root};
use hrsync_tests::remote_sim::{SimConfig, Simulator};
use serde_json::json;

const PEOPLE: usize = 200;

async fn hrsync(config: &Path, args: &[&str]) {
    let mut argv = vec![
        "hrsync".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    println!("\n\x1b[1m$ hrsync {}\x1b[0m", args.join(" "));
    match hrsync::cli::Cli::try_parse_from(&argv) {
        Ok(cli) => {
            let _ = hrsync::cli::run(cli).await;
        }
        Err(e) => eprintln!("{e}"),
    }
}

/// A fresh OU for the demo, with the two managed groups.
async fn prepare_ou(ad: &AdEnv, ou: &str) -> Result<()> {
    let cfg = DirectoryConfig::new(ad.url.clone(), ad.bind_dn.clone(), ad.password.clone())
        .with_ca_file(ad.ca_file.clone());
    let mut d = Directory::connect(&cfg).await?;
    let mut old = d
        .search_paged_scoped(ou, SearchScope::Subtree, "(objectClass=*)", &["1.1"])
        .await
        .unwrap_or_default();
    old.sort_by_key(|e| {
        std::cmp::Reverse(hrsync::directory::escape::parse_dn(&e.dn).map_or(0, |r| r.len()))
    });
    for e in old {
        d.delete(&e.dn)
            .await
            .with_context(|| format!("removing the previous demo's {}", e.dn))?;
    }
    d.ensure_ou(ou).await?;
    for (g, sam) in [
        ("All Staff", "demo-allstaff"),
        ("Engineering", "demo-engineering"),
    ] {
        d.add(
            &format!("CN={g},{ou}"),
            &[
                ("objectClass", vec!["top", "group"]),
                ("sAMAccountName", vec![sam]),
            ],
        )
        .await?;
    }
    let _ = d.unbind().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let ad = ad_env();
    let ou = format!("OU=hrsync-demo,{}", ad.base_dn);
    prepare_ou(&ad, &ou).await?;
    let sim = Simulator::start(SimConfig {
        people: PEOPLE,
        seed: 42,
        ..SimConfig::default()
    })
    .await?;
    let dir: PathBuf = workspace_root().join("target/hrsync-demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("ldap.pw"), &ad.password)?;
    std::fs::write(dir.join("remote.token"), &sim.config().api_token)?;
    std::fs::write(
        dir.join("webhook.secret"),
        &sim.config().webhook_signing_key,
    )?;
    let extra = "set_initial_password = true";
    let config = dir.join("hrsync.toml");
    std::fs::write(&config, sync_config_toml(&ad, &ou, &sim.base_url(), extra))?;
    println!(
        "Remote simulator with {PEOPLE} people at {}; Samba AD at {}; accounts under {ou}",
        sim.base_url(),
        ad.url
    );
    println!("config and store: {}", dir.display());

    hrsync(&config, &["connector", "test", "remote"]).await;
    hrsync(&config, &["plan", "--limit", "3"]).await;
    hrsync(&config, &["sync", "--limit", "3"]).await;

    // Two things happen in Remote: a move to Finance, and an offboarding that ends today.
    let state = sim.state();
    let people = state.employments();
    let pick = |dept: &str, skip: usize| {
        people
            .iter()
            .filter(|e| e["status"] == "active" && e["department"] == dept)
            .nth(skip)
            .and_then(|e| {
                Some((
                    e["id"].as_str()?.to_string(),
                    e["full_name"].as_str()?.to_string(),
                ))
            })
    };
    let (mover, mover_name) =
        pick("Engineering", 0).context("no active engineer in the workforce")?;
    let (leaver, leaver_name) =
        pick("Sales", 0).context("no active salesperson in the workforce")?;
    println!(
        "\nIn Remote: {mover_name} moves from Engineering to Finance; {leaver_name}'s contract ends today."
    );
    state.update_employment(
        &mover,
        json!({"department": "Finance", "job_title": "Financial Analyst"}),
    );
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive();
    state.set_offboarding(&leaver, today, false);

    hrsync(&config, &["plan"]).await;
    hrsync(&config, &["sync"]).await;
    hrsync(&config, &["log", "--limit", "12"]).await;
    hrsync(&config, &["quarantine"]).await;
    hrsync(&config, &["runs"]).await;
    println!(
        "\nThe store stays in {}: `cargo run -p hrsync -- --config {} log` shows the audit log.",
        dir.display(),
        config.display()
    );
    sim.shutdown().await;
    Ok(())
}
