//! `kehu`: the Kehu (客户) binary. One command per operator task.

mod demo;
mod demo_generic;
mod generate;
mod presets;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use kehu_domain::Policy;
use kehu_store::Db;

#[derive(Parser)]
#[command(
    name = "kehu",
    version,
    about = "Kehu (客户): a customer-management system that enforces your written customer rules and explains every decision."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DbArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "KEHU_DATABASE_URL", default_value = "sqlite://kehu.db")]
    database_url: String,
}

/// Where signed checkpoints of the history are kept.
#[derive(clap::Args, Clone, Default)]
struct CheckpointArgs {
    /// Folder for signed checkpoints of each tenant's history (default: `PATH.checkpoints`
    /// beside a SQLite file; for PostgreSQL a folder under `~/.local/state/kehu/checkpoints`).
    /// The signing key is `DIR.key` beside it, made on first start.
    #[arg(long, env = "KEHU_CHECKPOINT_DIR")]
    checkpoint_dir: Option<PathBuf>,
}

impl CheckpointArgs {
    fn dir(&self, database_url: &str) -> PathBuf {
        self.checkpoint_dir
            .clone()
            .unwrap_or_else(|| kehu_store::anchor::default_dir(database_url))
    }

    /// Opens the folder (and key), making them on first use.
    fn open(&self, database_url: &str, db: &Db) -> anyhow::Result<kehu_store::anchor::Anchor> {
        let dir = self.dir(database_url);
        kehu_store::anchor::Anchor::open(&dir, db)
            .with_context(|| format!("opening the checkpoint folder {}", dir.display()))
    }

    /// Signs a checkpoint of every tenant's history: what a command that wrote events does last.
    async fn write(&self, database_url: &str, db: &Db) -> anyhow::Result<()> {
        let anchor = self.open(database_url, db)?;
        anchor.write(db).await.context("writing history checkpoints")?;
        Ok(())
    }
}

/// Where the contents of files attached to cases are kept.
#[derive(clap::Args, Clone, Default)]
struct FilesArgs {
    /// Folder for the files attached to cases, each content once under its SHA-256 (default:
    /// `PATH.files` beside a SQLite file; for PostgreSQL a folder under
    /// `~/.local/state/kehu/files`). Back it up with the database.
    #[arg(long, env = "KEHU_FILES_DIR")]
    files_dir: Option<PathBuf>,
}

impl FilesArgs {
    fn open(&self, database_url: &str) -> anyhow::Result<kehu_store::files::Blobs> {
        let dir = self
            .files_dir
            .clone()
            .unwrap_or_else(|| kehu_store::files::Blobs::default_dir(database_url));
        kehu_store::files::Blobs::open(&dir).with_context(|| format!("opening the files folder {}", dir.display()))
    }
}

/// How users reach the server.
#[derive(clap::Args, Clone)]
struct EdgeArgs {
    /// The address users reach Kehu at; `https://...` makes every session cookie `Secure`.
    #[arg(long, env = "KEHU_PUBLIC_URL")]
    public_url: Option<String>,
    /// A reverse proxy whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (repeat for
    /// several); a request over HTTPS through it gets a `Secure` cookie.
    #[arg(long = "trust-proxy", value_name = "IP")]
    trust_proxy: Vec<std::net::IpAddr>,
}

