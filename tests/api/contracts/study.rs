//! The `StudyRepository` contract (the study queue, what was studied, options and undo) on the
//! in-memory, SQLite and Postgres adapters.

use chrono::{Duration, SubsecRound, Utc};
use flashforge_domain::chats::{ChatId, ChatName, NewChat};
use flashforge_domain::flashcards::{
    CardKind, CardSnapshot, CardState, Flashcard, LeechAction, MemoryState, NewOrder, NoteId,
    NoteRef, QueueCounts, QueueKind, Rating, Recorded, Review, ReviewId, Schedule, Studied,
    StudyOptions, Tag,
};

use super::flashcards::{card, full_fixture};
use crate::helpers::Backend;

/// A card in `state`, due `due_in_minutes` from now, made `age_minutes` ago.
fn card_in(
    f: &super::flashcards::Fixture,
    chat: ChatId,
    state: CardState,
    due_in_minutes: i64,
    age_minutes: i64,
) -> Flashcard {
    let mut c = card(f.alice, chat, due_in_minutes);
    c.created_at -= Duration::minutes(age_minutes);
    c.schedule.state = state;
    if state != CardState::New {
        c.schedule.reps = 2;
        c.schedule.memory = Some(MemoryState {
            stability: 3.0,
            difficulty: 5.0,
        });
        c.schedule.last_reviewed_at = Some(c.created_at);
    }
    c
}

async fn other_chat(f: &super::flashcards::Fixture) -> ChatId {
    f.chats
        .create(NewChat {
            id: ChatId::new(),
            user_id: f.alice,
            name: ChatName::parse("second").unwrap(),
            created_at: Utc::now().trunc_subsecs(6),
        })
        .await
        .unwrap()
        .id
}

