//! `flashforge-migration up|down|status|fresh` against `DATABASE_URL`, for operators who want the
//! migrations without the server binary (`flashforge migrate …` does the same with the server's
//! configuration).

use flashforge_migration::{Migrator, MigratorTrait, migration_status};
use sea_orm_migration::sea_orm::Database;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let command = std::env::args().nth(1).unwrap_or_default();
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL to the database to migrate".to_string())?;
    let db = Database::connect(&url)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let result = match command.as_str() {
        "up" => Migrator::up(&db, None).await,
        "down" => Migrator::down(&db, Some(1)).await,
        "fresh" => {
            // Destroys every table: outside development, only when asked twice.
            let development =
                std::env::var("FLASHFORGE_ENV").map_or(true, |env| env == "development");
            if !development && std::env::args().nth(2).as_deref() != Some("--yes") {
                return Err("`fresh` drops every table: pass --yes to confirm".into());
            }
            Migrator::fresh(&db).await
        }
        "status" => match migration_status(&db).await {
            Ok(rows) => {
                for (name, applied) in rows {
                    println!("{name}\t{}", if applied { "applied" } else { "pending" });
                }
                Ok(())
            }
            Err(e) => Err(e),
        },
        _ => return Err("usage: flashforge-migration up|down|status|fresh [--yes]".into()),
    };
    result.map_err(|e| e.to_string())
}
