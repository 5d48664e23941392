//! The `flashforge backup` and `flashforge restore` commands.

use super::*;

// ---------------------------------------------------------------------------------------------
// The command line

/// `flashforge backup [--out PATH]`: PATH (a new file, or a folder to write
/// `<UTC time>.tar.zst` into) defaults to `backup.dir`.
pub async fn backup_command(settings: &Settings, out: Option<PathBuf>) -> Result<(), BackupError> {
    let out = match out {
        Some(out) => out,
        None => {
            create_dir(&settings.backup.dir)?;
            settings.backup.dir.clone()
        }
    };
    let (out, manifest) = backup(settings, &out, None).await?;
    let rows: u64 = manifest.database.counts.values().sum();
    let bytes: u64 = manifest.files.values().map(|f| f.size).sum();
    println!("backup written to {}", out.display());
    println!(
        "  database: {} ({}), schema {}, {} tables, {rows} rows",
        manifest.database.kind.as_str(),
        manifest.database.file,
        manifest
            .database
            .latest_migration
            .as_deref()
            .unwrap_or("(none)"),
        manifest.database.counts.len()
    );
    print_part("index", &manifest.index);
    print_part("blobs", &manifest.blobs);
    let archive = std::fs::metadata(&out).map(|m| m.len()).unwrap_or_default();
    println!(
        "  {} files, {bytes} bytes, each with its sha256 in {MANIFEST_FILE}; {archive} bytes \
         compressed",
        manifest.files.len()
    );
    Ok(())
}

pub(super) fn print_part<K: std::fmt::Debug>(name: &str, part: &CopiedPart<K>) {
    let kind = format!("{:?}", part.kind).to_ascii_lowercase();
    if part.copied {
        println!(
            "  {name}: {kind}, copied ({} files, {} bytes)",
            part.files, part.bytes
        );
    } else {
        println!("  {name}: {kind}, not copied");
    }
    if let Some(note) = &part.note {
        println!("    note: {note}");
    }
}

/// `flashforge restore DIR [--force]`.
pub async fn restore_command(
    settings: &Settings,
    dir: &Path,
    force: bool,
) -> Result<(), BackupError> {
    let report = restore(settings, dir, force).await?;
    let m = &report.manifest;
    println!(
        "restored {} (flashforge {}, made {}, schema {})",
        dir.display(),
        m.flashforge_version,
        m.created_at.to_rfc3339(),
        m.database.latest_migration.as_deref().unwrap_or("(none)")
    );
    println!("  {:<28} {:>10} {:>10}", "table", "backup", "restored");
    for (table, n) in &m.database.counts {
        let after = report.counts.get(table).copied().unwrap_or_default();
        println!("  {table:<28} {n:>10} {after:>10}");
    }
    if m.index.copied {
        println!(
            "  index: {} files into {}",
            m.index.files,
            settings.vector.dir.display()
        );
    }
    if m.blobs.copied {
        println!(
            "  blobs: {} files into {}",
            m.blobs.files,
            settings.storage.blob_dir.display()
        );
    }
    if let Some(r) = &report.reconciled {
        println!(
            "  index reconciled with the chunks: {} points and {} chunks checked, {} orphan \
             points removed, {} documents queued to be embedded again",
            r.vectors_checked, r.chunks_checked, r.orphan_vectors_removed, r.documents_requeued
        );
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    Ok(())
}
