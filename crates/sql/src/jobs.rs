//! [`JobQueue`] on sea-orm. A claim is one `UPDATE … WHERE id = (SELECT … LIMIT 1)` statement:
//! on Postgres the inner select takes the row `FOR UPDATE SKIP LOCKED`, so concurrent workers
//! each get a different job without waiting on each other; SQLite runs one writer at a time, so
//! the same statement is atomic there as it stands.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::knowledge::{Job, JobId, JobPayload, JobQueue, NewJob, QueueStats};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use crate::entities::jobs;
use crate::errors::{corrupt, infra};

const QUEUED: &str = "queued";
const RUNNING: &str = "running";
const DONE: &str = "done";
const DEAD: &str = "dead";

/// The row of a new job, for inserting inside another repository's transaction.
pub(crate) fn job_row(job: &NewJob, now: DateTime<Utc>) -> Result<jobs::ActiveModel, InfraError> {
    Ok(jobs::ActiveModel {
        id: Set(job.id.as_uuid()),
        kind: Set(job.payload.kind().to_string()),
        payload: Set(serde_json::to_string(&job.payload).map_err(InfraError::internal)?),
        request_id: Set(job.request_id.clone()),
        status: Set(QUEUED.to_string()),
        attempts: Set(0),
        max_attempts: Set(i32::try_from(job.max_attempts).unwrap_or(i32::MAX)),
        run_at: Set(job.run_at),
        locked_by: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

pub struct SqlJobQueue {
    db: DatabaseConnection,
}

impl SqlJobQueue {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(FromQueryResult)]
struct Claimed {
    id: uuid::Uuid,
    payload: String,
    request_id: Option<String>,
    attempts: i32,
    max_attempts: i32,
    created_at: DateTime<Utc>,
}

impl SqlJobQueue {
    fn held(&self, job: JobId, worker: &str) -> sea_orm::UpdateMany<jobs::Entity> {
        jobs::Entity::update_many()
            .filter(jobs::Column::Id.eq(job.as_uuid()))
            .filter(jobs::Column::Status.eq(RUNNING))
            .filter(jobs::Column::LockedBy.eq(worker))
    }
}

#[async_trait]
impl JobQueue for SqlJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<(), InfraError> {
        jobs::Entity::insert(job_row(&job, job.run_at)?)
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(())
    }

    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, InfraError> {
        let backend = self.db.get_database_backend();
        let (lock, placeholders) = match backend {
            DatabaseBackend::Postgres => ("FOR UPDATE SKIP LOCKED", ["$1", "$2", "$3", "$4", "$5"]),
            _ => ("", ["?", "?", "?", "?", "?"]),
        };
        let [p1, p2, p3, p4, p5] = placeholders;
        let sql = format!(
            "UPDATE jobs SET status = '{RUNNING}', locked_by = {p1}, lease_until = {p2}, \
             attempts = attempts + 1, updated_at = {p3} \
             WHERE id = (SELECT id FROM jobs \
                 WHERE (status = '{QUEUED}' AND run_at <= {p4}) \
                    OR (status = '{RUNNING}' AND lease_until < {p5}) \
                 ORDER BY run_at, id LIMIT 1 {lock}) \
             RETURNING id, payload, request_id, attempts, max_attempts, created_at"
        );
        let statement = Statement::from_sql_and_values(
            backend,
            sql,
            [
                worker.into(),
                lease_until.into(),
                now.into(),
                now.into(),
                now.into(),
            ],
        );
        let Some(row) = Claimed::find_by_statement(statement)
            .one(&self.db)
            .await
            .map_err(infra)?
        else {
            return Ok(None);
        };
        let payload: JobPayload =
            serde_json::from_str(&row.payload).map_err(|e| corrupt("jobs", e))?;
        Ok(Some(Job {
            id: JobId::from_uuid(row.id),
            payload,
            request_id: row.request_id,
            attempts: row.attempts.max(0) as u32,
            max_attempts: row.max_attempts.max(0) as u32,
            created_at: row.created_at,
        }))
    }

    async fn heartbeat(
        &self,
        job: JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        Ok(self
            .held(job, worker)
            .col_expr(jobs::Column::LeaseUntil, Expr::value(Some(lease_until)))
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected
            == 1)
    }

    async fn complete(&self, job: JobId, worker: &str) -> Result<bool, InfraError> {
        Ok(self
            .held(job, worker)
            .col_expr(jobs::Column::Status, Expr::value(DONE))
            .col_expr(
                jobs::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected
            == 1)
    }

    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, InfraError> {
        let error: String = error.chars().take(4000).collect();
        let mut update = self
            .held(job, worker)
            .col_expr(jobs::Column::LastError, Expr::value(Some(error)))
            .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
            .col_expr(
                jobs::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()));
        update = match retry_at {
            Some(at) => update
                .col_expr(jobs::Column::Status, Expr::value(QUEUED))
                .col_expr(jobs::Column::RunAt, Expr::value(at)),
            None => update.col_expr(jobs::Column::Status, Expr::value(DEAD)),
        };
        Ok(update.exec(&self.db).await.map_err(infra)?.rows_affected == 1)
    }

    async fn stats(&self, _now: DateTime<Utc>) -> Result<QueueStats, InfraError> {
        let count = |status: &'static str| {
            jobs::Entity::find()
                .filter(jobs::Column::Status.eq(status))
                .count(&self.db)
        };
        let queued = count(QUEUED).await.map_err(infra)?;
        let running = count(RUNNING).await.map_err(infra)?;
        let dead = count(DEAD).await.map_err(infra)?;
        let oldest_queued_at = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::CreatedAt)
            .filter(jobs::Column::Status.eq(QUEUED))
            .order_by_asc(jobs::Column::CreatedAt)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.db)
            .await
            .map_err(infra)?;
        Ok(QueueStats {
            queued,
            running,
            dead,
            oldest_queued_at,
        })
    }
}
