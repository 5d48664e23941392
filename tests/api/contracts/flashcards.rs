//! The `FlashcardRepository` and `GenerationRepository` contracts on the in-memory, SQLite and
//! Postgres adapters.

use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use flashforge_domain::accounts::{UserId, UserRepository};
use flashforge_domain::chats::{ChatId, ChatName, ChatRepository, NewChat};
use flashforge_domain::flashcards::CardFilter;
use flashforge_domain::flashcards::{
    CardSource, ConvertedNotes, DeckImport, GeneratedCard, Generation, GenerationId,
    GenerationRepository, GenerationRequest, GenerationStatus, ImportId, ImportRepository,
    ImportStatus, PackageImport,
};
use flashforge_domain::flashcards::{
    CardState, CardText, CardsStored, Flashcard, FlashcardId, FlashcardRepository, MemoryState,
    Rating, Recorded, Review, ReviewId, Schedule, StudyContext, StudyDay, StudyOptions,
    StudySettings,
};
use flashforge_domain::knowledge::Fairness;
use flashforge_domain::knowledge::{DocumentId, JobId, JobPayload, JobQueue, NewJob};
use flashforge_domain::pagination::{Limit, PageRequest};
use flashforge_memory::{
    InMemoryChatRepository, InMemoryFlashcardRepository, InMemoryGenerationRepository,
    InMemoryImportRepository, InMemoryJobQueue, InMemoryUserRepository,
};
use flashforge_sql::{
    SqlChatRepository, SqlFlashcardRepository, SqlGenerationRepository, SqlImportRepository,
    SqlJobQueue, SqlUserRepository,
};

use crate::helpers::{Backend, Storage, migrated_database};

pub(super) struct Fixture {
    _storage: Storage,
    pub(super) cards: Arc<dyn FlashcardRepository>,
    generations: Arc<dyn GenerationRepository>,
    imports: Arc<dyn ImportRepository>,
    jobs: Arc<dyn JobQueue>,
    pub(super) alice: UserId,
    pub(super) bob: UserId,
    pub(super) chat: ChatId,
    /// Creates more chats of Alice's.
    pub(super) chats: Arc<dyn ChatRepository>,
}

async fn fixture(
    backend: Backend,
) -> (
    Storage,
    Arc<dyn FlashcardRepository>,
    UserId,
    UserId,
    ChatId,
) {
    let f = full_fixture(backend).await;
    (f._storage, f.cards, f.alice, f.bob, f.chat)
}

pub(super) async fn full_fixture(backend: Backend) -> Fixture {
    let (storage, db) = migrated_database(backend).await;
    type Repos = (
        Arc<dyn UserRepository>,
        Arc<dyn ChatRepository>,
        Arc<dyn FlashcardRepository>,
        Arc<dyn GenerationRepository>,
        Arc<dyn ImportRepository>,
        Arc<dyn JobQueue>,
    );
    let (users, chats, cards, generations, imports, jobs): Repos = match db {
        None => {
            let jobs = Arc::new(InMemoryJobQueue::new());
            (
                Arc::new(InMemoryUserRepository::new()),
                Arc::new(InMemoryChatRepository::new()),
                Arc::new(InMemoryFlashcardRepository::new()),
                Arc::new(InMemoryGenerationRepository::new(jobs.clone())),
                Arc::new(InMemoryImportRepository::new(jobs.clone())),
                jobs,
            )
        }
        Some(db) => (
            Arc::new(SqlUserRepository::new(db.clone())),
            Arc::new(SqlChatRepository::new(db.clone())),
            Arc::new(SqlFlashcardRepository::new(db.clone())),
            Arc::new(SqlGenerationRepository::new(db.clone())),
            Arc::new(SqlImportRepository::new(db.clone())),
            Arc::new(SqlJobQueue::new(db)),
        ),
    };
    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        ids.push(super::stored_user(&*users, name).await);
    }
    let chat = chats
        .create(NewChat {
            id: ChatId::new(),
            user_id: ids[0],
            name: ChatName::parse("cards").unwrap(),
            created_at: Utc::now().trunc_subsecs(6),
        })
        .await
        .unwrap()
        .id;
    Fixture {
        _storage: storage,
        cards,
        generations,
        imports,
        jobs,
        alice: ids[0],
        bob: ids[1],
        chat,
        chats,
    }
}

