use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reviews")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub card_id: Uuid,
    pub user_id: Uuid,
    pub rating: String,
    pub state_before: String,
    pub reviewed_at: DateTimeUtc,
    pub elapsed_days: i32,
    pub duration_ms: Option<i32>,
    pub stability: f64,
    pub difficulty: f64,
    pub idempotency_key: Option<String>,
    /// JSON: the card before the review (what undo puts back).
    pub card_before: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
