//! `hrsync sync` against the real Samba AD DC (`tests/ad/samba-ad.sh`) and the Remote simulator:
//!
//! 1. the initial load of N people (`HRSYNC_BENCH_PEOPLE`, default 10000) with
//!    `set_initial_password = false` and `concurrency = 2`, the simulator without a rate limit:
//!    wall time split into listing+details / snapshot / plan / apply, accounts created, Remote
//!    requests, operations applied, and the LDAP requests behind them (counted from the
//!    `directory.*` tracing spans of hrsync's LDAP client, with their latencies);
//! 2. `ldapadd -c` of the same accounts (read back from AD, written as LDIF into a second OU),
//!    for a baseline of what Samba itself takes (`HRSYNC_BENCH_LDAPADD_PROCS=K` splits the
//!    accounts over K concurrent `ldapadd` processes; default 1);
//! 3. a no-op resync: no LDAP writes (asserted), only the list pages from Remote;
//! 4. both OUs deleted again (also after a failure or a panic), with AD's tree-delete control.
//!
//! Run: `HRSYNC_BENCH_PEOPLE=10000 cargo bench -p hrsync-tests --bench sync`
//! (`HRSYNC_BENCH_QUIET=1` hides the engine's progress lines). Needs Samba
//! (`bash tests/ad/samba-ad.sh start`) and `ldapadd`/`ldapdelete` (ldap-utils). Every run leaves
//! tombstones in the DC (AD keeps deleted objects for 180 days), which slow later writes:
//! `bash tests/ad/samba-ad.sh reset` gives a fresh DC when nobody else is using it.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use hrsync::config::Config;
use hrsync::directory::{Directory, DirectoryConfig, SearchScope, escape};
use hrsync::sync::plan::Op;
use hrsync::sync::progress::Progress;
use hrsync::sync::{Engine, RunOptions, RunReport};
use hrsync_tests::fixtures::{AdEnv, ad_env, plugin_wasm, workspace_root};
use hrsync_tests::remote_sim::{SimConfig, SimStats, Simulator};
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Prefix of this bench's OUs under the base DN; leftovers of an interrupted run are deleted.
const OU_PREFIX: &str = "hrsync-bench-sync";
const CONCURRENCY: usize = 2;
/// Connections used to delete the OUs at the end.
const DELETE_WORKERS: usize = 4;

// --- Counting what the engine does on the wire, through its tracing spans ---

/// Span creations seen since the last [`Recorder::reset`].
#[derive(Default)]
struct Recorder {
    /// `directory.*` spans by name (one per LDAP call of the `Directory` client).
    counts: BTreeMap<&'static str, u64>,
    /// When each `directory.connect` started.
    connects: Vec<Instant>,
    /// When the first `directory.search` closed (the snapshot read).
    first_search_closed: Option<Instant>,
    /// Latency of each call (span creation to close), by span name, in call order.
    latency: BTreeMap<&'static str, Vec<Duration>>,
}

/// When a span was created.
struct Started(Instant);

fn recorder() -> &'static Mutex<Recorder> {
    static R: OnceLock<Mutex<Recorder>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Recorder::default()))
}

impl Recorder {
    fn reset() {
        *recorder().lock().unwrap() = Recorder::default();
    }
    fn take() -> Recorder {
        std::mem::take(&mut *recorder().lock().unwrap())
    }
    fn count(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }
    /// LDAP write requests: `enable`/`disable` are a read plus a modify (when it changes).
    fn writes(&self) -> u64 {
        [
            "directory.add",
            "directory.modify",
            "directory.rename",
            "directory.delete",
            "directory.set_password",
            "directory.enable",
            "directory.disable",
            "directory.add_member",
            "directory.remove_member",
        ]
        .iter()
        .map(|n| self.count(n))
        .sum()
    }
    /// LDAP read requests (base-scope reads, inside `ensure_ou` and `enable` too, and searches).
    fn reads(&self) -> u64 {
        self.count("directory.get") + self.count("directory.search")
    }
}

struct SpanCounter;

impl<S> Layer<S> for SpanCounter
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if !name.starts_with("directory.") {
            return;
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started(Instant::now()));
        }
        let mut r = recorder().lock().unwrap();
        *r.counts.entry(name).or_default() += 1;
        if name == "directory.connect" {
            r.connects.push(Instant::now());
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let now = Instant::now();
        let started = span.extensions().get::<Started>().map(|s| s.0);
        let mut r = recorder().lock().unwrap();
        if let Some(t) = started {
            r.latency.entry(span.name()).or_default().push(now - t);
        }
        if span.name() == "directory.search"
            && r.first_search_closed.is_none()
            && !r.connects.is_empty()
        {
            r.first_search_closed = Some(now);
        }
    }
}

