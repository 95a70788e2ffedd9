//! The per-call store data: WASI (locked down), limits, and what the plugin may reach.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::{Caps, HttpBackend};
use crate::secret::Secret;

/// What a connector's plugin may use: its name, settings, secrets (by name, for HMAC checks
/// only), and its HTTP backend (egress rules, authentication, rate limit).
pub struct PluginContext {
    /// The connector's name in the configuration, e.g. `remote`.
    pub name: String,
    /// Non-secret settings the plugin may read.
    pub settings: BTreeMap<String, String>,
    /// Secrets the plugin may name in `crypto.verify-hmac-sha256` but never read.
    pub secrets: BTreeMap<String, Secret>,
    /// Where the plugin's HTTP requests go.
    pub http: Arc<dyn HttpBackend>,
}

/// Output kept from the plugin's stdout and from its stderr, at most this many bytes per call;
/// the rest is counted and dropped (the plugin's writes never fail).
pub(super) const PIPE_CAPACITY: usize = 64 * 1024;

/// How many core instances, tables and linear memories one call may create. A Rust plugin built
/// by `wasm32-wasip2` needs 3 instances (the program, the WASI adapter and its shim), 2 tables and
/// 1 memory; the margin allows for other toolchains. What they may *hold* is capped by the memory
/// limit, which counts every linear memory and every table element together.
pub(super) const MAX_INSTANCES: usize = 8;
/// See [`MAX_INSTANCES`].
pub(super) const MAX_TABLES: usize = 8;
/// See [`MAX_INSTANCES`].
pub(super) const MAX_MEMORIES: usize = 2;

/// What one table element costs the host: a pointer (wasmtime's own accounting).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// The data of one store: one call of one plugin.
pub struct PluginState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: Limiter,
    pub(super) context: Arc<PluginContext>,
    pub(super) call: &'static str,
    pub(super) caps: Caps,
    pub(super) deadline: Instant,
    /// Set when a host import refused to run (or stopped waiting) because the deadline passed.
    pub(super) deadline_hit: bool,
    pub(super) log: LogBudget,
    pub(super) stdout: CappedOutput,
    pub(super) stderr: CappedOutput,
}

impl PluginState {
    pub(super) fn new(
        context: Arc<PluginContext>,
        call: &'static str,
        memory_bytes: usize,
        caps: Caps,
        deadline: Instant,
    ) -> Self {
        let stdout = CappedOutput::new(PIPE_CAPACITY);
        let stderr = CappedOutput::new(PIPE_CAPACITY);
        // No preopened directories, no environment, no arguments, no network: a plugin reaches
        // the outside only through the host's `http` import.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(memory_bytes),
            context,
            call,
            caps,
            deadline,
            deadline_hit: false,
            log: LogBudget::new(caps.log_lines, caps.log_line_bytes),
            stdout,
            stderr,
        }
    }

    /// What the plugin wrote to stdout and stderr during the call, and how many bytes of it
    /// were dropped past the pipes' capacity.
    pub(super) fn output(&self) -> (String, String, usize) {
        let (out, out_dropped) = self.stdout.contents();
        let (err, err_dropped) = self.stderr.contents();
        (out, err, out_dropped + err_dropped)
    }

    /// Refuses a host import once the call's deadline has passed: the plugin is stopped there
    /// and the call ends with [`super::PluginError::Deadline`].
    pub(super) fn check_deadline(&mut self) -> wasmtime::Result<()> {
        if Instant::now() >= self.deadline {
            self.deadline_hit = true;
            return Err(wasmtime::Error::new(DeadlineExceeded));
        }
        Ok(())
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The error that stops a call at its deadline while the host, not the plugin, was running.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's deadline has passed")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// Which resource ran past the memory limit, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Denied {
    /// Linear memory (all memories of the call together).
    Memory,
    /// Table elements.
    Table,
}

/// One memory budget for everything a call's instances hold: the sum of every linear memory
/// and every table (at a pointer per element) may not pass the plugin's memory limit. The
/// number of instances, tables and memories is capped too ([`MAX_INSTANCES`] …), so that a
/// component cannot multiply its allowance by declaring more of them.
#[derive(Debug)]
pub(super) struct Limiter {
    budget: usize,
    memory: usize,
    tables: usize,
    /// The last growth allowed, taken back if wasmtime then fails it.
    pending_memory: usize,
    pending_table: usize,
    pub(super) denied: Option<Denied>,
}

impl Limiter {
    pub(super) fn new(budget: usize) -> Self {
        Limiter {
            budget,
            memory: 0,
            tables: 0,
            pending_memory: 0,
            pending_table: 0,
            denied: None,
        }
    }

    /// Bytes held by linear memories and tables.
    pub(super) fn used(&self) -> usize {
        self.memory.saturating_add(self.tables)
    }

