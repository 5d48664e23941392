//! Streamed answers: written to the end by a task of their own, followed live and resumed
//! after a reconnect.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::error::AssistantError;
use super::in_flight::{AnswerEvent, AnswerStream, InFlight};
use super::models::{MessageId, MessageStatus, Role, Usage};
use super::ports::{LlmError, StreamEvent};
use super::service::{Ask, Assistant, Prepared, settle, store_answer};
use crate::accounts::Principal;
use crate::chats::ChatId;
use crate::spend::{Reservation, Spent};

/// How long a finished answer stays replayable after its last event.
const REPLAYABLE_FOR: Duration = Duration::from_secs(120);

/// The model's events as it sends them.
type Upstream = BoxStream<'static, Result<StreamEvent, LlmError>>;

/// How a streamed answer ended.
enum Ending {
    Finished(String, Usage),
    Failed(LlmError),
    Abandoned,
}

/// A streamed answer being written: what was asked and where its events go.
struct Writing {
    prepared: Prepared,
    reservation: Reservation,
    /// The model asked for, counted when the provider names none.
    asked: String,
    answer_id: MessageId,
    log: Arc<InFlight>,
}

impl Assistant {
    /// Like [`Self::send`], streamed. The answer is written to the end and stored even when the
    /// receiver goes away for a moment (a client may resume it), but one that nobody follows
    /// for [`AssistantSettings::abandoned_after`] is stopped: what was written is stored as
    /// `incomplete` and its tokens are counted.
    pub async fn send_streaming(
        self: &Arc<Self>,
        who: Principal,
        chat: ChatId,
        ask: Ask,
    ) -> Result<AnswerStream, AssistantError> {
        let (prepared, mut reservation) = self.prepare(who, chat, ask).await?;
        let asked = self.model_asked(&prepared.prompt);
        reservation.started(&asked);
        let upstream = match self.model.stream(&prepared.prompt).await {
            Ok(upstream) => upstream,
            Err(e) => {
                let refused = matches!(e, LlmError::Rejected(_));
                settle(
                    reservation,
                    Spent {
                        model: asked,
                        usage: None,
                        completion_chars: 0,
                        refused,
                    },
                )
                .await;
                return Err(AssistantError::Model(e));
            }
        };
        let answer_id = MessageId::new();
        let events = Arc::new(InFlight::new(who.user_id, chat));
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(answer_id, events.clone());
        if let Some(cache) = &self.relay {
            tokio::spawn(super::relay::publish(
                cache.clone(),
                events.clone(),
                answer_id,
                who.user_id,
                chat,
            ));
        }
        let question = prepared.question.clone();
        let writing = Writing {
            prepared,
            reservation,
            asked,
            answer_id,
            log: events.clone(),
        };
        tokio::spawn(self.clone().write_answer(writing, upstream));
        Ok(AnswerStream {
            question,
            answer_id,
            events,
        })
    }

