//! Flashcards and their study: cards linked to the passages they came from, scheduled with FSRS.

mod scheduling;

pub use scheduling::{
    CardState, MemoryModel, MemoryState, NextState, Rating, Schedule, Scheduler, SchedulerSettings,
};