impl EdgeArgs {
    fn config(&self) -> anyhow::Result<kehu_server::edge::EdgeConfig> {
        let https = match self.public_url.as_deref() {
            None => false,
            Some(u) if u.starts_with("https://") => true,
            Some(u) if u.starts_with("http://") => false,
            Some(u) => bail!("--public-url `{u}` must start with http:// or https://"),
        };
        Ok(kehu_server::edge::EdgeConfig {
            https,
            trusted_proxies: self.trust_proxy.clone(),
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web pages and the API on a database (migrations run first).
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Let an admin move time forward through `POST /api/v1/clock/advance` (tests, demos).
        #[arg(long)]
        virtual_clock: bool,
        #[command(flatten)]
        edge: EdgeArgs,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
        #[command(flatten)]
        files: FilesArgs,
    },
    /// Create (if new) a SQLite database with a demo tenant, staff and ~200 customers, and serve it.
    /// The admin password is `KEHU_ADMIN_PASSWORD` if set.
    Demo {
        /// The rulebook preset the demo tenant runs on.
        #[arg(long, default_value = "car-dealership")]
        preset: String,
        /// SQLite file for the demo.
        #[arg(long, default_value = "kehu-demo.db")]
        db: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long)]
        virtual_clock: bool,
        #[command(flatten)]
        edge: EdgeArgs,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
        #[command(flatten)]
        files: FilesArgs,
    },
    /// Create a tenant on a preset or policy file, with an `admin` user.
    Init {
        #[command(flatten)]
        db: DbArgs,
        /// Short name of the tenant (letters, digits, dashes).
        #[arg(long)]
        tenant: String,
        /// Display name of the company.
        #[arg(long)]
        name: String,
        /// A preset name (see `presets/`), or use --policy.
        #[arg(long, default_value = "car-dealership", conflicts_with = "policy")]
        preset: String,
        /// A policy file instead of a preset.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Password of the tenant's `admin` user. Prefer `KEHU_ADMIN_PASSWORD` or the prompt
        /// (asked when neither is given; read from standard input when that is not a terminal):
        /// a password on the command line is visible to other users of the machine.
        #[arg(long, env = "KEHU_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
    },
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Re-hash every tenant's history, hold it to the signed checkpoints, and report the first
    /// edited, missing, reordered or rewritten event. Exit 1 when anything fails or no
    /// checkpoint vouches for a tenant's history.
    VerifyHistory {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
        /// The public key (hex) the checkpoints must be signed with, for checking a copy of the
        /// folder without the key file (`kehu serve` prints it).
        #[arg(long)]
        public_key: Option<String>,
        /// Run SQLite's full `integrity_check` (every index entry against its row) instead of
        /// `quick_check` (every page, b-tree and row).
        #[arg(long)]
        thorough: bool,
    },
    /// Back up a database to a new file while it stays in use: one consistent snapshot (SQLite
    /// `VACUUM INTO`, PostgreSQL `pg_dump --format=custom`), written whole or not at all. A
    /// checkpoint of every tenant's history is signed first.
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
    },
    /// Restore a backup into a database that holds no Kehu data yet (a SQLite file that does not
    /// exist, an empty PostgreSQL database or schema). The restored data passes the integrity
    /// check and its history is held to the signed checkpoints before it is put in place;
    /// events recorded after the backup are named as lost.
    Restore {
        /// The backup file (`kehu backup --to`).
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
    },
    /// Run the deadline scheduler once: fire every deadline due now, each in its own transaction,
    /// and exit. Safe to run beside `kehu serve` and other sweeps: each deadline fires once.
    Sweep {
        #[command(flatten)]
        db: DbArgs,
        /// Use the virtual clock stored in the database (as `serve --virtual-clock` does).
        #[arg(long)]
        virtual_clock: bool,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
    },
    /// Fill a tenant with generated customers for benchmarks (through the normal create path).
    Generate {
        #[command(flatten)]
        db: DbArgs,
        /// Tenant short name; created on the car-dealership preset if missing.
        #[arg(long, default_value = "bench")]
        tenant: String,
        /// How many customers to add.
        #[arg(long, default_value_t = 1000)]
        customers: u64,
        /// Concurrent writers (PostgreSQL); SQLite has one writer.
        #[arg(long, default_value_t = 1)]
        writers: usize,
        /// Then give this many unclaimed customers a signed card that lapsed (R5.2) a day ago,
        /// with its deadline due: the load for benchmarking `kehu sweep`.
        #[arg(long, default_value_t = 0)]
        lapsing_claims: u64,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check policy files; errors name file, line and column with a hint. Exit 1 on errors.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a policy file's rules in plain language, with their rule IDs.
    Explain {
        file: PathBuf,
        /// `zh`, `en` or `both`.
        #[arg(long, default_value = "both")]
        lang: String,
    },
    /// Make a checked policy file the tenant's active policy. Its version must be higher than
    /// the active one; past decisions keep the version they were taken under.
    Activate {
        #[command(flatten)]
        db: DbArgs,
        /// Tenant short name.
        #[arg(long)]
        tenant: String,
        file: PathBuf,
        #[command(flatten)]
        checkpoints: CheckpointArgs,
    },
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KEHU_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // KEHU_WORKER_THREADS sets the async worker threads (default: one per core).
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("KEHU_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        rt.worker_threads(n);
    }
    rt.enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Policy {
            command: PolicyCommand::Check { files },
        } => policy_check(&files),
        Command::Policy {
            command: PolicyCommand::Explain { file, lang },
        } => {
            let name = file.display().to_string();
            let source = std::fs::read_to_string(&file).with_context(|| format!("reading {name}"))?;
            let policy = match Policy::parse(&source, &name) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            };
            let langs: &[kehu_domain::Lang] = match lang.as_str() {
                "zh" => &[kehu_domain::Lang::Zh],
                "en" => &[kehu_domain::Lang::En],
                "both" => &[kehu_domain::Lang::Zh, kehu_domain::Lang::En],
                other => bail!("--lang must be zh, en or both, not `{other}`"),
            };
            let lines = kehu_domain::policy::explain(&policy);
            for (i, l) in langs.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                for line in &lines {
                    match &line.rule {
                        Some(r) => println!("{}[{r}] {}", "  ".repeat(line.depth), line.text.get(*l)),
                        None => println!("{}{}", "  ".repeat(line.depth), line.text.get(*l)),
                    }
                }
            }
            Ok(())
        }
        Command::Policy {
            command:
                PolicyCommand::Activate {
                    db,
                    tenant,
                    file,
                    checkpoints,
                },
        } => {
            let name = file.display().to_string();
            let source = std::fs::read_to_string(&file).with_context(|| format!("reading {name}"))?;
            let policy = Policy::parse(&source, &name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let database = connect(&db.database_url).await?;
            let t = kehu_store::tenants::by_slug(&database, &tenant)
                .await?
                .with_context(|| format!("there is no tenant `{tenant}`"))?;
            match kehu_store::tenants::activate_policy(
                &database,
                t.id,
                None,
                &policy,
                &source,
                &name,
                jiff::Timestamp::now(),
            )
            .await
            {
                Ok(()) => {
                    checkpoints.write(&db.database_url, &database).await?;
                    println!(
                        "tenant `{tenant}` now runs policy `{}` version {}",
                        policy.id, policy.version
                    );
                    database.close().await;
                    Ok(())
                }
                Err(kehu_store::StoreError::Conflict { constraint }) => {
                    bail!("{constraint}: raise `version` in [policy]")
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Serve {
            db,
            listen,
            virtual_clock,
            edge,
            checkpoints,
            files,
        } => {
            let edge = edge.config()?;
            init_tracing();
            let url = db.database_url;
            let blobs = files.open(&url)?;
            let db = connect(&url).await?;
            let anchor = checkpoints.open(&url, &db)?;
            let tenants = kehu_store::tenants::list(&db).await?;
            if tenants.is_empty() {
                eprintln!(
                    "note: this database has no tenant yet; create one with `kehu init --tenant NAME --name \"公司\"` or try `kehu demo`"
                );
            }
            let state = kehu_server::AppState::new(db, virtual_clock)
                .await?
                .with_edge(edge)
                .with_anchor(anchor)
                .with_files(blobs);
            serve(state, &listen, None).await
        }
        Command::Demo {
            preset,
            db,
            listen,
            virtual_clock,
            edge,
            checkpoints,
            files,
        } => {
            let edge = edge.config()?;
            init_tracing();
            let url = format!("sqlite://{}", db.display());
            let blobs = files.open(&url)?;
            let database = connect(&url).await?;
            let anchor = checkpoints.open(&url, &database)?;
            let state = kehu_server::AppState::new(database, virtual_clock)
                .await?
                .with_edge(edge)
                .with_anchor(anchor)
                .with_files(blobs);
            let logins = demo::ensure(&state, &preset).await?;
            serve(state, &listen, Some((&db, logins))).await
        }
        Command::Init {
            db,
            tenant,
            name,
            preset,
            policy,
            admin_password,
            checkpoints,
        } => {
            let database = connect(&db.database_url).await?;
            let (file, source) = match &policy {
                Some(p) => (
                    p.display().to_string(),
                    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
                ),
                None => {
                    let (f, s) = presets::find(&preset)?;
                    (f.to_string(), s.to_string())
                }
            };
            let policy = Policy::parse(&source, &file).map_err(|e| anyhow::anyhow!("{e}"))?;
            if kehu_store::tenants::by_slug(&database, &tenant).await?.is_some() {
                bail!("a tenant `{tenant}` already exists");
            }
            let admin_password = match admin_password {
                Some(p) => p,
                None => ask_password()?,
            };
            kehu_server::auth::check_password(&admin_password).map_err(|t| anyhow::anyhow!("{}", t.en))?;
            let now = jiff::Timestamp::now();
            let t = kehu_store::tenants::create(&database, &tenant, &name, &policy, &source, &file, now).await?;
            let hash =
                kehu_server::auth::hash_password(&admin_password).map_err(|_| anyhow::anyhow!("hashing failed"))?;
            kehu_store::staff::create(&database, t.id, None, kehu_store::staff::NewStaff::admin(&hash), now).await?;
            checkpoints.write(&db.database_url, &database).await?;
            println!(
                "tenant `{tenant}` created on policy {} v{}; log in as `admin`",
                policy.id, policy.version
            );
            Ok(())
        }
        Command::Migrate { db, checkpoints } => {
            let database = Db::connect(&db.database_url).await.context("opening the database")?;
            // A new database starts a new checkpoint folder (an old one is moved aside).
            checkpoints.open(&db.database_url, &database)?;
            println!("migrations applied; database is up to date");
            database.close().await;
            Ok(())
        }
        Command::VerifyHistory {
            db,
            checkpoints,
            public_key,
            thorough,
        } => {
            let database = connect(&db.database_url).await?;
            let dir = checkpoints.dir(&db.database_url);
            let broken = verify_history(&database, &dir, public_key, thorough).await?;
            database.close().await;
            if broken {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Backup { db, to, checkpoints } => {
            let database = connect(&db.database_url).await?;
            checkpoints.write(&db.database_url, &database).await?;
            let heads = kehu_store::history::heads(&database).await?;
            let started = std::time::Instant::now();
            let bytes = kehu_store::backup::backup(&database, &db.database_url, &to)
                .await
                .with_context(|| format!("backing up to {}", to.display()))?;
            database.close().await;
            println!(
                "backed up to {} ({:.1} MB) in {:.1} s",
                to.display(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            for h in heads {
                println!("  {}: history up to event {} at least", h.slug, h.last_seq);
            }
            Ok(())
        }
        Command::Restore { from, db, checkpoints } => restore(&from, &db.database_url, &checkpoints).await,
        Command::Sweep {
            db,
            virtual_clock,
            checkpoints,
        } => {
            init_tracing();
            let database = connect(&db.database_url).await?;
            let state = kehu_server::AppState::new(database, virtual_clock).await?;
            let started = std::time::Instant::now();
            let fired = kehu_server::lifecycle::sweep(&state, state.now())
                .await
                .map_err(|e| anyhow::anyhow!("sweep failed: {e}"))?;
            let left = kehu_store::deadlines::count_due(&state.db, state.now()).await?;
            checkpoints.write(&db.database_url, &state.db).await?;
            println!(
                "fired {fired} deadline(s) in {:.2} s; {left} still due (held by another process, or failed to fire: see the log)",
                started.elapsed().as_secs_f64()
            );
            state.db.close().await;
            Ok(())
        }
        Command::Generate {
            db,
            tenant,
            customers,
            writers,
            lapsing_claims,
            checkpoints,
        } => {
            let database = connect(&db.database_url).await?;
            generate::run(database.clone(), &tenant, customers, writers, lapsing_claims).await?;
            checkpoints.write(&db.database_url, &database).await?;
            database.close().await;
            Ok(())
        }
    }
}

/// `kehu restore`: see [`Command::Restore`].
async fn restore(from: &std::path::Path, url: &str, checkpoints: &CheckpointArgs) -> anyhow::Result<()> {
    use kehu_store::backup;
    if !backup::target_is_empty(url).await? {
        bail!(
            "{} holds a Kehu database already (or a SQLite file's -wal, -shm or -journal log): restore into a new SQLite file or an empty PostgreSQL database (move the old one aside first, with its log files)",
            redact(url)
        );
    }
    let started = std::time::Instant::now();
    backup::restore(from, url)
        .await
        .with_context(|| format!("restoring {}", from.display()))?;
    let sqlite = backup::sqlite_path(url).map(std::path::PathBuf::from);
    let staged_url = match &sqlite {
        Some(p) => format!("sqlite://{}", backup::restoring_path(p).display()),
        None => url.to_string(),
    };
    let discard = |why: String| -> anyhow::Error {
        match &sqlite {
            Some(p) => {
                let staged = backup::restoring_path(p);
                for s in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{s}", staged.display()));
                }
                anyhow::anyhow!("{why}; nothing was restored")
            }
            None => anyhow::anyhow!("{why}; the restored schema is in place: drop it before using it"),
        }
    };
    let db = match connect(&staged_url).await {
        Ok(db) => db,
        Err(e) => return Err(discard(format!("the backup cannot be opened ({e:#})"))),
    };
    match backup::integrity(&db, true).await? {
        backup::Integrity::Ok => println!("integrity check: ok"),
        backup::Integrity::NotChecked(why) => println!("integrity check: not run ({why})"),
        backup::Integrity::Damaged(problems) => {
            db.close().await;
            return Err(discard(format!(
                "the backup fails the integrity check: {}",
                problems.join("; ")
            )));
        }
    }
    // The restored history must agree with every checkpoint up to its head; checkpoints past it
    // name the events recorded after the backup.
    let dir = checkpoints.dir(url);
    let mut cps = match kehu_store::anchor::public_key(&dir)? {
        Some(k) => kehu_store::anchor::read(&dir, &k),
        None => kehu_store::anchor::Checkpoints::default(),
    };
    if cps.by_tenant.is_empty() {
        println!(
            "WARNING: no signed checkpoint in {} to hold the restored history to; it is checked against itself only",
            dir.display()
        );
    }
    let mut restored = std::collections::HashMap::new();
    let mut report = Vec::new();
    for t in kehu_store::history::heads(&db).await? {
        let head = t.last_seq;
        let all = cps.by_tenant.remove(&t.tenant_id).unwrap_or_default();
        let newest = all.last_key_value().map(|(s, _)| *s);
        let held: std::collections::BTreeMap<i64, String> = all.into_iter().filter(|(s, _)| *s <= head).collect();
        let count = held.len();
        match kehu_store::history::verify(&db, t.tenant_id, held).await? {
            Ok(n) => {
                restored.insert(t.tenant_id, head);
                let lost = match newest {
                    Some(s) if s > head => format!(
                        "; events {} to {s} were recorded after this backup and are not in it",
                        head + 1
                    ),
                    _ => String::new(),
                };
                report.push(format!(
                    "  {}: {n} events, held to {count} signed checkpoint(s){lost}",
                    t.slug
                ));
            }
            Err(b) => {
                db.close().await;
                return Err(discard(format!(
                    "tenant {}: the backup's history does not match the signed checkpoints (event {}, {})",
                    t.slug,
                    b.first_bad_event(),
                    b.reason()
                )));
            }
        }
    }
    db.close().await;
    // The folder first, then the database: a crash in between leaves the restore to be run
    // again (its target is still empty), never a database the checkpoints disagree with.
    if let Some(aside) = kehu_store::anchor::rewind(&dir, &restored)? {
        println!("the checkpoints before the restore were moved to {}", aside.display());
    }
    if let Some(p) = &sqlite {
        backup::finish_sqlite_restore(p)?;
    }
    let db = connect(url).await?;
    checkpoints.write(url, &db).await?;
    db.close().await;
    println!(
        "restored {} into {} in {:.1} s",
        from.display(),
        redact(url),
        started.elapsed().as_secs_f64()
    );
    for line in report {
        println!("{line}");
    }
    Ok(())
}

/// `kehu verify-history`: every tenant's chain, held to the signed checkpoints in `dir`. Prints
/// a line per tenant; returns whether anything failed or is not vouched for.
async fn verify_history(
    db: &Db,
    dir: &std::path::Path,
    public_key: Option<String>,
    thorough: bool,
) -> anyhow::Result<bool> {
    let mut broken = false;
    let key = match public_key {
        Some(k) => Some(k.trim().to_ascii_lowercase()),
        None => kehu_store::anchor::public_key(dir)?,
    };
    // The checkpoints are read before the chains, so each is older than the head read next.
    let mut cps = match &key {
        Some(k) => kehu_store::anchor::read(dir, k),
        None => kehu_store::anchor::Checkpoints {
            missing: !dir.exists(),
            ..Default::default()
        },
    };
    if cps.missing {
        broken = true;
        println!("WARNING: the checkpoint folder {} does not exist.", dir.display());
        println!(
            "WARNING: without it the history is checked only against itself; someone with SQL access could have rewritten it unseen. If it was deleted, restore it from a copy (or pass --checkpoint-dir)."
        );
    } else if key.is_none() {
        broken = true;
        println!(
            "ERROR: the checkpoints in {} cannot be checked: the key file {} is missing; pass --public-key HEX (printed by `kehu serve`).",
            dir.display(),
            kehu_store::anchor::key_path(dir).display()
        );
    }
    for s in &cps.stray {
        println!("warning: {s}");
    }
    // The database's own check runs beside the chains' (each on its own reading connection, so
    // on two cores the two take about as long as the longer one).
    let integrity = {
        let db = db.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            (kehu_store::backup::integrity(&db, thorough).await, started.elapsed())
        })
    };
    for t in kehu_store::tenants::list(db).await? {
        if let Some(bad) = cps.bad.remove(&t.id) {
            broken = true;
            println!("{}: BROKEN: {} checkpoint(s) cannot be trusted", t.slug, bad.len());
            for b in bad {
                println!("  {b}");
            }
        }
        let anchors = cps.by_tenant.remove(&t.id).unwrap_or_default();
        let (count, newest) = (anchors.len(), anchors.last_key_value().map(|(s, _)| *s));
        match kehu_store::history::verify(db, t.id, anchors).await? {
            Ok(n) if count == 0 => {
                broken = true;
                println!(
                    "{}: NOT ANCHORED: {n} events verified against each other, but no signed checkpoint in {} vouches for them",
                    t.slug,
                    dir.display()
                );
            }
            Ok(n) => println!(
                "{}: ok, {n} events verified, held to {count} signed checkpoint(s) (newest at event {})",
                t.slug,
                newest.unwrap_or(0)
            ),
            Err(b) => {
                broken = true;
                println!("{}: BROKEN at event {} ({})", t.slug, b.first_bad_event(), b.reason());
            }
        }
    }
    let (checked, took) = integrity.await?;
    match checked? {
        kehu_store::backup::Integrity::Ok => {
            println!("database integrity check: ok ({:.1} s)", took.as_secs_f64())
        }
        kehu_store::backup::Integrity::NotChecked(why) => println!("database integrity check: not run ({why})"),
        kehu_store::backup::Integrity::Damaged(problems) => {
            broken = true;
            println!("database integrity check: DAMAGED");
            for p in problems.iter().take(20) {
                println!("  {p}");
            }
        }
    }
    let mut gone: Vec<i64> = cps.by_tenant.keys().chain(cps.bad.keys()).copied().collect();
    gone.sort_unstable();
    gone.dedup();
    for id in gone {
        broken = true;
        println!("tenant {id}: BROKEN: checkpoints vouch for its history, but the database has no such tenant");
    }
    Ok(broken)
}

/// The admin password from a prompt (typed twice, not echoed), or the first line of standard
/// input when it is not a terminal (`kehu init ... < password-file`).
fn ask_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the admin password from standard input")?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        if pw.is_empty() {
            bail!("no admin password: set KEHU_ADMIN_PASSWORD, pass --admin-password, or type it at the prompt");
        }
        return Ok(pw);
    }
    let first = rpassword::prompt_password("admin password: ").context("reading the password")?;
    let again = rpassword::prompt_password("again: ").context("reading the password")?;
    if first != again {
        bail!("the two passwords differ");
    }
    Ok(first)
}

