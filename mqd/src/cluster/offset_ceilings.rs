//! The durable side of [`OffsetLease`](crate::broker::offset_lease): per partition this node has
//! led, the offset its log must start from after a restart. Kept in `data_dir/offset-ceilings.json`
//! and rewritten whole (atomically) at each reservation, about once per million records of a
//! partition.

use crate::broker::offset_lease::OffsetReservations;
use crate::cluster::raft::state_machine::write_atomically;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct OffsetCeilings {
    path: PathBuf,
    /// topic → partition → ceiling.
    ceilings: Mutex<BTreeMap<String, BTreeMap<u32, u64>>>,
}

impl OffsetCeilings {
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("offset-ceilings.json");
        let ceilings = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(OffsetCeilings {
            path,
            ceilings: Mutex::new(ceilings),
        })
    }

    /// Where the partition's log starts in this process: its last durable ceiling, else 0.
    pub fn start_of(&self, topic: &str, partition: u32) -> u64 {
        self.ceilings
            .lock()
            .get(topic)
            .and_then(|p| p.get(&partition))
            .copied()
            .unwrap_or(0)
    }

    /// Forgets a deleted topic, so one created again with its name starts at 0.
    pub fn forget_topic(&self, topic: &str) -> std::io::Result<()> {
        let mut ceilings = self.ceilings.lock();
        if ceilings.remove(topic).is_some() {
            self.write(&ceilings)?;
        }
        Ok(())
    }

    fn write(&self, ceilings: &BTreeMap<String, BTreeMap<u32, u64>>) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(ceilings).map_err(std::io::Error::other)?;
        write_atomically(&self.path, &bytes)
    }
}

impl OffsetReservations for OffsetCeilings {
    fn reserve(&self, topic: &str, partition: u32, ceiling: u64) -> std::io::Result<()> {
        let mut ceilings = self.ceilings.lock();
        let previous = ceilings
            .entry(topic.to_owned())
            .or_default()
            .insert(partition, ceiling);
        if let Err(error) = self.write(&ceilings) {
            // Keep memory and disk saying the same thing.
            let partitions = ceilings.entry(topic.to_owned()).or_default();
            match previous {
                Some(old) => partitions.insert(partition, old),
                None => partitions.remove(&partition),
            };
            return Err(error);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserved_ceiling_is_where_the_log_starts_after_a_reopen() {
        let dir = std::env::temp_dir().join(format!("mq-ceilings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ceilings = OffsetCeilings::open(&dir).unwrap();
        assert_eq!(ceilings.start_of("t", 0), 0);
        ceilings.reserve("t", 0, 1_048_600).unwrap();
        ceilings.reserve("u", 2, 5).unwrap();
        drop(ceilings);
        let reopened = OffsetCeilings::open(&dir).unwrap();
        assert_eq!(reopened.start_of("t", 0), 1_048_600);
        assert_eq!(reopened.start_of("u", 2), 5);
        reopened.forget_topic("t").unwrap();
        assert_eq!(OffsetCeilings::open(&dir).unwrap().start_of("t", 0), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
