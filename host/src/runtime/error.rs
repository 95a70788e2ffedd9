//! Errors of running a plugin: what stops a call, as opposed to the errors a plugin returns.

use std::time::Duration;

/// Why a plugin could not be loaded or a call did not complete. Each names the plugin and the call.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("cannot read plugin `{plugin}` from {path}: {source}")]
    Read {
        plugin: String,
        path: String,
        source: std::io::Error,
    },
    /// `plugin = "builtin:NAME"` names no plugin this hrsync has or can find.
    #[error("cannot load plugin `{plugin}`: {source}")]
    Builtin {
        plugin: String,
        source: super::builtin::BuiltinError,
    },
    /// The file is not a valid WebAssembly component.
    #[error("plugin `{plugin}` is not a valid WebAssembly component: {message}")]
    Invalid { plugin: String, message: String },
    /// The component was built for a contract version this host does not support.
    #[error(
        "plugin `{plugin}` was built for the contract hrsync:connector@{found}, but this hrsync supports @{supported}; rebuild it with hrsync-sdk {supported}"
    )]
    IncompatibleVersion {
        plugin: String,
        found: String,
        supported: &'static str,
    },
    /// The component does not export the connector interface at all.
    #[error(
        "plugin `{plugin}` is not an hrsync connector: it does not export hrsync:connector/connector (it exports: {exports})"
    )]
    NotAConnector { plugin: String, exports: String },
    /// The plugin ran past its wall-clock deadline.
    #[error(
        "plugin `{plugin}` did not finish `{call}` within its limit of {limit:?} and was stopped"
    )]
    Deadline {
        plugin: String,
        call: &'static str,
        limit: Duration,
    },
    /// The plugin asked for more memory than its cap (linear memories and tables together).
    #[error(
        "plugin `{plugin}` exceeded its memory limit of {limit_mib} MiB in `{call}` (growing {what}; memories and tables count together) and was stopped"
    )]
    Memory {
        plugin: String,
        call: &'static str,
        limit_mib: usize,
        /// What was growing when the cap was hit: `linear memory` or `a table`.
        what: &'static str,
    },
    /// The plugin declares more instances, tables or memories than one call may create.
    #[error(
        "plugin `{plugin}` needs more than the sandbox allows in `{call}`: {message} (at most {} core instances, {} tables and {} memories)",
        super::state::MAX_INSTANCES,
        super::state::MAX_TABLES,
        super::state::MAX_MEMORIES
    )]
    Resources {
        plugin: String,
        call: &'static str,
        message: String,
    },
    /// The plugin's answer is over one of the [`super::Caps`] on what crosses the boundary.
    #[error("plugin `{plugin}` answered `{call}` with more than hrsync accepts: {message}")]
    Oversized {
        plugin: String,
        call: &'static str,
        message: String,
    },
    /// The plugin trapped (a panic, an `unreachable`, an out-of-bounds access …).
    #[error("plugin `{plugin}` crashed in `{call}`: {message}")]
    Trap {
        plugin: String,
        call: &'static str,
        message: String,
    },
    /// The host could not set up the call (linking, instantiation).
    #[error("plugin `{plugin}` could not be started for `{call}`: {message}")]
    Host {
        plugin: String,
        call: &'static str,
        message: String,
    },
}
