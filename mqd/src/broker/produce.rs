//! A record as the broker receives it for produce, whatever the wire format it came in.

use std::borrow::Cow;
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub struct NewRecord<'a> {
    pub id: RecordId,
    /// Milliseconds since the Unix epoch; the broker's clock when absent.
    pub timestamp: Option<i64>,
    pub key: Option<Cow<'a, [u8]>>,
    pub value: Cow<'a, [u8]>,
    pub headers: Vec<(Cow<'a, str>, Cow<'a, [u8]>)>,
    /// Explicit target partition.
    pub partition: Option<u32>,
}

/// Where a record's id comes from, which decides whether the dedup window remembers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordId {
    /// Chosen by the producer: a second record with it within the dedup window is not appended.
    Producer(Uuid),
    /// Chosen by the broker before the record reached the topic (the seed's `/produce` answers
    /// with it): unique by construction, so not remembered.
    Assigned(Uuid),
    /// Made at append (UUID v7).
    #[default]
    New,
}

impl RecordId {
    /// The id a producer chose, the only kind that is deduplicated.
    pub fn producer_id(self) -> Option<Uuid> {
        match self {
            RecordId::Producer(id) => Some(id),
            RecordId::Assigned(_) | RecordId::New => None,
        }
    }

    /// The id to store.
    pub fn resolve(self) -> Uuid {
        match self {
            RecordId::Producer(id) | RecordId::Assigned(id) => id,
            RecordId::New => Uuid::now_v7(),
        }
    }
}
