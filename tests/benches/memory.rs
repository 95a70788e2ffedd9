//! Peak memory (RSS) of the real `hrsync` binary on large HR populations: `plan` (a dry run: it
//! lists, fetches details, reads the directory and plans, but writes nothing to AD) and `sync`,
//! each as a child process of this bench, against the Remote simulator (in this process, no
//! rate limit) and the Samba AD DC (`tests/ad/samba-ad.sh`), in an OU of its own.
//!
//! The peak is `/usr/bin/time -v`'s "Maximum resident set size" (the kernel's high-water mark of
//! the child); meanwhile `/proc/<pid>/status` is sampled every 100 ms (VmRSS), and the progress
//! lines hrsync prints on stderr say which stage was running when the peak was reached.
//!
//! Run: `cargo build --release -p hrsync && cargo bench -p hrsync-tests --bench memory`
//!
//! - `HRSYNC_BENCH_MEMORY_PLAN=20000,100000` — employments for the `plan` runs (default);
//! - `HRSYNC_BENCH_MEMORY_SYNC=20000` — employments for the `sync` runs (default none: an
//!   initial load of 20,000 accounts takes Samba tens of minutes, and its cleanup more);
//! - `HRSYNC_BENCH_MEMORY_AGAIN=0` — run each command once (by default it runs a second
//!   time on the same store: every detail cached, as a daily run finds them);
//! - `HRSYNC_BENCH_HRSYNC=path` — the binary (default `target/release/hrsync`, else
//!   `target/debug/hrsync`; the output says which).
//!
//! Goal (issue "Write at the directory's speed"): 100,000 employments within 300 MiB.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use hrsync::directory::{Directory, DirectoryConfig, SearchScope};
use hrsync_tests::fixtures::{AdEnv, ad_env, plugin_wasm, workspace_root};
use hrsync_tests::remote_sim::{SimConfig, Simulator};

/// This bench's OU under the base DN (leftovers of an interrupted run are deleted first).
const OU_PREFIX: &str = "hrsync-bench-memory";
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

async fn connect(ad: &AdEnv) -> anyhow::Result<Directory> {
    let cfg = DirectoryConfig::new(ad.url.clone(), ad.bind_dn.clone(), ad.password.clone())
        .with_ca_file(ad.ca_file.clone());
    Ok(Directory::connect(&cfg).await?)
}

