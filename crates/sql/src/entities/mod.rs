//! sea-orm entities: the tables as the adapters see them. They never leave this crate.

pub mod users;