fn init_tracing() {
    let counter = SpanCounter.with_filter(tracing_subscriber::filter::filter_fn(|m| {
        m.is_span() && m.name().starts_with("directory.")
    }));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        );
    tracing_subscriber::registry()
        .with(counter)
        .with(fmt)
        .init();
}

// --- The world ---

async fn connect(ad: &AdEnv) -> anyhow::Result<Directory> {
    let cfg = DirectoryConfig::new(ad.url.clone(), ad.bind_dn.clone(), ad.password.clone())
        .with_ca_file(ad.ca_file.clone());
    Ok(Directory::connect(&cfg).await?)
}

fn depth(dn: &str) -> usize {
    escape::parse_dn(dn).map_or(0, |r| r.len())
}

/// Entries under `base` (0 when `base` is gone).
async fn count_entries(ad: &AdEnv, base: &str) -> anyhow::Result<usize> {
    let mut d = connect(ad).await?;
    let n = match d.search_paged(base, "(objectClass=*)", &["1.1"]).await {
        Ok(l) => l.len(),
        Err(e) if e.is_no_such_object() => 0,
        Err(e) => return Err(e.into()),
    };
    let _ = d.unbind().await;
    Ok(n)
}

/// `ldapdelete` of `dn` and everything below it with AD's tree-delete control, in one request
/// (and one Samba transaction).
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

/// Deletes a subtree; returns (entries deleted, entries left).
///
/// Samba commits every LDAP write as its own transaction (~30 fdatasyncs over its partition
/// files), so entry-by-entry deletes (tombstoning) run at ~10-60/s here, while the tree-delete
/// control deletes a whole OU in one transaction (~200 entries/s measured). So: the groups first
/// (deleting a group drops all its memberships at once, instead of one rewrite of a big `member`
/// attribute per deleted user), then each OU deepest first with the tree-delete control (one
/// OU at a time, so the write lock is held for seconds, not minutes, for the other users of this
/// shared DC), then whatever is left entry by entry, deepest first (like the tests'
/// `delete_tree`), over [`DELETE_WORKERS`] connections.
async fn delete_tree(ad: &AdEnv, base: &str, pw_file: &Path) -> anyhow::Result<(usize, usize)> {
    let before = count_entries(ad, base).await?;
    if before == 0 {
        return Ok((0, 0));
    }
    let mut d = connect(ad).await?;
    for g in d
        .search_paged(base, "(objectClass=group)", &["member"])
        .await?
    {
        let t = Instant::now();
        let _ = d.delete(&g.dn).await;
        eprintln!(
            "bench: cleanup: deleted {} ({} members) in {}",
            g.dn,
            g.values("member").len(),
            secs(t.elapsed())
        );
    }
    let mut ous = d
        .search_paged(base, "(objectClass=organizationalUnit)", &["1.1"])
        .await?;
    let _ = d.unbind().await;
    ous.sort_by_key(|e| std::cmp::Reverse(depth(&e.dn)));
    for ou in ous {
        let n = count_entries(ad, &ou.dn).await?;
        if n == 0 {
            continue;
        }
        let t = Instant::now();
        if let Err(e) = tree_delete(ad, pw_file, &ou.dn) {
            eprintln!("bench: tree delete failed, deleting entry by entry: {e:#}");
            break;
        }
        eprintln!(
            "bench: cleanup: tree-deleted {} ({n} entries) in {}",
            ou.dn,
            secs(t.elapsed())
        );
    }

    let mut d = connect(ad).await?;
    let mut entries = match d.search_paged(base, "(objectClass=*)", &["1.1"]).await {
        Ok(l) => l,
        Err(e) if e.is_no_such_object() => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let _ = d.unbind().await;
    entries.sort_by_key(|e| std::cmp::Reverse(depth(&e.dn)));
    let mut levels: Vec<Vec<String>> = Vec::new();
    let mut last = usize::MAX;
    for e in entries {
        let dd = depth(&e.dn);
        if dd != last {
            levels.push(Vec::new());
            last = dd;
        }
        levels.last_mut().unwrap().push(e.dn);
    }
    for level in levels {
        let workers = DELETE_WORKERS.min(level.len()).max(1);
        let mut chunks: Vec<Vec<String>> = vec![Vec::new(); workers];
        for (i, dn) in level.into_iter().enumerate() {
            chunks[i % workers].push(dn);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in chunks {
            let ad = ad.clone();
            tasks.spawn(async move {
                let mut d = connect(&ad).await?;
                for dn in chunk {
                    let _ = d.delete(&dn).await;
                }
                let _ = d.unbind().await;
                Ok::<(), anyhow::Error>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
    }
    let left = count_entries(ad, base).await?;
    Ok((before - left.min(before), left))
}

/// Deletes the OUs of earlier, interrupted runs of this bench.
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
        delete_tree(ad, &e.dn, pw_file).await?;
    }
    Ok(())
}

struct World {
    ad: AdEnv,
    /// hrsync's OU.
    ou: String,
    /// The OU `ldapadd` writes to.
    ldif_ou: String,
    sim: Simulator,
    dir: tempfile::TempDir,
    /// The bind password, for `ldapadd`/`ldapdelete -y` (mode 0600).
    pw_file: std::path::PathBuf,
}

impl World {
    fn config(&self) -> anyhow::Result<Config> {
        let d = self.dir.path();
        std::fs::write(d.join("ldap.pw"), &self.ad.password)?;
        std::fs::write(d.join("remote.token"), &self.sim.config().api_token)?;
        let cache = workspace_root().join("target/hrsync-test-cache");
        let ou = &self.ou;
        let base = self.sim.base_url();
        // The test suite's configuration (tests/tests/sync_ad.rs), with sAMAccountNames prefixed
        // `h` so they cannot collide with the tests' accounts in the same domain.
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
users_ou = "OU=Staff,{ou}"
disabled_ou = "OU=Disabled,{ou}"
concurrency = {CONCURRENCY}

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
  "h{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}",
  "h{{{{ first_name|ascii|lower|samsafe|first }}}}{{{{ last_name|ascii|lower|samsafe }}}}",
  "h{{{{ first_name|ascii|lower|samsafe }}}}{{% if last_name %}}.{{{{ last_name|ascii|lower|samsafe }}}}{{% endif %}}{{{{ n }}}}",
], max_len = 20, apply = "on-create" }}

[sync]
connector = "remote"
ou = "OU={{{{ department|dn }}}},OU=Staff,{ou}"
time_zone = "Europe/Berlin"
prehire_days = 7
set_initial_password = false

[[sync.groups]]
dn = "CN=All Staff,{ou}"

[[sync.groups]]
dn = "CN=Engineering,{ou}"
when = "department == 'Engineering'"
"#,
            cache = cache.display(),
            url = self.ad.url,
            bind_dn = self.ad.bind_dn,
            ca = self.ad.ca_file,
            plugin = plugin_wasm("hrsync_plugin_remote.wasm").display(),
        );
        Ok(Config::parse(&d.join("hrsync.toml"), &text)?)
    }
}

