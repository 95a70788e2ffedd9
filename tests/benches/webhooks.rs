//! `hrsync serve` under webhook load, against the real Samba AD DC (`tests/ad/samba-ad.sh`) and
//! the Remote simulator (no rate limit), everything but Samba in this process:
//!
//! 1. **Steps**: offered rates of 10, 20, 50, 100 events/s, 10 s each (`HRSYNC_BENCH_STEPS`,
//!    `HRSYNC_BENCH_STEP_SECS`), then the 50/s latency run below as the last row; the queue depth
//!    (`Store::queue_depth`) is sampled every 250 ms. For each step: the max depth, the depth's
//!    trend (least-squares slope), whether it grew, the apply rate during the step and, when a
//!    backlog was left, the drain rate (the service's capacity: the worker is saturated while it
//!    drains). The queue is drained between steps (a separate 50/s step would only add ~500 events
//!    to drain at the measured ~5-10 events/s, for the same answer).
//! 2. **Latency** at a steady 50 events/s for 20 s (`HRSYNC_BENCH_RATE`,
//!    `HRSYNC_BENCH_LATENCY_SECS`): webhook POSTed (t0, just before the POST) → the change applied
//!    in AD (t1, the `at` of the audit record of the LDAP modify that wrote that title, or a newer
//!    one of the same person: with a backlog the worker fetches the person's *current* detail, so
//!    an older queued title is superseded, and its own later event then finds nothing to do).
//!    Events not applied within 180 s of the last POST count as `never` (infinitely late).
//!
//! Each event: the simulator's `update_employment(id, {"job_title": "hb-<seq>"})` (a unique
//! title, so every event needs a real LDAP modify), then a signed
//! `employment.details.updated` webhook. People are the active employees with an account after
//! the initial load (about 1,000 of 1,200), round-robin. The domain also holds 2,000 users hrsync does
//! not manage (`HRSYNC_BENCH_UNMANAGED`, kept between runs in `OU=bench-unmanaged`).
//!
//! Also printed: where an event's time goes (from the `event`/`directory.*` tracing spans), a few
//! isolated costs (detail GET through the plugin, an LDAPS connect+bind, `Store::person_states`),
//! and CPU seconds of this process (service + simulator + load generator) vs Samba vs the rest of
//! the (shared) machine.
//!
//! Run: `cargo bench -p hrsync-tests --bench webhooks`. Needs Samba:
//! `bash tests/ad/samba-ad.sh start`. Takes ~3-5 minutes.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use chrono::{DateTime, Utc};
use hrsync::directory::Directory;
use hrsync::serve::{self, Service};
use hrsync::store::Store;
use hrsync_tests::remote_sim::SimHandle;
use hrsync_tests::world::World;
use serde_json::json;
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// People in the simulator (`HRSYNC_BENCH_PEOPLE`); about 82 % get an account.
const PEOPLE: usize = 1200;
const EVENT_TYPE: &str = "employment.details.updated";
const TITLE_PREFIX: &str = "hb-";
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Longest wait for the queue to drain after a step / after the latency run.
const STEP_DRAIN_LIMIT: Duration = Duration::from_secs(60);
const LATENCY_DRAIN_LIMIT: Duration = Duration::from_secs(180);

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

// --- Span timing: how long the worker's `event` spans and the LDAP calls inside them take ---

#[derive(Default)]
struct Recorder {
    /// Durations (creation to close) by span name.
    closed: BTreeMap<&'static str, Vec<Duration>>,
    /// Spans created, by name.
    opened: BTreeMap<&'static str, u64>,
}

struct Started(Instant);

fn recorder() -> &'static Mutex<Recorder> {
    static R: OnceLock<Mutex<Recorder>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Recorder::default()))
}

fn take_spans() -> Recorder {
    std::mem::take(&mut *recorder().lock().unwrap())
}

fn timed(name: &str) -> bool {
    name.starts_with("directory.") || name == "event" || name == "run" || name == "person"
}

struct SpanTimer;

