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

    /// The id to store; a new one comes from `fresh`.
    pub fn resolve(self, fresh: &mut IdSequence) -> Uuid {
        match self {
            RecordId::Producer(id) | RecordId::Assigned(id) => id,
            RecordId::New => fresh.next_id(),
        }
    }
}

/// New ids for the records of one request: the first is a fresh UUID v7 (a millisecond
/// timestamp, then 74 bits the `uuid` crate fills with a counter started at a random value each
/// millisecond), the next ones the same with its 62 low bits counted up, as UUID v7's counter
/// method (RFC 9562, 6.2) does. Unique within the request, unique across requests by where each
/// one starts, and one clock read and one draw per request instead of per record (per record
/// they were a tenth of a Kafka produce's CPU). Only ids a producer chose are deduplicated, so
/// nothing relies on these beyond being unique.
pub struct IdSequence {
    base: u128,
    issued: u64,
}

impl IdSequence {
    /// The low bits of a UUID v7 that are random and are counted up here (`rand_b`).
    const COUNTED: u128 = (1 << 62) - 1;

    pub fn new() -> Self {
        IdSequence {
            base: Uuid::now_v7().as_u128(),
            issued: 0,
        }
    }

    pub fn next_id(&mut self) -> Uuid {
        let counted = (self.base & Self::COUNTED).wrapping_add(u128::from(self.issued));
        self.issued += 1;
        Uuid::from_u128((self.base & !Self::COUNTED) | (counted & Self::COUNTED))
    }
}

impl Default for IdSequence {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_one_sequence_are_distinct_v7_ids_of_one_millisecond_in_order() {
        let mut ids = IdSequence::new();
        let made: Vec<Uuid> = (0..10_000).map(|_| ids.next_id()).collect();
        let mut sorted = made.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), made.len(), "distinct");
        for id in &made {
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(id.get_timestamp(), made[0].get_timestamp());
        }
        // A second sequence starts from its own random bits.
        assert_ne!(IdSequence::new().next_id(), made[0]);
    }

    #[test]
    fn the_count_wraps_inside_the_random_bits_and_never_touches_the_version_or_variant() {
        let mut ids = IdSequence {
            base: Uuid::now_v7().as_u128() | IdSequence::COUNTED,
            issued: 0,
        };
        let last = ids.next_id();
        let wrapped = ids.next_id();
        assert_ne!(last, wrapped);
        assert_eq!(wrapped.get_version_num(), 7);
        assert_eq!(wrapped.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(wrapped.as_u128() & IdSequence::COUNTED, 0);
    }
}
