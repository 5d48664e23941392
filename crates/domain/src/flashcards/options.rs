//! How a chat is studied (its deck options, as Anki calls them) and when a user's study day
//! begins.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::scheduling::SchedulerSettings;
use crate::error::{FieldError, ValidationErrors};

/// The most learning or relearning steps.
pub const MAX_STEPS: usize = 10;
/// The longest step: a step longer than this is an interval, not a step.
pub const MAX_STEP: Duration = Duration::days(30);
/// The highest daily limit a client may set.
pub const MAX_DAILY_LIMIT: u32 = 9_999;
/// The longest interval a client may allow (100 years, as Anki).
pub const MAX_INTERVAL_DAYS: u32 = 36_500;
/// How far ahead a learning card may be shown when nothing else is left (Anki's learn-ahead
/// limit).
pub const LEARN_AHEAD: Duration = Duration::minutes(20);

/// The order new cards are introduced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewOrder {
    /// Oldest first: the order they were made (a generation's order).
    Created,
    /// A fixed random order (the same card comes first until it is studied).
    Random,
}

impl NewOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Random => "random",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "created" => Some(Self::Created),
            "random" => Some(Self::Random),
            _ => None,
        }
    }
}

/// What happens to a card forgotten `leech_threshold` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeechAction {
    /// Suspended (and tagged `leech`): it leaves the study queue until the student edits it.
    Suspend,
    /// Only tagged `leech`.
    Tag,
}

impl LeechAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Tag => "tag",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "suspend" => Some(Self::Suspend),
            "tag" => Some(Self::Tag),
            _ => None,
        }
    }
}

/// A chat's study options. A chat that never changed one has [`StudyOptions::default`].
#[derive(Debug, Clone, PartialEq)]
pub struct StudyOptions {
    /// New cards introduced per study day.
    pub new_per_day: u32,
    /// Reviews of cards in review per study day.
    pub reviews_per_day: u32,
    pub learning_steps: Vec<Duration>,
    pub relearning_steps: Vec<Duration>,
    pub maximum_interval_days: u32,
    /// Overrides the account-wide desired retention for this chat's cards.
    pub desired_retention: Option<f32>,
    pub new_order: NewOrder,
    /// Siblings (cards of the same note) wait for the next day once one of them was studied.
    pub bury_siblings: bool,
    /// Lapses that make a card a leech (and every half of it again after that).
    pub leech_threshold: u32,
    pub leech_action: LeechAction,
    /// The day of the chat's exam (see [`exam_retention`] and [`SchedulerSettings::exam`]).
    pub exam_date: Option<NaiveDate>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The desired retention an exam raises the chat's to on the exam day.
pub const EXAM_RETENTION: f32 = 0.95;
/// How many days before the exam the desired retention starts to rise.
pub const EXAM_RAMP_DAYS: i64 = 30;
/// The furthest ahead an exam may be set.
pub const MAX_EXAM_DAYS: i64 = 5 * 365;

/// The desired retention `days_left` study days before an exam: from `base`, it rises linearly
/// over the last [`EXAM_RAMP_DAYS`] days to [`EXAM_RETENTION`] on the exam day (never lowering a
/// higher `base`); after the exam it is `base` again.
pub fn exam_retention(base: f32, days_left: i64) -> f32 {
    if !(0..EXAM_RAMP_DAYS).contains(&days_left) || base >= EXAM_RETENTION {
        return base;
    }
    let progress = 1.0 - days_left as f32 / EXAM_RAMP_DAYS as f32;
    base + (EXAM_RETENTION - base) * progress
}

impl Default for StudyOptions {
    fn default() -> Self {
        Self {
            new_per_day: 20,
            reviews_per_day: 200,
            learning_steps: vec![Duration::minutes(1), Duration::minutes(10)],
            relearning_steps: vec![Duration::minutes(10)],
            maximum_interval_days: MAX_INTERVAL_DAYS,
            desired_retention: None,
            new_order: NewOrder::Created,
            bury_siblings: true,
            leech_threshold: 8,
            leech_action: LeechAction::Tag,
            exam_date: None,
            updated_at: None,
        }
    }
}

impl StudyOptions {
    /// The steps and limits the scheduler applies to this chat's cards; `day` places the exam.
    pub fn scheduler_settings(&self, day: &StudyDay) -> SchedulerSettings {
        SchedulerSettings {
            learning_steps: self.learning_steps.clone(),
            relearning_steps: self.relearning_steps.clone(),
            maximum_interval_days: self.maximum_interval_days,
            exam: self.exam_date.map(|date| day.start_of(date)),
        }
    }