pub(super) fn card(user: UserId, chat: ChatId, due_in_minutes: i64) -> Flashcard {
    let now = Utc::now().trunc_subsecs(6);
    Flashcard {
        id: FlashcardId::new(),
        user_id: user,
        chat_id: chat,
        question: CardText::from_stored("q".into()),
        answer: CardText::from_stored("a".into()),
        tags: Vec::new(),
        suspended: false,
        source: None,
        note: flashforge_domain::flashcards::NoteRef::basic(),
        schedule: Schedule {
            due: now + Duration::minutes(due_in_minutes),
            ..Schedule::new_card(now)
        },
        created_at: now,
        updated_at: now,
    }
}

fn reviewed(mut card: Flashcard, key: Option<&str>) -> (Flashcard, Review) {
    let now = Utc::now().trunc_subsecs(6);
    card.schedule = Schedule {
        state: CardState::Learning,
        memory: Some(MemoryState {
            stability: 2.3,
            difficulty: 2.1,
        }),
        due: now + Duration::minutes(10),
        reps: card.schedule.reps + 1,
        step: 1,
        last_reviewed_at: Some(now),
        ..card.schedule
    };
    let review = Review {
        id: ReviewId::new(),
        card_id: card.id,
        user_id: card.user_id,
        rating: Rating::Good,
        state_before: CardState::New,
        reviewed_at: now,
        elapsed_days: 0,
        duration_ms: Some(1000),
        stability: 2.3,
        difficulty: 2.1,
        idempotency_key: key.map(str::to_string),
        card_before: None,
    };
    (card, review)
}

async fn racing_reviews_apply_once_and_keys_replay(backend: Backend) {
    let (_s, cards, alice, _bob, chat) = fixture(backend).await;
    let original = card(alice, chat, 0);
    cards
        .create_many(alice, vec![original.clone()], 0)
        .await
        .unwrap();
    let (a, review_a) = reviewed(original.clone(), Some("key-a"));
    let (b, review_b) = reviewed(original.clone(), Some("key-b"));
    let (first, second) = tokio::join!(
        cards.record_review(&a, 0, review_a.clone()),
        cards.record_review(&b, 0, review_b)
    );
    let outcomes = [first.unwrap(), second.unwrap()];
    assert_eq!(
        outcomes.iter().filter(|o| **o == Recorded::Applied).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&Recorded::Stale));
    let stored = cards.find(alice, original.id).await.unwrap().unwrap();
    assert_eq!(stored.schedule.reps, 1);
    assert_eq!(
        stored.schedule.memory,
        Some(MemoryState {
            stability: 2.3,
            difficulty: 2.1
        })
    );
    // The applied one's key replays.
    let applied_key = if outcomes[0] == Recorded::Applied {
        "key-a"
    } else {
        "key-b"
    };
    let (again, review) = reviewed(stored.clone(), Some(applied_key));
    match cards.record_review(&again, 1, review).await.unwrap() {
        Recorded::Replayed(previous) => assert_eq!(previous.card_id, original.id),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert_eq!(
        cards
            .find(alice, original.id)
            .await
            .unwrap()
            .unwrap()
            .schedule
            .reps,
        1
    );
}