impl<S> Layer<S> for SpanTimer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started(Instant::now()));
        }
        *recorder().lock().unwrap().opened.entry(name).or_default() += 1;
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(t) = span.extensions().get::<Started>().map(|s| s.0) else {
            return;
        };
        recorder()
            .lock()
            .unwrap()
            .closed
            .entry(span.name())
            .or_default()
            .push(t.elapsed());
    }
}

fn init_tracing() {
    let timer = SpanTimer.with_filter(tracing_subscriber::filter::filter_fn(|m| {
        m.is_span() && timed(m.name())
    }));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        );
    tracing_subscriber::registry().with(timer).with(fmt).init();
}

// --- CPU accounting from /proc ---

#[derive(Clone, Copy, Default)]
struct Cpu {
    /// This process (service + simulator + load generator), seconds.
    me: f64,
    /// Every `samba` process (the DC also serves other users of this machine), seconds.
    samba: f64,
    /// The whole machine's busy time, seconds.
    machine: f64,
}

fn clk_tck() -> f64 {
    static T: OnceLock<f64> = OnceLock::new();
    *T.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process, in ticks.
fn proc_ticks(stat: &str) -> Option<f64> {
    // The command may contain spaces: fields after the closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
}

fn cpu_now() -> Cpu {
    let tck = clk_tck();
    let me = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| proc_ticks(&s))
        .unwrap_or(0.0)
        / tck;
    let mut samba = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let p = e.path();
            let is_pid = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
            if !is_pid {
                continue;
            }
            let is_samba = std::fs::read(p.join("cmdline")).is_ok_and(|c| c.starts_with(b"samba"));
            if is_samba {
                samba += std::fs::read_to_string(p.join("stat"))
                    .ok()
                    .and_then(|s| proc_ticks(&s))
                    .unwrap_or(0.0);
            }
        }
    }
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.to_string();
            let v: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal
            Some(
                [0, 1, 2, 5, 6, 7]
                    .iter()
                    .filter_map(|i| v.get(*i))
                    .sum::<f64>(),
            )
        })
        .unwrap_or(0.0);
    Cpu {
        me,
        samba: samba / tck,
        machine: machine / tck,
    }
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            me: self.me - o.me,
            samba: self.samba - o.samba,
            machine: self.machine - o.machine,
        }
    }
}

// --- Load ---

/// One webhook sent.
struct Sent {
    phase: usize,
    seq: u64,
    person: String,
    /// Just before the POST.
    t0: DateTime<Utc>,
    /// POST → response.
    ack: Duration,
    /// HTTP status (0: the request failed).
    status: u16,
    accepted: bool,
}

/// One queue sample.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    depth: i64,
    done: i64,
}

/// What a phase (a step, or the latency run) did.
struct Phase {
    name: String,
    rate: f64,
    start: Instant,
    /// `start` + events / rate: the end of the offered window.
    window_end: Instant,
    /// When the last POST was sent.
    last_send: Instant,
    /// When the queue was empty again (None: not within the limit).
    drained: Option<Instant>,
    drain_end: Instant,
    /// Events still queued from before when the phase started (0 unless a drain timed out).
    backlog_at_start: i64,
    sent: Vec<Sent>,
    spans: Recorder,
    cpu: Cpu,
}

struct Load {
    url: String,
    client: reqwest::Client,
    sim: SimHandle,
    company: String,
    people: Vec<String>,
    store: Arc<Store>,
    seq: u64,
}

