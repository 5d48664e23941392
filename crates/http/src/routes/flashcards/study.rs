//! Study across chats: the due queue, the study settings, statistics and the optimizer.

use super::*;
use crate::responses::{NoSuchChat, NotAuthenticated};

/// The cards due now across the caller's chats (or one chat), soonest first.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    params(DueQuery),
    responses(
        (status = 200, description = "Due cards", body = CardsBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "A bad `limit`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/study/due")]
pub async fn due(
    services: web::Data<Services>,
    who: Authenticated,
    query: web::Query<DueQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let limit = crate::pagination::parse_limit(query.limit.as_deref(), 500, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let cards = services
        .flashcards
        .due(who.0, query.chat_id.map(ChatId::from_uuid), limit)
        .await?;
    Ok(HttpResponse::Ok().json(CardsBody {
        items: cards.into_iter().map(CardBody::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudySettingsBody {
    /// The probability of recall reviews aim for.
    pub desired_retention: f32,
    /// Whether FSRS parameters fitted to the caller's reviews are in use.
    pub personalized: bool,
    /// The IANA time zone the caller's study days are counted in.
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    /// The hour (0–23, local) a study day starts at: daily limits start again then.
    pub day_starts_at_hour: u8,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<flashforge_domain::flashcards::StudySettings> for StudySettingsBody {
    fn from(s: flashforge_domain::flashcards::StudySettings) -> Self {
        Self {
            desired_retention: s.desired_retention,
            personalized: !s.parameters.is_empty(),
            timezone: s.day.timezone.name().to_string(),
            day_starts_at_hour: s.day.starts_at_hour,
            updated_at: s.updated_at,
        }
    }
}

/// Changes to the caller's study settings; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StudySettingsPatch {
    /// 0.70–0.99: higher means more reviews and fewer lapses.
    #[schema(minimum = 0.7, maximum = 0.99, example = 0.9)]
    pub desired_retention: Option<f32>,
    /// An IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    #[schema(max_length = 64, example = "Europe/Berlin")]
    pub timezone: Option<String>,
    /// 0–23: the local hour a study day starts at (default 4, as in Anki).
    #[schema(maximum = 23, example = 4)]
    pub day_starts_at_hour: Option<u32>,
}

/// The caller's study settings.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    responses(
        (status = 200, body = StudySettingsBody),
        (status = 401, response = NotAuthenticated)
    )
)]
#[get("/study/settings")]
pub async fn study_settings(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let settings = services.flashcards.settings(who.0).await?;
    Ok(HttpResponse::Ok().json(StudySettingsBody::from(settings)))
}

/// Changes the caller's study settings: desired retention, time zone, and the hour a study day
/// starts at; every field is checked before any is applied.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    request_body = StudySettingsPatch,
    responses(
        (status = 200, body = StudySettingsBody),
        (status = 401, response = NotAuthenticated),
        (status = 422, description = "A setting out of range or an unknown time zone, by field", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/study/settings")]
pub async fn update_study_settings(
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<StudySettingsPatch>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let settings = services
        .flashcards
        .update_settings(
            who.0,
            flashforge_domain::flashcards::StudySettingsPatch {
                desired_retention: body.desired_retention,
                timezone: body.timezone,
                day_starts_at_hour: body.day_starts_at_hour,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(StudySettingsBody::from(settings)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayCountBody {
    pub date: chrono::NaiveDate,
    pub reviews: u64,
}

/// Cards due on one study day, as scheduled now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastDayBody {
    pub date: chrono::NaiveDate,
    /// New cards at each chat's daily limit, while any are left.
    pub new: u64,
    pub learning: u64,
    /// Review cards due (today's include the overdue ones).
    pub review: u64,
}

/// True retention of reviews of cards remembered `min_days` to `max_days` days.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionBucketBody {
    pub min_days: u32,
    /// Null: no upper bound.
    pub max_days: Option<u32>,
    pub reviews: u64,
    /// Null without reviews.
    pub retention: Option<f32>,
}

/// Every count is in the caller's study days (their `timezone` and `day_starts_at_hour`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyStatsBody {
    pub due_now: u64,
    /// Due before the study day ends.
    pub due_today: u64,
    pub total_cards: u64,
    pub new_cards: u64,
    pub reviews_today: u64,
    /// Different cards reviewed today.
    pub studied_today: u64,
    /// Time spent on today's reviews, as the clients reported it (`duration_ms`).
    pub time_today_ms: u64,
    /// The last 30 study days, oldest first.
    pub reviews_per_day: Vec<DayCountBody>,
    /// Of the last 30 days' reviews of cards in review, the share not answered `again`; null
    /// before there is any.
    pub true_retention: Option<f32>,
    /// How many reviews `true_retention` is measured on.
    pub retention_reviews: u64,
    /// The same by how long the card had been remembered (its interval): under a week, to
    /// three weeks (Anki's young cards), to three months, longer.
    pub retention_by_interval: Vec<RetentionBucketBody>,
    /// Today and the next 29 study days: cards due as scheduled now (answers to come are not
    /// guessed), new cards at each chat's daily limit.
    pub forecast: Vec<ForecastDayBody>,
    pub desired_retention: f32,
}

/// Due counts, today's study, reviews per day, true retention and the next 30 days' workload.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    responses(
        (status = 200, body = StudyStatsBody),
        (status = 401, response = NotAuthenticated)
    )
)]
#[get("/study/stats")]
pub async fn study_stats(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let stats = services.flashcards.stats(who.0).await?;
    Ok(HttpResponse::Ok().json(StudyStatsBody {
        due_now: stats.due_now,
        due_today: stats.due_today,
        total_cards: stats.total_cards,
        new_cards: stats.new_cards,
        reviews_today: stats.reviews_today,
        studied_today: stats.studied_today,
        time_today_ms: stats.time_today_ms,
        retention_by_interval: stats
            .retention_by_interval
            .into_iter()
            .map(|b| RetentionBucketBody {
                min_days: b.min_days,
                max_days: b.max_days,
                reviews: b.reviews,
                retention: b.retention,
            })
            .collect(),
        forecast: stats
            .forecast
            .into_iter()
            .map(|d| ForecastDayBody {
                date: d.date,
                new: d.new,
                learning: d.learning,
                review: d.review,
            })
            .collect(),
        reviews_per_day: stats
            .reviews_per_day
            .into_iter()
            .map(|(date, reviews)| DayCountBody { date, reviews })
            .collect(),
        true_retention: stats.true_retention,
        retention_reviews: stats.retention_reviews,
        desired_retention: stats.desired_retention,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptimizedBody {
    pub settings: StudySettingsBody,
    /// How many reviews the parameters were fitted to.
    pub reviews_used: usize,
}

/// Fits the caller's FSRS parameters to their review log with the fsrs optimizer; from then on
/// their cards are scheduled with them. Needs enough reviews, and says how many more when there
/// are not.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    responses(
        (status = 200, body = OptimizedBody),
        (status = 401, response = NotAuthenticated),
        (status = 409, description = "An optimization of the caller's parameters is already running (`optimization_running`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not enough reviews yet; `errors` says how many more", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/study/optimize")]
pub async fn optimize(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (settings, reviews_used) = services.flashcards.optimize(who.0).await?;
    Ok(HttpResponse::Ok().json(OptimizedBody {
        settings: settings.into(),
        reviews_used,
    }))
}
