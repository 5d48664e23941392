//! [`JobQueue`] on sea-orm. A claim first reads which users have runnable work and how many
//! jobs each has running (two small aggregate reads), orders them fairly, then takes a job of
//! the first user with one `UPDATE … WHERE id = (SELECT … LIMIT 1)` statement: on Postgres the
//! inner select takes the row `FOR UPDATE SKIP LOCKED`, so concurrent workers each get a
//! different job without waiting on each other; SQLite runs one writer at a time, so the same
//! statement is atomic there as it stands. The statement checks again that the job is
//! runnable, so a race between the reads and the update only ever costs a try.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::knowledge::{
    Fairness, Job, JobId, JobPayload, JobQueue, NewJob, QueueStats,
};
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
        user_id: Set(Some(job.payload.owner().as_uuid())),
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

/// A user with runnable work: their oldest runnable job's due time.
#[derive(FromQueryResult)]
struct Waiting {
    user_id: Option<uuid::Uuid>,
    first: DateTime<Utc>,
}

/// A user's running jobs.
#[derive(FromQueryResult)]
struct Running {
    user_id: Option<uuid::Uuid>,
    running: i64,
}

/// How many users a claim tries before it gives up for this round (the others were taken by
/// concurrent workers between the reads and the update).
const CLAIM_TRIES: usize = 4;

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
    /// Runs a claiming statement and reads the job it returned, if any.
    async fn claimed(&self, statement: Statement) -> Result<Option<Job>, InfraError> {
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
        fairness: Fairness,
    ) -> Result<Option<Job>, InfraError> {
        let backend = self.db.get_database_backend();
        // Numbered parameters (sqlx binds `$N` by number on SQLite too): each statement below
        // uses them out of textual order.
        let p = |n: usize| format!("${n}");
        let runnable = format!(
            "((status = '{QUEUED}' AND run_at <= {p1}) OR (status = '{RUNNING}' AND lease_until < {p2})) \
             AND attempts < max_attempts",
            p1 = p(1),
            p2 = p(2),
        );
        let waiting = Waiting::find_by_statement(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT user_id, MIN(run_at) AS first FROM jobs WHERE {runnable} GROUP BY user_id"
            ),
            [now.into(), now.into()],
        ))
        .all(&self.db)
        .await
        .map_err(infra)?;
        if waiting.is_empty() {
            return Ok(None);
        }
        let running: std::collections::HashMap<Option<uuid::Uuid>, i64> =
            Running::find_by_statement(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT user_id, COUNT(*) AS running FROM jobs \
                     WHERE status = '{RUNNING}' AND lease_until >= {} GROUP BY user_id",
                    p(1)
                ),
                [now.into()],
            ))
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(|r| (r.user_id, r.running))
            .collect();
        let mut order: Vec<(i64, DateTime<Utc>, Option<uuid::Uuid>)> = waiting
            .into_iter()
            .map(|w| {
                (
                    running.get(&w.user_id).copied().unwrap_or(0),
                    w.first,
                    w.user_id,
                )
            })
            .filter(|(busy, _, _)| {
                fairness.max_running_per_user == 0
                    || *busy < i64::from(fairness.max_running_per_user)
            })
            .collect();
        order.sort();
        let lock = match backend {
            DatabaseBackend::Postgres => "FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        for (_, _, user) in order.into_iter().take(CLAIM_TRIES) {
            let owner = match user {
                Some(_) => format!("user_id = {}", p(6)),
                None => "user_id IS NULL".to_string(),
            };
            let sql = format!(
                "UPDATE jobs SET status = '{RUNNING}', locked_by = {p3}, lease_until = {p4}, \
                 attempts = attempts + 1, updated_at = {p5} \
                 WHERE id = (SELECT id FROM jobs WHERE {runnable} AND {owner} \
                     ORDER BY run_at, id LIMIT 1 {lock}) \
                 RETURNING id, payload, request_id, attempts, max_attempts, created_at",
                p3 = p(3),
                p4 = p(4),
                p5 = p(5),
            );
            let mut values: Vec<sea_orm::Value> = vec![
                now.into(),
                now.into(),
                worker.into(),
                lease_until.into(),
                now.into(),
            ];
            if let Some(user) = user {
                values.push(user.into());
            }
            if let Some(job) = self
                .claimed(Statement::from_sql_and_values(backend, sql, values))
                .await?
            {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    async fn claim_exhausted(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, InfraError> {
        let backend = self.db.get_database_backend();
        let (lock, [p1, p2, p3, p4]) = match backend {
            DatabaseBackend::Postgres => ("FOR UPDATE SKIP LOCKED", ["$1", "$2", "$3", "$4"]),
            _ => ("", ["?", "?", "?", "?"]),
        };
        let sql = format!(
            "UPDATE jobs SET locked_by = {p1}, lease_until = {p2}, updated_at = {p3} \
             WHERE id = (SELECT id FROM jobs \
                 WHERE status = '{RUNNING}' AND lease_until < {p4} AND attempts >= max_attempts \
                 ORDER BY run_at, id LIMIT 1 {lock}) \
             RETURNING id, payload, request_id, attempts, max_attempts, created_at"
        );
        self.claimed(Statement::from_sql_and_values(
            backend,
            sql,
            [worker.into(), lease_until.into(), now.into(), now.into()],
        ))
        .await
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

    async fn pending(&self, owner: UserId) -> Result<u64, InfraError> {
        jobs::Entity::find()
            .filter(jobs::Column::UserId.eq(owner.as_uuid()))
            .filter(jobs::Column::Status.is_in([QUEUED, RUNNING]))
            .count(&self.db)
            .await
            .map_err(infra)
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
