//! The problem answers several operations share, as OpenAPI response components: an operation
//! names one with `(status = 404, response = NoSuchChat)` and the document describes it once,
//! under `#/components/responses/NoSuchChat`. An answer that means something particular to one
//! operation stays written out on it.

use utoipa::ToResponse;
use utoipa::openapi::Components;

use crate::problem::Problem;

/// Declares each response as a type (an `application/problem+json` body holding a [`Problem`])
/// and [`register`], which adds them all to the document's components.
macro_rules! problem_responses {
    ($($(#[doc = $doc:literal])* $name:ident = $description:tt;)*) => {
        $(
            $(#[doc = $doc])*
            #[derive(ToResponse)]
            #[response(description = $description, content_type = "application/problem+json")]
            pub struct $name(pub Problem);
        )*

        /// Adds every shared response to `components`.
        pub(crate) fn register(components: &mut Components) {
            $(
                let (name, response) = <$name as ToResponse>::response();
                components.responses.insert(name.to_string(), response);
            )*
        }
    };
}

problem_responses! {
    /// 401 from a protected operation.
    NotAuthenticated = "Not authenticated";
    /// 404: the chat in the path is not one of the caller's.
    NoSuchChat = "No such chat of the caller";
    /// 404: the document in the path is not one of the caller's.
    NoSuchDocument = "No such document of the caller";
    /// 404: the card in the path is not one of the caller's.
    NoSuchCard = "No such card of the caller";
    /// 404: the chat or the message in the path is not one of the caller's.
    NoSuchMessage = "No such chat or message of the caller";
    /// 403 `quota_exceeded`: the request would add more than a quota allows.
    QuotaExceeded = "It would pass one of the caller's quotas (`quota_exceeded`, naming it); nothing was stored";
    /// 429 from an operation that calls the language model.
    ModelCallsLimited = "A rate limit was reached, today's model-token budget is spent (`token_budget_spent`, until midnight UTC) or too many of the caller's model calls are under way (`model_calls_busy`); `Retry-After` says when to try again";
    /// 502 from an operation that calls the language model.
    ProviderFailed = "The model provider failed";
    /// 409: another account has the username.
    UsernameTaken = "The username is taken";
    /// 422 from a card's fields.
    BadFields = "Bad fields";
    /// 422 from a chat's name.
    BadChatName = "A bad name";
    /// 422 from a page's `limit` or `cursor`.
    BadPage = "A bad `limit` or `cursor`";
    /// 422 from a search's parameters.
    BadSearch = "A bad `q`, `limit` or `mode`";
    // Any failure of the prototype's deprecated routes, which never described theirs (no doc
    // comment: it would replace the description).
    LegacyProblem = "The request failed; the body says why";
}
