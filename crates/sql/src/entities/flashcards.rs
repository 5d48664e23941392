use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "flashcards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub chat_id: Uuid,
    pub question: String,
    pub answer: String,
    /// JSON array of tags.
    pub tags: String,
    pub suspended: bool,
    pub source_document_id: Option<Uuid>,
    pub source_chunk_id: Option<Uuid>,
    pub source_page: Option<i32>,
    pub source_page_label: Option<String>,
    pub source_quote: Option<String>,
    pub state: String,
    pub stability: Option<f64>,
    pub difficulty: Option<f64>,
    pub due: DateTimeUtc,
    pub reps: i32,
    pub lapses: i32,
    pub step: i32,
    pub last_reviewed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The card's place in a random new-card order.
    pub shuffle: i32,
    /// Null only for a card stored before notes existed and not migrated (read as its own id).
    pub note_id: Option<Uuid>,
    pub kind: String,
    pub ordinal: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