async fn cards_are_scoped_and_the_due_queue_is_ordered(backend: Backend) {
    let (_s, cards, alice, bob, chat) = fixture(backend).await;
    let soon = card(alice, chat, -5);
    let sooner = card(alice, chat, -10);
    let later = card(alice, chat, 60);
    let mut suspended = card(alice, chat, -20);
    suspended.suspended = true;
    cards
        .create_many(
            alice,
            vec![
                soon.clone(),
                sooner.clone(),
                later.clone(),
                suspended.clone(),
            ],
            0,
        )
        .await
        .unwrap();
    let now = Utc::now();
    let due = cards.due(alice, None, now, 10).await.unwrap();
    let ids: Vec<FlashcardId> = due.iter().map(|c| c.id).collect();
    assert_eq!(ids, [sooner.id, soon.id]);
    assert_eq!(cards.due(alice, Some(chat), now, 1).await.unwrap().len(), 1);
    assert!(cards.due(bob, None, now, 10).await.unwrap().is_empty());
    assert_eq!(cards.find(bob, soon.id).await.unwrap(), None);
    assert!(!cards.delete(bob, soon.id).await.unwrap());
    let mut stolen = soon.clone();
    stolen.user_id = bob;
    assert!(!cards.update(&stolen).await.unwrap());
    let (reviewed_card, review) = reviewed(soon.clone(), None);
    let mut foreign = reviewed_card.clone();
    foreign.user_id = bob;
    assert_eq!(
        cards.record_review(&foreign, 0, review).await.unwrap(),
        Recorded::Stale
    );
    assert_eq!(cards.delete_chat(alice, chat).await.unwrap(), 4);
    assert!(cards.due(alice, None, now, 10).await.unwrap().is_empty());
}

async fn generations_queue_their_job_round_trip_and_are_scoped(backend: Backend) {
    let f = full_fixture(backend).await;
    let now = Utc::now().trunc_subsecs(6);
    let mut generation = Generation {
        id: GenerationId::new(),
        user_id: f.alice,
        chat_id: f.chat,
        request: GenerationRequest {
            document_id: Some(DocumentId::new()),
            chunk_ids: Vec::new(),
            text: None,
            topic: None,
            count: 60,
            save: true,
        },
        status: GenerationStatus::Queued,
        generator: None,
        batches_done: 0,
        batches_total: 3,
        cards: Vec::new(),
        error: None,
        created_at: now,
        updated_at: now,
    };
    let payload = JobPayload::GenerateFlashcards {
        user_id: f.alice,
        generation_id: generation.id,
    };
    let job = NewJob {
        id: JobId::new(),
        payload: payload.clone(),
        max_attempts: 3,
        run_at: now,
        request_id: None,
    };
    f.generations.create(&generation, job).await.unwrap();
    // The job was queued with it.
    let claimed = f
        .jobs
        .claim("w", now, now + Duration::seconds(60), Fairness::default())
        .await
        .unwrap()
        .expect("the generation's job is queued");
    assert_eq!(claimed.payload, payload);
    assert_eq!(
        f.generations.find(f.alice, generation.id).await.unwrap(),
        Some(generation.clone())
    );
    assert_eq!(
        f.generations.find(f.bob, generation.id).await.unwrap(),
        None
    );

    generation.status = GenerationStatus::Completed;
    generation.generator = Some("offline".into());
    generation.batches_done = 3;
    generation.cards = vec![GeneratedCard {
        // Stored and read back with its kind.
        kind: flashforge_domain::flashcards::CardKind::Cloze,
        question: "What is ATP?".into(),
        answer: "The cell's energy currency".into(),
        source: Some(CardSource {
            document_id: DocumentId::new(),
            chunk_id: None,
            page: Some(2),
            page_label: Some("slide 2".into()),
            quote: Some("ATP is the cell's energy currency".into()),
        }),
        card_id: Some(FlashcardId::new()),
    }];
    generation.error = Some("attempt 1 failed".into());
    generation.updated_at = now + Duration::seconds(5);
    assert!(f.generations.update(&generation).await.unwrap());
    assert_eq!(
        f.generations.find(f.alice, generation.id).await.unwrap(),
        Some(generation.clone())
    );
    // Another owner can neither update nor delete it.
    let mut foreign = generation.clone();
    foreign.user_id = f.bob;
    foreign.status = GenerationStatus::Failed;
    assert!(!f.generations.update(&foreign).await.unwrap());
    assert_eq!(f.generations.delete_chat(f.bob, f.chat).await.unwrap(), 0);
    assert_eq!(f.generations.delete_user(f.bob).await.unwrap(), 0);
    assert_eq!(
        f.generations
            .find(f.alice, generation.id)
            .await
            .unwrap()
            .map(|g| g.status),
        Some(GenerationStatus::Completed)
    );
    assert_eq!(f.generations.delete_chat(f.alice, f.chat).await.unwrap(), 1);
    assert_eq!(
        f.generations.find(f.alice, generation.id).await.unwrap(),
        None
    );
    assert!(!f.generations.update(&generation).await.unwrap(), "gone");
}