    /// The desired retention for this chat's cards at `now`: the chat's (or the account's
    /// `account`), raised as its exam approaches.
    pub fn desired_retention_at(&self, account: f32, day: &StudyDay, now: DateTime<Utc>) -> f32 {
        let base = self.desired_retention.unwrap_or(account);
        match self.exam_date {
            Some(exam) => exam_retention(base, (exam - day.date_of(now)).num_days()),
            None => base,
        }
    }

    /// Whether a card with `lapses` lapses just became a leech: at the threshold, then every
    /// half threshold after it (Anki's rule), so a leech that is studied on is flagged again.
    pub fn is_leech(&self, lapses: u32) -> bool {
        let threshold = self.leech_threshold;
        if threshold == 0 || lapses < threshold {
            return false;
        }
        let every = (threshold / 2).max(1);
        (lapses - threshold).is_multiple_of(every)
    }

    /// Applies `patch`, checking every field; nothing changes when one is wrong. `today` is the
    /// user's study day (an exam cannot be in the past).
    pub fn apply(
        &mut self,
        patch: StudyOptionsPatch,
        today: NaiveDate,
    ) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut next = self.clone();
        let limit = |field: &str, value: u32, errors: &mut ValidationErrors| {
            if value > MAX_DAILY_LIMIT {
                errors.push(FieldError::new(
                    field,
                    format!("must be between 0 and {MAX_DAILY_LIMIT}"),
                ));
            }
            value
        };
        if let Some(n) = patch.new_per_day {
            next.new_per_day = limit("new_per_day", n, &mut errors);
        }
        if let Some(n) = patch.reviews_per_day {
            next.reviews_per_day = limit("reviews_per_day", n, &mut errors);
        }
        if let Some(steps) = patch.learning_steps {
            match parse_steps("learning_steps", &steps) {
                Ok(steps) => next.learning_steps = steps,
                Err(e) => errors.push(e),
            }
        }
        if let Some(steps) = patch.relearning_steps {
            match parse_steps("relearning_steps", &steps) {
                Ok(steps) => next.relearning_steps = steps,
                Err(e) => errors.push(e),
            }
        }
        if let Some(days) = patch.maximum_interval_days {
            if (1..=MAX_INTERVAL_DAYS).contains(&days) {
                next.maximum_interval_days = days;
            } else {
                errors.push(FieldError::new(
                    "maximum_interval_days",
                    format!("must be between 1 and {MAX_INTERVAL_DAYS}"),
                ));
            }
        }
        if let Some(retention) = patch.desired_retention {
            match retention {
                Some(r) if !(0.70..=0.99).contains(&r) => errors.push(FieldError::new(
                    "desired_retention",
                    "must be between 0.70 and 0.99, or null for the account's",
                )),
                r => next.desired_retention = r,
            }
        }
        if let Some(order) = patch.new_order {
            match NewOrder::parse(&order) {
                Some(order) => next.new_order = order,
                None => errors.push(FieldError::new(
                    "new_order",
                    "must be `created` or `random`",
                )),
            }
        }
        if let Some(bury) = patch.bury_siblings {
            next.bury_siblings = bury;
        }
        if let Some(threshold) = patch.leech_threshold {
            if (1..=99).contains(&threshold) {
                next.leech_threshold = threshold;
            } else {
                errors.push(FieldError::new(
                    "leech_threshold",
                    "must be between 1 and 99",
                ));
            }
        }
        if let Some(exam) = patch.exam_date {
            match exam {
                Some(date) if !(today..=today + Duration::days(MAX_EXAM_DAYS)).contains(&date) => {
                    errors.push(FieldError::new(
                        "exam_date",
                        "must be today or a day in the next five years, or null for none",
                    ))
                }
                exam => next.exam_date = exam,
            }
        }
        if let Some(action) = patch.leech_action {
            match LeechAction::parse(&action) {
                Some(action) => next.leech_action = action,
                None => errors.push(FieldError::new(
                    "leech_action",
                    "must be `suspend` or `tag`",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        *self = next;
        Ok(())
    }
}

/// A change to a chat's study options: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StudyOptionsPatch {
    pub new_per_day: Option<u32>,
    pub reviews_per_day: Option<u32>,
    /// Steps such as `1m`, `10m`, `1h`, `1d`.
    pub learning_steps: Option<Vec<String>>,
    pub relearning_steps: Option<Vec<String>>,
    pub maximum_interval_days: Option<u32>,
    /// `Some(None)` goes back to the account's retention.
    pub desired_retention: Option<Option<f32>>,
    pub new_order: Option<String>,
    pub bury_siblings: Option<bool>,
    pub leech_threshold: Option<u32>,
    pub leech_action: Option<String>,
    /// `Some(None)` removes the exam date.
    pub exam_date: Option<Option<NaiveDate>>,
}

/// Parses steps written as Anki writes them: a whole number and a unit, `s`, `m`, `h` or `d`
/// (`30s`, `1m`, `10m`, `1h`, `2d`).
pub fn parse_steps(field: &str, raw: &[String]) -> Result<Vec<Duration>, FieldError> {
    if raw.len() > MAX_STEPS {
        return Err(FieldError::new(field, format!("at most {MAX_STEPS} steps")));
    }
    raw.iter()
        .map(|step| {
            parse_step(step).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "each step is a whole number and a unit s, m, h or d, from 1s to 30d (got `{}`)",
                        step.chars().take(20).collect::<String>()
                    ),
                )
            })
        })
        .collect()
}

