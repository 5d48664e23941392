//! Every route, declared once: [`mount`] registers the handlers and collects their OpenAPI
//! operations in the same call.

pub mod auth;
pub mod chats;
pub mod documents;
pub mod flashcards;
#[allow(deprecated)]
pub mod legacy;
#[allow(deprecated)]
pub mod legacy_generate;
// `DELETE /me` is deprecated for `POST /me/delete`; registering it is not a use.
#[allow(deprecated)]
pub mod me;
pub mod messages;
// The prototype's `/health` is marked deprecated for OpenAPI; registering it is not a use.
#[allow(deprecated)]
pub mod health;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{HttpRequest, HttpResponse};
use utoipa_actix_web::{UtoipaApp, scope};

use crate::problem::ApiError;

/// Registers every documented route on `app`, adding each operation to its document.
#[allow(deprecated)]
pub fn mount<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.service(health::live)
        .service(health::ready)
        .service(health::legacy)
        .service(
            scope("/api/v1")
                .service(auth::register)
                .service(auth::login)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::logout_all)
                .service(auth::sessions)
                .service(auth::end_session)
                .service(me::me)
                .service(me::usage)
                .service(me::update_me)
                .service(me::change_password)
                .service(me::delete_account)
                .service(me::delete_me)
                .service(chats::create_chat)
                .service(chats::list_chats)
                .service(chats::get_chat)
                .service(chats::update_chat)
                .service(chats::delete_chat)
                .service(messages::models)
                .service(messages::list_messages)
                .service(messages::send_message)
                .service(messages::regenerate)
                .service(messages::edit_message)
                .service(messages::resume_stream)
                .service(documents::upload)
                .service(documents::list_documents)
                .service(documents::get_document)
                .service(documents::list_chunks)
                .service(documents::download)
                .service(documents::delete_document)
                .service(documents::retry_document)
                .service(documents::search_chat)
                .service(documents::search_all)
                .service(flashcards::cards::create_card)
                .service(flashcards::cards::create_cards)
                .service(flashcards::cards::list_cards)
                .service(flashcards::cards::get_card)
                .service(flashcards::cards::update_card)
                .service(flashcards::cards::delete_card)
                .service(flashcards::cards::review_card)
                .service(flashcards::cards::explain_card)
                .service(flashcards::study::due)
                .service(flashcards::study::study_settings)
                .service(flashcards::study::update_study_settings)
                .service(flashcards::study::study_stats)
                .service(flashcards::study::optimize)
                .service(flashcards::session::study_options)
                .service(flashcards::session::update_study_options)
                .service(flashcards::session::next_card)
                .service(flashcards::session::undo)
                .service(flashcards::session::simulate)
                .service(flashcards::session::exam_forecast)
                .service(flashcards::interchange::export_cards)
                .service(flashcards::interchange::import_cards)
                .service(flashcards::interchange::get_import)
                .service(flashcards::generation::generate_cards)
                .service(flashcards::generation::get_generation),
        )
        .service(legacy_generate::send_message)
        .service(
            scope("/api")
                .service(legacy::register)
                .service(legacy::login)
                .service(legacy::profile),
        )
}

/// No route matched: 405 when the path exists under another method, else 404.
pub async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.resource_map().has_resource(req.path()) {
        Err(ApiError::method_not_allowed())
    } else {
        Err(ApiError::not_found())
    }
}
