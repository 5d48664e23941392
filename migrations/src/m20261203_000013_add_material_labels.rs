//! Material of every kind: a document's own title and detected language, a chunk's page label
//! ("slide 12", "p. 4", "Chapter 3") and heading path, and a card source's page label.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261126_000005_create_documents::{Chunks, Documents};
use super::m20261126_000006_create_flashcards::Flashcards;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Added {
    Title,
    Language,
    PageLabel,
    Heading,
    SourcePageLabel,
}

/// The columns added, one `ALTER TABLE` each (SQLite adds one column at a time).
fn columns() -> Vec<(DynIden, ColumnDef)> {
    vec![
        (
            Documents::Table.into_iden(),
            string_len_null(Added::Title, 300),
        ),
        (
            Documents::Table.into_iden(),
            string_len_null(Added::Language, 16),
        ),
        (
            Chunks::Table.into_iden(),
            string_len_null(Added::PageLabel, 160),
        ),
        (Chunks::Table.into_iden(), text_null(Added::Heading)),
        (
            Flashcards::Table.into_iden(),
            string_len_null(Added::SourcePageLabel, 160),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, mut column) in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in columns().into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(column.get_column_name())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
