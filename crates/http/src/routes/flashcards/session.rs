//! A study session: the next card within the day's limits, undo, and each chat's study options.

use flashforge_domain::flashcards::{NextCard, StudyOptions, StudyOptionsPatch, format_step};

use super::*;
use crate::responses::{NoSuchChat, NotAuthenticated};

/// A chat's study options (Anki's deck options).
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyOptionsBody {
    /// New cards introduced per study day.
    pub new_per_day: u32,
    /// Reviews of cards in review per study day.
    pub reviews_per_day: u32,
    /// Steps a new card goes through before its first interval in days, e.g. `["1m", "10m"]`.
    pub learning_steps: Vec<String>,
    /// Steps a forgotten card goes through, e.g. `["10m"]`.
    pub relearning_steps: Vec<String>,
    pub maximum_interval_days: u32,
    /// This chat's desired retention; null: the account's.
    pub desired_retention: Option<f32>,
    #[schema(value_type = crate::schemas::NewOrder)]
    pub new_order: String,
    /// Cards of the same note wait for the next day once one of them was studied.
    pub bury_siblings: bool,
    /// Lapses that make a card a leech (and every half of it after that).
    pub leech_threshold: u32,
    #[schema(value_type = crate::schemas::LeechAction)]
    pub leech_action: String,
    /// The chat's exam day (in the caller's study days), or null. Over the 30 days before it
    /// the desired retention rises linearly to 0.95 on the day (a higher one is kept), and a
    /// review that would fall after the exam is moved to the day before it whenever that is
    /// more than a day away.
    pub exam_date: Option<chrono::NaiveDate>,
    /// Null until an option is changed.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<StudyOptions> for StudyOptionsBody {
    fn from(o: StudyOptions) -> Self {
        Self {
            new_per_day: o.new_per_day,
            reviews_per_day: o.reviews_per_day,
            learning_steps: o.learning_steps.into_iter().map(format_step).collect(),
            relearning_steps: o.relearning_steps.into_iter().map(format_step).collect(),
            maximum_interval_days: o.maximum_interval_days,
            desired_retention: o.desired_retention,
            new_order: o.new_order.as_str().to_string(),
            bury_siblings: o.bury_siblings,
            leech_threshold: o.leech_threshold,
            leech_action: o.leech_action.as_str().to_string(),
            exam_date: o.exam_date,
            updated_at: o.updated_at,
        }
    }
}

/// Changes to a chat's study options; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StudyOptionsPatchRequest {
    #[schema(maximum = 9999)]
    pub new_per_day: Option<u32>,
    #[schema(maximum = 9999)]
    pub reviews_per_day: Option<u32>,
    /// At most 10 steps, each a whole number and a unit `s`, `m`, `h` or `d`, 1s–30d; `[]`: none.
    #[schema(max_items = 10, example = json!(["1m", "10m"]))]
    pub learning_steps: Option<Vec<String>>,
    #[schema(max_items = 10, example = json!(["10m"]))]
    pub relearning_steps: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 36500)]
    pub maximum_interval_days: Option<u32>,
    /// 0.70–0.99; null: back to the account's.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f32>, minimum = 0.7, maximum = 0.99)]
    pub desired_retention: Option<Option<f32>>,
    #[schema(value_type = Option<crate::schemas::NewOrder>)]
    pub new_order: Option<String>,
    pub bury_siblings: Option<bool>,
    #[schema(minimum = 1, maximum = 99)]
    pub leech_threshold: Option<u32>,
    #[schema(value_type = Option<crate::schemas::LeechAction>)]
    pub leech_action: Option<String>,
    /// Today or a day in the next five years (`2027-06-30`); null removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<chrono::NaiveDate>)]
    pub exam_date: Option<Option<chrono::NaiveDate>>,
}

