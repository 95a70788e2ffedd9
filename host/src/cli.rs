//! The `hrsync` command line: parse, run, print, and choose the exit code.
//!
//! Exit codes: 0 done; 1 failed; 2 usage error; 3 a sync held destructive changes for approval;
//! 4 refused (a confirmation was declined or cannot be asked).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::connector::Connector;
use crate::store::{RunStatus, Store};
use crate::sync::progress::Progress;
use crate::sync::{Engine, RunOptions, report};

/// hrsync keeps a company's directory in step with its HR system.
#[derive(Debug, Parser)]
#[command(name = "hrsync", version, about)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        env = "HRSYNC_CONFIG",
        default_value = "hrsync.toml",
        global = true
    )]
    pub config: PathBuf,
    /// No progress bars or progress lines.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter configuration (to `--config`, or PATH).
    Init {
        /// Where to write it (default: the `--config` file, hrsync.toml); `-` prints it.
        path: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Connectors: test one ("Test & Save").
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
    },
    /// Show what a sync would change, person by person, without changing anything.
    Plan {
        /// Only this person (HR id).
        #[arg(long)]
        only: Option<String>,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Show at most this many people's changes in full.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Apply the plan (the same plan `plan` shows).
    Sync {
        /// Only this person (HR id): provision on demand.
        #[arg(long)]
        only: Option<String>,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Show at most this many people's changes in full.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Apply the destructive changes a run held back.
    Approve {
        run: i64,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Drop the destructive changes a run held back.
    Reject { run: i64 },
    /// The latest runs.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// The audit log of directory changes.
    Log {
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        run: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Records that could not be synced, with the reason.
    Quarantine,
    /// Run the service: webhooks, schedules, waiting templates, health and metrics.
    Serve {
        /// Listen here instead of `[serve].listen`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Run an orchestration template for one person now.
    Orchestrate {
        /// The template (`[templates.NAME]`).
        name: String,
        /// The person's account, by sAMAccountName.
        #[arg(long, conflicts_with = "person", required_unless_present = "person")]
        user: Option<String>,
        /// The person, by HR id.
        #[arg(long)]
        person: Option<String>,
    },
    /// Outbound webhooks.
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Check the configuration (and that templates compile).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `hrsync connector …`
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Authenticate, fetch the first page and one detail, and print the typed facts and every
    /// field with a sample.
    Test {
        name: String,
        /// The person whose detail is the sample (default: the first listed).
        #[arg(long)]
        person: Option<String>,
    },
    /// Write a new connector plugin crate (plugins/NAME) that builds, with a unit test.
    New {
        /// The connector's name: lowercase letters, digits and `-` (e.g. `acme`).
        name: String,
        /// The folder to create it in.
        #[arg(long, default_value = "plugins")]
        dir: PathBuf,
        /// The hrsync-sdk folder (default: `sdk/` in the current folder or a parent).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

/// `hrsync webhook …`
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Make the real call for one user and print the request and the response.
    Test {
        /// The webhook (`[webhooks.NAME]`).
        name: String,
        /// The account, by sAMAccountName.
        #[arg(long)]
        user: String,
    },
}

/// `hrsync config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration.
    Check,
}

/// A command's failure, as one sentence, with its exit code.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn load(cli: &Cli) -> Result<Config, Failure> {
    Ok(Config::load(&cli.config)?)
}

async fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let progress = Progress::new(cli.quiet);
    match &cli.command {
        Command::Init { path, force } => {
            init(path.as_ref().unwrap_or(&cli.config), *force)?;
            Ok(0)
        }
        Command::Connector {
            command: ConnectorCommand::New { name, dir, sdk },
        } => {
            connector_new(name, dir, sdk.as_deref())?;
            Ok(0)
        }
        Command::Connector {
            command: ConnectorCommand::Test { name, person },
        } => {
            let config = load(&cli)?;
            let runtime = Engine::runtime(&config)?;
            let connector = Connector::open(config.connector(name)?, &runtime)?;
            connector_test(&connector, person.as_deref()).await?;
            Ok(0)
        }
        Command::Plan { only, json, limit } | Command::Sync { only, json, limit } => {
            let apply = matches!(cli.command, Command::Sync { .. });
            let config = load(&cli)?;
            let runtime = Engine::runtime(&config)?;
            let engine = Engine::open(config, &runtime)?;
            let opts = RunOptions {
                apply,
                only: only.clone(),
                trigger: "cli".to_string(),
                now: None,
            };
            let mut r = engine.run(&opts, &progress).await?;
            if r.plan.more > 0 && (*json || limit.is_none()) {
                // Everything was asked for: every stored plan (quiet people are only counted).
                r.plan.people = engine.store().run_people(r.run_id)?;
                r.plan.more = 0;
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", report::render(&r.plan, *limit));
                if apply {
                    println!(
                        "run {}: {} operations applied, {} people failed",
                        r.run_id,
                        r.operations_applied,
                        r.failed.len()
                    );
                    for f in &r.failed {
                        println!("✗ {}: {}", f.record_id, f.reason);
                    }
                    for n in &r.notes {
                        println!("· {n}");
                    }
                } else {
                    for n in &r.notes {
                        println!("· {n}");
                    }
                    println!("run {}: planned only; `hrsync sync` applies it", r.run_id);
                }
            }
            if r.status == RunStatus::Held {
                eprintln!(
                    "held: the safety gate kept back the disables/deletes or adoptions of {} people; review with `hrsync runs` and release with `hrsync approve {}` (it re-plans them against today's data first) or drop with `hrsync reject {}`",
                    r.held.len(),
                    r.run_id,
                    r.run_id
                );
                return Ok(3);
            }
            Ok(if r.failed.is_empty() { 0 } else { 1 })
        }
        Command::Approve { run, yes } => {
            let config = load(&cli)?;
            if !yes
                && !confirm(&format!(
                    "Re-plan and apply the held disables/deletes and adoptions of run {run}?"
                ))?
            {
                return Err(Failure {
                    message: "not approved (answer yes, or pass --yes when there is no terminal)"
                        .into(),
                    code: 4,
                });
            }
            let runtime = Engine::runtime(&config)?;
            let engine = Engine::open(config, &runtime)?;
            let r = engine.approve(*run, &progress).await?;
            for line in &r.changed_since_held {
                println!("! {line}");
            }
            for f in &r.failed {
                println!("✗ {}: {}", f.record_id, f.reason);
            }
            println!(
                "run {run}: approved; {} operations applied, {} people failed",
                r.operations_applied,
                r.failed.len()
            );
            Ok(if r.failed.is_empty() { 0 } else { 1 })
        }
        Command::Reject { run } => {
            let config = load(&cli)?;
            let runtime = Engine::runtime(&config)?;
            let engine = Engine::open(config, &runtime)?;
            engine.reject(*run)?;
            println!("run {run}: rejected; the held changes were dropped");
            Ok(0)
        }
        Command::Runs { limit } => {
            let store = Store::open(&load(&cli)?.store_path)?;
            for r in store.runs(*limit)? {
                println!(
                    "{:>5}  {}  {:<9} {:<10} {}",
                    r.id,
                    r.started_at,
                    format!("{:?}", r.status).to_lowercase(),
                    r.trigger,
                    r.summary.unwrap_or_default()
                );
            }
            Ok(0)
        }
        Command::Log { person, run, limit } => {
            let store = Store::open(&load(&cli)?.store_path)?;
            for a in store.audit_log(*limit, person.as_deref(), *run)? {
                println!(
                    "{}  run {:<4} {:<18} {:<10} {}  {}",
                    a.at,
                    a.run_id.map(|r| r.to_string()).unwrap_or_default(),
                    a.operation,
                    a.outcome,
                    a.person_id.unwrap_or_default(),
                    a.dn.unwrap_or_default()
                );
            }
            Ok(0)
        }
        Command::Quarantine => {
            let store = Store::open(&load(&cli)?.store_path)?;
            let q = store.quarantined()?;
            if q.is_empty() {
                println!("the quarantine is empty");
            }
            for r in q {
                let field = r
                    .field
                    .map(|f| format!(" field `{f}`:"))
                    .unwrap_or_default();
                println!("{}  {}{field} {}", r.at, r.record_id, r.reason);
            }
            Ok(0)
        }
        Command::Serve { listen } => {
            let config = load(&cli)?;
            crate::serve::run(config, listen.as_deref()).await?;
            Ok(0)
        }
        Command::Orchestrate { name, user, person } => {
            let config = load(&cli)?;
            let runtime = Engine::runtime(&config)?;
            let engine = Engine::open(config, &runtime)?;
            let person_id = match (person, user) {
                (Some(p), _) => p.clone(),
                (None, Some(sam)) => person_of(&engine, sam).await?,
                (None, None) => {
                    return Err(Failure {
                        message: "name a person with --user or --person".into(),
                        code: 2,
                    });
                }
            };
            let outcome = crate::orchestration::Orchestrator::new(&engine)
                .start(name, &person_id, crate::orchestration::MANUAL, None)
                .await?;
            use crate::orchestration::Outcome;
            match outcome {
                Outcome::Done { run } => println!(
                    "template `{name}` done for {person_id} (template run {run}); `hrsync log --person {person_id}` shows each step"
                ),
                Outcome::Waiting { run, until } => println!(
                    "template `{name}` waits until {until} (template run {run}); `hrsync serve` resumes it"
                ),
                Outcome::Skipped { reason } => println!("skipped: {reason}"),
                Outcome::Failed { run, error } => {
                    return Err(Failure {
                        message: format!("template `{name}` failed (template run {run}): {error}"),
                        code: 1,
                    });
                }
            }
            Ok(0)
        }
        Command::Webhook {
            command: WebhookCommand::Test { name, user },
        } => {
            let config = load(&cli)?;
            let runtime = Engine::runtime(&config)?;
            let engine = Engine::open(config, &runtime)?;
            webhook_test(&engine, name, user).await?;
            Ok(0)
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            // Leniently: template steps are reported below with every other problem.
            let config = Config::load_lenient(&cli.config)?;
            let problems = crate::checks::check(&config);
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("error: {p}");
                }
                return Err(Failure {
                    message: format!(
                        "{}: {} problem(s); a later command would refuse this configuration",
                        config.path.display(),
                        problems.len()
                    ),
                    code: 1,
                });
            }
            println!(
                "{}: ok ({} connector(s), {} mapped attribute(s))",
                config.path.display(),
                config.connectors.len(),
                config.mapping.attributes.len()
            );
            Ok(0)
        }
    }
}