/// `ldapdelete` of `dn` and everything below it with AD's tree-delete control.
fn tree_delete(ad: &AdEnv, pw_file: &Path, dn: &str) -> anyhow::Result<()> {
    let out = Command::new("ldapdelete")
        .args(["-x", "-H", &ad.url, "-D", &ad.bind_dn, "-y"])
        .arg(pw_file)
        .args(["-e", "!1.2.840.113556.1.4.805", dn])
        .env("LDAPTLS_CACERT", &ad.ca_file)
        .stdin(Stdio::null())
        .output()
        .context("cannot run ldapdelete (apt-get install ldap-utils)")?;
    ensure!(
        out.status.success(),
        "ldapdelete {dn}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Deletes `base`: the groups first (one write drops all their memberships), then each OU
/// deepest first with the tree-delete control (one OU per transaction, so the DC's write lock is
/// held for seconds at a time for the other users of this shared DC).
async fn delete_ou(ad: &AdEnv, pw_file: &Path, base: &str) -> anyhow::Result<()> {
    let mut d = connect(ad).await?;
    let groups = match d.search_paged(base, "(objectClass=group)", &["1.1"]).await {
        Ok(g) => g,
        Err(e) if e.is_no_such_object() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for g in groups {
        let _ = d.delete(&g.dn).await;
    }
    let mut ous = d
        .search_paged(base, "(objectClass=organizationalUnit)", &["1.1"])
        .await?;
    let _ = d.unbind().await;
    ous.sort_by_key(|e| std::cmp::Reverse(e.dn.matches(',').count()));
    for ou in ous {
        tree_delete(ad, pw_file, &ou.dn)?;
    }
    Ok(())
}

async fn delete_leftovers(ad: &AdEnv, pw_file: &Path) -> anyhow::Result<()> {
    let mut d = connect(ad).await?;
    let old = d
        .search_paged_scoped(
            &ad.base_dn,
            SearchScope::OneLevel,
            &format!("(ou={OU_PREFIX}*)"),
            &["1.1"],
        )
        .await?;
    let _ = d.unbind().await;
    for e in old {
        eprintln!("bench: deleting the leftover {}", e.dn);
        delete_ou(ad, pw_file, &e.dn).await?;
    }
    Ok(())
}

/// The OU and the two groups the config names.
async fn prepare_ou(ad: &AdEnv, ou: &str) -> anyhow::Result<()> {
    let mut d = connect(ad).await?;
    d.ensure_ou(ou).await?;
    for g in ["All Staff", "Engineering"] {
        d.add(
            &format!("CN={g},{ou}"),
            &[
                ("objectClass", vec!["top", "group"]),
                (
                    "sAMAccountName",
                    vec![&format!("{OU_PREFIX}-{}", g.replace(' ', ""))],
                ),
            ],
        )
        .await?;
    }
    let _ = d.unbind().await;
    Ok(())
}

/// The sync bench's configuration (`benches/sync.rs`), sAMAccountNames prefixed `m`.
fn write_config(dir: &Path, ad: &AdEnv, ou: &str, sim: &Simulator) -> anyhow::Result<PathBuf> {
    std::fs::write(dir.join("ldap.pw"), &ad.password)?;
    std::fs::write(dir.join("remote.token"), &sim.config().api_token)?;
    let cache = workspace_root().join("target/hrsync-test-cache");
    let base = sim.base_url();
    let text = format!(
        r#"
[store]
path = "hrsync.db"
[runtime]
cache_dir = "{cache}"
[directory]
url = "{url}"
bind_dn = "{bind_dn}"
bind_password = {{ file = "ldap.pw" }}
ca_file = "{ca}"
base_dn = "{ou}"
uniqueness_base_dn = "{domain}"
users_ou = "OU=Staff,{ou}"
disabled_ou = "OU=Disabled,{ou}"
concurrency = 2

[connectors.remote]
plugin = "{plugin}"
base_url = "{base}"
allowed_hosts = ["{base}"]
auth = {{ kind = "api-token", token = {{ file = "remote.token" }} }}

[mapping.attributes]
givenName = "{{{{ first_name }}}}"
sn = "{{{{ last_name }}}}"
displayName = "{{{{ full_name }}}}"
title = "{{{{ job_title }}}}"
department = "{{{{ department }}}}"
c = "{{{{ country_code }}}}"
sAMAccountName = {{ unique = [
  "m{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}",
  "m{{{{ first_name|ascii|lower|samsafe|first }}}}{{{{ last_name|ascii|lower|samsafe }}}}",
  "m{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}{{{{ n }}}}",
], max_len = 20, apply = "on-create" }}

[sync]
connector = "remote"
ou = "OU={{{{ department|dn }}}},OU=Staff,{ou}"
time_zone = "Europe/Berlin"
prehire_days = 7
set_initial_password = true

[[sync.groups]]
dn = "CN=All Staff,{ou}"

[[sync.groups]]
dn = "CN=Engineering,{ou}"
when = "department == 'Engineering'"
"#,
        cache = cache.display(),
        url = ad.url,
        bind_dn = ad.bind_dn,
        domain = ad.base_dn,
        ca = ad.ca_file,
        plugin = plugin_wasm("hrsync_plugin_remote.wasm").display(),
    );
    let path = dir.join("hrsync.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// `Key: value` of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The first child of `pid` (hrsync under `/usr/bin/time`).
fn child_of(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// One child run, measured.
struct Measured {
    command: String,
    wall: Duration,
    exit: String,
    /// `/usr/bin/time -v`'s maximum resident set size, KiB.
    max_rss: Option<u64>,
    /// The last VmHWM sampled (a lower bound when the peak came in the last 100 ms).
    hwm: u64,
    /// (seconds since start, VmRSS KiB, the stage hrsync last reported).
    samples: Vec<(f64, u64, String)>,
    /// stderr lines (progress, warnings, time's report), with seconds since start.
    lines: Vec<(f64, String)>,
    stdout_tail: String,
    user_sys: String,
}

impl Measured {
    /// The stage running at the highest sampled RSS.
    fn peak_stage(&self) -> String {
        self.samples
            .iter()
            .max_by_key(|s| s.1)
            .map(|s| format!("{} at {:.1} s ({})", mib(s.1), s.0, s.2))
            .unwrap_or_default()
    }

    /// The highest sampled RSS while each stage was the last one reported, a line per stage
    /// in order of first appearance (stages that alternate, as details and applying do in a
    /// sync, are one line each, from their first sample to their last).
    fn by_stage(&self) -> Vec<String> {
        let mut out: Vec<(String, u64, f64, f64)> = Vec::new();
        for (t, rss, stage) in &self.samples {
            match out.iter_mut().find(|s| &s.0 == stage) {
                Some(seen) => {
                    seen.1 = seen.1.max(*rss);
                    seen.3 = *t;
                }
                None => out.push((stage.clone(), *rss, *t, *t)),
            }
        }
        out.into_iter()
            .map(|(s, rss, a, b)| format!("{s} ({a:.0}-{b:.0} s): max {}", mib(rss)))
            .collect()
    }
}

/// The stage a stderr line of hrsync names (`listing: 300/1000` → `listing`).
fn stage_of(line: &str) -> Option<String> {
    let (head, _) = line.split_once(':')?;
    let head = head.trim();
    (!head.is_empty()
        && head.len() <= 20
        && head
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == ' ' || c == '-'))
    .then(|| head.to_string())
}

fn run_measured(
    bin: &Path,
    config: &Path,
    args: &[&str],
    out_dir: &Path,
    timeout: Duration,
) -> anyhow::Result<Measured> {
    let stdout_file = out_dir.join(format!("{}.stdout", args[0]));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-v")
        .arg(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("HRSYNC_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_file)?)
        .stderr(Stdio::piped());
    let command = format!(
        "/usr/bin/time -v {} --config hrsync.toml {}",
        bin.display(),
        args.join(" ")
    );
    let t0 = Instant::now();
    let mut child = cmd.spawn().context("cannot run /usr/bin/time")?;
    let time_pid = child.id();
    let lines: Arc<Mutex<Vec<(f64, String)>>> = Arc::default();
    let stage: Arc<Mutex<String>> = Arc::new(Mutex::new("start".into()));
    let reader = {
        let stderr = child.stderr.take().unwrap();
        let lines = lines.clone();
        let stage = stage.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(s) = stage_of(&line) {
                    *stage.lock().unwrap() = s;
                }
                lines
                    .lock()
                    .unwrap()
                    .push((t0.elapsed().as_secs_f64(), line));
            }
        })
    };
    let mut samples = Vec::new();
    let mut hwm = 0;
    let mut pid: Option<u32> = None;
    let mut killed = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if killed.is_none()
            && t0.elapsed() > timeout
            && let Some(p) = pid
        {
            // Too long: stopped here, the peak so far is reported.
            let _ = Command::new("kill").arg(p.to_string()).status();
            killed = Some(t0.elapsed());
        }
        if pid.is_none() {
            pid = child_of(time_pid);
        }
        if let Some(p) = pid {
            if let Some(rss) = status_kib(p, "VmRSS") {
                let s = stage.lock().unwrap().clone();
                samples.push((t0.elapsed().as_secs_f64(), rss, s));
            }
            if let Some(h) = status_kib(p, "VmHWM") {
                hwm = hwm.max(h);
            }
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    let wall = t0.elapsed();
    let _ = reader.join();
    let lines = std::mem::take(&mut *lines.lock().unwrap());
    let field = |name: &str| {
        lines
            .iter()
            .find_map(|(_, l)| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let max_rss = field("Maximum resident set size (kbytes):").and_then(|v| v.parse().ok());
    let user_sys = format!(
        "user {} s, sys {} s, CPU {}",
        field("User time (seconds):").unwrap_or_default(),
        field("System time (seconds):").unwrap_or_default(),
        field("Percent of CPU this job got:").unwrap_or_default()
    );
    let stdout = std::fs::read_to_string(&stdout_file).unwrap_or_default();
    let tail: Vec<String> = stdout
        .lines()
        .rev()
        .take(4)
        .map(|l| match l.char_indices().nth(160) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_string(),
        })
        .collect();
    Ok(Measured {
        command,
        wall,
        exit: match killed {
            Some(t) => format!(
                "KILLED after {:.0} s (HRSYNC_BENCH_MEMORY_TIMEOUT); figures are up to then",
                t.as_secs_f64()
            ),
            None => field("Exit status:").unwrap_or_else(|| status.to_string()),
        },
        max_rss,
        hwm,
        samples,
        lines,
        stdout_tail: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        user_sys,
    })
}

fn numbers(var: &str, default: &str) -> anyhow::Result<Vec<usize>> {
    let text = std::env::var(var).unwrap_or_else(|_| default.to_string());
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "0")
        .map(|s| {
            s.parse()
                .with_context(|| format!("{var}: {s:?} is not a number"))
        })
        .collect()
}

/// Whether each case runs its command a second time on the same store
/// (`HRSYNC_BENCH_MEMORY_AGAIN=0` turns it off).
fn again() -> bool {
    std::env::var("HRSYNC_BENCH_MEMORY_AGAIN").map_or(true, |v| v != "0")
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// One case: a fresh store, an empty OU, the simulator with `people` employments.
fn case(
    rt: &tokio::runtime::Runtime,
    ad: &AdEnv,
    pw_file: &Path,
    bin: &Path,
    command: &str,
    people: usize,
) -> anyhow::Result<String> {
    let ou = format!("OU={OU_PREFIX},{}", ad.base_dn);
    let timeout = Duration::from_secs(
        std::env::var("HRSYNC_BENCH_MEMORY_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3600),
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        let dir = tempfile::tempdir()?;
        eprintln!("bench: {command} of {people} employments (attempt {attempt})");
        let t = Instant::now();
        let sim = rt.block_on(async {
            delete_leftovers(ad, pw_file).await?;
            prepare_ou(ad, &ou).await?;
            Simulator::start(SimConfig {
                people,
                seed: 7,
                rate_limit: None,
                ..SimConfig::default()
            })
            .await
        })?;
        let setup = t.elapsed();
        let config = write_config(dir.path(), ad, &ou, &sim)?;
        let load_before = load();
        let measured = run_measured(
            bin,
            &config,
            &[command, "--limit", "0"],
            dir.path(),
            timeout,
        );
        let load_after = load();
        let stats = sim.state().stats();
        // The same command again on the same store and directory: every detail is cached (a
        // daily run), so everyone is planned from the store at once, without fetching.
        let again =
            (again() && measured.as_ref().is_ok_and(|m| m.exit.starts_with('0'))).then(|| {
                sim.state().reset_stats();
                let load_before = load();
                let m = run_measured(
                    bin,
                    &config,
                    &[command, "--limit", "0"],
                    dir.path(),
                    timeout,
                );
                (m, sim.state().stats(), load_before, load())
            });
        rt.block_on(sim.shutdown());
        // The peaks, before a cleanup that can take longer than the runs.
        for (which, m) in [
            ("first", measured.as_ref().ok()),
            ("again", again.as_ref().and_then(|a| a.0.as_ref().ok())),
        ] {
            if let Some(m) = m {
                eprintln!(
                    "bench: {command} of {people}, {which} run: peak RSS {}, {:.1} s, exit {}",
                    m.max_rss.map_or("?".to_string(), mib),
                    m.wall.as_secs_f64(),
                    m.exit
                );
            }
        }
        let db = std::fs::metadata(dir.path().join("hrsync.db"))
            .map(|m| m.len())
            .unwrap_or(0);
        eprintln!("bench: cleanup of {ou}");
        let t = Instant::now();
        let mut cleaned = rt.block_on(delete_ou(ad, pw_file, &ou));
        if cleaned.is_err() {
            // The shared DC may be restarting (other test runs restart it): once more, later.
            std::thread::sleep(Duration::from_secs(30));
            cleaned = rt.block_on(delete_ou(ad, pw_file, &ou));
        }
        let cleanup = t.elapsed();
        let m = measured?;
        // The DC went away during the run (restarted by someone else): the case again.
        let dc_lost = m.exit != "0"
            && !m.exit.starts_with("KILLED")
            && m.lines.iter().any(|(_, l)| {
                l.contains("Connection refused")
                    || l.contains("the server closed the connection during the handshake")
            });
        if dc_lost && attempt < 3 {
            eprintln!("bench: the directory went away during the run; again in 30 s");
            std::thread::sleep(Duration::from_secs(30));
            continue;
        }
        let title = format!("`hrsync {command}` of {people} employments");
        let mut out = report(
            &title,
            &m,
            &stats,
            db,
            (&load_before, &load_after),
            (setup, cleanup, &cleaned),
            attempt,
        );
        if let Some((m, stats, before, after)) = again {
            out += &report(
                &format!(
                    "{title}, again on the same store (every detail cached, as a daily run finds them)"
                ),
                &m?,
                &stats,
                db,
                (&before, &after),
                (setup, cleanup, &cleaned),
                attempt,
            );
        }
        return Ok(out);
    }
}

/// The case's lines.
#[allow(clippy::too_many_arguments)]
fn report(
    title: &str,
    m: &Measured,
    stats: &hrsync_tests::remote_sim::SimStats,
    db: u64,
    (load_before, load_after): (&str, &str),
    (setup, cleanup, cleaned): (Duration, Duration, &anyhow::Result<()>),
    attempt: usize,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\n{title}");
    let row = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(o, "  {k:<30} {v}");
    };
    row(&mut o, "command", m.command.clone());
    row(&mut o, "exit", format!("{} (attempt {attempt})", m.exit));
    row(
        &mut o,
        "PEAK RSS (time -v)",
        m.max_rss.map(mib).unwrap_or_else(|| "?".into()),
    );
    row(&mut o, "VmHWM (last sample)", mib(m.hwm));
    row(&mut o, "highest sample", m.peak_stage());
    // VmRSS over the run, thinned to at most 16 points.
    let step = m.samples.len().div_ceil(16).max(1);
    let timeline: Vec<String> = m
        .samples
        .iter()
        .step_by(step)
        .chain(m.samples.last())
        .map(|(t, rss, _)| format!("{t:.0}s {:.0}", *rss as f64 / 1024.0))
        .collect();
    row(&mut o, "VmRSS timeline (s MiB)", timeline.join(", "));
    for (i, s) in m.by_stage().into_iter().enumerate() {
        row(&mut o, if i == 0 { "by stage (stderr)" } else { "" }, s);
    }
    row(
        &mut o,
        "wall",
        format!("{:.1} s ({})", m.wall.as_secs_f64(), m.user_sys),
    );
    row(
        &mut o,
        "Remote requests",
        format!(
            "{} (list pages {}, details {})",
            stats.total_requests,
            stats.route_count("GET /v1/employments"),
            stats.route_count("GET /v1/employments/{id}")
        ),
    );
    row(&mut o, "store file", mib(db / 1024));
    row(&mut o, "stdout (end)", m.stdout_tail.clone());
    row(
        &mut o,
        "1-min load before / after",
        format!("{load_before} / {load_after} (2 cores, shared)"),
    );
    row(
        &mut o,
        "setup (simulator) / cleanup",
        format!(
            "{:.1} s / {:.1} s{}",
            setup.as_secs_f64(),
            cleanup.as_secs_f64(),
            match cleaned {
                Ok(()) => String::new(),
                Err(e) => format!(" (failed: {e:#})"),
            }
        ),
    );
    let warnings: Vec<&str> = m
        .lines
        .iter()
        .map(|(_, l)| l.as_str())
        .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.starts_with("Error"))
        .take(5)
        .collect();
    for (i, w) in warnings.iter().enumerate() {
        row(&mut o, if i == 0 { "warnings" } else { "" }, w.to_string());
    }
    let progress: Vec<String> = m
        .lines
        .iter()
        .filter(|(_, l)| !l.starts_with('\t') && !l.contains("WARN"))
        .filter(|(_, l)| stage_of(l).is_some())
        .map(|(t, l)| format!("{t:.1} s {l}"))
        .collect();
    // The stage lines, thinned to at most 12.
    let step = progress.len().div_ceil(12).max(1);
    for (i, l) in progress.iter().step_by(step).enumerate() {
        row(
            &mut o,
            if i == 0 { "stderr (thinned)" } else { "" },
            l.clone(),
        );
    }
    println!("{o}");
    let _ = std::io::stdout().flush();
    o
}

fn main() -> anyhow::Result<()> {
    let plans = numbers("HRSYNC_BENCH_MEMORY_PLAN", "20000,100000")?;
    let syncs = numbers("HRSYNC_BENCH_MEMORY_SYNC", "")?;
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = match std::env::var_os("HRSYNC_BENCH_HRSYNC") {
        Some(p) => PathBuf::from(p),
        None => [target.join("release/hrsync"), target.join("debug/hrsync")]
            .into_iter()
            .find(|p| p.exists())
            .context("no hrsync binary: run `cargo build --release -p hrsync` first")?,
    };
    ensure!(
        Path::new("/usr/bin/time").exists(),
        "/usr/bin/time is needed (apt-get install time)"
    );
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Local>::from(t)
                .format("%F %T")
                .to_string()
        })
        .unwrap_or_default();
    println!(
        "hrsync memory benchmark: peak RSS of the hrsync binary ({}, built {built}) as a child \
         process; Remote simulator in the bench process (seed 7, NO rate limit); Samba AD over \
         LDAPS; a fresh store and an empty OU per case; 2-core machine SHARED with other builds \
         and tests",
        bin.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ad = ad_env();
    let dir = tempfile::tempdir()?;
    let pw_file = dir.path().join("ad.pw");
    std::fs::write(&pw_file, &ad.password)?;
    std::fs::set_permissions(&pw_file, std::fs::Permissions::from_mode(0o600))?;
    let mut failures = Vec::new();
    for (command, sizes) in [("plan", &plans), ("sync", &syncs)] {
        for &n in sizes {
            if let Err(e) = case(&rt, &ad, &pw_file, &bin, command, n) {
                eprintln!("bench: {command} of {n} failed: {e:#}");
                failures.push(format!("{command} {n}: {e:#}"));
            }
        }
    }
    ensure!(failures.is_empty(), "cases failed: {failures:?}");
    Ok(())
}
