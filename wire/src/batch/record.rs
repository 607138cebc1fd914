//! One record inside a batch: its encoding and its borrowed, zero-copy view.
//!
//! ```text
//! length           uvarint  bytes after this field
//! attributes       u8       bit 0: has key; bit 1: the value is null (Kafka's null, a tombstone)
//! timestamp_delta  varint   (zigzag) record timestamp - batch base_timestamp
//! offset_delta     uvarint  record offset - batch base_offset
//! id               [16]     the record's UUID
//! key_len, key     uvarint + bytes, only when attributes bit 0 is set
//! value_len, value uvarint + bytes, only when attributes bit 1 is clear
//! header_count     uvarint
//!   key_len, key     uvarint + UTF-8 bytes
//!   value_len, value uvarint + bytes
//! ```
//!
//! For a 560-byte value with no key and no headers this costs about 25 bytes beyond the payload,
//! 16 of them the id.
//!
//! A Kafka record batch v2 stored as it came holds Kafka's records (`kafka_record.rs`): no id,
//! zigzag varints throughout, -1 lengths for nulls. [`RecordRef`] reads both.

use integer_encoding::VarInt;
use uuid::Uuid;

const HAS_KEY: u8 = 1;
const NULL_VALUE: u8 = 2;

/// A record to be encoded into a batch by the [`super::BatchBuilder`].
#[derive(Debug, Clone, Copy)]
pub struct RecordInput<'a> {
    pub id: Uuid,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    /// `None`: a null value (Kafka's, distinct from an empty one).
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// A record decoded in place from a batch's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub offset: u64,
    pub timestamp: i64,
    /// `None` for a record that came in a Kafka batch, which carries no id.
    pub id: Option<Uuid>,
    pub key: Option<&'a [u8]>,
    /// Empty for a null value too: [`RecordRef::value_or_null`] tells them apart.
    pub value: &'a [u8],
    value_is_null: bool,
    headers: &'a [u8],
    header_count: u32,
    header_encoding: HeaderEncoding,
}

/// How a record's headers are laid out: mq's (unsigned lengths) or Kafka's (zigzag lengths, -1
/// for a null value, which reads as empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderEncoding {
    Mq,
    Kafka,
}

/// One header of a [`RecordRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    pub key: &'a str,
    pub value: &'a [u8],
}

impl<'a> RecordRef<'a> {
    /// The record's headers, decoded lazily. Their bytes were validated when the record was read.
    pub fn headers(&self) -> impl Iterator<Item = HeaderRef<'a>> + 'a {
        let mut rest = self.headers;
        let take = match self.header_encoding {
            HeaderEncoding::Mq => take_len_prefixed,
            HeaderEncoding::Kafka => super::kafka_record::take_nullable,
        };
        (0..self.header_count).map_while(move |_| {
            let (key, after_key) = take(rest)?;
            let (value, after_value) = take(after_key)?;
            rest = after_value;
            Some(HeaderRef {
                key: std::str::from_utf8(key).ok()?,
                value,
            })
        })
    }

    /// The value, `None` when it is null.
    pub fn value_or_null(&self) -> Option<&'a [u8]> {
        (!self.value_is_null).then_some(self.value)
    }

    pub fn header_count(&self) -> u32 {
        self.header_count
    }

    /// Key and value bytes: what the metrics count as payload.
    pub fn payload_len(&self) -> usize {
        self.value.len() + self.key.map_or(0, <[u8]>::len)
    }
}

/// Number of bytes `record` takes once encoded, length prefix included.
pub(crate) fn encoded_len(
    record: &RecordInput<'_>,
    timestamp_delta: i64,
    offset_delta: u32,
) -> usize {
    let body = body_len(record, timestamp_delta, offset_delta);
    body.required_space() + body
}

fn body_len(record: &RecordInput<'_>, timestamp_delta: i64, offset_delta: u32) -> usize {
    let mut len = 1 + timestamp_delta.required_space() + offset_delta.required_space() + 16;
    if let Some(key) = record.key {
        len += key.len().required_space() + key.len();
    }
    if let Some(value) = record.value {
        len += value.len().required_space() + value.len();
    }
    len += record.headers.len().required_space();
    for (key, value) in record.headers {
        len += key.len().required_space() + key.len() + value.len().required_space() + value.len();
    }
    len
}