fn parse_step(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let unit = raw.chars().last()?;
    let number: i64 = raw.get(..raw.len() - unit.len_utf8())?.parse().ok()?;
    let step = match unit {
        's' => Duration::try_seconds(number)?,
        'm' => Duration::try_minutes(number)?,
        'h' => Duration::try_hours(number)?,
        'd' => Duration::try_days(number)?,
        _ => return None,
    };
    (step >= Duration::seconds(1) && step <= MAX_STEP).then_some(step)
}

/// A step as Anki writes it: the largest unit it is a whole number of.
pub fn format_step(step: Duration) -> String {
    let secs = step.num_seconds();
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60)] {
        if secs >= size && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// When a user's study days begin: at `starts_at_hour` o'clock in their time zone. A day's
/// limits and counts run from one start to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudyDay {
    pub timezone: Tz,
    /// 0–23; 4 (as in Anki) keeps a late-night session in the day it began.
    pub starts_at_hour: u8,
}

impl Default for StudyDay {
    fn default() -> Self {
        Self {
            timezone: Tz::UTC,
            starts_at_hour: 4,
        }
    }
}

impl StudyDay {
    /// The study day `at` falls in (the calendar date it began on).
    pub fn date_of(&self, at: DateTime<Utc>) -> NaiveDate {
        (at.with_timezone(&self.timezone).naive_local()
            - Duration::hours(i64::from(self.starts_at_hour)))
        .date()
    }