/// `init`: writes the starter configuration and says what to fill in.
fn init(path: &std::path::Path, force: bool) -> Result<(), Failure> {
    use crate::config::init;
    if path == std::path::Path::new("-") {
        print!("{}", init::starter());
        return Ok(());
    }
    init::write(path, force)?;
    println!("wrote {}", path.display());
    let secrets = init::secret_variables(&init::starter());
    println!(
        "\nnext:\n  edit it: the directory, the OUs, the Remote client id, the mapping\n  provide the secrets it reads: {}\n    (each `{{ env = \"NAME\" }}` may be `{{ file = \"/path\" }}` instead)\n  hrsync --config {} config check",
        secrets.join(", "),
        path.display()
    );
    Ok(())
}

/// The HR id anchored on the account with this sAMAccountName.
async fn person_of(engine: &Engine, sam: &str) -> Result<String, Failure> {
    let anchor = engine.config().sync.anchor.clone();
    let account = engine
        .find_account_by("sAMAccountName", sam)
        .await?
        .ok_or_else(|| Failure {
            message: format!("no account with sAMAccountName `{sam}`"),
            code: 1,
        })?;
    account
        .first(&anchor)
        .map(str::to_string)
        .ok_or_else(|| Failure {
            message: format!("{} has no {anchor}: hrsync does not manage it", account.dn),
            code: 1,
        })
}