    fn grow(&mut self, extra: usize, what: Denied) -> wasmtime::Result<bool> {
        if self.used().saturating_add(extra) > self.budget {
            self.denied = Some(what);
            // Trap now rather than let the guest's allocator abort with a bare `unreachable`.
            return Err(wasmtime::Error::msg(match what {
                Denied::Memory => "memory limit reached",
                Denied::Table => "memory limit reached by a table",
            }));
        }
        match what {
            Denied::Memory => {
                self.memory += extra;
                self.pending_memory = extra;
            }
            Denied::Table => {
                self.tables += extra;
                self.pending_table = extra;
            }
        }
        Ok(true)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|m| desired > m) {
            // Past the memory's own declared maximum: wasmtime refuses it (`memory.grow` gives
            // -1), and nothing is allocated.
            return Ok(false);
        }
        self.grow(desired.saturating_sub(current), Denied::Memory)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory = self.memory.saturating_sub(self.pending_memory);
        self.pending_memory = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|m| desired > m) {
            return Ok(false);
        }
        let extra = desired
            .saturating_sub(current)
            .saturating_mul(TABLE_ELEMENT_BYTES);
        self.grow(extra, Denied::Table)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.tables = self.tables.saturating_sub(self.pending_table);
        self.pending_table = 0;
        Ok(())
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// The log lines one call may write (through `log` and stdout/stderr together): at most
/// `max_lines` lines of at most `line_bytes` bytes. A longer line is cut; lines past the count are
/// dropped, and the call ends with one "log truncated" line saying how many.
#[derive(Debug)]
pub(super) struct LogBudget {
    max_lines: usize,
    line_bytes: usize,
    written: usize,
    pub(super) dropped: usize,
}

impl LogBudget {
    pub(super) fn new(max_lines: usize, line_bytes: usize) -> Self {
        LogBudget {
            max_lines,
            line_bytes,
            written: 0,
            dropped: 0,
        }
    }

    /// The line as it may be logged, or `None` when the call has used up its lines.
    pub(super) fn admit<'a>(&mut self, line: &'a str) -> Option<std::borrow::Cow<'a, str>> {
        if self.written >= self.max_lines {
            self.dropped += 1;
            return None;
        }
        self.written += 1;
        if line.len() <= self.line_bytes {
            return Some(line.into());
        }
        let mut end = self.line_bytes;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        Some(
            format!(
                "{}… [line cut: {} bytes, the limit is {} bytes per line]",
                &line[..end],
                line.len(),
                self.line_bytes
            )
            .into(),
        )
    }

    /// The closing line when lines were dropped.
    pub(super) fn truncated_line(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "log truncated: {} more lines dropped (the limit is {} lines per call)",
                self.dropped, self.max_lines
            )
        })
    }
}

/// A stdout/stderr pipe that keeps the first `capacity` bytes and counts the rest. Writes never
/// fail, so a chatty plugin is not crashed by its own `println!` (wasmtime's `MemoryOutputPipe`
/// refuses writes once full, which makes Rust's `println!` panic).
#[derive(Debug, Clone)]
pub(super) struct CappedOutput {
    capacity: usize,
    inner: Arc<Mutex<(Vec<u8>, usize)>>,
}

impl CappedOutput {
    fn new(capacity: usize) -> Self {
        CappedOutput {
            capacity,
            inner: Arc::default(),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (buf, dropped) = &mut *guard;
        let room = self.capacity.saturating_sub(buf.len());
        let kept = bytes.len().min(room);
        buf.extend_from_slice(&bytes[..kept]);
        *dropped += bytes.len() - kept;
    }

    /// The text kept, and the number of bytes dropped.
    fn contents(&self) -> (String, usize) {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (String::from_utf8_lossy(&guard.0).into_owned(), guard.1)
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CappedOutput {
    // `axum::body::Bytes` is `bytes::Bytes`, the type wasmtime-wasi's streams carry.
    fn write(&mut self, bytes: axum::body::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always writable; a permit bounds how much the guest can make the host allocate at once.
        Ok(PIPE_CAPACITY)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn memories_and_tables_share_one_budget() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.memory_growing(0, 512 << 10, None).unwrap());
        // A second memory of the same size fits exactly; any more does not.
        assert!(l.memory_growing(0, 512 << 10, None).unwrap());
        assert!(
            l.memory_growing(512 << 10, (512 << 10) + 65536, None)
                .is_err()
        );
        assert_eq!(l.denied, Some(Denied::Memory));
        let mut l = Limiter::new(1 << 20);
        assert!(l.memory_growing(0, 960 << 10, None).unwrap());
        assert!(l.table_growing(0, 1024, None).unwrap()); // 8 KiB
        assert!(l.table_growing(1024, 1024 + 8192, None).is_err());
        assert_eq!(l.denied, Some(Denied::Table));
    }

    #[test]
    fn a_failed_growth_is_taken_back_and_a_declared_maximum_costs_nothing() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        l.memory_grow_failed(wasmtime::Error::msg("no")).unwrap();
        assert_eq!(l.used(), 0);
        assert!(!l.memory_growing(0, 2 << 20, Some(1 << 20)).unwrap());
        assert_eq!((l.used(), l.denied), (0, None));
    }

    #[test]
    fn log_lines_are_cut_and_counted() {
        let mut b = LogBudget::new(2, 8);
        assert_eq!(b.admit("short").as_deref(), Some("short"));
        let cut = b.admit("ééééééé").unwrap().into_owned(); // 14 bytes
        assert!(
            cut.starts_with("éééé…")
                && cut.contains("14 bytes")
                && cut.contains("8 bytes per line"),
            "{cut}"
        );
        assert!(b.admit("three").is_none());
        assert!(b.admit("four").is_none());
        assert_eq!(
            b.truncated_line().as_deref(),
            Some("log truncated: 2 more lines dropped (the limit is 2 lines per call)")
        );
    }

    #[test]
    fn the_pipe_keeps_its_capacity_and_counts_the_rest() {
        let p = CappedOutput::new(4);
        p.push(b"abc");
        p.push(b"defg");
        assert_eq!(p.contents(), ("abcd".to_string(), 3));
    }
}
