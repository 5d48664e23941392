//! The database side: dumps, counts, `pg_dump`/`pg_restore`.

use super::*;

// ---------------------------------------------------------------------------------------------
// The database

pub(super) fn dump_kind(settings: &Settings) -> Result<DumpKind, BackupError> {
    match settings.database.kind() {
        Some(DatabaseKind::Postgres) => Ok(DumpKind::Postgres),
        Some(DatabaseKind::Sqlite) if sqlite_file(settings.database.url.expose()).is_some() => {
            Ok(DumpKind::Sqlite)
        }
        Some(DatabaseKind::Sqlite | DatabaseKind::Memory) => Err(BackupError::InMemoryDatabase),
        None => Err(BackupError::UnsupportedDatabase),
    }
}

/// The file of a `sqlite://path?…` or `sqlite:path` URL (`None` for an in-memory one).
pub(super) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

pub(super) async fn connect(settings: &Settings) -> Result<DatabaseConnection, BackupError> {
    Ok(crate::database::open_database(settings).await?)
}

/// A SQLite file opened read-only and immutable: no journal or lock files appear beside it.
pub(super) async fn open_sqlite_read_only(path: &Path) -> Result<DatabaseConnection, BackupError> {
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let pool = sea_orm::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|source| BackupError::OpenCopy {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// What was read from the database beside the dump.
pub(super) struct DatabaseFacts {
    pub(super) latest_migration: Option<String>,
    pub(super) counts: BTreeMap<String, u64>,
}

pub(super) async fn database_facts<C: ConnectionTrait>(
    db: &C,
) -> Result<DatabaseFacts, BackupError> {
    let counts = table_counts(db).await?;
    let latest_migration = if counts.contains_key("seaql_migrations") {
        scalar_text(
            db,
            "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1",
        )
        .await?
    } else {
        None
    };
    Ok(DatabaseFacts {
        latest_migration,
        counts,
    })
}

/// The tables of the database (the current schema on Postgres), by name.
pub(super) async fn table_names<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, BackupError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .map_err(|e| BackupError::query("cannot list the tables", e))?;
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).map_err(BackupError::Row))
        .collect()
}

/// Rows per table, for every table of the database.
pub(super) async fn table_counts<C: ConnectionTrait>(
    db: &C,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let mut counts = BTreeMap::new();
    for table in table_names(db).await? {
        let n = count_rows(db, &table).await?;
        counts.insert(table, n);
    }
    Ok(counts)
}

pub(super) async fn count_rows<C: ConnectionTrait>(
    db: &C,
    table: &str,
) -> Result<u64, BackupError> {
    let quoted = table.replace('"', "\"\"");
    let sql = format!("SELECT COUNT(*) FROM \"{quoted}\"");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(|e| BackupError::query(format!("cannot count the rows of {table}"), e))?
        .ok_or_else(|| BackupError::Unexpected(format!("cannot count the rows of {table}")))?;
    let n = row
        .try_get_by_index::<i64>(0)
        .map_err(|e| BackupError::query(format!("cannot count the rows of {table}"), e))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

pub(super) async fn scalar_text<C: ConnectionTrait>(
    db: &C,
    sql: &str,
) -> Result<Option<String>, BackupError> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(|e| BackupError::query(format!("`{sql}` failed"), e))?;
    row.map(|row| row.try_get_by_index::<String>(0))
        .transpose()
        .map_err(|e| BackupError::query(format!("`{sql}` failed"), e))
}

/// Runs `pg_dump` or `pg_restore` on the database at `url`. A password in the URL goes to the
/// child in `PGPASSWORD`, not on its command line, and never into an error message.
pub(super) fn run_pg(
    program: &str,
    args: Vec<OsString>,
    url: &str,
    file: Option<&Path>,
) -> Result<(), BackupError> {
    let (url, password) = split_password(url);
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .arg("--dbname")
        .arg(&url)
        .stdin(std::process::Stdio::null());
    if let Some(file) = file {
        command.arg(file);
    }
    if let Some(password) = &password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().map_err(|source| {
        let program = program.to_string();
        if source.kind() == std::io::ErrorKind::NotFound {
            BackupError::ToolMissing { program, source }
        } else {
            BackupError::ToolStart { program, source }
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        stderr = stderr.replace(&password, "[REDACTED]");
    }
    Err(BackupError::ToolFailed {
        program: program.to_string(),
        status: output.status,
        stderr,
    })
}

/// The URL without its password, and the password (percent-decoded).
pub(super) fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_string(), None);
    };
    (
        format!("{scheme}://{user}@{host}{tail}"),
        Some(percent_decode(password)),
    )
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