/// `hrsync webhook test`: the real call for one user, request and response printed.
async fn webhook_test(engine: &Engine, name: &str, sam: &str) -> Result<(), Failure> {
    let config = engine.config();
    let cfg = config.webhooks.get(name).ok_or_else(|| Failure {
        message: format!(
            "no webhook named `{name}`; configured: {}",
            config
                .webhooks
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        code: 1,
    })?;
    let account = engine
        .find_account_by("sAMAccountName", sam)
        .await?
        .ok_or_else(|| Failure {
            message: format!("no account with sAMAccountName `{sam}`"),
            code: 1,
        })?;
    let person = match account.first(&config.sync.anchor) {
        Some(id) => match engine.store().person_detail(id)? {
            Some(d) => serde_json::from_str(&d).ok(),
            None => engine.connector().get(id).await?.ok(),
        },
        None => None,
    };
    let ctx = crate::templates::Context::new(
        person.as_ref(),
        Some((account.dn.as_str(), &account.attrs)),
    );
    let base = config.path.parent().unwrap_or(std::path::Path::new("."));
    let creds = crate::orchestration::credentials(engine);
    let (sent, answer) = crate::outbound::call(
        name,
        cfg,
        &config.outbound_allowed_hosts,
        base,
        &ctx,
        &creds,
    )
    .await?;
    println!("> {} {}", sent.method, sent.url);
    for (k, v) in &sent.headers {
        println!("> {k}: {v}");
    }
    println!(">\n{}\n", sent.body);
    println!("< {}", answer.status);
    for (k, v) in &answer.headers {
        println!("< {k}: {v}");
    }
    println!("<\n{}", answer.body);
    if !(200..300).contains(&answer.status) {
        return Err(Failure {
            message: format!("the endpoint answered {}", answer.status),
            code: 1,
        });
    }
    Ok(())
}

/// Asks yes/no on the terminal; refuses (false) without one.
fn confirm(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// `connector new`: writes the crate and says what to do next.
fn connector_new(
    name: &str,
    dir: &std::path::Path,
    sdk: Option<&std::path::Path>,
) -> Result<(), Failure> {
    use crate::runtime::scaffold;
    let sdk = match sdk {
        Some(s) => s.to_path_buf(),
        None => scaffold::find_sdk(&std::path::absolute(dir)?)?,
    };
    let (names, crate_dir, written) = scaffold::create(name, dir, &sdk)?;
    println!("created {} (package {}):", crate_dir.display(), names.krate);
    for path in &written {
        println!("  {}", path.display());
    }
    println!(
        "\nnext:\n  cargo test -p {krate}\n  cargo xtask build-plugins\n    (writes target/wasm32-wasip2/wasm/{wasm})\n\nthen, in hrsync.toml:\n  [connectors.{name}]\n  plugin = \"target/wasm32-wasip2/wasm/{wasm}\"\n  base_url = \"https://api.example.com\"\n  allowed_hosts = [\"https://api.example.com\"]\n\nand try it: hrsync connector test {name}",
        krate = names.krate,
        wasm = names.wasm,
        name = names.name,
    );
    Ok(())
}

/// "Test & Save": the connector's fields with a sample value each, and how many people there are.
async fn connector_test(connector: &Connector, person: Option<&str>) -> Result<(), Failure> {
    let d = connector.about().await?;
    println!(
        "connector {} {} (contract {})",
        d.name, d.version, d.contract_version
    );
    let page = connector.list(None).await?;
    let Some(first) = page.people.first() else {
        println!("authenticated; the HR system lists no people");
        return Ok(());
    };
    let detail = connector.get(person.unwrap_or(&first.id)).await?;
    let sample = match (&detail, person) {
        (Ok(p), _) => p,
        (Err(r), Some(id)) => {
            return Err(Failure {
                message: format!("person {id} cannot be read: {r}"),
                code: 1,
            });
        }
        (Err(_), None) => first,
    };
    match page.total {
        Some(n) => println!("authenticated; {n} people"),
        None => println!(
            "authenticated; {} people on the first page",
            page.people.len()
        ),
    }
    if !page.rejected.is_empty() {
        println!(
            "{} record(s) on the first page cannot be read:",
            page.rejected.len()
        );
        for r in &page.rejected {
            println!("  ✗ {r}");
        }
    }
    println!(
        "\nperson {}: {:?} ({})",
        sample.id, sample.status, sample.source_status
    );
    for fact in crate::mapping::Fact::ALL {
        let value = match sample.facts.value(fact) {
            crate::mapping::FieldValue::Text(s) | crate::mapping::FieldValue::Date(s) => s,
            _ => "(none)".to_string(),
        };
        println!("  {:<38} {value}", fact.names().join(" / "));
    }
    println!(
        "\n{:<24} {:<10} sample (person {})",
        "field", "type", sample.id
    );
    for f in &d.fields {
        let value = match sample.field(&f.name) {
            Some(crate::mapping::FieldValue::Text(s) | crate::mapping::FieldValue::Date(s)) => s,
            Some(crate::mapping::FieldValue::Null) | None => "(empty)".to_string(),
            Some(other) => format!("{other:?}"),
        };
        println!("{:<24} {:<10} {}", f.name, f.kind, value);
    }
    println!(
        "{:<24} {:<10} also: raw.<json path> for any field of the HR record",
        "raw", "json"
    );
    if !connector.endpoints().list().is_empty() {
        // The detail above already called them once; the notes are the trials' problems.
        connector.endpoints().clear_notes();
        let trials = connector.endpoints().test(sample, &page.people).await;
        print!("{}", crate::endpoints::report::render(&trials, &sample.id));
    }
    if !d.actions.is_empty() {
        println!("\nactions: {}", d.actions.join(", "));
    }
    println!(
        "HTTP requests used: {}",
        connector
            .stats()
            .sent
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(())
}
