//! The deck of cards the flashcards and load benchmarks share.

use chrono::{DateTime, Utc};
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardText, Flashcard, FlashcardId, FlashcardRepository, Schedule, Tag,
};

/// Stores `count` cards of `owner` in `chat`, in batches of 1,000, tagged over 97 topics and
/// due over the next 100 days (1 % due now). Returns the card a page 90 % deep starts after
/// (the list is newest first).
pub async fn seed(
    cards: &dyn FlashcardRepository,
    owner: UserId,
    chat: ChatId,
    now: DateTime<Utc>,
    count: usize,
) -> FlashcardId {
    let mut ids = Vec::with_capacity(count);
    for batch in 0..count / 1000 {
        let batch_cards: Vec<Flashcard> = (0..1000)
            .map(|i| {
                let n = batch * 1000 + i;
                let id = FlashcardId::new();
                ids.push(id);
                Flashcard {
                    id,
                    user_id: owner,
                    chat_id: chat,
                    question: CardText::from_stored(format!("Question {n} about topic {}", n % 97)),
                    answer: CardText::from_stored(format!("Answer {n}")),
                    tags: vec![Tag::from_stored(format!("topic-{}", n % 97))],
                    suspended: false,
                    source: None,
                    note: flashforge_domain::flashcards::NoteRef::basic(),
                    schedule: Schedule {
                        due: now + chrono::Duration::minutes((n as i64 * 7919) % 144_000 - 1_440),
                        ..Schedule::new_card(now)
                    },
                    created_at: now,
                    updated_at: now,
                }
            })
            .collect();
        cards.create_many(owner, batch_cards, 0).await.unwrap();
    }
    ids.sort();
    ids.reverse();
    ids[count * 9 / 10]
}
