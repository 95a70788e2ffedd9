//! `hrsync sync` against the real Samba AD DC (`tests/ad/samba-ad.sh`) and the Remote simulator:
//!
//! 1. the initial load of N people (`HRSYNC_BENCH_PEOPLE`, default 10000) with
//!    `set_initial_password = true` and `concurrency = 2` (`HRSYNC_BENCH_CONCURRENCY`), the simulator without a rate limit:
//!    wall time split into listing+details / snapshot / plan / accounts / groups / managers,
//!    accounts created, Remote requests, operations applied, and the LDAP requests behind them
//!    (counted from the `directory.*` tracing spans of hrsync's LDAP client, with their
//!    latencies, busy time and when each kind of call ran). The engine plans and applies
//!    whoever the list pages describe, then fetches details in batches of 25, each planned
//!    against a focused read of the directory and applied: each account in one add (every
//!    attribute, `unicodePwd`, `userAccountControl` 512, `manager` when the manager's account
//!    exists), memberships per group in one modify, later managers by a modify each;
//! 2. `ldapadd -c` of the same end state (read back from AD, written as LDIF into a second OU,
//!    with its own two groups): the OUs, one add per account carrying every attribute, a random
//!    `unicodePwd`, `userAccountControl` and `manager` (managers added before their reports; a
//!    manager cycle falls back to a modify after the adds), then one modify per group with all
//!    its members — the baseline of what Samba itself takes for the same result
//!    (`HRSYNC_BENCH_LDAPADD_PROCS=K` splits each level of the manager tree over K concurrent
//!    `ldapadd` processes; default 1);
//! 3. a no-op resync: no LDAP writes (asserted), only the list pages from Remote;
//! 4. both OUs deleted again (also after a failure or a panic), with AD's tree-delete control.
//!
//! Run: `HRSYNC_BENCH_PEOPLE=10000 cargo bench -p hrsync-tests --bench sync`
//! (`HRSYNC_BENCH_QUIET=1` hides the engine's progress lines). Needs Samba
//! (`bash tests/ad/samba-ad.sh start`) and `ldapadd`/`ldapdelete` (ldap-utils). Every run leaves
//! tombstones in the DC (AD keeps deleted objects for 180 days), which slow later writes:
//! `bash tests/ad/samba-ad.sh reset` gives a fresh DC when nobody else is using it.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
/// `[directory] concurrency` (`HRSYNC_BENCH_CONCURRENCY`, default 2).
fn concurrency() -> usize {
    std::env::var("HRSYNC_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}
/// Connections used to delete the OUs at the end.
const DELETE_WORKERS: usize = 4;

// --- Counting what the engine does on the wire, through its tracing spans ---

/// Span creations seen since the last [`Recorder::reset`].
#[derive(Default)]
struct Recorder {
    /// `directory.*` spans by name (one per LDAP call of the `Directory` client).
    counts: BTreeMap<&'static str, u64>,
    /// When each span of a name was created, in order.
    created: BTreeMap<&'static str, Vec<Instant>>,
    /// When the first / the last span of a name closed.
    first_closed: BTreeMap<&'static str, Instant>,
    last_closed: BTreeMap<&'static str, Instant>,
    /// Latency of each call (span creation to close), by span name, in call order.
    latency: BTreeMap<&'static str, Vec<Duration>>,
}

/// LDAP write requests, by span name. `enable`/`disable` are a read plus a modify (when it
/// changes); `change_members` is one modify for up to 250 members.
const WRITES: &[&str] = &[
    "directory.add",
    "directory.add_with_password",
    "directory.modify",
    "directory.rename",
    "directory.delete",
    "directory.set_password",
    "directory.enable",
    "directory.disable",
    "directory.add_member",
    "directory.remove_member",
    "directory.change_members",
];

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
    /// LDAP write requests (the OUs `ensure_ou` creates are `add`s).
    fn writes(&self) -> u64 {
        WRITES.iter().map(|n| self.count(n)).sum()
    }
    /// LDAP read requests (base-scope reads, inside `ensure_ou` and `enable` too, and searches).
    fn reads(&self) -> u64 {
        self.count("directory.get") + self.count("directory.search")
    }
    /// The first span of any of `names` created at or after `after`.
    fn first_of(&self, names: &[&str], after: Instant) -> Option<Instant> {
        names
            .iter()
            .filter_map(|n| self.created.get(n))
            .filter_map(|v| v.iter().copied().find(|t| *t >= after))
            .min()
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
        r.created.entry(name).or_default().push(Instant::now());
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let now = Instant::now();
        let started = span.extensions().get::<Started>().map(|s| s.0);
        let mut r = recorder().lock().unwrap();
        if let Some(t) = started {
            r.latency.entry(span.name()).or_default().push(now - t);
        }
        r.first_closed.entry(span.name()).or_insert(now);
        r.last_closed.insert(span.name(), now);
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

/// The OU `ou` with the two groups of the config in it (sAMAccountNames tagged `tag`).
async fn add_groups(d: &mut Directory, ou: &str, tag: &str) -> anyhow::Result<()> {
    d.ensure_ou(ou).await?;
    for g in ["All Staff", "Engineering"] {
        d.add(
            &format!("CN={g},{ou}"),
            &[
                ("objectClass", vec!["top", "group"]),
                (
                    "sAMAccountName",
                    vec![&format!("{OU_PREFIX}-{tag}{}", g.replace(' ', ""))],
                ),
            ],
        )
        .await?;
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
        // The test suite's configuration (`fixtures::sync_config_toml`), with sAMAccountNames
        // prefixed `h` so they cannot collide with the tests' accounts in the same domain, and
        // random initial passwords (the default). `managed_ous` is left at its default
        // (users_ou + disabled_ou, both inside the bench's OU); names are unique domain-wide.
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
concurrency = {concurrency}

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
set_initial_password = true

[[sync.groups]]
dn = "CN=All Staff,{ou}"

[[sync.groups]]
dn = "CN=Engineering,{ou}"
when = "department == 'Engineering'"
"#,
            cache = cache.display(),
            url = self.ad.url,
            bind_dn = self.ad.bind_dn,
            domain = self.ad.base_dn,
            ca = self.ad.ca_file,
            concurrency = concurrency(),
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
    /// Preflight, listing (until the first snapshot search).
    source: Duration,
    /// The first (full) snapshot: the managed accounts, the names taken domain-wide, the
    /// schema's limits.
    snapshot: Duration,
    /// Until the first write: preflight, listing, snapshot, plan.
    before_writes: Duration,
    /// First write started to last write done (apply; details fetched and planned meanwhile
    /// when the engine interleaves them).
    writes: Duration,
    /// After the last write: bookkeeping, the plan saved.
    after_writes: Duration,
    /// The engine's start.
    t0: Instant,
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
    let mut report = engine.run(&opts, progress).await?;
    // A large run keeps only its first people in the report; the store has them all.
    if report.plan.more > 0 {
        report.plan.people = engine.store().run_people(report.run_id)?;
        report.plan.more = 0;
    }
    let end = Instant::now();
    let ldap = Recorder::take();
    let remote = w.sim.state().stats();
    drop(engine);

    // Boundaries from the LDAP client's spans: the preflight only reads single entries; the
    // full snapshot starts with the first search and ends with the schema limits' read.
    let snap = ldap.first_of(&["directory.search"], t0).unwrap_or(end);
    let snap_done = ldap
        .first_closed
        .get("directory.attribute_limits")
        .copied()
        .unwrap_or(snap)
        .clamp(snap, end);
    let mut kinds: Vec<&str> = WRITES.to_vec();
    kinds.push("directory.ensure_ou");
    let first_write = ldap.first_of(&kinds, t0).unwrap_or(end);
    let last_write = kinds
        .iter()
        .filter_map(|k| ldap.last_closed.get(k).copied())
        .max()
        .unwrap_or(first_write)
        .clamp(first_write, end);
    Ok(Measured {
        open,
        wall: end - t0,
        source: snap - t0,
        snapshot: snap_done - snap,
        before_writes: first_write - t0,
        writes: last_write - first_write,
        after_writes: end - last_write,
        t0,
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

/// `unicodePwd`'s value: the password in double quotes, UTF-16LE.
fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Each account's level in the manager tree (0: no manager in the set; otherwise its manager's
/// level + 1), and the accounts whose manager edge closes a cycle (their manager is set by a
/// modify after every add, and they count as level 0).
fn manager_levels(manager: &[Option<usize>]) -> (Vec<usize>, Vec<usize>) {
    let n = manager.len();
    let mut level: Vec<Option<usize>> = vec![None; n];
    let mut deferred = Vec::new();
    let mut on_path = vec![false; n];
    for start in 0..n {
        if level[start].is_some() {
            continue;
        }
        // Up the chain until a known level, the top, or a cycle.
        let mut path = Vec::new();
        let mut cur = start;
        let top = loop {
            path.push(cur);
            on_path[cur] = true;
            match manager[cur] {
                None => break 0,
                Some(m) if on_path[m] => {
                    deferred.push(cur);
                    break 0;
                }
                Some(m) => match level[m] {
                    Some(l) => break l + 1,
                    None => cur = m,
                },
            }
        };
        for (l, &i) in (top..).zip(path.iter().rev()) {
            level[i] = Some(l);
            on_path[i] = false;
        }
    }
    (
        level.into_iter().map(Option::unwrap_or_default).collect(),
        deferred,
    )
}

struct Ldif {
    /// The OU entries, parents first.
    ous: String,
    ou_count: usize,
    /// One add per account, with its level in the manager tree (managers first).
    users: Vec<(usize, String)>,
    /// Manager modifies for the cycles, then one modify per group with all its members.
    modifies: String,
    /// Accounts whose manager goes into the add / is set by a later modify.
    managers_in_add: usize,
    managers_deferred: usize,
    /// (group, members) of the group modifies.
    groups: Vec<(String, usize)>,
}

impl Ldif {
    fn bytes(&self) -> usize {
        self.ous.len() + self.users.iter().map(|u| u.1.len()).sum::<usize>() + self.modifies.len()
    }
    fn levels(&self) -> usize {
        self.users.iter().map(|u| u.0 + 1).max().unwrap_or(0)
    }
    /// LDAP write requests the LDIF makes.
    fn writes(&self) -> usize {
        self.ou_count + self.users.len() + self.managers_deferred + self.groups.len()
    }
}

/// The end state hrsync reached, read back from AD, moved to `w.ldif_ou`, with the
/// sAMAccountName (and UPN, if any) `h…` renamed `b…`: the OUs; one add per account with the
/// attributes hrsync's adds set, `userAccountControl` as read back, a random password and
/// `manager` (ordered managers first); the manager modifies a cycle needs; one modify per group.
async fn build_ldif(w: &World, attrs: &BTreeSet<String>) -> anyhow::Result<Ldif> {
    let mut d = connect(&w.ad).await?;
    let staff = format!("OU=Staff,{}", w.ou);
    let mut ous = d
        .search_paged(&staff, "(objectClass=organizationalUnit)", &["ou"])
        .await?;
    ous.sort_by_key(|e| depth(&e.dn));
    let mut want: Vec<&str> = vec!["objectClass", "userAccountControl"];
    want.extend(
        attrs
            .iter()
            .map(String::as_str)
            .filter(|a| !a.eq_ignore_ascii_case("manager")),
    );
    let mut read = want.clone();
    read.extend(["manager", "memberOf"]);
    let users = d
        .search_paged(
            &staff,
            "(&(objectCategory=person)(objectClass=user))",
            &read,
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

    let key = |dn: &str| dn.to_ascii_lowercase();
    let index: HashMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (key(&u.dn), i))
        .collect();
    let manager: Vec<Option<usize>> = users
        .iter()
        .map(|u| u.first("manager").and_then(|m| index.get(&key(m)).copied()))
        .collect();
    let (levels, deferred) = manager_levels(&manager);
    let deferred_set: HashSet<usize> = deferred.iter().copied().collect();
    let new_dn = |dn: &str| rebase(dn, &w.ou, &w.ldif_ou).unwrap_or_else(|_| dn.to_string());

    let mut records = Vec::with_capacity(users.len());
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut managers_in_add = 0;
    for (i, u) in users.iter().enumerate() {
        let mut text = String::new();
        ensure!(u.bin_attrs.is_empty(), "{} has binary attributes", u.dn);
        let dn = rebase(&u.dn, &w.ou, &w.ldif_ou)?;
        ldif_line(&mut text, "dn", &dn);
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
        let pwd = unicode_pwd(&hrsync::sync::apply::initial_password());
        let _ = writeln!(
            text,
            "unicodePwd:: {}",
            base64::engine::general_purpose::STANDARD.encode(pwd)
        );
        if let Some(m) = u.first("manager")
            && !deferred_set.contains(&i)
        {
            ldif_line(&mut text, "manager", &new_dn(m));
            managers_in_add += 1;
        }
        text.push('\n');
        records.push((levels[i], text));
        for g in u.values("memberOf") {
            if g.len() > w.ou.len() && rebase(g, &w.ou, &w.ldif_ou).is_ok() {
                members.entry(new_dn(g)).or_default().push(dn.clone());
            }
        }
    }
    records.sort_by_key(|r| r.0);

    let mut modifies = String::new();
    for &i in &deferred {
        let u = &users[i];
        ldif_line(&mut modifies, "dn", &new_dn(&u.dn));
        modifies.push_str("changetype: modify\nreplace: manager\n");
        ldif_line(
            &mut modifies,
            "manager",
            &new_dn(u.first("manager").unwrap_or_default()),
        );
        modifies.push_str("-\n\n");
    }
    let mut groups = Vec::new();
    for (g, list) in &members {
        ldif_line(&mut modifies, "dn", g);
        modifies.push_str("changetype: modify\nadd: member\n");
        for m in list {
            ldif_line(&mut modifies, "member", m);
        }
        modifies.push_str("-\n\n");
        groups.push((g.clone(), list.len()));
    }
    Ok(Ldif {
        ous: text,
        ou_count: ous.len(),
        users: records,
        modifies,
        managers_in_add,
        managers_deferred: deferred.len(),
        groups,
    })
}

struct LdapAdd {
    wall: Duration,
    /// Records sent / refused (adds and modifies).
    done: usize,
    failed: usize,
    first_errors: Vec<String>,
    /// Wall time of the modifies (cycle managers, groups; the last process).
    groups: Duration,
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

/// Runs `ldapadd -c` on the LDIF: one process with the OUs and the accounts in manager order
/// (the default), or with `procs > 1` the OUs first, then each level of the manager tree split
/// over `procs` concurrent processes; then one process with the modifies.
fn run_ldapadd(w: &World, pw_file: &Path, ldif: &Ldif, procs: usize) -> anyhow::Result<LdapAdd> {
    let dir = w.dir.path();
    let mut batches: Vec<Vec<std::path::PathBuf>> = Vec::new();
    if procs <= 1 {
        let file = dir.join("accounts.ldif");
        let mut text = ldif.ous.clone();
        for u in &ldif.users {
            text.push_str(&u.1);
        }
        std::fs::write(&file, text)?;
        batches.push(vec![file]);
    } else {
        let ous = dir.join("ous.ldif");
        std::fs::write(&ous, &ldif.ous)?;
        batches.push(vec![ous]);
        for level in 0..ldif.levels() {
            let mut parts = vec![String::new(); procs];
            for (i, u) in ldif.users.iter().filter(|u| u.0 == level).enumerate() {
                parts[i % procs].push_str(&u.1);
            }
            let mut files = Vec::new();
            for (i, part) in parts.into_iter().enumerate() {
                if part.is_empty() {
                    continue;
                }
                let f = dir.join(format!("accounts-{level}-{i}.ldif"));
                std::fs::write(&f, part)?;
                files.push(f);
            }
            batches.push(files);
        }
    }
    // The modifies in a process of their own (one more bind, ~20 ms), to time them apart.
    let f = dir.join("modifies.ldif");
    std::fs::write(&f, &ldif.modifies)?;
    batches.push(vec![f]);
    let (mut done, mut failed, mut errors) = (0, 0, Vec::new());
    let t0 = Instant::now();
    let mut last = Duration::ZERO;
    for batch in batches {
        let t = Instant::now();
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
                .filter(|l| l.starts_with("adding new entry") || l.starts_with("modifying entry"))
                .count();
            let bad = stderr
                .lines()
                .filter(|l| l.starts_with("ldap_add:") || l.starts_with("ldap_modify:"))
                .count();
            if !out.status.success() && bad == 0 {
                bail!("ldapadd failed ({}): {stderr}", out.status);
            }
            // "adding new entry" is printed before the server answers.
            done += tried - bad.min(tried);
            failed += bad;
            errors.extend(
                stderr
                    .lines()
                    .filter(|l| {
                        l.starts_with("ldap_add:")
                            || l.starts_with("ldap_modify:")
                            || l.contains("additional info")
                    })
                    .map(str::to_string),
            );
        }
        last = t.elapsed();
    }
    Ok(LdapAdd {
        wall: t0.elapsed(),
        done,
        failed,
        first_errors: errors.into_iter().take(6).collect(),
        groups: last,
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

/// Per LDAP call kind: calls x mean latency = time spent in them, when the first started and
/// the last ended (seconds since the run's start); for kinds with many calls, also the mean of
/// the first and the last 500 (does Samba slow down as the OU and the groups grow?).
fn latency_lines(r: &Recorder, t0: Instant) -> Vec<String> {
    let mut out = Vec::new();
    for (name, l) in &r.latency {
        if *name == "directory.unbind" {
            continue;
        }
        let short = name.trim_start_matches("directory.");
        let busy: Duration = l.iter().sum();
        let mut line = format!(
            "{short}: {} x {:.1} ms = {}",
            l.len(),
            mean_ms(l),
            secs(busy)
        );
        if let (Some(first), Some(last)) = (
            r.created.get(name).and_then(|v| v.first()),
            r.last_closed.get(name),
        ) {
            let _ = write!(
                line,
                ", {:.1}-{:.1} s",
                first.saturating_duration_since(t0).as_secs_f64(),
                last.saturating_duration_since(t0).as_secs_f64()
            );
        }
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
    eprintln!("bench: 2/3 ldapadd -c of the same end state ({procs} process(es))");
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
    add_groups(&mut d, &w.ldif_ou, "ldif-").await?;
    let _ = d.unbind().await;
    let ldapadd = run_ldapadd(w, &w.pw_file, &ldif, procs)?;
    loads.push(("ldapadd", load()));
    if ldapadd.failed > 0 {
        eprintln!(
            "bench: ldapadd: {} records failed: {:?}",
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
         config: concurrency = {}, set_initial_password = true (random password and \
         userAccountControl in the add), groups All Staff + Engineering, managers on, names \
         unique domain-wide\n\
         OUs: {} (hrsync), {} (ldapadd)\n\
         machine: 2 cores SHARED with other builds and test runs (the same DC serves other tests); \
         1-min load average: {}\n",
        concurrency(),
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
    row(
        &mut o,
        "  until the first write",
        format!(
            "{} (preflight + listing {}, full snapshot {}, plan)",
            secs(f.before_writes),
            secs(f.source),
            secs(f.snapshot)
        ),
    );
    row(&mut o, "  first write .. last write", secs(f.writes));
    row(&mut o, "  after the last write", secs(f.after_writes));
    // A person can be planned more than once in a run (from the list page, from the detail,
    // again when their manager's account came later).
    let planned: HashSet<&str> = r.plan.people.iter().map(|p| p.person_id.as_str()).collect();
    row(
        &mut o,
        "people listed / planned",
        format!(
            "{} / {} in {} person plans (out of scope {}, quarantined {}, no account yet {})",
            r.plan.summary.people,
            planned.len(),
            r.plan.people.len(),
            r.plan.summary.out_of_scope,
            r.plan.summary.quarantined,
            planned.len() - created.min(planned.len()),
        ),
    );
    row(&mut o, "accounts created", created);
    row(&mut o, "failed people", r.failed.len());
    row(&mut o, "people/s (created / wall)", rate(created, f.wall));
    let apply = f.writes;
    row(
        &mut o,
        "accounts/s in apply (created / writes)",
        rate(created, apply),
    );
    row(&mut o, "Remote requests", remote_line(&f.remote));
    let rest: usize = ops
        .iter()
        .filter(|(k, _)| !["create", "add-to-group", "set-manager"].contains(k))
        .map(|(_, v)| v)
        .sum();
    let manager_in_add = r
        .plan
        .people
        .iter()
        .flat_map(|p| &p.ops)
        .filter(
            |o| matches!(o, Op::Create { attributes, .. } if attributes.contains_key("manager")),
        )
        .count();
    row(
        &mut o,
        "operations applied (RunReport)",
        format!(
            "{} (planned: create {} (manager in the add: {manager_in_add}) + add-to-group {} + \
             set-manager {} + other {rest})",
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
        rate(f.ldap.writes() as usize, apply),
    );
    for (i, l) in latency_lines(&f.ldap, f.t0).into_iter().enumerate() {
        row(
            &mut o,
            if i == 0 {
                "  per call: n x mean = busy, window"
            } else {
                ""
            },
            l,
        );
    }

    let _ = writeln!(
        o,
        "\n2. `ldapadd -c` of the same end state (read back from AD, same DNs under the second \
         OU, sAMAccountName h… -> b…): OUs; one add per account with the attributes hrsync's \
         adds set, userAccountControl as read back, a random unicodePwd and manager (managers \
         first); manager modifies for cycles; one modify per group with all its members"
    );
    row(&mut o, "read back + LDIF build", secs(*ldif_build));
    row(
        &mut o,
        "LDIF",
        format!(
            "{} OUs + {} accounts ({} levels of managers; manager in the add {}, by a later \
             modify {}) + {} group modifies ({}), {:.1} MiB",
            ldif.ou_count,
            ldif.users.len(),
            ldif.levels(),
            ldif.managers_in_add,
            ldif.managers_deferred,
            ldif.groups.len(),
            ldif.groups
                .iter()
                .map(|(g, n)| format!("{} {n} members", g.split(',').next().unwrap_or(g)))
                .collect::<Vec<_>>()
                .join(", "),
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
        "  OUs + account adds",
        secs(ldapadd.wall.saturating_sub(ldapadd.groups)),
    );
    row(&mut o, "  modifies (cycles, groups)", secs(ldapadd.groups));
    row(
        &mut o,
        "records done / failed",
        format!(
            "{} / {} (of {} LDAP writes)",
            ldapadd.done,
            ldapadd.failed,
            ldif.writes()
        ),
    );
    row(&mut o, "writes/s", rate(ldapadd.done, ldapadd.wall));
    let lw = ldapadd.wall.as_secs_f64().max(1e-9);
    row(
        &mut o,
        "RATIO hrsync run / ldapadd (wall)",
        format!("{:.2}x (goal <= 1.2x)", f.wall.as_secs_f64() / lw),
    );
    row(
        &mut o,
        "ratio hrsync first..last write / ldapadd",
        format!("{:.2}x", apply.as_secs_f64() / lw),
    );
    row(
        &mut o,
        "LDAP writes: hrsync vs ldapadd",
        format!(
            "{} vs {} (hrsync: add {} incl. OUs, add_with_password {}, change_members {}, \
             add_member {}, modify {})",
            f.ldap.writes(),
            ldif.writes(),
            f.ldap.count("directory.add"),
            f.ldap.count("directory.add_with_password"),
            f.ldap.count("directory.change_members"),
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
            rate(ldapadd.done, ldapadd.wall)
        ),
    );

    let _ = writeln!(
        o,
        "\n3. no-op resync (`sync` again, new engine, same store)"
    );
    row(&mut o, "engine open", secs(s.open));
    row(&mut o, "wall time (run)", secs(s.wall));
    row(&mut o, "  preflight + listing", secs(s.source));
    row(
        &mut o,
        "  full snapshot (LDAP paged searches)",
        secs(s.snapshot),
    );
    row(
        &mut o,
        "  the rest (details, plan, bookkeeping, save)",
        secs(s.wall.saturating_sub(s.source + s.snapshot)),
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
        add_groups(&mut d, &ou, "").await?;
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