// --- One measured run ---

struct Measured {
    report: RunReport,
    open: Duration,
    wall: Duration,
    /// Listing + details (until the snapshot's connect).
    source: Duration,
    /// Snapshot: connect + paged search.
    snapshot: Duration,
    /// Plan, quarantine/release bookkeeping.
    plan: Duration,
    /// Creates, updates, groups (phase 1 of apply), incl. the plan saved at the end.
    apply: Duration,
    /// `manager` modifies (phase 2 of apply).
    managers: Duration,
    remote: SimStats,
    ldap: Recorder,
}

async fn measured_run(w: &World, progress: &Progress) -> anyhow::Result<Measured> {
    let t_open = Instant::now();
    let config = w.config()?;
    let runtime = Engine::runtime(&config)?;
    let engine = Engine::open(config, &runtime)?;
    let open = t_open.elapsed();
    let opts = RunOptions {
        apply: true,
        only: None,
        trigger: "bench".into(),
        now: None,
    };
    w.sim.state().reset_stats();
    Recorder::reset();
    let t0 = Instant::now();
    let report = engine.run(&opts, progress).await?;
    let end = Instant::now();
    let ldap = Recorder::take();
    let remote = w.sim.state().stats();
    drop(engine);

    // Connects: [0] the snapshot, then one per apply worker of phase 1, then of phase 2.
    let phase1 = report
        .plan
        .people
        .iter()
        .filter(|p| p.leaver || p.ops.iter().any(|o| !matches!(o, Op::SetManager { .. })))
        .count()
        .min(CONCURRENCY);
    let at = |i: usize| ldap.connects.get(i).copied();
    let snap = at(0).unwrap_or(end);
    let snap_done = ldap.first_search_closed.unwrap_or(snap).max(snap);
    let apply1 = if phase1 > 0 { at(1) } else { None }.unwrap_or(end);
    let apply2 = at(1 + phase1).filter(|_| phase1 > 0).unwrap_or(end);
    Ok(Measured {
        open,
        wall: end - t0,
        source: snap - t0,
        snapshot: snap_done - snap,
        plan: apply1.saturating_duration_since(snap_done),
        apply: apply2.saturating_duration_since(apply1),
        managers: end.saturating_duration_since(apply2),
        report,
        remote,
        ldap,
    })
}

