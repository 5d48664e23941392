//! `flashforge`: serve the API, run background work, migrate the database, check the
//! configuration, print the OpenAPI document.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flashforge::database::open_database;
use flashforge::settings::{DatabaseKind, Environment, LoadNotes, Settings};
use flashforge::startup::{Application, reconcile, reindex, run_worker};
use flashforge::telemetry;
use flashforge_domain::knowledge::{ExtractionLimits, MediaType};
use flashforge_sql::Migration;

#[derive(Parser)]
#[command(
    name = "flashforge",
    version,
    about = "FlashForge: study from your own material"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, with the background worker in the same process (unless worker.enabled=false).
    Serve,
    /// Run only the background worker (scale out with more of these).
    Worker,
    /// Change or inspect the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the OpenAPI document (what `make docs` writes to docs/openapi.json).
    Openapi,
    /// Exit 0 when this deployment is healthy: the API at server.host:server.port answers
    /// /health/ready with 200 (or, with --worker, the worker's heartbeat file is fresh).
    Healthcheck {
        /// Check the worker of this container (worker.heartbeat_file) instead of the API.
        #[arg(long)]
        worker: bool,
    },
    /// Print a shell completion script: `flashforge completions bash > /etc/bash_completion.d/flashforge`.
    Completions { shell: clap_complete::Shell },
    /// Knowledge-base maintenance.
    Kb {
        #[command(subcommand)]
        action: KbAction,
    },
    /// Write a backup: one compressed archive of the database, the embedded vector index, local
    /// blobs, and a manifest with a checksum for every file.
    Backup {
        /// The archive to create (it must not exist), or a folder to write `<UTC time>.tar.zst`
        /// into; default: backup.dir.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Restore a backup made by `flashforge backup` into the configured deployment. Stop the
    /// server and workers first.
    Restore {
        /// The backup: its `.tar.zst` archive (or the folder of a format-1 backup).
        dir: PathBuf,
        /// Replace a deployment that already holds data.
        #[arg(long)]
        force: bool,
    },
    /// Read a file on stdin and print its pages as JSON (the ingestion worker's guarded child).
    #[command(hide = true)]
    ExtractPdf {
        /// The file's format, as the upload's inspection decided it.
        #[arg(long, default_value = "pdf", value_parser = parse_media_type)]
        media_type: MediaType,
        /// Stop with a reason when the parts of a container expand past this many bytes.
        #[arg(long, default_value_t = ExtractionLimits::default().max_unpacked_bytes)]
        max_unpacked_bytes: u64,
        /// Stop with a reason past this many pages.
        #[arg(long, default_value_t = ExtractionLimits::default().max_pages)]
        max_pages: u32,
        /// Stop with a reason past this many characters of text.
        #[arg(long, default_value_t = ExtractionLimits::default().max_chars)]
        max_chars: u64,
        /// Stop with a reason past this many characters on one page.
        #[arg(long, default_value_t = ExtractionLimits::default().max_page_chars)]
        max_page_chars: u64,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum KbAction {
    /// Remove index points without a chunk, and queue again documents whose chunks lack points.
    Reconcile,
    /// Embed every chunk with the configured model into a new index, then switch to it.
    Reindex,
}

#[derive(Subcommand, Clone, Copy)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
    /// Drop everything and apply every migration again. Destroys data: outside development it
    /// needs --yes.
    Fresh {
        /// Yes, destroy every table of this database.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum ConfigAction {
    /// Validate the configuration and print it, secrets redacted.
    Check,
}

fn parse_media_type(raw: &str) -> Result<MediaType, String> {
    MediaType::parse(raw).ok_or_else(|| format!("unknown media type {raw}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::ExtractPdf {
        media_type,
        max_unpacked_bytes,
        max_pages,
        max_chars,
        max_page_chars,
    } = cli.command
    {
        let limits = ExtractionLimits {
            max_pages,
            max_chars,
            max_page_chars,
            max_unpacked_bytes,
            ..ExtractionLimits::default()
        };
        return match flashforge_files::run_extractor_child(media_type, &limits) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "flashforge", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    if let Command::Openapi = cli.command {
        print!("{}", flashforge_http::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let (settings, notes) = match Settings::load() {
        Ok(loaded) => loaded,
        Err(error) => {
            eprint!("{error}");
            return ExitCode::from(2);
        }
    };
    if let Command::Healthcheck { worker } = cli.command {
        let checked = if worker {
            flashforge::healthcheck::worker(&settings)
        } else {
            flashforge::healthcheck::api(&settings)
        };
        return match checked {
            Ok(what) => {
                println!("healthy: {what}");
                ExitCode::SUCCESS
            }
            Err(why) => {
                eprintln!("unhealthy: {why}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Config {
        action: ConfigAction::Check,
    } = cli.command
    {
        for warning in &notes.warnings {
            eprintln!("warning: {warning}");
        }
        println!("{}", settings.redacted_json());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command, settings, notes))
}

async fn run(command: Command, settings: Settings, notes: LoadNotes) -> ExitCode {
    // Held to the end of `run`: dropping it flushes the spans still waiting for export.
    let _telemetry = match telemetry::init(&settings.log) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for file in &notes.files {
        tracing::info!(file = %file.display(), "configuration file read");
    }
    for warning in &notes.warnings {
        tracing::warn!("{warning}");
    }
    let outcome = match command {
        Command::Serve => serve(settings).await,
        Command::Worker => run_worker(settings).await.map_err(|e| e.to_string()),
        Command::Migrate { action } => migrate(settings, action).await,
        Command::Kb { action } => kb(settings, action).await,
        Command::Backup { out } => flashforge::backup::backup_command(&settings, out)
            .await
            .map_err(|e| e.to_string()),
        Command::Restore { dir, force } => {
            flashforge::backup::restore_command(&settings, &dir, force)
                .await
                .map_err(|e| e.to_string())
        }
        Command::Config { .. }
        | Command::Openapi
        | Command::ExtractPdf { .. }
        | Command::Healthcheck { .. }
        | Command::Completions { .. } => Ok(()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn migrate(settings: Settings, action: MigrateAction) -> Result<(), String> {
    if settings.database.kind() == Some(DatabaseKind::Memory) {
        return Err("database.url is memory://: there is no schema to migrate".into());
    }
    if let MigrateAction::Fresh { yes: false } = action
        && settings.environment != Environment::Development
    {
        return Err(format!(
            "`migrate fresh` drops every table of the {} database: pass --yes to confirm",
            settings.environment.as_str()
        ));
    }
    let db = open_database(&settings).await.map_err(|e| e.to_string())?;
    let result = match action {
        MigrateAction::Up => flashforge_sql::migrate(&db, Migration::Up).await,
        MigrateAction::Down => flashforge_sql::migrate(&db, Migration::Down).await,
        MigrateAction::Fresh { .. } => flashforge_sql::migrate(&db, Migration::Fresh).await,
        MigrateAction::Status => match flashforge_sql::migration_status(&db).await {
            Ok(rows) => {
                for (name, applied) in rows {
                    println!("{name}\t{}", if applied { "applied" } else { "pending" });
                }
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    let _ = db.close().await;
    result.map_err(|e| format!("migration failed: {e}"))
}

async fn kb(settings: Settings, action: KbAction) -> Result<(), String> {
    match action {
        KbAction::Reconcile => {
            let report = reconcile(settings).await.map_err(|e| e.to_string())?;
            println!(
                "checked {} index points and {} chunks: removed {} orphan points, queued {} documents again",
                report.vectors_checked,
                report.chunks_checked,
                report.orphan_vectors_removed,
                report.documents_requeued
            );
        }
        KbAction::Reindex => {
            let written = reindex(settings).await.map_err(|e| e.to_string())?;
            println!("reindexed {written} chunks; the index now uses the configured model");
        }
    }
    Ok(())
}