async fn connect(url: &str) -> anyhow::Result<Db> {
    Db::connect(url)
        .await
        .with_context(|| format!("opening the database {}", redact(url)))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn serve(
    state: kehu_server::AppState,
    listen: &str,
    demo: Option<(&PathBuf, Vec<demo::Login>)>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    println!();
    println!("  Kehu (客户) is running: http://{addr}/");
    if let Some((db, logins)) = demo {
        println!("  demo database: {}", db.display());
        println!("  logins (username / password / role):");
        let w = logins.iter().map(|l| l.username.len()).max().unwrap_or(0).max(12);
        for l in logins {
            println!("    {:<w$} {:<14} {}", l.username, l.password, l.role);
        }
    }
    if state.clock.is_virtual() {
        println!("  virtual clock: POST /api/v1/clock/advance moves time forward (admin)");
    }
    if let Some(a) = &state.anchor {
        // Signed before the address is printed, so whatever the start wrote is vouched for.
        state.checkpoint().await;
        println!("  history checkpoints: {}", a.dir().display());
        println!(
            "    signing key {} (public {})",
            kehu_store::anchor::key_path(a.dir()).display(),
            a.public_hex()
        );
    }
    if let Some(f) = &state.files {
        println!("  files attached to cases: {}", f.dir().display());
    }
    println!("  API: http://{addr}/api/v1/openapi.json    stop: Ctrl-C");
    println!();
    let db = state.db.clone();
    kehu_server::serve(listener, state).await?;
    // A clean close checkpoints the SQLite write-ahead log into the database file.
    db.close().await;
    Ok(())
}

fn policy_check(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = false;
    for f in files {
        let name = f.display().to_string();
        let src = match std::fs::read_to_string(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{name}: error: cannot read the file: {e}");
                failed = true;
                continue;
            }
        };
        match Policy::parse(&src, &name) {
            Ok(p) => {
                println!(
                    "{name}: ok: policy `{}` version {}, {} roles, time zone {}",
                    p.id,
                    p.version,
                    p.roles.len(),
                    p.time_zone
                );
                // Sections of an earlier Kehu still run, read as their workflows.
                for r in &p.retired {
                    println!("{name}: note: {}", r.advice());
                }
            }
            Err(errs) => {
                eprintln!("{errs}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