/// A chat's study options: daily limits, steps, retention, new-card order, burying, leeches.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    responses(
        (status = 200, body = StudyOptionsBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat)
    )
)]
#[get("/chats/{chat_id}/study-options")]
pub async fn study_options(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let options = services
        .flashcards
        .study_options(who.0, chat_path(chat_id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(StudyOptionsBody::from(options)))
}

/// Changes a chat's study options; every field is checked before any is applied.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = StudyOptionsPatchRequest,
    responses(
        (status = 200, body = StudyOptionsBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "An option out of range, by field", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/chats/{chat_id}/study-options")]
pub async fn update_study_options(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    body: web::Json<StudyOptionsPatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = StudyOptionsPatch {
        new_per_day: body.new_per_day,
        reviews_per_day: body.reviews_per_day,
        learning_steps: body.learning_steps,
        relearning_steps: body.relearning_steps,
        maximum_interval_days: body.maximum_interval_days,
        desired_retention: body.desired_retention,
        new_order: body.new_order,
        bury_siblings: body.bury_siblings,
        leech_threshold: body.leech_threshold,
        leech_action: body.leech_action,
        exam_date: body.exam_date,
    };
    let options = services
        .flashcards
        .update_study_options(who.0, chat_path(chat_id.into_inner()), patch)
        .await?;
    Ok(HttpResponse::Ok().json(StudyOptionsBody::from(options)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NextQuery {
    /// Study this chat only; without it, every chat (each within its own limits).
    pub chat_id: Option<Uuid>,
}

/// What is left to study today.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyCountsBody {
    /// New cards still to be introduced today (within the daily limits).
    pub new: u64,
    /// Learning and relearning cards due now or within 20 minutes.
    pub learning: u64,
    /// Review cards due today (within the daily limits).
    pub review: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NextCardBody {
    /// The card to show; null when nothing is left to study now.
    pub card: Option<CardBody>,
    /// Which part of the queue the card came from; null with no card.
    #[schema(value_type = Option<crate::schemas::QueueKind>)]
    pub queue: Option<String>,
    /// Left today, the card shown included.
    pub counts: StudyCountsBody,
    /// With no card now: when the next learning card of today is due (null: none today).
    pub next_due_at: Option<DateTime<Utc>>,
    /// When the study day ends and the daily limits start again (the caller's
    /// `day_starts_at_hour` in their `timezone`).
    pub day_ends_at: DateTime<Utc>,
}

impl From<NextCard> for NextCardBody {
    fn from(next: NextCard) -> Self {
        Self {
            card: next.card.map(CardBody::from),
            queue: next.queue.map(|q| q.as_str().to_string()),
            counts: StudyCountsBody {
                new: next.counts.new,
                learning: next.counts.learning,
                review: next.counts.review,
            },
            next_due_at: next.next_due_at,
            day_ends_at: next.day_ends_at,
        }
    }
}

/// The next card to study and the counts left today, honouring each chat's daily limits and
/// learning steps and the caller's study day. Learning cards come back when their step is due;
/// new cards are spread among the reviews. Rate the card with `POST /flashcards/{id}/reviews`.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    params(NextQuery),
    responses(
        (status = 200, body = NextCardBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat)
    )
)]
#[get("/study/next")]
pub async fn next_card(
    services: web::Data<Services>,
    who: Authenticated,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, ApiError> {
    let next = services
        .flashcards
        .next_card(who.0, query.chat_id.map(ChatId::from_uuid))
        .await?;
    Ok(HttpResponse::Ok().json(NextCardBody::from(next)))
}

/// Undoes the caller's last review of the study day: the card's schedule, suspension and tags
/// are put back exactly and the review leaves the log. Call again to undo the one before.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The card as it was before the review", body = CardBody),
        (status = 401, response = NotAuthenticated),
        (status = 409, description = "No review of today is left to undo (`nothing_to_undo`), or the card changed meanwhile (`review_conflict`)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/study/undo")]
pub async fn undo(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let card = services.flashcards.undo(who.0).await?;
    Ok(HttpResponse::Ok().json(CardBody::from(card)))
}

/// What to simulate: the pace (new cards or minutes per day) and the aim.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SimulateRequest {
    /// Days from today, 1–365 (default 30).
    #[schema(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
    /// New cards a day, 0–9999 (default the chat's daily limit, or 20).
    #[schema(maximum = 9999)]
    pub new_per_day: Option<u32>,
    /// The most study time a day, 1–1440 minutes (default no limit).
    #[schema(minimum = 1, maximum = 1440)]
    pub minutes_per_day: Option<u32>,
    /// 0.70–0.99 (default the chat's or the account's).
    #[schema(minimum = 0.7, maximum = 0.99)]
    pub desired_retention: Option<f32>,
    /// Only this chat's cards (default all).
    pub chat_id: Option<Uuid>,
}

/// One simulated study day.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulatedDayBody {
    pub date: chrono::NaiveDate,
    pub reviews: u32,
    /// Cards studied for the first time.
    pub new: u32,
    /// Expected study time.
    pub minutes: f32,
    /// Cards studied by then (before, or new up to that day).
    pub introduced: u32,
    /// Of those, how many the student would recall if tested that day (expected).
    pub memorized: f32,
    /// `memorized / introduced`; null before any card is introduced.
    pub expected_retention: Option<f32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkloadBody {
    pub desired_retention: f32,
    pub new_per_day: u32,
    pub days: Vec<SimulatedDayBody>,
}

/// Plans the workload: simulates the caller's next days of study (fsrs's simulator, with their
/// parameters and their cards' memory states) at a pace of new cards or minutes per day, and
/// answers each day's reviews, new cards, time and expected retention. The same request gives
/// the same answer.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    request_body = SimulateRequest,
    responses(
        (status = 200, body = WorkloadBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "A value out of range, by field", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/study/simulate")]
pub async fn simulate(
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<SimulateRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let plan = services
        .flashcards
        .simulate(
            who.0,
            flashforge_domain::flashcards::SimulateInput {
                days: body.days,
                new_per_day: body.new_per_day,
                minutes_per_day: body.minutes_per_day,
                desired_retention: body.desired_retention,
                chat: body.chat_id.map(ChatId::from_uuid),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(WorkloadBody {
        desired_retention: plan.desired_retention,
        new_per_day: plan.new_per_day,
        days: plan.days.into_iter().map(day_body).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExamForecastQuery {
    /// The chat with the exam.
    pub chat_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamForecastBody {
    pub exam_date: chrono::NaiveDate,
    /// Study days from today to the exam day (0: today).
    pub days_left: i64,
    /// The desired retention the chat's cards are scheduled with today (raised as the exam
    /// approaches).
    pub desired_retention: f32,
    /// On the exam day, the expected share of the chat's cards recalled of those studied by
    /// then, if the schedule is kept; null when none will be, or the exam is over a year away.
    pub expected_retention: Option<f32>,
    /// Cards studied by the exam day.
    pub cards_by_exam: u32,
    /// The simulated workload from today to the exam day.
    pub days: Vec<SimulatedDayBody>,
}

/// A chat's exam as the schedule leads to it: the workload until the exam day (simulated at the
/// chat's daily limit and today's desired retention) and the expected retention on the day.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    params(ExamForecastQuery),
    responses(
        (status = 200, body = ExamForecastBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "The chat has no exam date", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/study/forecast")]
pub async fn exam_forecast(
    services: web::Data<Services>,
    who: Authenticated,
    query: web::Query<ExamForecastQuery>,
) -> Result<HttpResponse, ApiError> {
    let forecast = services
        .flashcards
        .exam_forecast(who.0, ChatId::from_uuid(query.chat_id))
        .await?;
    Ok(HttpResponse::Ok().json(ExamForecastBody {
        exam_date: forecast.exam_date,
        days_left: forecast.days_left,
        desired_retention: forecast.desired_retention,
        expected_retention: forecast.expected_retention,
        cards_by_exam: forecast.cards_by_exam,
        days: forecast.plan.days.into_iter().map(day_body).collect(),
    }))
}

fn day_body(
    (date, d): (
        chrono::NaiveDate,
        flashforge_domain::flashcards::SimulatedDay,
    ),
) -> SimulatedDayBody {
    SimulatedDayBody {
        date,
        reviews: d.reviews,
        new: d.new,
        minutes: d.seconds / 60.0,
        introduced: d.introduced,
        memorized: d.memorized,
        expected_retention: (d.introduced > 0).then(|| d.memorized / d.introduced as f32),
    }
}
