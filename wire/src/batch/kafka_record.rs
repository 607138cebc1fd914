//! One record of a Kafka record batch v2, read in place (Kafka's `DefaultRecord`):
//!
//! ```text
//! length           varint   bytes after this field
//! attributes       i8       unused
//! timestamp_delta  varlong  record timestamp - batch base_timestamp
//! offset_delta     varint   record offset - batch base_offset
//! key_len, key     varint + bytes, -1 for a null key
//! value_len, value varint + bytes, -1 for a null value
//! header_count     varint
//!   key_len, key     varint + UTF-8 bytes
//!   value_len, value varint + bytes, -1 for a null value
//! ```
//!
//! Every varint is zigzag-encoded. Only uncompressed batches are read in place; the log stores
//! those as they came.

use super::record::RecordRef;
use super::zigzag;

/// Decodes the record at the start of `bytes`; returns it and the bytes after it.
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    base_offset: u64,
    base_timestamp: i64,
) -> Result<(RecordRef<'a>, &'a [u8]), &'static str> {
    let (body_len, prefix) = zigzag::varint(bytes).ok_or("bad length varint")?;
    let body_len = usize::try_from(body_len).map_err(|_| "negative record length")?;
    let body_end = prefix.checked_add(body_len).ok_or("length overflow")?;
    let body = bytes
        .get(prefix..body_end)
        .ok_or("record runs past the batch")?;
    let rest = &bytes[body_end..];

    let (_attributes, body) = body.split_first().ok_or("missing attributes")?;
    let (timestamp_delta, used) = zigzag::varlong(body).ok_or("bad timestamp delta")?;
    let body = &body[used..];
    let (offset_delta, used) = zigzag::varint(body).ok_or("bad offset delta")?;
    let offset_delta = u64::try_from(offset_delta).map_err(|_| "negative offset delta")?;
    let body = &body[used..];
    let (key, body) = take_nullable_field(body).ok_or("truncated key")?;
    let (value, body) = take_nullable_field(body).ok_or("truncated value")?;
    let (header_count, used) = zigzag::varint(body).ok_or("bad header count")?;
    let header_count = u32::try_from(header_count).map_err(|_| "negative header count")?;
    let headers = &body[used..];
    let mut check = headers;
    for _ in 0..header_count {
        let (key, after_key) = take_nullable_field(check).ok_or("truncated header key")?;
        let key = key.ok_or("null header key")?;
        std::str::from_utf8(key).map_err(|_| "header key is not UTF-8")?;
        let (_, after_value) = take_nullable_field(after_key).ok_or("truncated header value")?;
        check = after_value;
    }
    if !check.is_empty() {
        return Err("trailing bytes after headers");
    }
    let record = RecordRef::from_kafka(
        base_offset.wrapping_add(offset_delta),
        base_timestamp.wrapping_add(timestamp_delta),
        key,
        value,
        headers,
        header_count,
    );
    Ok((record, rest))
}

/// A zigzag length and that many bytes; -1 is null.
#[inline]
fn take_nullable_field(bytes: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let (len, used) = zigzag::varint(bytes)?;
    if len == -1 {
        return Some((None, &bytes[used..]));
    }
    let len = usize::try_from(len).ok()?;
    let end = used.checked_add(len)?;
    let taken = bytes.get(used..end)?;
    Some((Some(taken), &bytes[end..]))
}

/// A header key or value, read as [`super::HeaderRef`] gives it: a null value is empty.
pub(crate) fn take_nullable(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    take_nullable_field(bytes).map(|(taken, rest)| (taken.unwrap_or_default(), rest))
}