fn op_counts(r: &RunReport) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for op in r.plan.people.iter().flat_map(|p| &p.ops) {
        let k = match op {
            Op::Create { .. } => "create",
            Op::Modify { .. } => "modify",
            Op::Move { .. } => "move",
            Op::Enable { .. } => "enable",
            Op::Disable { .. } => "disable",
            Op::AddToGroup { .. } => "add-to-group",
            Op::RemoveFromGroup { .. } => "remove-from-group",
            Op::SetManager { .. } => "set-manager",
            Op::ResetPassword { .. } => "reset-password",
            Op::Delete { .. } => "delete",
        };
        *m.entry(k).or_default() += 1;
    }
    m
}

// --- LDIF ---

/// RFC 2849 SAFE-STRING: otherwise the value is written base64 (`attr:: …`).
fn ldif_safe(v: &str) -> bool {
    let b = v.as_bytes();
    b.iter()
        .all(|&c| c.is_ascii() && c != 0 && c != b'\n' && c != b'\r')
        && !matches!(b.first(), Some(b' ' | b':' | b'<'))
        && !v.ends_with(' ')
}

fn ldif_line(out: &mut String, attr: &str, value: &str) {
    if ldif_safe(value) {
        let _ = writeln!(out, "{attr}: {value}");
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
        let _ = writeln!(out, "{attr}:: {b64}");
    }
}

/// `dn` with the suffix `from` (ASCII case-insensitive) replaced by `to`.
fn rebase(dn: &str, from: &str, to: &str) -> anyhow::Result<String> {
    let cut = dn
        .len()
        .checked_sub(from.len())
        .filter(|&i| dn.is_char_boundary(i) && dn[i..].eq_ignore_ascii_case(from))
        .with_context(|| format!("{dn} is not under {from}"))?;
    Ok(format!("{}{to}", &dn[..cut]))
}

struct Ldif {
    /// The OU entries, parents first.
    ous: String,
    ou_count: usize,
    /// One LDIF record per account.
    users: Vec<String>,
}

impl Ldif {
    fn bytes(&self) -> usize {
        self.ous.len() + self.users.iter().map(String::len).sum::<usize>()
    }
}

/// The OUs and accounts hrsync created, read back from AD, moved to `w.ldif_ou`, with the
/// sAMAccountName (and UPN, if any) `h…` renamed `b…`. Only the attributes hrsync wrote.
async fn build_ldif(w: &World, attrs: &BTreeSet<String>) -> anyhow::Result<Ldif> {
    let mut d = connect(&w.ad).await?;
    let staff = format!("OU=Staff,{}", w.ou);
    let mut ous = d
        .search_paged(&staff, "(objectClass=organizationalUnit)", &["ou"])
        .await?;
    ous.sort_by_key(|e| depth(&e.dn));
    let mut want: Vec<&str> = vec!["objectClass", "userAccountControl"];
    want.extend(attrs.iter().map(String::as_str));
    let users = d
        .search_paged(
            &staff,
            "(&(objectCategory=person)(objectClass=user))",
            &want,
        )
        .await?;
    let _ = d.unbind().await;
    let mut text = String::new();
    for ou in &ous {
        ldif_line(&mut text, "dn", &rebase(&ou.dn, &w.ou, &w.ldif_ou)?);
        text.push_str("objectClass: top\nobjectClass: organizationalUnit\n");
        for v in ou.values("ou") {
            ldif_line(&mut text, "ou", v);
        }
        text.push('\n');
    }
    let mut records = Vec::with_capacity(users.len());
    for u in &users {
        let mut text = String::new();
        ensure!(u.bin_attrs.is_empty(), "{} has binary attributes", u.dn);
        ldif_line(&mut text, "dn", &rebase(&u.dn, &w.ou, &w.ldif_ou)?);
        for a in &want {
            for v in u.values(a) {
                let v = if a.eq_ignore_ascii_case("sAMAccountName")
                    || a.eq_ignore_ascii_case("userPrincipalName")
                {
                    match v.strip_prefix('h') {
                        Some(rest) => format!("b{rest}"),
                        None => bail!("{}: {a} {v:?} does not start with h", u.dn),
                    }
                } else {
                    v.clone()
                };
                ldif_line(&mut text, a, &v);
            }
        }
        text.push('\n');
        records.push(text);
    }
    Ok(Ldif {
        ous: text,
        ou_count: ous.len(),
        users: records,
    })
}