/// A card comes with its study context: its owner's settings and its chat's options (none
/// until saved, then the saved ones), by id, in a page and for a chat. Another user neither
/// gets the card nor sees whose settings or options would go with it, and one chat's options
/// never attach to another chat's cards.
async fn a_card_comes_with_its_study_context(backend: Backend) {
    let f = full_fixture(backend).await;
    let (cards, alice, bob, chat) = (f.cards.clone(), f.alice, f.bob, f.chat);
    let other = another_chat(&f, alice).await;
    let bobs_chat = another_chat(&f, bob).await;
    let mine = card(alice, chat, 0);
    let elsewhere = card(alice, other, 0);
    cards
        .create_many(alice, vec![mine.clone(), elsewhere.clone()], 0)
        .await
        .unwrap();
    let none = StudyContext::default();
    assert_eq!(
        cards.find_in_context(alice, mine.id).await.unwrap(),
        Some((mine.clone(), none.clone()))
    );
    assert_eq!(cards.study_context(alice, chat).await.unwrap(), none);
    let saved = StudySettings {
        desired_retention: 0.85,
        parameters: vec![0.5; 21],
        day: StudyDay {
            timezone: "Europe/Berlin".parse().unwrap(),
            starts_at_hour: 3,
        },
        updated_at: Some(Utc::now().trunc_subsecs(6)),
    };
    cards.save_settings(alice, &saved).await.unwrap();
    let options = StudyOptions {
        new_per_day: 7,
        desired_retention: Some(0.8),
        updated_at: Some(Utc::now().trunc_subsecs(6)),
        ..StudyOptions::default()
    };
    cards.save_options(alice, chat, &options).await.unwrap();
    let options = cards.options(alice, chat).await.unwrap();
    assert!(options.is_some());
    // Bob's settings and options must not attach themselves to Alice's cards.
    let bobs = StudySettings {
        desired_retention: 0.75,
        ..saved.clone()
    };
    cards.save_settings(bob, &bobs).await.unwrap();
    cards
        .save_options(bob, bobs_chat, &StudyOptions::default())
        .await
        .unwrap();
    let alices = StudyContext {
        settings: Some(saved.clone()),
        options,
    };
    assert_eq!(
        cards.find_in_context(alice, mine.id).await.unwrap(),
        Some((mine.clone(), alices.clone()))
    );
    assert_eq!(cards.study_context(alice, chat).await.unwrap(), alices);
    let page = PageRequest {
        limit: Limit::parse(Some(10)).unwrap(),
        after: None,
    };
    let filter = CardFilter::default();
    let (listed, context) = cards
        .list_in_context(alice, chat, &filter, page.clone())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![mine.clone()]);
    assert_eq!(context, alices);
    // The other chat has no options: its cards get the settings alone.
    let settings_only = StudyContext {
        settings: Some(saved.clone()),
        options: None,
    };
    assert_eq!(
        cards.find_in_context(alice, elsewhere.id).await.unwrap(),
        Some((elsewhere.clone(), settings_only.clone()))
    );
    let (listed, context) = cards
        .list_in_context(alice, other, &filter, page.clone())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![elsewhere]);
    assert_eq!(context, settings_only);
    assert_eq!(
        cards.study_context(alice, other).await.unwrap(),
        settings_only
    );
    // Bob gets none of Alice's cards, and never her chat's options.
    assert_eq!(cards.find_in_context(bob, mine.id).await.unwrap(), None);
    let (listed, _) = cards
        .list_in_context(bob, chat, &filter, page)
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert_eq!(
        cards.study_context(bob, chat).await.unwrap(),
        StudyContext {
            settings: Some(bobs),
            options: None,
        }
    );
    assert_eq!(
        cards.study_context(alice, bobs_chat).await.unwrap(),
        settings_only
    );
    assert_eq!(
        cards
            .find_in_context(alice, FlashcardId::new())
            .await
            .unwrap(),
        None
    );
}