impl Load {
    /// Sends `n` events at `rate`/s (open loop: each POST in its own task, on a fixed schedule).
    async fn offer(&mut self, phase: usize, rate: f64, n: usize) -> (Instant, Instant, Vec<Sent>) {
        let period = Duration::from_secs_f64(1.0 / rate);
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let mut last_send = start;
        for i in 0..n {
            tokio::time::sleep_until((start + period.mul_f64(i as f64)).into()).await;
            self.seq += 1;
            let seq = self.seq;
            let person = self.people[(seq as usize - 1) % self.people.len()].clone();
            self.sim.update_employment(
                &person,
                json!({"job_title": format!("{TITLE_PREFIX}{seq:06}")}),
            );
            let body = json!({"event_type": EVENT_TYPE, "company_id": self.company, "employment_id": person})
                .to_string()
                .into_bytes();
            let client = self.client.clone();
            let url = self.url.clone();
            let sim = self.sim.clone();
            last_send = Instant::now();
            tasks.spawn(async move {
                let ts = Utc::now().timestamp_millis();
                let sig = sim.sign(&body, ts);
                let t0 = Utc::now();
                let i0 = Instant::now();
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-remote-signature", sig)
                    .header("x-remote-timestamp", ts.to_string())
                    .body(body)
                    .send()
                    .await;
                let (status, accepted) = match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let v: serde_json::Value = r.json().await.unwrap_or(json!(null));
                        (status, v["accepted"] == 1)
                    }
                    Err(_) => (0, false),
                };
                Sent {
                    phase,
                    seq,
                    person,
                    t0,
                    ack: i0.elapsed(),
                    status,
                    accepted,
                }
            });
        }
        let mut sent = Vec::with_capacity(n);
        while let Some(s) = tasks.join_next().await {
            sent.push(s.unwrap());
        }
        (start, last_send, sent)
    }

    /// Waits until the queue is empty; returns when it was, or None after `limit`.
    async fn drain(&self, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if self.store.queue_depth().map(|d| d.0).unwrap_or(1) == 0 {
                return Some(Instant::now());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn phase(
        &mut self,
        index: usize,
        name: String,
        rate: f64,
        secs: f64,
        drain_limit: Duration,
    ) -> Phase {
        let n = (rate * secs).round().max(1.0) as usize;
        let backlog_at_start = self.store.queue_depth().map(|d| d.0).unwrap_or(0);
        let cpu0 = cpu_now();
        take_spans();
        let (start, last_send, sent) = self.offer(index, rate, n).await;
        let drained = self.drain(drain_limit).await;
        let drain_end = Instant::now();
        Phase {
            name,
            rate,
            start,
            window_end: start + Duration::from_secs_f64(n as f64 / rate),
            last_send,
            drained,
            drain_end,
            backlog_at_start,
            sent,
            spans: take_spans(),
            cpu: cpu_now() - cpu0,
        }
    }
}

// --- Analysis ---

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `1234ms`, or `never` for an event not applied within the drain limit.
fn fmt_ms(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.is_infinite() {
        "never".into()
    } else {
        format!("{v:.0}ms")
    }
}

fn mean_ms(d: &[Duration]) -> f64 {
    if d.is_empty() {
        return f64::NAN;
    }
    d.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / d.len() as f64
}

/// Least-squares slope of depth over time, events/s.
fn slope(samples: &[Sample]) -> f64 {
    if samples.len() < 2 {
        return 0.0;
    }
    let t0 = samples[0].at;
    let xs: Vec<f64> = samples.iter().map(|s| (s.at - t0).as_secs_f64()).collect();
    let ys: Vec<f64> = samples.iter().map(|s| s.depth as f64).collect();
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// The sample closest to `t`.
fn at(samples: &[Sample], t: Instant) -> Sample {
    *samples
        .iter()
        .min_by_key(|s| if s.at > t { s.at - t } else { t - s.at })
        .unwrap()
}

/// Latencies of a phase's events, from the audit log.
struct Latency {
    sorted_ms: Vec<f64>,
    /// Applied with the event's own title.
    exact: usize,
    /// Applied through a newer title of the same person (the older one was superseded).
    superseded: usize,
    missing: usize,
    ack_sorted_ms: Vec<f64>,
    bad_acks: usize,
}

/// Per person: (title seq, when applied), in seq order.
type Applied = HashMap<String, Vec<(u64, DateTime<Utc>)>>;

fn applied_titles(store: &Store) -> anyhow::Result<Applied> {
    let mut out: Applied = HashMap::new();
    for a in store.audit_log(1_000_000, None, None)? {
        if a.operation != "modify" || a.outcome != "ok" {
            continue;
        }
        let Some(person) = a.person_id.clone() else {
            continue;
        };
        let detail: serde_json::Value = serde_json::from_str(&a.detail).unwrap_or_default();
        let Some(changes) = detail["changes"].as_array() else {
            continue;
        };
        for c in changes {
            let seq = (c["attribute"] == "title")
                .then(|| c["new"].as_str())
                .flatten()
                .and_then(|t| t.strip_prefix(TITLE_PREFIX))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                let when = DateTime::parse_from_rfc3339(&a.at)
                    .with_context(|| format!("audit `at` {}", a.at))?
                    .with_timezone(&Utc);
                out.entry(person.clone()).or_default().push((seq, when));
            }
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    Ok(out)
}

fn latency(phase: &Phase, applied: &Applied) -> Latency {
    let mut l = Latency {
        sorted_ms: Vec::new(),
        exact: 0,
        superseded: 0,
        missing: 0,
        ack_sorted_ms: phase
            .sent
            .iter()
            .map(|s| s.ack.as_secs_f64() * 1000.0)
            .collect(),
        bad_acks: phase
            .sent
            .iter()
            .filter(|s| s.status != 200 || !s.accepted)
            .count(),
    };
    for s in &phase.sent {
        debug_assert_eq!(s.phase, phase.sent[0].phase);
        let first = applied
            .get(&s.person)
            .and_then(|v| v.iter().find(|(seq, _)| *seq >= s.seq));
        match first {
            Some((seq, when)) => {
                if *seq == s.seq {
                    l.exact += 1;
                } else {
                    l.superseded += 1;
                }
                let ms = (*when - s.t0).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                l.sorted_ms.push(ms);
            }
            None => {
                l.missing += 1;
                // Not applied within the drain limit: counted as infinitely late.
                l.sorted_ms.push(f64::INFINITY);
            }
        }
    }
    l.sorted_ms.sort_by(f64::total_cmp);
    l.ack_sorted_ms.sort_by(f64::total_cmp);
    l
}

struct Queue {
    max_depth: i64,
    end_depth: i64,
    slope: f64,
    grows: bool,
    /// Events done during the offered window / its length.
    apply_rate: f64,
    /// Backlog drained / drain time (the saturated worker's rate), when there was a backlog.
    drain_rate: Option<f64>,
}

fn queue(phase: &Phase, samples: &[Sample]) -> Queue {
    let window: Vec<Sample> = samples
        .iter()
        .filter(|s| s.at >= phase.start && s.at <= phase.window_end)
        .copied()
        .collect();
    let first = at(samples, phase.start);
    let end = at(samples, phase.window_end);
    let max_depth = samples
        .iter()
        .filter(|s| s.at >= phase.start && s.at <= phase.drain_end)
        .map(|s| s.depth)
        .max()
        .unwrap_or(0);
    let slope = slope(&window);
    let secs = (phase.window_end - phase.start).as_secs_f64();
    let apply_rate = (end.done - first.done) as f64 / secs;
    // Growing: depth rises faster than 0.5/s (or 5% of the rate) and ends above a few events.
    let grows = slope > (0.05 * phase.rate).max(0.5) && end.depth > 5;
    let drain_rate = match phase.drained {
        Some(t) if end.depth > 5 && t > phase.window_end => {
            let last = at(samples, t);
            let dt = (last.at - end.at).as_secs_f64();
            (dt > 0.5).then(|| (last.done - end.done) as f64 / dt)
        }
        _ => None,
    };
    Queue {
        max_depth,
        end_depth: end.depth,
        slope,
        grows,
        apply_rate,
        drain_rate,
    }
}

// --- The bench ---

struct Isolated {
    detail_get_ms: f64,
    connect_ms: f64,
    person_states_ms: f64,
    person_states_rows: usize,
}

struct Outcome {
    setup: String,
    phases: Vec<Phase>,
    samples: Vec<Sample>,
    applied: Applied,
    isolated: Isolated,
    counts: Vec<(String, i64)>,
}

async fn isolated(service: &Service, person: &str) -> anyhow::Result<Isolated> {
    let engine = &service.app.engine;
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        let _ = engine.connector().get(person).await?;
    }
    let detail_get_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let settings = engine
        .config()
        .directory
        .clone()
        .context("no [directory]")?;
    let cfg = hrsync::sync::directory_config(&settings);
    let t = Instant::now();
    for _ in 0..n {
        let d = Directory::connect(&cfg).await?;
        let _ = d.unbind().await;
    }
    let connect_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let t = Instant::now();
    let mut rows = 0;
    for _ in 0..n {
        rows = engine.store().person_states()?.len();
    }
    let person_states_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    Ok(Isolated {
        detail_get_ms,
        connect_ms,
        person_states_ms,
        person_states_rows: rows,
    })
}

async fn bench(w: &World, setup: String) -> anyhow::Result<Outcome> {
    let rate = env_f64("HRSYNC_BENCH_RATE", 50.0);
    let latency_secs = env_f64("HRSYNC_BENCH_LATENCY_SECS", 20.0);
    let step_secs = env_f64("HRSYNC_BENCH_STEP_SECS", 10.0);
    let steps: Vec<f64> = std::env::var("HRSYNC_BENCH_STEPS")
        .unwrap_or_else(|_| "10,20,50,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|r: &f64| *r > 0.0)
        .collect();

    let sim = w.sim();
    let accounts = w.accounts().await;
    let people: Vec<String> = sim
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .filter(|id| accounts.contains_key(id))
        .collect();
    ensure!(
        people.len() >= 50,
        "only {} active people with an account",
        people.len()
    );

    let service = serve::start(w.config(), Some("127.0.0.1:0")).await?;
    let store = service.app.engine.store().clone();
    let mut load = Load {
        url: format!("http://{}/webhooks/remote", service.addr),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        company: sim.company_id(),
        sim,
        people: people.clone(),
        store: store.clone(),
        seq: 0,
    };

    // The queue sampler.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (samples, stop, store) = (samples.clone(), stop.clone(), store.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let depth = store.queue_depth().map(|d| d.0).unwrap_or(-1);
                let done = store
                    .event_counts()
                    .ok()
                    .and_then(|c| c.into_iter().find(|(s, _)| s == "done").map(|(_, n)| n))
                    .unwrap_or(0);
                samples.lock().unwrap().push(Sample {
                    at: Instant::now(),
                    depth,
                    done,
                });
            }
        })
    };

    let result = async {
        let mut phases = Vec::new();
        // Warm-up: connections, plugin instances, SQLite pages.
        let warm = load
            .phase(0, "warm-up".into(), 2.0, 3.0, STEP_DRAIN_LIMIT)
            .await;
        ensure!(
            warm.drained.is_some(),
            "the warm-up events were not applied"
        );
        for (i, r) in steps.iter().enumerate() {
            let p = load
                .phase(
                    i + 1,
                    format!("step {r}/s"),
                    *r,
                    step_secs,
                    STEP_DRAIN_LIMIT,
                )
                .await;
            let drained = p.drained.is_some();
            eprintln!(
                "bench: {} done ({} events, drained: {drained})",
                p.name,
                p.sent.len()
            );
            phases.push(p);
            if !drained {
                eprintln!(
                    "bench: the queue did not drain; skipping the higher steps, waiting up to {} s more",
                    STEP_DRAIN_LIMIT.as_secs() * 2
                );
                load.drain(STEP_DRAIN_LIMIT * 2).await;
                break;
            }
        }
        let p = load
            .phase(
                steps.len() + 1,
                format!("latency {rate}/s × {latency_secs}s"),
                rate,
                latency_secs,
                LATENCY_DRAIN_LIMIT,
            )
            .await;
        eprintln!(
            "bench: {} done ({} events, drained: {})",
            p.name,
            p.sent.len(),
            p.drained.is_some()
        );
        phases.push(p);
        let isolated = isolated(&service, &people[0]).await?;
        Ok::<_, anyhow::Error>((phases, isolated))
    }
    .await;

    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let counts = store.event_counts()?;
    let applied = applied_titles(&store)?;
    service.shutdown(Duration::from_secs(10)).await;
    let (phases, isolated) = result?;
    let samples = samples.lock().unwrap().clone();
    Ok(Outcome {
        setup,
        phases,
        samples,
        applied,
        isolated,
        counts,
    })
}

