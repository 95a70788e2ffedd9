//! `bamboo-sim`: runs the BambooHR API simulator standalone (demo, manual testing).
//!
//! Prints `KEY=value` lines on stdout (API base, company domain, API key), then serves until
//! SIGTERM, SIGINT (ctrl-c), or — with `--exit-on-stdin-close` — until stdin closes.
//!
//! ```text
//! bamboo-sim --people 40 --seed 42 --port 0 --rate-limit 20/60 --pid-file /tmp/bamboo-sim.pid
//! curl -u "$API_KEY:x" -H 'Accept: application/json' "$API_BASE/employees/directory"
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hrsync_tests::bamboo_sim::{BambooConfig, RateLimit, Simulator};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "bamboo-sim",
    about = "Serve a simulated BambooHR API on 127.0.0.1"
)]
struct Args {
    /// Ordinary people generated beside the 13 fixed edge cases.
    #[arg(long, default_value_t = 40)]
    people: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Rate limit as REQUESTS/SECONDS, e.g. 20/60. None by default.
    #[arg(long, value_parser = RateLimit::parse)]
    rate_limit: Option<RateLimit>,
    /// Status of throttled answers: 429, or 503 as BambooHR sent before September 2026.
    #[arg(long, default_value_t = 429)]
    throttle_status: u16,
    /// Serve the company directory as disabled (403).
    #[arg(long)]
    no_directory: bool,
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
            eprintln!("bamboo-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bamboo-sim: {e:#}");
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

    let today = chrono::Utc::now().date_naive();
    let config = BambooConfig {
        rate_limit: args.rate_limit,
        throttle_status: args.throttle_status,
        directory_enabled: !args.no_directory,
        ..BambooConfig::seeded(args.seed, args.people, today)
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
    writeln!(out, "API_BASE={}", sim.api_base())?;
    writeln!(out, "COMPANY_DOMAIN={}", config.company_domain)?;
    writeln!(out, "API_KEY={}", config.api_key)?;
    writeln!(out, "PEOPLE={}", config.people.len())?;
    writeln!(out, "RATE_LIMIT={rate}")?;
    out.flush()?;
    drop(out);

    wait_for_stop(args.exit_on_stdin_close).await;
    eprintln!("bamboo-sim: stopping");
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