    /// The events of `owner`'s answer `answer` from index `from` on: live while it is being
    /// written, replayed for a while after, and afterwards the stored answer as one `Done`.
    pub async fn resume(
        &self,
        who: Principal,
        chat: ChatId,
        answer: MessageId,
        from: usize,
    ) -> Result<BoxStream<'static, (usize, AnswerEvent)>, AssistantError> {
        self.chats
            .find(who.user_id, chat)
            .await?
            .ok_or(AssistantError::ChatNotFound)?;
        let live = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&answer)
            .cloned();
        if let Some(events) = live.filter(|e| e.owner == who.user_id && e.chat == chat) {
            return Ok(events.follow(from));
        }
        if let Some(cache) = &self.relay {
            let elsewhere = super::relay::follow(
                cache.clone(),
                self.messages.clone(),
                answer,
                who.user_id,
                chat,
                from,
            )
            .await;
            if let Some(events) = elsewhere {
                return Ok(events);
            }
        }
        let stored = self
            .messages
            .find(who.user_id, chat, answer)
            .await?
            .filter(|m| m.role == Role::Assistant)
            .ok_or(AssistantError::MessageNotFound)?;
        Ok(futures_util::stream::iter([(from, AnswerEvent::Done(Box::new(stored)))]).boxed())
    }

    /// Follows the model's stream to its end, then records the call, stores the answer and
    /// keeps its events replayable for a while.
    async fn write_answer(self: Arc<Self>, writing: Writing, upstream: Upstream) {
        let Writing {
            prepared,
            reservation,
            asked,
            answer_id,
            log,
        } = writing;
        let (text, ending) = follow(upstream, &log, self.settings.abandoned_after).await;
        let spent = match &ending {
            Ending::Finished(model, usage) => Spent {
                model: model.clone(),
                usage: Some(*usage),
                completion_chars: text.chars().count(),
                refused: false,
            },
            Ending::Failed(_) | Ending::Abandoned => Spent {
                model: asked,
                usage: None,
                completion_chars: text.chars().count(),
                refused: false,
            },
        };
        settle(reservation, spent).await;
        let last = self.store_ending(&prepared, answer_id, text, ending).await;
        log.push(last);
        tokio::time::sleep(REPLAYABLE_FOR).await;
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&answer_id);
    }

    /// Stores what was written and says how the answer ended, as its last event. Nothing
    /// written and a failure: store nothing, as `send` does. A regeneration cut part-way stores
    /// nothing either: the answer it would replace stays.
    async fn store_ending(
        &self,
        prepared: &Prepared,
        answer_id: MessageId,
        text: String,
        ending: Ending,
    ) -> AnswerEvent {
        let (model, usage, status, failure) = match ending {
            Ending::Finished(model, usage) => {
                (Some(model), Some(usage), MessageStatus::Complete, None)
            }
            Ending::Failed(e) => (
                None,
                None,
                MessageStatus::Incomplete,
                Some(AssistantError::Model(e)),
            ),
            Ending::Abandoned => (
                None,
                None,
                MessageStatus::Incomplete,
                Some(AssistantError::Abandoned),
            ),
        };
        match failure {
            Some(failure) if text.is_empty() || prepared.replacing.is_some() => {
                AnswerEvent::Failed(Arc::new(failure))
            }
            failure => {
                let stored = store_answer(
                    &*self.messages,
                    &*self.chats,
                    &*self.clock,
                    prepared,
                    answer_id,
                    text,
                    model,
                    usage,
                    status,
                )
                .await;
                match (stored, failure) {
                    (Ok(answer), None) => AnswerEvent::Done(Box::new(answer)),
                    (Ok(_), Some(e)) => AnswerEvent::Failed(Arc::new(e)),
                    (Err(e), _) => AnswerEvent::Failed(Arc::new(AssistantError::Infra(e))),
                }
            }
        }
    }
}

/// Reads the model's stream into `log` until it ends, fails, or nobody has followed the answer
/// for `grace`; closing the provider's stream then stops the answer being written (and paid
/// for).
async fn follow(mut upstream: Upstream, log: &InFlight, grace: Duration) -> (String, Ending) {
    let mut text = String::new();
    let mut check =
        tokio::time::interval(grace.clamp(Duration::from_millis(50), Duration::from_secs(1)));
    let ending = loop {
        tokio::select! {
            event = upstream.next() => match event {
                Some(Ok(StreamEvent::Delta(piece))) => {
                    text.push_str(&piece);
                    log.push(AnswerEvent::Delta(piece));
                }
                Some(Ok(StreamEvent::Done { model, usage })) => {
                    break Ending::Finished(model, usage);
                }
                Some(Err(e)) => break Ending::Failed(e),
                None => {
                    break Ending::Failed(LlmError::Unavailable(
                        "the answer stream ended early".into(),
                    ));
                }
            },
            _ = check.tick() => {
                if log.abandoned(grace) {
                    break Ending::Abandoned;
                }
            }
        }
    };
    drop(upstream);
    (text, ending)
}
