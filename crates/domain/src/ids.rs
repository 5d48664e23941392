//! Ids: every entity is named by a time-ordered UUIDv7, so ids sort by creation and keyset pages
//! can use them directly.

/// Declares an id newtype over a UUIDv7.
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new id, ordered after every id made before it.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

pub(crate) use uuid_id;

// The ids a background job names, here rather than in their areas so that the job queue
// (`crate::jobs`) and the areas whose work it runs do not import each other.
uuid_id!(
    /// An uploaded file of a chat.
    DocumentId
);
uuid_id!(
    /// A flashcard generation that runs in the background.
    GenerationId
);
uuid_id!(
    /// A queued unit of background work.
    JobId
);
uuid_id!(
    /// A deck package imported in the background.
    ImportId
);