struct LdapAdd {
    wall: Duration,
    added: usize,
    failed: usize,
    first_errors: Vec<String>,
}

fn ldapadd(w: &World, pw_file: &Path, file: &Path) -> anyhow::Result<std::process::Child> {
    Command::new("ldapadd")
        .args(["-c", "-x", "-H", &w.ad.url, "-D", &w.ad.bind_dn, "-y"])
        .arg(pw_file)
        .arg("-f")
        .arg(file)
        .env("LDAPTLS_CACERT", &w.ad.ca_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run ldapadd (apt-get install ldap-utils)")
}

/// Runs `ldapadd -c` on the LDIF: one process with one file (the default), or with `procs > 1`
/// the OUs first, then the accounts split over `procs` concurrent processes.
fn run_ldapadd(w: &World, pw_file: &Path, ldif: &Ldif, procs: usize) -> anyhow::Result<LdapAdd> {
    let dir = w.dir.path();
    let mut batches: Vec<Vec<std::path::PathBuf>> = Vec::new();
    if procs <= 1 {
        let file = dir.join("accounts.ldif");
        let mut text = ldif.ous.clone();
        for u in &ldif.users {
            text.push_str(u);
        }
        std::fs::write(&file, text)?;
        batches.push(vec![file]);
    } else {
        let ous = dir.join("ous.ldif");
        std::fs::write(&ous, &ldif.ous)?;
        batches.push(vec![ous]);
        let mut parts = vec![String::new(); procs];
        for (i, u) in ldif.users.iter().enumerate() {
            parts[i % procs].push_str(u);
        }
        let mut files = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            let f = dir.join(format!("accounts-{i}.ldif"));
            std::fs::write(&f, part)?;
            files.push(f);
        }
        batches.push(files);
    }
    let (mut added, mut failed, mut errors) = (0, 0, Vec::new());
    let t0 = Instant::now();
    for batch in batches {
        let children = batch
            .iter()
            .map(|f| ldapadd(w, pw_file, f))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for child in children {
            let out = child.wait_with_output()?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tried = stdout
                .lines()
                .filter(|l| l.starts_with("adding new entry"))
                .count();
            let bad = stderr
                .lines()
                .filter(|l| l.starts_with("ldap_add:"))
                .count();
            if !out.status.success() && bad == 0 {
                bail!("ldapadd failed ({}): {stderr}", out.status);
            }
            // "adding new entry" is printed before the server answers.
            added += tried - bad.min(tried);
            failed += bad;
            errors.extend(
                stderr
                    .lines()
                    .filter(|l| l.starts_with("ldap_add:") || l.contains("additional info"))
                    .map(str::to_string),
            );
        }
    }
    Ok(LdapAdd {
        wall: t0.elapsed(),
        added,
        failed,
        first_errors: errors.into_iter().take(6).collect(),
    })
}

// --- Output ---

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn rate(n: usize, d: Duration) -> String {
    if d.is_zero() {
        return "-".into();
    }
    format!("{:.1}/s", n as f64 / d.as_secs_f64())
}

fn remote_line(s: &SimStats) -> String {
    format!(
        "{} (list pages {}, details {}, token {}, other {})",
        s.total_requests,
        s.route_count("GET /v1/employments"),
        s.route_count("GET /v1/employments/{id}"),
        s.token_requests,
        s.total_requests
            - s.route_count("GET /v1/employments")
            - s.route_count("GET /v1/employments/{id}")
            - s.token_requests,
    )
}

fn ldap_line(r: &Recorder) -> String {
    let short = |n: &str| n.trim_start_matches("directory.").to_string();
    let parts: Vec<String> = r
        .counts
        .iter()
        .filter(|(n, _)| **n != "directory.ensure_ou")
        .map(|(n, c)| format!("{} {c}", short(n)))
        .collect();
    parts.join(", ")
}

fn mean_ms(d: &[Duration]) -> f64 {
    if d.is_empty() {
        return 0.0;
    }
    d.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / d.len() as f64
}