async fn another_chat(f: &Fixture, owner: UserId) -> ChatId {
    f.chats
        .create(NewChat {
            id: ChatId::new(),
            user_id: owner,
            name: ChatName::parse("more cards").unwrap(),
            created_at: Utc::now().trunc_subsecs(6),
        })
        .await
        .unwrap()
        .id
}

/// The card count a quota checks is exact: simultaneous writes of one user never pass the
/// limit together, a refused write stores nothing, and deletes of a card, a chat's cards and a
/// user's cards give their room back. Another user cannot delete them.
async fn the_card_quota_is_exact_under_simultaneous_writes(backend: Backend) {
    let f = full_fixture(backend).await;
    let (cards, alice, bob, chat) = (f.cards.clone(), f.alice, f.bob, f.chat);
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let cards = cards.clone();
        writers.spawn(async move {
            let three = (0..3).map(|_| card(alice, chat, 0)).collect();
            cards.create_many(alice, three, 10).await.unwrap()
        });
    }
    let (mut stored, mut refused) = (0, 0);
    while let Some(outcome) = writers.join_next().await {
        match outcome.unwrap() {
            CardsStored::Stored => stored += 1,
            CardsStored::OverQuota { cards } => {
                assert!(cards <= 10, "{cards}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        (stored, refused),
        (3, 5),
        "three writes of three fit in ten"
    );
    assert_eq!(cards.card_count(alice).await.unwrap(), 9);
    assert_eq!(cards.count_cards(alice).await.unwrap().0, 9);
    assert_eq!(
        cards
            .create_many(alice, vec![card(alice, chat, 0), card(alice, chat, 0)], 10)
            .await
            .unwrap(),
        CardsStored::OverQuota { cards: 9 }
    );
    let one = card(alice, chat, 0);
    assert_eq!(
        cards
            .create_many(alice, vec![one.clone()], 10)
            .await
            .unwrap(),
        CardsStored::Stored
    );
    assert_eq!(cards.card_count(alice).await.unwrap(), 10);
    assert!(cards.delete(alice, one.id).await.unwrap());
    assert!(!cards.delete(bob, one.id).await.unwrap());
    assert_eq!(cards.card_count(alice).await.unwrap(), 9);
    assert_eq!(cards.card_count(bob).await.unwrap(), 0);
    assert_eq!(cards.delete_chat(alice, chat).await.unwrap(), 9);
    assert_eq!(cards.card_count(alice).await.unwrap(), 0);
    let again: Vec<Flashcard> = (0..10).map(|_| card(alice, chat, 0)).collect();
    assert_eq!(
        cards.create_many(alice, again, 10).await.unwrap(),
        CardsStored::Stored
    );
    assert_eq!(cards.delete_user(alice).await.unwrap(), 10);
    assert_eq!(cards.card_count(alice).await.unwrap(), 0);
    assert_eq!(cards.count_cards(alice).await.unwrap().0, 0);
}

/// A background import and its job are stored together; it reads back as written, only for
/// its owner; progress, report and error update; deleting the chat or the user removes it.
async fn imports_queue_their_job_round_trip_and_are_scoped(backend: Backend) {
    let f = full_fixture(backend).await;
    let now = Utc::now().trunc_subsecs(6);
    let mut import = DeckImport {
        id: ImportId::new(),
        user_id: f.alice,
        chat_id: f.chat,
        status: ImportStatus::Queued,
        notes_total: 1200,
        notes_done: 0,
        report: PackageImport::default(),
        error: None,
        created_at: now,
        updated_at: now,
    };
    let payload = JobPayload::ImportDeck {
        user_id: f.alice,
        import_id: import.id,
    };
    let job = NewJob {
        id: JobId::new(),
        payload: payload.clone(),
        max_attempts: 3,
        run_at: now,
        request_id: None,
    };
    f.imports.create(&import, job).await.unwrap();
    let claimed = f
        .jobs
        .claim("w", now, now + Duration::seconds(60), Fairness::default())
        .await
        .unwrap()
        .expect("the import's job is queued");
    assert_eq!(claimed.payload, payload);
    assert_eq!(
        f.imports.find(f.alice, import.id).await.unwrap(),
        Some(import.clone())
    );
    assert_eq!(f.imports.find(f.bob, import.id).await.unwrap(), None);

    import.status = ImportStatus::Running;
    import.notes_done = 250;
    import.report = PackageImport {
        notes: 249,
        cards: 300,
        reviews: 4000,
        errors: vec![(
            17,
            flashforge_domain::FieldError::new("question", "is empty"),
        )],
        converted: vec![ConvertedNotes {
            note_type: "Vocabulary".into(),
            notes: 3,
        }],
        media_skipped: vec!["cell.png".into()],
    };
    import.error = Some("a retry is coming".into());
    import.updated_at = now + Duration::seconds(5);
    assert!(f.imports.update(&import).await.unwrap());
    assert_eq!(
        f.imports.find(f.alice, import.id).await.unwrap(),
        Some(import.clone())
    );
    let stolen = DeckImport {
        user_id: f.bob,
        status: ImportStatus::Failed,
        ..import.clone()
    };
    assert!(!f.imports.update(&stolen).await.unwrap());
    assert_eq!(f.imports.delete_chat(f.bob, f.chat).await.unwrap(), 0);
    assert_eq!(f.imports.delete_chat(f.alice, f.chat).await.unwrap(), 1);
    assert_eq!(f.imports.find(f.alice, import.id).await.unwrap(), None);
    assert!(!f.imports.update(&import).await.unwrap(), "gone");
    assert_eq!(f.imports.delete_user(f.alice).await.unwrap(), 0);
}

/// Imported cards come with their review log in one write: all stored, or (over the quota)
/// neither the cards nor their reviews; a review of a card not among them is refused.
async fn cards_are_stored_with_their_history_or_not_at_all(backend: Backend) {
    let f = full_fixture(backend).await;
    let (cards, alice, bob, chat) = (f.cards.clone(), f.alice, f.bob, f.chat);
    let past = Utc::now().trunc_subsecs(6) - Duration::days(30);
    let history = |card: &Flashcard, n: i64| -> Vec<Review> {
        (0..n)
            .map(|i| Review {
                reviewed_at: past + Duration::days(i * 3),
                elapsed_days: if i == 0 { 0 } else { 3 },
                ..reviewed(card.clone(), None).1
            })
            .collect()
    };
    let (one, two) = (card(alice, chat, 0), card(alice, chat, 60));
    let mut reviews = history(&one, 3);
    reviews.extend(history(&two, 2));
    assert_eq!(
        cards
            .create_with_history(alice, vec![one.clone(), two.clone()], reviews, 0)
            .await
            .unwrap(),
        CardsStored::Stored
    );
    let logged = cards.reviews_since(alice, None).await.unwrap();
    assert_eq!(logged.len(), 5);
    assert_eq!(logged.iter().filter(|r| r.card_id == one.id).count(), 3);
    assert!(
        logged
            .windows(2)
            .all(|w| w[0].reviewed_at <= w[1].reviewed_at)
    );
    assert_eq!(logged[0].reviewed_at, past);
    assert!(cards.reviews_since(bob, None).await.unwrap().is_empty());

    // Over the quota: nothing, not even the reviews.
    let three = card(alice, chat, 0);
    let refused = cards
        .create_with_history(alice, vec![three.clone()], history(&three, 2), 2)
        .await
        .unwrap();
    assert_eq!(refused, CardsStored::OverQuota { cards: 2 });
    assert!(cards.find(alice, three.id).await.unwrap().is_none());
    assert_eq!(cards.reviews_since(alice, None).await.unwrap().len(), 5);

    // A review of a card not being stored is a caller's bug, refused whole.
    let four = card(alice, chat, 0);
    assert!(
        cards
            .create_with_history(alice, vec![four.clone()], history(&one, 1), 0)
            .await
            .is_err()
    );
    assert!(cards.find(alice, four.id).await.unwrap().is_none());
}

on_every_backend!(
    imports_queue_their_job_round_trip_and_are_scoped,
    cards_are_stored_with_their_history_or_not_at_all,
    the_card_quota_is_exact_under_simultaneous_writes,
    a_card_comes_with_its_study_context,
    racing_reviews_apply_once_and_keys_replay,
    cards_are_scoped_and_the_due_queue_is_ordered,
    generations_queue_their_job_round_trip_and_are_scoped,
);