    /// When the study day of `date` begins. A start that falls in a daylight-saving gap moves
    /// to the first hour that exists; one that happens twice is the first.
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        let mut local: NaiveDateTime =
            date.and_time(chrono::NaiveTime::MIN) + Duration::hours(i64::from(self.starts_at_hour));
        for _ in 0..4 {
            if let Some(at) = self.timezone.from_local_datetime(&local).earliest() {
                return at.with_timezone(&Utc);
            }
            local += Duration::minutes(30);
        }
        // No zone has a gap this long; read the time as UTC rather than fail.
        local.and_utc()
    }

    /// The start and the end of the study day `at` falls in.
    pub fn bounds(&self, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let date = self.date_of(at);
        let next = date.succ_opt().unwrap_or(date);
        (self.start_of(date), self.start_of(next))
    }

    /// Parses an IANA time zone name (`Europe/Berlin`, `UTC`).
    pub fn parse_timezone(raw: &str) -> Result<Tz, FieldError> {
        raw.trim().parse::<Tz>().map_err(|_| {
            FieldError::new(
                "timezone",
                "must be an IANA time zone name such as `Europe/Berlin` or `UTC`",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn steps_parse_and_print_as_anki_writes_them() {
        let steps = parse_steps("s", &strings(&["30s", "1m", " 10m", "90m", "1h", "2d"])).unwrap();
        let printed: Vec<String> = steps.into_iter().map(format_step).collect();
        assert_eq!(printed, ["30s", "1m", "10m", "90m", "1h", "2d"]);
        for bad in [
            "",
            "m",
            "0m",
            "-1m",
            "1.5m",
            "1w",
            "31d",
            "99999999999999d",
            "1 m",
        ] {
            assert!(parse_steps("s", &strings(&[bad])).is_err(), "{bad}");
        }
        assert!(parse_steps("s", &strings(&["1m"; 11])).is_err());
        assert_eq!(parse_steps("s", &[]).unwrap(), Vec::<Duration>::new());
    }

    #[test]
    fn an_exam_raises_retention_over_its_last_thirty_days() {
        assert_eq!(exam_retention(0.85, 45), 0.85);
        assert_eq!(exam_retention(0.85, 30), 0.85);
        assert!((exam_retention(0.85, 15) - 0.90).abs() < 1e-6);
        assert!((exam_retention(0.85, 0) - EXAM_RETENTION).abs() < 1e-6);
        assert_eq!(exam_retention(0.85, -1), 0.85, "after the exam");
        assert_eq!(exam_retention(0.97, 3), 0.97, "never lowered");
    }

    #[test]
    fn leeches_are_flagged_at_the_threshold_then_every_half_of_it() {
        let options = StudyOptions::default();
        let flagged: Vec<u32> = (0..20).filter(|&l| options.is_leech(l)).collect();
        assert_eq!(flagged, [8, 12, 16]);
    }

    #[test]
    fn a_bad_patch_changes_nothing_and_names_every_field() {
        let mut options = StudyOptions::default();
        let errors = options
            .apply(
                StudyOptionsPatch {
                    new_per_day: Some(5),
                    reviews_per_day: Some(100_000),
                    learning_steps: Some(strings(&["1x"])),
                    new_order: Some("shuffled".into()),
                    leech_threshold: Some(0),
                    desired_retention: Some(Some(0.5)),
                    ..StudyOptionsPatch::default()
                },
                NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            )
            .unwrap_err();
        let fields: Vec<&str> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "reviews_per_day",
                "learning_steps",
                "desired_retention",
                "new_order",
                "leech_threshold"
            ]
        );
        assert_eq!(options, StudyOptions::default());
    }

    #[test]
    fn the_study_day_starts_at_the_users_hour_in_their_zone() {
        let day = StudyDay {
            timezone: "America/New_York".parse().unwrap(),
            starts_at_hour: 4,
        };
        // 02:00 in New York on 10 March 2025 (06:00 UTC) still belongs to 9 March.
        let at = Utc.with_ymd_and_hms(2025, 3, 10, 6, 0, 0).unwrap();
        assert_eq!(
            day.date_of(at),
            NaiveDate::from_ymd_opt(2025, 3, 9).unwrap()
        );
        assert_eq!(
            day.bounds(at),
            (
                Utc.with_ymd_and_hms(2025, 3, 9, 8, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2025, 3, 10, 8, 0, 0).unwrap()
            )
        );
        // Midnight of 9 March (EST) is still 8 March's day, which runs from 04:00 EST (UTC-5)
        // to 04:00 EDT (UTC-4), the clocks going forward at 02:00: a 23-hour day.
        let (start, end) = day.bounds(Utc.with_ymd_and_hms(2025, 3, 9, 5, 0, 0).unwrap());
        assert_eq!(start, Utc.with_ymd_and_hms(2025, 3, 8, 9, 0, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2025, 3, 9, 8, 0, 0).unwrap());
        // A start inside the spring-forward gap (02:30 does not exist) moves to 03:00.
        let gap = StudyDay {
            timezone: day.timezone,
            starts_at_hour: 2,
        };
        let start = gap.start_of(NaiveDate::from_ymd_opt(2025, 3, 9).unwrap());
        assert_eq!(start, Utc.with_ymd_and_hms(2025, 3, 9, 7, 0, 0).unwrap());
        assert!(StudyDay::parse_timezone("Mars/Olympus").is_err());
    }
}
