//! A record as the broker receives it for produce, whatever the wire format it came in.

use std::borrow::Cow;
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub struct NewRecord<'a> {
    /// Given by the producer for deduplication; made by the broker when absent.
    pub id: Option<Uuid>,
    /// Milliseconds since the Unix epoch; the broker's clock when absent.
    pub timestamp: Option<i64>,
    pub key: Option<Cow<'a, [u8]>>,
    pub value: Cow<'a, [u8]>,
    pub headers: Vec<(Cow<'a, str>, Cow<'a, [u8]>)>,
    /// Explicit target partition.
    pub partition: Option<u32>,
}
