//! Which partition a record goes to: Kafka's rule, so keys land where a Kafka operator expects.
//! A key hashes with murmur2 (Kafka's seed) to `(hash & 0x7fffffff) % partitions`; records with the
//! same key therefore always share a partition and keep their order.

/// The partition of a keyed record.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    (murmur2::murmur2(key, murmur2::KAFKA_SEED) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafkas_murmur2() {
        // Reference values from Kafka's UtilsTest.testMurmur2.
        let cases: [(&[u8], i32); 4] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2::murmur2(key, murmur2::KAFKA_SEED) as i32, expected);
        }
    }

    #[test]
    fn same_key_same_partition_and_keys_spread() {
        let mut counts = [0u32; 6];
        for i in 0..6000 {
            let key = format!("user-{i}");
            let partition = partition_for_key(key.as_bytes(), 6);
            assert_eq!(partition, partition_for_key(key.as_bytes(), 6));
            counts[partition as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
