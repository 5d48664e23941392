//! Contract suites: one per port, run against every adapter of that port. An adapter that
//! passes keeps the promises its port's doc comments make.

mod chats;
mod flashcards;
mod knowledge;
mod limits;
mod messages;
mod sessions;
mod users;
