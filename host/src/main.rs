//! The `hrsync` binary: a thin main around [`hrsync::cli`].

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = hrsync::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HRSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    hrsync::cli::run(cli).await
}