/// Appends the encoding of `record` to `out`.
pub(crate) fn encode(
    record: &RecordInput<'_>,
    timestamp_delta: i64,
    offset_delta: u32,
    out: &mut Vec<u8>,
) {
    let body = body_len(record, timestamp_delta, offset_delta);
    put_varint(out, body);
    let key_bit = if record.key.is_some() { HAS_KEY } else { 0 };
    let null_bit = if record.value.is_none() {
        NULL_VALUE
    } else {
        0
    };
    out.push(key_bit | null_bit);
    put_varint(out, timestamp_delta);
    put_varint(out, offset_delta);
    out.extend_from_slice(record.id.as_bytes());
    if let Some(key) = record.key {
        put_bytes(out, key);
    }
    if let Some(value) = record.value {
        put_bytes(out, value);
    }
    put_varint(out, record.headers.len());
    for (key, value) in record.headers {
        put_bytes(out, key.as_bytes());
        put_bytes(out, value);
    }
}

/// Decodes the record at the start of `bytes`; returns it and the bytes after it.
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    base_offset: u64,
    base_timestamp: i64,
) -> Result<(RecordRef<'a>, &'a [u8]), &'static str> {
    let (body_len, prefix) = usize::decode_var(bytes).ok_or("bad length varint")?;
    let body_end = prefix.checked_add(body_len).ok_or("length overflow")?;
    let body = bytes
        .get(prefix..body_end)
        .ok_or("record runs past the batch")?;
    let rest = &bytes[body_end..];

    let (&attributes, body) = body.split_first().ok_or("missing attributes")?;
    let (timestamp_delta, used) = i64::decode_var(body).ok_or("bad timestamp delta")?;
    let body = &body[used..];
    let (offset_delta, used) = u32::decode_var(body).ok_or("bad offset delta")?;
    let body = &body[used..];
    let id_bytes: [u8; 16] = body
        .get(..16)
        .ok_or("truncated id")?
        .try_into()
        .map_err(|_| "truncated id")?;
    let body = &body[16..];
    let (key, body) = if attributes & HAS_KEY != 0 {
        let (key, body) = take_len_prefixed(body).ok_or("truncated key")?;
        (Some(key), body)
    } else {
        (None, body)
    };
    let value_is_null = attributes & NULL_VALUE != 0;
    let (value, body) = if value_is_null {
        (&body[..0], body)
    } else {
        take_len_prefixed(body).ok_or("truncated value")?
    };
    let (header_count, used) = u32::decode_var(body).ok_or("bad header count")?;
    let headers = &body[used..];
    let mut check = headers;
    for _ in 0..header_count {
        let (key, after_key) = take_len_prefixed(check).ok_or("truncated header key")?;
        std::str::from_utf8(key).map_err(|_| "header key is not UTF-8")?;
        let (_, after_value) = take_len_prefixed(after_key).ok_or("truncated header value")?;
        check = after_value;
    }
    if !check.is_empty() {
        return Err("trailing bytes after headers");
    }
    let record = RecordRef {
        offset: base_offset.wrapping_add(u64::from(offset_delta)),
        timestamp: base_timestamp.wrapping_add(timestamp_delta),
        id: Some(Uuid::from_bytes(id_bytes)),
        key,
        value,
        value_is_null,
        headers,
        header_count,
        header_encoding: HeaderEncoding::Mq,
    };
    Ok((record, rest))
}

fn put_varint<V: VarInt>(out: &mut Vec<u8>, value: V) {
    let mut buf = [0u8; 10];
    let used = value.encode_var(&mut buf);
    out.extend_from_slice(&buf[..used]);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

impl<'a> RecordRef<'a> {
    /// A record read from a Kafka batch; `kafka_record.rs` has checked every part.
    pub(crate) fn from_kafka(
        offset: u64,
        timestamp: i64,
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        headers: &'a [u8],
        header_count: u32,
    ) -> Self {
        RecordRef {
            offset,
            timestamp,
            id: None,
            key,
            value: value.unwrap_or_default(),
            value_is_null: value.is_none(),
            headers,
            header_count,
            header_encoding: HeaderEncoding::Kafka,
        }
    }
}

fn take_len_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, used) = usize::decode_var(bytes)?;
    let end = used.checked_add(len)?;
    let taken = bytes.get(used..end)?;
    Some((taken, &bytes[end..]))
}
