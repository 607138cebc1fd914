//! Kafka's zigzag varints, decoded as Kafka's `ByteUtils.readVarint` / `readVarlong` do: at most
//! 5 bytes for an `int` and 10 for a `long`, a longer encoding refused. Almost every varint in a
//! record is one byte (lengths under 64, small deltas), so that case is taken first; a produce
//! reads six of them per record.

/// A zigzag `varint` (Kafka's `int`) and the bytes it took.
#[inline]
pub(crate) fn varint(bytes: &[u8]) -> Option<(i32, usize)> {
    let first = *bytes.first()?;
    if first < 0x80 {
        return Some((unzigzag32(u32::from(first)), 1));
    }
    let (raw, used) = unsigned(bytes, 5)?;
    // Kafka reads into a 32-bit int: bits past 32 in a fifth byte are dropped, as there.
    Some((unzigzag32(raw as u32), used))
}

/// A zigzag `varlong` (Kafka's `long`) and the bytes it took.
#[inline]
pub(crate) fn varlong(bytes: &[u8]) -> Option<(i64, usize)> {
    let first = *bytes.first()?;
    if first < 0x80 {
        return Some((unzigzag64(u64::from(first)), 1));
    }
    let (raw, used) = unsigned(bytes, 10)?;
    Some((unzigzag64(raw), used))
}

/// Little-endian groups of 7 bits, at most `max_len` bytes.
#[inline]
fn unsigned(bytes: &[u8], max_len: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(max_len).enumerate() {
        value |= u64::from(byte & 0x7f)
            .checked_shl(7 * i as u32)
            .unwrap_or(0);
        if byte < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

#[inline]
fn unzigzag32(raw: u32) -> i32 {
    ((raw >> 1) as i32) ^ -((raw & 1) as i32)
}

#[inline]
fn unzigzag64(raw: u64) -> i64 {
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use integer_encoding::VarInt;

    #[test]
    fn agrees_with_a_general_decoder_on_every_width() {
        let samples32 = [
            0,
            1,
            -1,
            63,
            -64,
            64,
            -65,
            8191,
            -8192,
            1 << 20,
            i32::MAX,
            i32::MIN,
        ];
        for value in samples32 {
            let encoded = value.encode_var_vec();
            assert_eq!(varint(&encoded), Some((value, encoded.len())), "{value}");
            let mut followed = encoded.clone();
            followed.extend_from_slice(&[0xff, 0x01]);
            assert_eq!(varint(&followed), Some((value, encoded.len())), "{value}");
        }
        let samples64 = [0, 1, -1, 1_700_000_000_000, -86_400_000, i64::MAX, i64::MIN];
        for value in samples64 {
            let encoded = value.encode_var_vec();
            assert_eq!(varlong(&encoded), Some((value, encoded.len())), "{value}");
        }
    }

    #[test]
    fn refuses_what_kafka_refuses() {
        assert_eq!(varint(&[]), None, "empty");
        assert_eq!(varint(&[0x80, 0x80]), None, "runs out");
        // Six bytes for an int: Kafka's readVarint throws.
        assert_eq!(varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), None);
        assert_eq!(varint(&[0x80, 0x80, 0x80, 0x80, 0x00]), Some((0, 5)));
        let eleven = [0x80; 10]
            .iter()
            .copied()
            .chain([0x00])
            .collect::<Vec<u8>>();
        assert_eq!(varlong(&eleven), None);
        assert_eq!(varlong(&eleven[1..]), Some((0, 10)));
    }
}
