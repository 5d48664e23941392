use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "study_options")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub new_per_day: i32,
    pub reviews_per_day: i32,
    /// Steps as Anki writes them, space-separated (`1m 10m`).
    pub learning_steps: String,
    pub relearning_steps: String,
    pub maximum_interval_days: i32,
    pub desired_retention: Option<f64>,
    pub new_order: String,
    pub bury_siblings: bool,
    pub leech_threshold: i32,
    pub leech_action: String,
    pub exam_date: Option<Date>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
