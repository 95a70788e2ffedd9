//! The per-call store data: WASI (locked down), limits, and what the plugin may reach.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::HttpBackend;
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

/// Output captured from the plugin's stdout and stderr, at most this many bytes per call.
const PIPE_CAPACITY: usize = 64 * 1024;

/// The data of one store: one call of one plugin.
pub struct PluginState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: Limiter,
    pub(super) context: Arc<PluginContext>,
    pub(super) deadline: Instant,
    pub(super) stdout: MemoryOutputPipe,
    pub(super) stderr: MemoryOutputPipe,
}

impl PluginState {
    pub(super) fn new(context: Arc<PluginContext>, memory_bytes: usize, deadline: Instant) -> Self {
        let stdout = MemoryOutputPipe::new(PIPE_CAPACITY);
        let stderr = MemoryOutputPipe::new(PIPE_CAPACITY);
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
            deadline,
            stdout,
            stderr,
        }
    }

    /// What the plugin wrote to stdout and stderr during the call.
    pub(super) fn output(&self) -> (String, String) {
        (
            String::from_utf8_lossy(&self.stdout.contents()).into_owned(),
            String::from_utf8_lossy(&self.stderr.contents()).into_owned(),
        )
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

/// `StoreLimits`, plus a record of whether the memory cap was what stopped the plugin, so the
/// host can say so instead of reporting a bare trap.
pub(super) struct Limiter {
    inner: StoreLimits,
    pub(super) memory_denied: bool,
}

impl Limiter {
    fn new(memory_bytes: usize) -> Self {
        Limiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(16)
                .tables(64)
                .memories(4)
                .build(),
            memory_denied: false,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.memory_denied = true;
            // Trap now rather than let the guest's allocator abort with a bare `unreachable`.
            return Err(wasmtime::Error::msg("memory limit reached"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