/// Counts and cards of each part of the queue: new cards whatever their due date, learning
/// cards due by the learning cut-off, review cards due before the end of the day; suspended
/// cards and other users' never; per chat.
async fn the_queue_counts_and_orders_each_part(backend: Backend) {
    let f = full_fixture(backend).await;
    let second = other_chat(&f).await;
    let now = Utc::now().trunc_subsecs(6);
    let new_old = card_in(&f, f.chat, CardState::New, 0, 30);
    let new_mid = card_in(&f, f.chat, CardState::New, 0, 20);
    let new_young = card_in(&f, f.chat, CardState::New, 0, 10);
    let learning_due = card_in(&f, f.chat, CardState::Learning, -5, 60);
    let relearning_soon = card_in(&f, f.chat, CardState::Relearning, 10, 60);
    let learning_later = card_in(&f, f.chat, CardState::Learning, 60, 60);
    let review_overdue = card_in(&f, f.chat, CardState::Review, -24 * 60, 90);
    let review_today = card_in(&f, f.chat, CardState::Review, 60, 90);
    let review_tomorrow = card_in(&f, f.chat, CardState::Review, 26 * 60, 90);
    let mut suspended = card_in(&f, f.chat, CardState::New, 0, 40);
    suspended.suspended = true;
    let elsewhere = card_in(&f, second, CardState::Review, -60, 90);
    let all = vec![
        new_old.clone(),
        new_mid.clone(),
        new_young.clone(),
        learning_due.clone(),
        relearning_soon.clone(),
        learning_later.clone(),
        review_overdue.clone(),
        review_today.clone(),
        review_tomorrow.clone(),
        suspended.clone(),
        elsewhere.clone(),
    ];
    f.cards.create_many(f.alice, all, 0).await.unwrap();
    let (learning_until, review_until) = (now + Duration::minutes(20), now + Duration::hours(2));
    let counts = f
        .cards
        .queue_counts(f.alice, None, (learning_until, review_until), &[])
        .await
        .unwrap();
    let mine = QueueCounts {
        chat: f.chat,
        new: 3,
        learning: 2,
        review: 2,
    };
    let theirs = QueueCounts {
        chat: second,
        new: 0,
        learning: 0,
        review: 1,
    };
    let mut expected = vec![mine, theirs];
    expected.sort_by_key(|c| c.chat);
    assert_eq!(counts, expected);
    assert_eq!(
        f.cards
            .queue_counts(f.alice, Some(f.chat), (learning_until, review_until), &[])
            .await
            .unwrap(),
        vec![mine]
    );
    assert!(
        f.cards
            .queue_counts(f.bob, None, (learning_until, review_until), &[])
            .await
            .unwrap()
            .is_empty()
    );

    let ids = |cards: Vec<Flashcard>| cards.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let queue = |kind, until, order, limit| {
        let cards = f.cards.clone();
        let chat = f.chat;
        let alice = f.alice;
        async move {
            cards
                .queue(alice, &[chat], (kind, order), until, &[], limit)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        ids(queue(QueueKind::New, now, NewOrder::Created, 10).await),
        vec![new_old.id, new_mid.id, new_young.id],
        "new cards oldest first, due or not"
    );
    let mut shuffled = vec![new_old.clone(), new_mid.clone(), new_young.clone()];
    shuffled.sort_by_key(|c| (c.shuffle_key(), c.id));
    assert_eq!(
        ids(queue(QueueKind::New, now, NewOrder::Random, 10).await),
        ids(shuffled),
        "random order is the cards' fixed shuffle"
    );
    assert_eq!(
        ids(queue(QueueKind::New, now, NewOrder::Created, 1).await),
        vec![new_old.id]
    );
    assert_eq!(
        ids(queue(QueueKind::Learning, now, NewOrder::Created, 10).await),
        vec![learning_due.id]
    );
    assert_eq!(
        ids(queue(QueueKind::Learning, learning_until, NewOrder::Created, 10).await),
        vec![learning_due.id, relearning_soon.id]
    );
    assert_eq!(
        ids(queue(QueueKind::Review, review_until, NewOrder::Created, 10).await),
        vec![review_overdue.id, review_today.id]
    );
    assert_eq!(
        ids(f
            .cards
            .queue(
                f.alice,
                &[f.chat, second],
                (QueueKind::Review, NewOrder::Created),
                review_until,
                &[],
                10
            )
            .await
            .unwrap()),
        vec![review_overdue.id, elsewhere.id, review_today.id]
    );
    assert!(
        f.cards
            .queue(
                f.bob,
                &[f.chat],
                (QueueKind::New, NewOrder::Created),
                now,
                &[],
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        f.cards
            .queue(
                f.alice,
                &[],
                (QueueKind::New, NewOrder::Created),
                now,
                &[],
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
}

/// A review of `card` made `minutes_ago` minutes ago from state `before`, with its snapshot.
fn review_of(
    card: &Flashcard,
    before: CardState,
    minutes_ago: i64,
    ms: u32,
) -> (Flashcard, Review) {
    let at = Utc::now().trunc_subsecs(6) - Duration::minutes(minutes_ago);
    let mut after = card.clone();
    after.schedule = Schedule {
        state: CardState::Review,
        reps: card.schedule.reps + 1,
        last_reviewed_at: Some(at),
        due: at + Duration::days(3),
        lapses: card.schedule.lapses + 1,
        ..card.schedule
    };
    after.suspended = true;
    after.tags = vec![Tag::parse("leech").unwrap()];
    after.updated_at = at;
    let review = Review {
        id: ReviewId::new(),
        card_id: card.id,
        user_id: card.user_id,
        rating: Rating::Good,
        state_before: before,
        reviewed_at: at,
        elapsed_days: 0,
        duration_ms: Some(ms),
        stability: 3.0,
        difficulty: 5.0,
        idempotency_key: None,
        card_before: Some(CardSnapshot::of(card)),
    };
    (after, review)
}

/// What was studied since a moment, per chat and by the state before each review; the last
/// review and its undoing, which puts the card back exactly and takes the review off the log,
/// only while the card has not moved on, and never for another user.
async fn studied_counts_and_undo_restore_exactly(backend: Backend) {
    let f = full_fixture(backend).await;
    let second = other_chat(&f).await;
    let fresh = card_in(&f, f.chat, CardState::New, 0, 60);
    let mature = card_in(&f, f.chat, CardState::Review, -60, 600);
    let learning = card_in(&f, second, CardState::Learning, -1, 60);
    f.cards
        .create_many(
            f.alice,
            vec![fresh.clone(), mature.clone(), learning.clone()],
            0,
        )
        .await
        .unwrap();
    let since = Utc::now().trunc_subsecs(6) - Duration::minutes(30);
    // One review before `since`, three after.
    let (old_after, old) = review_of(&mature, CardState::Review, 45, 100);
    assert_eq!(
        f.cards.record_review(&old_after, 2, old).await.unwrap(),
        Recorded::Applied
    );
    let (fresh_after, r1) = review_of(&fresh, CardState::New, 20, 1_000);
    let (mature_after, r2) = review_of(&old_after, CardState::Review, 10, 2_000);
    let (learning_after, r3) = review_of(&learning, CardState::Learning, 5, 4_000);
    for (after, review, reps) in [
        (&fresh_after, r1.clone(), 0),
        (&mature_after, r2.clone(), 3),
        (&learning_after, r3.clone(), 2),
    ] {
        assert_eq!(
            f.cards.record_review(after, reps, review).await.unwrap(),
            Recorded::Applied
        );
    }
    // The review stored the card's suspension and tags with its schedule.
    let stored = f.cards.find(f.alice, fresh.id).await.unwrap().unwrap();
    assert_eq!(stored, fresh_after);
    let mut studied = f.cards.studied_since(f.alice, None, since).await.unwrap();
    studied.sort_by_key(|(chat, _)| *chat);
    let mut expected = vec![
        (
            f.chat,
            Studied {
                new: 1,
                review: 1,
                learning: 0,
                duration_ms: 3_000,
            },
        ),
        (
            second,
            Studied {
                new: 0,
                review: 0,
                learning: 1,
                duration_ms: 4_000,
            },
        ),
    ];
    expected.sort_by_key(|(chat, _)| *chat);
    assert_eq!(studied, expected);
    assert_eq!(
        f.cards
            .studied_since(f.alice, Some(second), since)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        f.cards
            .studied_since(f.bob, None, since)
            .await
            .unwrap()
            .is_empty()
    );

    // The last review is the latest; undoing it needs the card's current reps.
    let last = f.cards.last_review(f.alice, since).await.unwrap().unwrap();
    assert_eq!(last, r3);
    assert_eq!(f.cards.last_review(f.bob, since).await.unwrap(), None);
    assert!(
        !f.cards
            .undo_review(f.alice, r3.id, &learning, 2)
            .await
            .unwrap(),
        "the card has 3 reviews now, not 2"
    );
    assert!(
        !f.cards
            .undo_review(f.bob, r3.id, &learning, 3)
            .await
            .is_ok_and(|done| done),
        "not Bob's"
    );
    assert_eq!(
        f.cards.find(f.alice, learning.id).await.unwrap().unwrap(),
        learning_after,
        "nothing changed"
    );
    assert!(
        f.cards
            .undo_review(f.alice, r3.id, &learning, 3)
            .await
            .unwrap()
    );
    assert_eq!(
        f.cards.find(f.alice, learning.id).await.unwrap().unwrap(),
        learning,
        "restored exactly"
    );
    assert_eq!(
        f.cards.last_review(f.alice, since).await.unwrap(),
        Some(r2.clone())
    );
    assert!(
        !f.cards
            .undo_review(f.alice, r3.id, &learning, 3)
            .await
            .unwrap(),
        "a review is undone once"
    );
    assert!(
        f.cards
            .undo_review(f.alice, r2.id, &old_after, 4)
            .await
            .unwrap()
    );
    assert_eq!(
        f.cards.find(f.alice, mature.id).await.unwrap().unwrap(),
        old_after
    );
    assert_eq!(f.cards.last_review(f.alice, since).await.unwrap(), Some(r1));
    let log = f.cards.reviews_since(f.alice, None).await.unwrap();
    assert_eq!(log.len(), 2, "two reviews left in the log");
}

/// A chat's options round-trip; another user cannot read them.
async fn study_options_round_trip_per_chat(backend: Backend) {
    let f = full_fixture(backend).await;
    let second = other_chat(&f).await;
    assert_eq!(f.cards.options(f.alice, f.chat).await.unwrap(), None);
    let options = StudyOptions {
        new_per_day: 7,
        reviews_per_day: 70,
        learning_steps: vec![Duration::seconds(30), Duration::hours(1), Duration::days(2)],
        relearning_steps: Vec::new(),
        maximum_interval_days: 365,
        desired_retention: Some(0.85),
        new_order: NewOrder::Random,
        bury_siblings: false,
        leech_threshold: 5,
        leech_action: LeechAction::Suspend,
        exam_date: chrono::NaiveDate::from_ymd_opt(2031, 6, 30),
        updated_at: Some(Utc::now().trunc_subsecs(6)),
    };
    f.cards
        .save_options(f.alice, f.chat, &options)
        .await
        .unwrap();
    assert_eq!(
        f.cards.options(f.alice, f.chat).await.unwrap(),
        Some(options.clone())
    );
    let changed = StudyOptions {
        new_per_day: 0,
        desired_retention: None,
        ..options.clone()
    };
    f.cards
        .save_options(f.alice, f.chat, &changed)
        .await
        .unwrap();
    f.cards
        .save_options(f.alice, second, &StudyOptions::default())
        .await
        .unwrap();
    let mut all = f.cards.all_options(f.alice).await.unwrap();
    all.sort_by_key(|(chat, _)| *chat);
    let mut expected = vec![(f.chat, changed), (second, StudyOptions::default())];
    expected.sort_by_key(|(chat, _)| *chat);
    assert_eq!(all[0].0, expected[0].0);
    assert_eq!(all.len(), 2);
    for ((_, got), (_, want)) in all.iter().zip(&expected) {
        assert_eq!(
            StudyOptions {
                updated_at: None,
                ..got.clone()
            },
            StudyOptions {
                updated_at: None,
                ..want.clone()
            }
        );
    }
    assert_eq!(f.cards.options(f.bob, f.chat).await.unwrap(), None);
    assert!(f.cards.all_options(f.bob).await.unwrap().is_empty());
}

/// Siblings share a note; the new and review cards of a buried note leave the counts and the
/// queue, its learning cards stay; the notes studied since a moment are each named once.
async fn buried_notes_keep_their_learning_cards_only(backend: Backend) {
    let f = full_fixture(backend).await;
    let now = Utc::now().trunc_subsecs(6);
    let note = NoteRef {
        id: NoteId::new(),
        kind: CardKind::Cloze,
        ordinal: 1,
    };
    let mut siblings = Vec::new();
    for (ordinal, state, due) in [
        (1, CardState::Learning, -5),
        (2, CardState::New, 0),
        (3, CardState::Review, -60),
    ] {
        let mut c = card_in(&f, f.chat, state, due, 30);
        c.note = NoteRef { ordinal, ..note };
        siblings.push(c);
    }
    let other = card_in(&f, f.chat, CardState::New, 0, 60);
    let mut all = siblings.clone();
    all.push(other.clone());
    f.cards.create_many(f.alice, all, 0).await.unwrap();
    let window = (now + Duration::minutes(20), now + Duration::hours(2));
    let counts = |buried: Vec<NoteId>| {
        let cards = f.cards.clone();
        let alice = f.alice;
        async move {
            let c = cards
                .queue_counts(alice, None, window, &buried)
                .await
                .unwrap();
            (c[0].new, c[0].learning, c[0].review)
        }
    };
    assert_eq!(counts(vec![]).await, (2, 1, 1));
    assert_eq!(counts(vec![note.id]).await, (1, 1, 0));
    let new_cards = f
        .cards
        .queue(
            f.alice,
            &[f.chat],
            (QueueKind::New, NewOrder::Created),
            now,
            &[note.id],
            10,
        )
        .await
        .unwrap();
    assert_eq!(new_cards, vec![other.clone()]);
    let learning = f
        .cards
        .queue(
            f.alice,
            &[f.chat],
            (QueueKind::Learning, NewOrder::Created),
            now,
            &[note.id],
            10,
        )
        .await
        .unwrap();
    assert_eq!(learning, vec![siblings[0].clone()]);
    assert_eq!(
        f.cards.note_cards(f.alice, note.id).await.unwrap(),
        siblings
    );
    assert!(f.cards.note_cards(f.bob, note.id).await.unwrap().is_empty());
    let (after, review) = review_of(&siblings[0], CardState::Learning, 1, 10);
    f.cards.record_review(&after, 2, review).await.unwrap();
    let (after, review) = review_of(&other, CardState::New, 1, 10);
    f.cards.record_review(&after, 0, review).await.unwrap();
    let since = now - Duration::minutes(10);
    let mut studied = f.cards.notes_studied_since(f.alice, since).await.unwrap();
    studied.sort();
    let mut expected = vec![(f.chat, note.id), (f.chat, other.note.id)];
    expected.sort();
    assert_eq!(studied, expected);
    assert!(
        f.cards
            .notes_studied_since(f.bob, since)
            .await
            .unwrap()
            .is_empty()
    );
}

on_every_backend!(
    buried_notes_keep_their_learning_cards_only,
    the_queue_counts_and_orders_each_part,
    studied_counts_and_undo_restore_exactly,
    study_options_round_trip_per_chat,
);
