//! Answers being written, shared through the cache between the instances of the service, so a
//! client whose connection drops may resume an answer on any instance (no sticky sessions).
//!
//! The instance writing an answer publishes its events, a batch at a time, under
//! `answer:{id}:{n}` and keeps a head under `answer:{id}` (owner, chat, where each batch ends,
//! whether the answer is over). Another instance that is asked for the answer reads the head and
//! the batches it lacks, polling, and marks the answer as followed (`answer:{id}:followed`) so
//! that the writer does not stop an answer only followed elsewhere. The cache is used
//! fail-open: when it fails, resuming elsewhere fails and nothing else does.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

use super::error::AssistantError;
use super::in_flight::{AnswerEvent, InFlight};
use super::models::MessageId;
use super::ports::{LlmError, MessageRepository};
use crate::accounts::UserId;
use crate::cache::CacheLayer;
use crate::chats::ChatId;
use crate::error::{DomainError, InfraError};

/// How often the writer publishes and a remote reader looks for more.
const TICK: Duration = Duration::from_millis(100);
/// How long a published answer is kept: longer than any answer takes, and its replay time.
const KEPT_FOR: Duration = Duration::from_secs(30 * 60);
/// How long a remote reader's mark lasts without being renewed.
const FOLLOWED_FOR: Duration = Duration::from_secs(3);
/// The cache's name in metrics.
const NAME: &str = "answers";

fn head_key(answer: MessageId) -> String {
    format!("answer:{answer}")
}

fn batch_key(answer: MessageId, batch: usize) -> String {
    format!("answer:{answer}:{batch}")
}

fn followed_key(answer: MessageId) -> String {
    format!("answer:{answer}:followed")
}

/// What the cache holds about an answer.
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    owner: uuid::Uuid,
    chat: uuid::Uuid,
    /// The index one past the last event of each batch, in order.
    ends: Vec<usize>,
    over: bool,
}

/// An event as published: the stored answer is read back from the database by its reader.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Published {
    Delta(String),
    Done,
    Failed { code: String, detail: String },
}

impl Published {
    fn of(event: &AnswerEvent) -> Self {
        match event {
            AnswerEvent::Delta(text) => Self::Delta(text.clone()),
            AnswerEvent::Done(_) => Self::Done,
            AnswerEvent::Failed(error) => Self::Failed {
                code: error.code().as_str().to_string(),
                detail: error.to_string(),
            },
        }
    }

    fn is_over(&self) -> bool {
        !matches!(self, Self::Delta(_))
    }
}

/// The failure a published event names, as close to the writer's as its code allows.
fn failure(code: &str, detail: String) -> AssistantError {
    use crate::error::Code;
    match code {
        c if c == Code::AnswerAbandoned.as_str() => AssistantError::Abandoned,
        c if c == Code::ModelTimeout.as_str() => AssistantError::Model(LlmError::Timeout),
        c if c == Code::ModelRejected.as_str() => AssistantError::Model(LlmError::Rejected(detail)),
        c if c == Code::ModelUnavailable.as_str() => {
            AssistantError::Model(LlmError::Unavailable(detail))
        }
        _ => AssistantError::Infra(InfraError::internal(detail)),
    }
}

/// Publishes `log`, the events of `owner`'s answer `answer` in `chat`, until it is over; marks
/// it followed whenever a remote reader follows it.
pub(super) async fn publish(
    cache: CacheLayer,
    log: Arc<InFlight>,
    answer: MessageId,
    owner: UserId,
    chat: ChatId,
) {
    let mut head = Head {
        owner: owner.as_uuid(),
        chat: chat.as_uuid(),
        ends: Vec::new(),
        over: false,
    };
    let mut published = 0;
    while !head.over {
        log.changed_within(TICK).await;
        let batch: Vec<Published> = log
            .events_from(published)
            .iter()
            .map(Published::of)
            .collect();
        if !batch.is_empty() {
            published += batch.len();
            head.over = batch.last().is_some_and(Published::is_over);
            let key = batch_key(answer, head.ends.len());
            cache.put(NAME, &key, &batch, KEPT_FOR).await;
            head.ends.push(published);
            cache.put(NAME, &head_key(answer), &head, KEPT_FOR).await;
        }
        if !log.watched_here() && cache.get_bytes(NAME, &followed_key(answer)).await.is_some() {
            log.followed_elsewhere();
        }
    }
}

