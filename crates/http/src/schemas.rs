//! The closed sets of the API as OpenAPI enums, and the shapes the document names that no body
//! type carries (a binary file, the events of an answer's stream).
//!
//! The bodies keep the domain's own strings (`as_str`/`parse` are the truth); a field or
//! parameter names one of these types (`#[schema(value_type = MessageRole)]`) so that the
//! document lists its values. The tests below hold each list to the domain's.

use serde::Serialize;
use utoipa::ToSchema;

/// Declares each closed set as a `ToSchema` enum whose variants are its values, and
/// [`ALL_ENUMS`], the list of every one with its values (for [`crate::openapi`] and the tests).
macro_rules! closed_sets {
    ($($(#[doc = $doc:literal])* $name:ident { $($variant:ident = $value:literal),+ $(,)? })*) => {
        $(
            $(#[doc = $doc])*
            #[allow(dead_code)]
            pub enum $name {
                $($variant,)+
            }

            // Written out rather than derived: the derive does not see a `serde(rename)` whose
            // value comes through a macro, and would list the variants' Rust names.
            impl utoipa::PartialSchema for $name {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    let lines: &[&str] = &[$($doc),*];
                    let description: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .description(Some(description.join("\n")))
                        .enum_values(Some([$($value),+]))
                        .into()
                }
            }

            impl utoipa::ToSchema for $name {
                fn name() -> std::borrow::Cow<'static, str> {
                    std::borrow::Cow::Borrowed(stringify!($name))
                }
            }
        )*

        /// Every closed set: its component name and its values.
        pub const ALL_ENUMS: &[(&str, &[&str])] = &[$((stringify!($name), &[$($value),+])),*];

        /// Adds every closed set to `schemas` (those named only from query parameters would
        /// otherwise be missing).
        pub(crate) fn register(
            schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
        ) {
            $(
                schemas.push((
                    stringify!($name).to_string(),
                    <$name as utoipa::PartialSchema>::schema(),
                ));
            )*
        }
    };
}

closed_sets! {
    /// Who wrote a message.
    MessageRole { User = "user", Assistant = "assistant" }
    /// `complete`, or `incomplete` when the model failed part-way.
    MessageStatus { Complete = "complete", Incomplete = "incomplete" }
    /// Where a document is in its ingestion: `pending` (stored, waiting for a worker),
    /// `processing`, `completed` (searchable) or `failed` (`error` says why).
    DocumentStatus {
        Pending = "pending",
        Processing = "processing",
        Completed = "completed",
        Failed = "failed",
    }
    /// What a file is, decided from its bytes.
    MediaType {
        Pdf = "pdf", Markdown = "markdown", Text = "text", Html = "html", Docx = "docx",
        Odt = "odt", Rtf = "rtf", Pptx = "pptx", Odp = "odp", Epub = "epub", Image = "image"
    }
    /// The order new cards are introduced in: the order they were made, or a fixed shuffle.
    NewOrder { Created = "created", Random = "random" }
    /// What happens to a leech: suspended (and tagged `leech`), or only tagged.
    LeechAction { Suspend = "suspend", Tag = "tag" }
    /// A part of the study queue: new cards, cards in learning steps, cards in review.
    QueueKind { New = "new", Learning = "learning", Review = "review" }
    /// What kind of note a card is made from: one card, two (forward and backward), or one per
    /// cloze number.
    CardKind { Basic = "basic", Reversed = "reversed", Cloze = "cloze" }
    /// Where a card is in its life (FSRS).
    CardState { New = "new", Learning = "learning", Review = "review", Relearning = "relearning" }
    /// Whether a card's source is still there: `changed` once its document was read again into
    /// new passages, `missing` once the document was deleted or replaced.
    SourceStatus { Available = "available", Changed = "changed", Missing = "missing" }
    /// How well a card was recalled.
    Rating { Again = "again", Hard = "hard", Good = "good", Easy = "easy" }
    /// How to search: by meaning, by words, or both fused.
    SearchMode { Semantic = "semantic", Keyword = "keyword", Hybrid = "hybrid" }
    /// A deck's file format: CSV, or an Anki package.
    ExportFormat { Csv = "csv", Apkg = "apkg" }
    /// What an upload of bytes the chat already holds does: `return` that document, or
    /// `replace` it.
    OnDuplicate { Return = "return", Replace = "replace" }
    /// Who made generated cards: the language model, or the offline generator.
    Generator { LanguageModel = "language_model", Offline = "offline" }
    /// Where a background generation is.
    GenerationStatus { Queued = "queued", Running = "running", Completed = "completed", Failed = "failed" }
    /// The process is up.
    LivenessStatus { Alive = "alive" }
    /// `ready`; `unready` when a required dependency is down; `stopping` once the process has
    /// begun to shut down.
    ReadinessStatus { Ready = "ready", Unready = "unready", Stopping = "stopping" }
    /// A dependency's state.
    DependencyStatus { Up = "up", Down = "down" }
    /// The prototype's health status.
    LegacyHealthStatus { Healthy = "healthy" }
    /// The kind of an access token.
    TokenType { Bearer = "Bearer" }
}

/// A file's bytes, as downloaded.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryFile(#[allow(dead_code)] Vec<u8>);

/// A `delta` event: the next piece of the answer's text.
#[derive(Serialize, ToSchema)]
pub struct DeltaEvent {
    pub text: String,
}

/// The description of an answer's event stream, for the operations that send one.
pub const EVENT_STREAM: &str = "With `Accept: text/event-stream`: the answer as server-sent \
events as it is written. Each event has an `id` (its position; send the last one received as \
`Last-Event-ID` to resume), an `event` name and a JSON `data` line:\n\n\
| event | data |\n|---|---|\n\
| `question` | `QuestionEvent`: the stored question and the `answer_id` (not sent on resume) |\n\
| `delta` | `DeltaEvent`: the next piece of the answer's text |\n\
| `done` | `DoneEvent`: the stored answer; the stream ends |\n\
| `error` | `Problem`: why the answer failed; the stream ends |\n\n\
Comment lines (`: keep-alive`) keep an idle connection open.";

#[cfg(test)]
mod tests {
    use super::*;
    use flashforge_domain::assistant::{MessageStatus as Status, Role};
    use flashforge_domain::flashcards::drafting::Generator as Gen;
    use flashforge_domain::flashcards::{CardState as State, Rating as Grade};
    use flashforge_domain::knowledge::{DocumentStatus as DocStatus, MediaType as Media};

    fn values(name: &str) -> &'static [&'static str] {
        ALL_ENUMS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap()
    }

    /// Each listed value parses in the domain, and each domain value is listed.
    fn same<T: Copy>(
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        as_str: impl Fn(T) -> &'static str,
    ) {
        for value in values(name) {
            let parsed = parse(value).unwrap_or_else(|| panic!("{name}: {value} is not accepted"));
            assert_eq!(as_str(parsed), *value);
        }
    }

    /// The served document lists each set's wire values (not the variants' Rust names).
    #[test]
    fn the_document_lists_each_closed_sets_wire_values() {
        let document: serde_json::Value =
            serde_json::from_str(&crate::openapi::document_json()).unwrap();
        for (name, values) in ALL_ENUMS {
            let schema = &document["components"]["schemas"][name];
            assert_eq!(schema["type"], "string", "{name}: {schema}");
            assert_eq!(
                schema["enum"],
                serde_json::json!(values),
                "{name}: {schema}"
            );
        }
    }

    #[test]
    fn each_closed_set_lists_exactly_the_domains_values() {
        same("MessageRole", Role::parse, Role::as_str);
        same("MessageStatus", Status::parse, Status::as_str);
        same("DocumentStatus", DocStatus::parse, DocStatus::as_str);
        same("MediaType", Media::parse, Media::as_str);
        same("CardState", State::parse, State::as_str);
        same("Rating", Grade::parse, Grade::as_str);
        same(
            "SourceStatus",
            flashforge_domain::flashcards::SourceStatus::parse,
            flashforge_domain::flashcards::SourceStatus::as_str,
        );
        same(
            "CardKind",
            flashforge_domain::flashcards::CardKind::parse,
            flashforge_domain::flashcards::CardKind::as_str,
        );
        same(
            "NewOrder",
            flashforge_domain::flashcards::NewOrder::parse,
            flashforge_domain::flashcards::NewOrder::as_str,
        );
        same(
            "LeechAction",
            flashforge_domain::flashcards::LeechAction::parse,
            flashforge_domain::flashcards::LeechAction::as_str,
        );
        same(
            "QueueKind",
            flashforge_domain::flashcards::QueueKind::parse,
            flashforge_domain::flashcards::QueueKind::as_str,
        );
        same("Generator", Gen::parse, Gen::as_str);
        same(
            "GenerationStatus",
            flashforge_domain::flashcards::GenerationStatus::parse,
            flashforge_domain::flashcards::GenerationStatus::as_str,
        );
        for mode in values("SearchMode") {
            assert!(flashforge_domain::knowledge::SearchMode::parse(mode).is_ok());
        }
        assert_eq!(values("MessageRole").len(), 2);
        assert_eq!(values("DocumentStatus").len(), 4);
        assert_eq!(values("CardState").len(), 4);
        assert_eq!(values("Rating").len(), 4);
        for format in values("ExportFormat") {
            assert!(flashforge_domain::flashcards::DeckFormat::parse(Some(format)).is_ok());
        }
    }
}