/// Mean latency per LDAP call kind; for the write kinds, also the first and the last 500 calls
/// (does Samba slow down as the OU and the groups grow?).
fn latency_lines(r: &Recorder) -> Vec<String> {
    let mut out = Vec::new();
    for (name, l) in &r.latency {
        if *name == "directory.ensure_ou" || *name == "directory.unbind" {
            continue;
        }
        let short = name.trim_start_matches("directory.");
        let mut line = format!("{short}: {} x {:.1} ms", l.len(), mean_ms(l));
        if l.len() >= 2000 {
            let _ = write!(
                line,
                " (first 500 {:.1} ms, last 500 {:.1} ms)",
                mean_ms(&l[..500]),
                mean_ms(&l[l.len() - 500..])
            );
        }
        out.push(line);
    }
    out
}

/// `/proc/loadavg`'s 1-minute figure (the machine is shared: this says how much of it we had).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn row(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = writeln!(out, "  {k:<38} {v}");
}

// --- The bench ---

struct Results {
    first: Measured,
    ldif: Ldif,
    ldif_build: Duration,
    ldapadd: LdapAdd,
    ldapadd_procs: usize,
    second: Measured,
    /// The 1-minute load average when each step ended.
    loads: Vec<(&'static str, String)>,
}

async fn bench(w: &World, people: usize, progress: &Progress) -> anyhow::Result<Results> {
    let mut loads = vec![("start", load())];
    eprintln!("bench: 1/3 initial sync of {people} people");
    let first = measured_run(w, progress).await?;
    loads.push(("sync", load()));
    let r = &first.report;
    ensure!(
        r.plan.summary.create > 0 && r.operations_applied > 0,
        "the initial sync created nothing: {}",
        hrsync::sync::report::summary_line(&r.plan)
    );
    if !r.failed.is_empty() {
        eprintln!(
            "bench: {} people failed in the initial sync, e.g. {:?}",
            r.failed.len(),
            r.failed.first()
        );
    }

    let procs: usize = std::env::var("HRSYNC_BENCH_LDAPADD_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    eprintln!("bench: 2/3 ldapadd -c of the same accounts ({procs} process(es))");
    let attrs: BTreeSet<String> = r
        .plan
        .people
        .iter()
        .flat_map(|p| &p.ops)
        .filter_map(|o| match o {
            Op::Create { attributes, .. } => Some(attributes.keys().cloned()),
            _ => None,
        })
        .flatten()
        .collect();
    let t = Instant::now();
    let ldif = build_ldif(w, &attrs).await?;
    let ldif_build = t.elapsed();
    let mut d = connect(&w.ad).await?;
    d.ensure_ou(&w.ldif_ou).await?;
    let _ = d.unbind().await;
    let ldapadd = run_ldapadd(w, &w.pw_file, &ldif, procs)?;
    loads.push(("ldapadd", load()));
    if ldapadd.failed > 0 {
        eprintln!(
            "bench: ldapadd: {} entries failed: {:?}",
            ldapadd.failed, ldapadd.first_errors
        );
    }

    eprintln!("bench: 3/3 no-op resync");
    let second = measured_run(w, progress).await?;
    loads.push(("resync", load()));
    let planned: usize = second.report.plan.people.iter().map(|p| p.ops.len()).sum();
    ensure!(
        planned == 0 && second.report.operations_applied == 0 && second.ldap.writes() == 0,
        "the resync wrote: {planned} planned ops, {} applied, {} LDAP writes: {}",
        second.report.operations_applied,
        second.ldap.writes(),
        hrsync::sync::report::render(&second.report.plan, Some(20))
    );
    Ok(Results {
        first,
        ldif,
        ldif_build,
        ldapadd,
        ldapadd_procs: procs,
        second,
        loads,
    })
}

fn print(people: usize, w: &World, res: &Results, cleanup: (Duration, usize, usize)) {
    let Results {
        first: f,
        ldif,
        ldif_build,
        ldapadd,
        ldapadd_procs,
        second: s,
        loads,
    } = res;
    let r = &f.report;
    let ops = op_counts(r);
    let created = r.plan.summary.create;
    let op = |k: &str| ops.get(k).copied().unwrap_or(0);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nhrsync sync benchmark: {people} HR people, Remote simulator (seed 7, NO rate limit), \
         Samba AD DC over LDAPS (127.0.0.1, tdb, prefork)\n\
         config: concurrency = {CONCURRENCY}, set_initial_password = false (measures the engine, \
         not password hashing), groups All Staff + Engineering, managers on\n\
         OUs: {} (hrsync), {} (ldapadd)\n\
         1-min load average (2 cores, shared): {}\n",
        w.ou,
        w.ldif_ou,
        loads
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(o, "1. initial load (`sync`, empty store, empty OU)");
    row(&mut o, "engine open (config, plugin, store)", secs(f.open));
    row(&mut o, "wall time (run)", secs(f.wall));
    row(&mut o, "  listing + details (Remote)", secs(f.source));
    row(&mut o, "  snapshot (LDAP paged search)", secs(f.snapshot));
    row(&mut o, "  plan (+ store bookkeeping)", secs(f.plan));
    row(&mut o, "  apply: accounts + groups", secs(f.apply));
    row(&mut o, "  apply: managers (+ save plan)", secs(f.managers));
    row(
        &mut o,
        "people listed / planned",
        format!(
            "{} / {} (out of scope {}, quarantined {}, not yet {})",
            r.plan.summary.people,
            r.plan.people.len(),
            r.plan.summary.out_of_scope,
            r.plan.summary.quarantined,
            r.plan.people.len() - created.min(r.plan.people.len()),
        ),
    );
    row(&mut o, "accounts created", created);
    row(&mut o, "failed people", r.failed.len());
    row(&mut o, "people/s (created / wall)", rate(created, f.wall));
    row(
        &mut o,
        "accounts/s in apply (created / apply)",
        rate(created, f.apply + f.managers),
    );
    row(&mut o, "Remote requests", remote_line(&f.remote));
    let rest: usize = ops
        .iter()
        .filter(|(k, _)| !["create", "add-to-group", "set-manager"].contains(k))
        .map(|(_, v)| v)
        .sum();
    row(
        &mut o,
        "operations applied (RunReport)",
        format!(
            "{} (planned: create {} + add-to-group {} + set-manager {} + other {rest})",
            r.operations_applied,
            op("create"),
            op("add-to-group"),
            op("set-manager"),
        ),
    );
    row(
        &mut o,
        "LDAP requests (client spans)",
        format!(
            "{} writes, {} reads, {} binds",
            f.ldap.writes(),
            f.ldap.reads(),
            f.ldap.count("directory.connect")
        ),
    );
    row(&mut o, "  by call", ldap_line(&f.ldap));
    row(
        &mut o,
        "  per created account",
        format!(
            "{:.2} writes, {:.2} reads",
            f.ldap.writes() as f64 / created.max(1) as f64,
            f.ldap.reads() as f64 / created.max(1) as f64
        ),
    );
    row(
        &mut o,
        "LDAP writes/s in apply",
        rate(f.ldap.writes() as usize, f.apply + f.managers),
    );
    for (i, l) in latency_lines(&f.ldap).into_iter().enumerate() {
        row(
            &mut o,
            if i == 0 {
                "  mean latency per call"
            } else {
                ""
            },
            l,
        );
    }

    let _ = writeln!(
        o,
        "\n2. `ldapadd -c` of the same accounts (read back from AD, same DNs under the second OU, \
         the attributes hrsync's adds set, sAMAccountName h… -> b…; userAccountControl 512 as \
         read back, so enabled by the add itself; no groups, no managers)"
    );
    row(&mut o, "read back + LDIF build", secs(*ldif_build));
    row(
        &mut o,
        "LDIF",
        format!(
            "{} OUs + {} accounts, {:.1} MiB",
            ldif.ou_count,
            ldif.users.len(),
            ldif.bytes() as f64 / 1048576.0
        ),
    );
    row(
        &mut o,
        &format!("wall time ({ldapadd_procs} ldapadd process(es))"),
        secs(ldapadd.wall),
    );
    row(
        &mut o,
        "entries added / failed",
        format!("{} / {}", ldapadd.added, ldapadd.failed),
    );
    row(&mut o, "entries/s", rate(ldapadd.added, ldapadd.wall));
    let lw = ldapadd.wall.as_secs_f64().max(1e-9);
    row(
        &mut o,
        "ratio hrsync run / ldapadd (wall)",
        format!("{:.2}x", f.wall.as_secs_f64() / lw),
    );
    let apply = f.apply + f.managers;
    row(
        &mut o,
        "ratio hrsync apply / ldapadd",
        format!("{:.2}x", apply.as_secs_f64() / lw),
    );
    let adds = f.ldap.count("directory.add");
    row(
        &mut o,
        "hrsync writes beyond ldapadd's adds",
        format!(
            "{} (enable {}, add-to-group {}, set-manager {})",
            f.ldap.writes() - adds,
            f.ldap.count("directory.enable"),
            f.ldap.count("directory.add_member"),
            f.ldap.count("directory.modify"),
        ),
    );
    row(
        &mut o,
        "writes/s: hrsync apply vs ldapadd",
        format!(
            "{} vs {}",
            rate(f.ldap.writes() as usize, apply),
            rate(ldapadd.added, ldapadd.wall)
        ),
    );

    let _ = writeln!(
        o,
        "\n3. no-op resync (`sync` again, new engine, same store)"
    );
    row(&mut o, "engine open", secs(s.open));
    row(&mut o, "wall time (run)", secs(s.wall));
    row(&mut o, "  listing + details (Remote)", secs(s.source));
    row(&mut o, "  snapshot (LDAP paged search)", secs(s.snapshot));
    row(
        &mut o,
        "  plan + bookkeeping + save",
        secs(s.plan + s.apply + s.managers),
    );
    row(
        &mut o,
        "LDAP writes (asserted 0)",
        format!(
            "{} (operations applied {}), reads {}",
            s.ldap.writes(),
            s.report.operations_applied,
            s.ldap.reads()
        ),
    );
    row(&mut o, "Remote requests", remote_line(&s.remote));
    row(
        &mut o,
        "details refetched / deferred",
        format!(
            "{} / {}",
            s.report.details_fetched, s.report.details_deferred
        ),
    );
    row(
        &mut o,
        "people/s checked",
        rate(s.report.plan.summary.people, s.wall),
    );
    let (t, deleted, left) = cleanup;
    let _ = writeln!(
        o,
        "\n4. cleanup (both OUs: groups, then OU by OU with the tree-delete control)"
    );
    row(&mut o, "wall time", secs(t));
    row(
        &mut o,
        "entries deleted / left",
        format!("{deleted} / {left}"),
    );
    row(&mut o, "deletes/s", rate(deleted, t));
    println!("{o}");
    let _ = std::io::stdout().flush();
}

fn main() -> anyhow::Result<()> {
    let people: usize = match std::env::var("HRSYNC_BENCH_PEOPLE") {
        Ok(v) => v.parse().context("HRSYNC_BENCH_PEOPLE must be a number")?,
        Err(_) => 10_000,
    };
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ad = ad_env();
    let ou = format!("OU={OU_PREFIX},{}", ad.base_dn);
    let ldif_ou = format!("OU={OU_PREFIX}-ldif,{}", ad.base_dn);
    let progress = if std::env::var_os("HRSYNC_BENCH_QUIET").is_some() {
        Progress::hidden()
    } else {
        Progress::new(false)
    };
    let dir = tempfile::tempdir()?;
    let pw_file = dir.path().join("ad.pw");
    std::fs::write(&pw_file, &ad.password)?;
    std::fs::set_permissions(&pw_file, std::fs::Permissions::from_mode(0o600))?;

    let sim = rt.block_on(async {
        delete_leftovers(&ad, &pw_file).await?;
        let mut d = connect(&ad).await?;
        d.ensure_ou(&ou).await?;
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
        Simulator::start(SimConfig {
            people,
            seed: 7,
            rate_limit: None,
            ..SimConfig::default()
        })
        .await
    });
    let sim = match sim {
        Ok(sim) => sim,
        Err(e) => {
            let _ = rt.block_on(delete_tree(&ad, &ou, &pw_file));
            return Err(e);
        }
    };
    let world = World {
        ad: ad.clone(),
        ou,
        ldif_ou,
        sim,
        dir,
        pw_file,
    };

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(bench(&world, people, &progress))
    }));

    eprintln!("bench: cleanup");
    let t = Instant::now();
    let mut deleted = 0;
    let mut left = 0;
    for base in [&world.ou, &world.ldif_ou] {
        match rt.block_on(delete_tree(&ad, base, &world.pw_file)) {
            Ok((d, l)) => {
                deleted += d;
                left += l;
            }
            Err(e) => eprintln!("bench: cleanup of {base} failed: {e:#}"),
        }
    }
    let cleanup = (t.elapsed(), deleted, left);
    if left > 0 {
        eprintln!("bench: {left} entries could not be deleted; the next run retries");
    }

    match outcome {
        Ok(Ok(res)) => {
            print(people, &world, &res, cleanup);
            rt.block_on(world.sim.shutdown());
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
