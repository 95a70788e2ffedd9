//! `remote-sim`: runs the Remote API simulator standalone (demo, manual testing, benchmarks).
//!
//! Prints `KEY=value` lines on stdout (base URL, token URL, test credentials), then serves until
//! SIGTERM, SIGINT (ctrl-c), or — with `--exit-on-stdin-close` — until stdin closes.
//!
//! ```text
//! remote-sim --people 200 --seed 42 --port 0 --rate-limit 20/60 --pid-file /tmp/remote-sim.pid
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hrsync_tests::remote_sim::{RateLimit, SimConfig, Simulator};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "remote-sim",
    about = "Serve a simulated Remote API on 127.0.0.1"
)]
struct Args {
    /// Number of employments to generate.
    #[arg(long, default_value_t = 200)]
    people: usize,
    /// Seed of the workforce generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Rate limit as REQUESTS/SECONDS, e.g. 20/60 (Remote's customer limit). None by default.
    #[arg(long, value_parser = RateLimit::parse)]
    rate_limit: Option<RateLimit>,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Write the process id to this file (removed on a clean exit).
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Also stop when stdin reaches end of file (for parents that just close the pipe).
    #[arg(long)]
    exit_on_stdin_close: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("remote-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remote-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the simulator, prints where it is, and waits for a stop signal.
async fn run(args: Args) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();

    let config = SimConfig {
        seed: args.seed,
        people: args.people,
        rate_limit: args.rate_limit,
        token_ttl: std::time::Duration::from_secs(args.token_ttl),
        ..SimConfig::default()
    };
    let sim = Simulator::start_on(config.clone(), args.port).await?;
    if let Some(path) = &args.pid_file {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| anyhow::anyhow!("cannot write pid file {}: {e}", path.display()))?;
    }

    let rate = config
        .rate_limit
        .map(|r| format!("{}/{}", r.requests, r.window.as_secs_f64()))
        .unwrap_or_else(|| "none".to_owned());
    let mut out = std::io::stdout().lock();
    writeln!(out, "BASE_URL={}", sim.base_url())?;
    writeln!(out, "TOKEN_URL={}", sim.token_url())?;
    writeln!(out, "CLIENT_ID={}", config.client_id)?;
    writeln!(out, "CLIENT_SECRET={}", config.client_secret)?;
    writeln!(out, "API_TOKEN={}", config.api_token)?;
    writeln!(out, "REFRESH_TOKEN={}", config.initial_refresh_token)?;
    writeln!(out, "WEBHOOK_SIGNING_KEY={}", config.webhook_signing_key)?;
    writeln!(out, "COMPANY_ID={}", sim.state().company_id())?;
    writeln!(out, "PEOPLE={}", config.people)?;
    writeln!(out, "RATE_LIMIT={rate}")?;
    out.flush()?;
    drop(out);

    wait_for_stop(args.exit_on_stdin_close).await;
    eprintln!("remote-sim: stopping");
    sim.shutdown().await;
    if let Some(path) = &args.pid_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Resolves on SIGTERM, SIGINT, or (if asked) end of stdin.
async fn wait_for_stop(stdin_closes: bool) {
    let stdin = async {
        if stdin_closes {
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut sink).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                    _ = stdin => {}
                }
            }
            Err(_) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = stdin => {}
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = stdin => {}
        }
    }
}