/// The events of `owner`'s answer `answer` in `chat` from index `from` on, as another instance
/// publishes them; `None` when no instance is writing it (or it is another user's).
pub(super) async fn follow(
    cache: CacheLayer,
    messages: Arc<dyn MessageRepository>,
    answer: MessageId,
    owner: UserId,
    chat: ChatId,
    from: usize,
) -> Option<BoxStream<'static, (usize, AnswerEvent)>> {
    let head: Head = cache.get(NAME, &head_key(answer)).await?;
    if head.owner != owner.as_uuid() || head.chat != chat.as_uuid() {
        return None;
    }
    let reader = Reader {
        cache,
        messages,
        answer,
        owner,
        chat,
        next: from,
        pending: Vec::new(),
        first: Some(head),
    };
    Some(
        futures_util::stream::unfold(Some(reader), |reader| async move {
            let mut reader = reader?;
            let (index, event) = reader.next_event().await?;
            let over = !matches!(event, AnswerEvent::Delta(_));
            Some(((index, event), (!over).then_some(reader)))
        })
        .boxed(),
    )
}

/// A remote reader's place in an answer.
struct Reader {
    cache: CacheLayer,
    messages: Arc<dyn MessageRepository>,
    answer: MessageId,
    owner: UserId,
    chat: ChatId,
    /// The index of the next event to hand out.
    next: usize,
    /// Events read but not handed out yet, the first at `next`.
    pending: Vec<Published>,
    /// The head read when the answer was found, used for the first read.
    first: Option<Head>,
}

impl Reader {
    /// The next event, waiting for it to be published; `None` when the answer vanished from
    /// the cache (its writer died, or it expired).
    async fn next_event(&mut self) -> Option<(usize, AnswerEvent)> {
        loop {
            if !self.pending.is_empty() {
                let event = self.pending.remove(0);
                let index = self.next;
                self.next += 1;
                return Some((index, self.event(event).await));
            }
            let head = match self.first.take() {
                Some(head) => head,
                None => {
                    tokio::time::sleep(TICK).await;
                    self.cache
                        .put(NAME, &followed_key(self.answer), &true, FOLLOWED_FOR)
                        .await;
                    self.cache.get(NAME, &head_key(self.answer)).await?
                }
            };
            let total = head.ends.last().copied().unwrap_or(0);
            if self.next >= total && head.over {
                // Asked past the end of a finished answer: its last event, as here.
                self.next = total.saturating_sub(1);
            }
            self.read_batches(&head).await?;
        }
    }

    /// Reads the events from `next` on that `head` says are published.
    async fn read_batches(&mut self, head: &Head) -> Option<()> {
        let first = head.ends.partition_point(|&end| end <= self.next);
        if first == head.ends.len() {
            return Some(());
        }
        let keys: Vec<String> = (first..head.ends.len())
            .map(|batch| batch_key(self.answer, batch))
            .collect();
        let mut start = if first == 0 { 0 } else { head.ends[first - 1] };
        for bytes in self.cache.get_many_bytes(NAME, &keys).await {
            let batch: Vec<Published> = serde_json::from_slice(&bytes?).ok()?;
            let len = batch.len();
            let skip = self.next.saturating_sub(start).min(len);
            self.pending.extend(batch.into_iter().skip(skip));
            start += len;
        }
        Some(())
    }

    async fn event(&self, event: Published) -> AnswerEvent {
        match event {
            Published::Delta(text) => AnswerEvent::Delta(text),
            // The writer stores the answer before it publishes `Done`.
            Published::Done => match self.messages.find(self.owner, self.chat, self.answer).await {
                Ok(Some(message)) => AnswerEvent::Done(Box::new(message)),
                Ok(None) => AnswerEvent::Failed(Arc::new(AssistantError::MessageNotFound)),
                Err(e) => AnswerEvent::Failed(Arc::new(AssistantError::Infra(e))),
            },
            Published::Failed { code, detail } => {
                AnswerEvent::Failed(Arc::new(failure(&code, detail)))
            }
        }
    }
}