fn report(o: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n{}", o.setup);
    let latency_phase = o.phases.last().unwrap();
    let steps = &o.phases[..o.phases.len() - 1];

    // 1. Latency.
    let l = latency(latency_phase, &o.applied);
    let q = queue(latency_phase, &o.samples);
    let _ = writeln!(
        s,
        "\n1. Latency, webhook POSTed → change applied in AD (audit log), offered {} events at {}/s (sent over {:.1} s)",
        latency_phase.sent.len(),
        latency_phase.rate,
        (latency_phase.last_send - latency_phase.start).as_secs_f64()
    );
    let _ = writeln!(
        s,
        "   {:<34} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "", "p50", "p90", "p99", "max", "mean"
    );
    let row = |s: &mut String, name: &str, v: &[f64]| {
        let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
        let _ = writeln!(
            s,
            "   {:<34} {:>9} {:>9} {:>9} {:>9} {:>9}",
            name,
            fmt_ms(pct(v, 50.0)),
            fmt_ms(pct(v, 90.0)),
            fmt_ms(pct(v, 99.0)),
            fmt_ms(v.last().copied().unwrap_or(f64::NAN)),
            fmt_ms(mean)
        );
    };
    if latency_phase.backlog_at_start > 0 {
        let _ = writeln!(
            s,
            "   WARNING: {} events of the steps were still queued when this run started",
            latency_phase.backlog_at_start
        );
    }
    row(&mut s, "received → applied in AD", &l.sorted_ms);
    let first: Vec<f64> = {
        let mut by_seq: Vec<&Sent> = latency_phase.sent.iter().collect();
        by_seq.sort_by_key(|x| x.seq);
        let n = (latency_phase.rate as usize).max(1);
        let mut v: Vec<f64> = by_seq
            .iter()
            .take(n)
            .filter_map(|x| {
                o.applied
                    .get(&x.person)
                    .and_then(|a| a.iter().find(|(q, _)| *q >= x.seq))
                    .map(|(_, w)| (*w - x.t0).num_microseconds().unwrap_or(0) as f64 / 1000.0)
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    row(&mut s, "  the first second's events only", &first);
    row(&mut s, "POST → 200 (ack)", &l.ack_sorted_ms);
    let _ = writeln!(
        s,
        "   applied: {} of {} ({} with their own title, {} through a newer title of the same person: superseded while queued); not applied: {}; POSTs not 200/accepted: {}",
        l.exact + l.superseded,
        latency_phase.sent.len(),
        l.exact,
        l.superseded,
        l.missing,
        l.bad_acks
    );
    let _ = writeln!(
        s,
        "   queue: max depth {}, depth at the end of the window {}, trend {:+.1}/s; applied {:.1}/s while offered {}/s; drained {}",
        q.max_depth,
        q.end_depth,
        q.slope,
        q.apply_rate,
        latency_phase.rate,
        match latency_phase.drained {
            Some(t) => format!(
                "{:.1} s after the last POST{}",
                (t - latency_phase.last_send).as_secs_f64(),
                q.drain_rate
                    .map(|r| format!(" (at {r:.1} events/s)"))
                    .unwrap_or_default()
            ),
            None => format!(
                "not within {} s: \"never\" = still queued then",
                LATENCY_DRAIN_LIMIT.as_secs()
            ),
        }
    );

    // 2. Steps.
    let _ = writeln!(
        s,
        "\n2. Offered rate steps ({:.0} s each; queue depth sampled every {} ms; drained between steps; the last row is run 1)",
        steps
            .first()
            .map_or(0.0, |p| (p.window_end - p.start).as_secs_f64()),
        SAMPLE_EVERY.as_millis()
    );
    let _ = writeln!(
        s,
        "   {:>7} {:>6} {:>9} {:>9} {:>10} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "offered",
        "events",
        "max depth",
        "end depth",
        "trend",
        "grows",
        "applied/s",
        "drain/s",
        "lat p50",
        "lat p99",
        "lat max"
    );
    let mut sustainable: Option<f64> = None;
    let mut capacity: Vec<f64> = Vec::new();
    for p in o.phases.iter() {
        let q = queue(p, &o.samples);
        let l = latency(p, &o.applied);
        if !q.grows && sustainable.is_none_or(|r| p.rate > r) && l.missing == 0 {
            let below_all_growing = o
                .phases
                .iter()
                .filter(|x| x.rate < p.rate)
                .all(|x| !queue(x, &o.samples).grows);
            if below_all_growing {
                sustainable = Some(p.rate);
            }
        }
        if let Some(r) = q.drain_rate {
            capacity.push(r);
        }
        let _ = writeln!(
            s,
            "   {:>5}/s {:>6} {:>9} {:>9} {:>+8.1}/s {:>7} {:>10.1} {:>10} {:>9} {:>9} {:>9}",
            p.rate,
            p.sent.len(),
            q.max_depth,
            q.end_depth,
            q.slope,
            if q.grows { "yes" } else { "no" },
            q.apply_rate,
            q.drain_rate
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
            fmt_ms(pct(&l.sorted_ms, 50.0)),
            fmt_ms(pct(&l.sorted_ms, 99.0)),
            fmt_ms(l.sorted_ms.last().copied().unwrap_or(f64::NAN)),
        );
    }
    let _ = writeln!(
        s,
        "   sustainable: {} (the highest step whose queue stayed bounded, all lower ones too); saturated apply rate (drain): {}",
        sustainable.map_or("none of the steps".to_string(), |r| format!("{r} events/s")),
        if capacity.is_empty() {
            "- (no step left a backlog)".to_string()
        } else {
            format!(
                "{:.1} events/s (mean of {} drains: {})",
                capacity.iter().sum::<f64>() / capacity.len() as f64,
                capacity.len(),
                capacity
                    .iter()
                    .map(|c| format!("{c:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );

    // 3. Where an event's time goes (the latency run: the worker is saturated).
    let sp = &latency_phase.spans;
    let events = sp.closed.get("event").map_or(0, Vec::len).max(1);
    let event_ms = sp.closed.get("event").map_or(f64::NAN, |v| mean_ms(v));
    let _ = writeln!(
        s,
        "\n3. Where one event's time goes in the worker (latency run, {} events processed; span creation → close)",
        sp.closed.get("event").map_or(0, Vec::len)
    );
    let _ = writeln!(
        s,
        "   {:<22} {:>10} {:>10} {:>12}",
        "", "per event", "mean each", "ms per event"
    );
    let _ = writeln!(
        s,
        "   {:<22} {:>10} {:>8.1}ms {:>10.1}ms",
        "event (whole)", 1, event_ms, event_ms
    );
    let mut ldap_total = 0.0;
    for name in [
        "directory.connect",
        "directory.search",
        "directory.modify",
        "directory.unbind",
        "directory.get",
    ] {
        let Some(v) = sp.closed.get(name) else {
            continue;
        };
        let per = v.len() as f64 / events as f64;
        let each = mean_ms(v);
        ldap_total += per * each;
        let _ = writeln!(
            s,
            "   {:<22} {:>10.2} {:>8.1}ms {:>10.1}ms",
            name,
            per,
            each,
            per * each
        );
    }
    let _ = writeln!(
        s,
        "   {:<22} {:>10} {:>10} {:>10.1}ms  (detail GET via the plugin, SQLite, planning)",
        "outside LDAP calls",
        "",
        "",
        event_ms - ldap_total
    );
    let run_open = sp.opened.get("run").copied().unwrap_or(0);
    let run_closed = sp.closed.get("run").map_or(0, Vec::len) as u64;
    let _ = writeln!(
        s,
        "   `run` spans created {run_open}, closed {run_closed}{}",
        if run_closed < run_open {
            " (the rest: still running when the phase ended, or never closed)"
        } else {
            ""
        }
    );
    let i = &o.isolated;
    let _ = writeln!(
        s,
        "   isolated (service idle): detail GET through the plugin {:.1} ms; LDAPS connect+bind+unbind {:.1} ms; Store::person_states() {:.2} ms for {} rows",
        i.detail_get_ms, i.connect_ms, i.person_states_ms, i.person_states_rows
    );

    // 4. CPU.
    let _ = writeln!(
        s,
        "\n4. CPU seconds per phase (offered window + drain): this process = service + simulator + load generator; Samba also serves other users of this shared 2-core machine"
    );
    let _ = writeln!(
        s,
        "   {:<26} {:>7} {:>7} {:>9} {:>7} {:>8} {:>13} {:>13}",
        "phase",
        "wall s",
        "events",
        "this proc",
        "samba",
        "others",
        "proc ms/event",
        "samba ms/event"
    );
    for p in &o.phases {
        let wall = (p.drain_end - p.start).as_secs_f64();
        let n = p.sent.len().max(1) as f64;
        let c = p.cpu;
        let _ = writeln!(
            s,
            "   {:<26} {:>7.1} {:>7} {:>9.1} {:>7.1} {:>8.1} {:>13.1} {:>13.1}",
            p.name,
            wall,
            p.sent.len(),
            c.me,
            c.samba,
            (c.machine - c.me - c.samba).max(0.0),
            c.me * 1000.0 / n,
            c.samba * 1000.0 / n
        );
    }
    let _ = writeln!(s, "\n   events by state at the end: {:?}", o.counts);
    s
}

/// Users that hrsync does not manage, in their own OU beside the bench's: every unindexed
/// search (the anchor) has to scan them too, as in a real domain. Kept between runs (seeding
/// 2,000 takes about a minute); `HRSYNC_BENCH_UNMANAGED=0` removes them.
async fn seed_unmanaged(w: &World, n: usize) -> anyhow::Result<usize> {
    let ou = format!("OU=bench-unmanaged,{}", w.ad.base_dn);
    let mut d = hrsync_tests::world::connect(&w.ad).await;
    if n == 0 {
        hrsync_tests::world::delete_tree(&mut d, &ou).await;
        return Ok(0);
    }
    d.ensure_ou(&ou).await?;
    let have = d
        .search_paged(&ou, "(objectClass=user)", &["sAMAccountName"])
        .await?
        .len();
    for i in have..n {
        let sam = format!("unm{i:05}");
        let cn = format!("Unmanaged {i:05}");
        d.add(
            &format!("CN={cn},{ou}"),
            &[
                (
                    "objectClass",
                    vec!["top", "person", "organizationalPerson", "user"],
                ),
                ("sAMAccountName", vec![sam.as_str()]),
                (
                    "userPrincipalName",
                    vec![format!("{sam}@unmanaged.example").as_str()],
                ),
                ("mail", vec![format!("{sam}@unmanaged.example").as_str()]),
                ("cn", vec![cn.as_str()]),
            ],
        )
        .await?;
    }
    d.unbind().await?;
    Ok(n.max(have))
}

async fn run() -> anyhow::Result<()> {
    let people = env_f64("HRSYNC_BENCH_PEOPLE", PEOPLE as f64) as usize;
    let unmanaged = env_f64("HRSYNC_BENCH_UNMANAGED", 2000.0) as usize;
    let t = Instant::now();
    let w = World::new("bench-hooks", people, "").await;
    let unmanaged = seed_unmanaged(&w, unmanaged).await?;
    let seeded = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let load = w.run(true, None).await;
    let accounts = w.accounts().await.len();
    let setup = format!(
        "setup: {unmanaged} unmanaged users in the domain ({seeded:.1} s); {people} people in the simulator; initial load created {accounts} accounts in {:.1} s ({} operations applied, {} quarantined)",
        t.elapsed().as_secs_f64(),
        load.operations_applied,
        load.plan.quarantined.len() + load.failed.len()
    );
    eprintln!("bench: {setup}");
    let outcome = bench(&w, setup).await;
    let t = Instant::now();
    w.cleanup().await;
    eprintln!("bench: cleanup took {:.1} s", t.elapsed().as_secs_f64());
    let outcome = outcome?;
    print!("{}", report(&outcome));
    let n_people = outcome
        .phases
        .iter()
        .flat_map(|p| p.sent.iter().map(|s| s.person.as_str()))
        .collect::<std::collections::HashSet<_>>()
        .len();
    println!("   people round-robin: {n_people}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let t = Instant::now();
    let r = rt.block_on(run());
    eprintln!("bench: total {:.1} s", t.elapsed().as_secs_f64());
    r
}
