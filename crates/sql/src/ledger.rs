//! [`UsageLedger`] on sea-orm: `model_usage` rows are only ever inserted; the day counter in
//! `model_usage_days` changes through single conditional upserts, so two reservations cannot
//! both pass a budget that fits one.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::spend::{LedgerEntry, Purpose, UsageLedger};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement, TransactionTrait};

use crate::errors::{corrupt, infra};

pub struct SqlUsageLedger {
    db: DatabaseConnection,
}

impl SqlUsageLedger {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn count(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

#[derive(FromQueryResult)]
struct Tokens {
    #[allow(dead_code)]
    tokens: i64,
}

#[derive(FromQueryResult)]
struct Row {
    user_id: uuid::Uuid,
    purpose: String,
    model: String,
    prompt_tokens: i64,
    completion_tokens: i64,
    estimated: bool,
    created_at: DateTime<Utc>,
}

#[async_trait]
impl UsageLedger for SqlUsageLedger {
    async fn reserve(
        &self,
        user: UserId,
        day: NaiveDate,
        tokens: u64,
        limit: u64,
    ) -> Result<bool, InfraError> {
        // Numbered parameters (sqlx binds `$N` by number on SQLite too).
        let sql = "INSERT INTO model_usage_days (user_id, day, tokens) \
                   SELECT $1, $2, $3 WHERE $4 = 0 OR $3 <= $4 \
                   ON CONFLICT (user_id, day) DO UPDATE \
                   SET tokens = model_usage_days.tokens + excluded.tokens \
                   WHERE $4 = 0 OR model_usage_days.tokens + excluded.tokens <= $4 \
                   RETURNING tokens";
        let row = Tokens::find_by_statement(Statement::from_sql_and_values(
            self.db.get_database_backend(),
            sql,
            [
                user.as_uuid().into(),
                day_key(day).into(),
                count(tokens).into(),
                count(limit).into(),
            ],
        ))
        .one(&self.db)
        .await
        .map_err(infra)?;
        Ok(row.is_some())
    }

    async fn settle(
        &self,
        day: NaiveDate,
        entry: &LedgerEntry,
        reserved: u64,
    ) -> Result<(), InfraError> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await.map_err(infra)?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO model_usage (id, user_id, purpose, model, prompt_tokens, \
             completion_tokens, estimated, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                uuid::Uuid::now_v7().into(),
                entry.user_id.as_uuid().into(),
                entry.purpose.as_str().into(),
                entry.model.chars().take(200).collect::<String>().into(),
                count(entry.prompt_tokens).into(),
                count(entry.completion_tokens).into(),
                entry.estimated.into(),
                entry.at.into(),
            ],
        ))
        .await
        .map_err(infra)?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO model_usage_days (user_id, day, tokens) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, day) DO UPDATE SET tokens = \
             CASE WHEN model_usage_days.tokens > $4 THEN model_usage_days.tokens - $4 ELSE 0 END \
             + excluded.tokens",
            [
                entry.user_id.as_uuid().into(),
                day_key(day).into(),
                count(entry.tokens()).into(),
                count(reserved).into(),
            ],
        ))
        .await
        .map_err(infra)?;
        txn.commit().await.map_err(infra)
    }

    async fn release(&self, user: UserId, day: NaiveDate, reserved: u64) -> Result<(), InfraError> {
        self.db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                "UPDATE model_usage_days SET tokens = \
                 CASE WHEN tokens > $3 THEN tokens - $3 ELSE 0 END \
                 WHERE user_id = $1 AND day = $2",
                [
                    user.as_uuid().into(),
                    day_key(day).into(),
                    count(reserved).into(),
                ],
            ))
            .await
            .map_err(infra)?;
        Ok(())
    }

    async fn used_on(&self, user: UserId, day: NaiveDate) -> Result<u64, InfraError> {
        let row = Tokens::find_by_statement(Statement::from_sql_and_values(
            self.db.get_database_backend(),
            "SELECT tokens FROM model_usage_days WHERE user_id = $1 AND day = $2",
            [user.as_uuid().into(), day_key(day).into()],
        ))
        .one(&self.db)
        .await
        .map_err(infra)?;
        Ok(row.map_or(0, |r| r.tokens.max(0) as u64))
    }

    async fn entries(
        &self,
        user: UserId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<LedgerEntry>, InfraError> {
        let rows = Row::find_by_statement(Statement::from_sql_and_values(
            self.db.get_database_backend(),
            "SELECT user_id, purpose, model, prompt_tokens, completion_tokens, estimated, \
             created_at FROM model_usage WHERE user_id = $1 AND created_at >= $2 \
             ORDER BY created_at, id LIMIT $3",
            [user.as_uuid().into(), since.into(), count(limit).into()],
        ))
        .all(&self.db)
        .await
        .map_err(infra)?;
        rows.into_iter()
            .map(|row| {
                Ok(LedgerEntry {
                    user_id: UserId::from_uuid(row.user_id),
                    purpose: Purpose::parse(&row.purpose).ok_or_else(|| {
                        corrupt("model_usage", format!("unknown purpose {:?}", row.purpose))
                    })?,
                    model: row.model,
                    prompt_tokens: row.prompt_tokens.max(0) as u64,
                    completion_tokens: row.completion_tokens.max(0) as u64,
                    estimated: row.estimated,
                    at: row.created_at,
                })
            })
            .collect()
    }

    async fn delete_user(&self, user: UserId) -> Result<u64, InfraError> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await.map_err(infra)?;
        let deleted = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "DELETE FROM model_usage WHERE user_id = $1",
                [user.as_uuid().into()],
            ))
            .await
            .map_err(infra)?
            .rows_affected();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "DELETE FROM model_usage_days WHERE user_id = $1",
            [user.as_uuid().into()],
        ))
        .await
        .map_err(infra)?;
        txn.commit().await.map_err(infra)?;
        Ok(deleted)
    }
}
