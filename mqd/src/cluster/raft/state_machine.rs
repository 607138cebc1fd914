//! The Raft state machine: this node's copy of the [`Metadata`], advanced by applying committed
//! commands in log order. Every apply publishes the new metadata on a watch channel (routing,
//! reconciliation and describe read it from there, never under the Raft lock).
//!
//! Snapshots are the whole metadata as JSON, kept in `data_dir/raft/snapshot.json` (written to a
//! temporary file, synced, renamed), so a restarted node starts from its last snapshot and
//! replays only the log after it.

use super::{NodeId, TypeConfig};
use crate::cluster::metadata::{CommandResult, Metadata};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{watch, Mutex};

/// The metadata as of one applied log index.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The last applied log index (0 before anything was applied).
    pub index: u64,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StateMachineData {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    metadata: Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

struct Inner {
    data: StateMachineData,
    snapshot: Option<StoredSnapshot>,
    snapshots_built: u64,
}

/// Shared by Raft (which applies) and the snapshot builder.
#[derive(Clone)]
pub struct MetadataStateMachine {
    inner: Arc<Mutex<Inner>>,
    published: Arc<watch::Sender<Arc<Applied>>>,
    snapshot_path: PathBuf,
}

fn io_error(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(&error).into()
}

impl MetadataStateMachine {
    /// Opens the state machine of `dir`, from its snapshot if there is one.
    pub fn open(dir: &Path) -> std::io::Result<(Self, watch::Receiver<Arc<Applied>>)> {
        std::fs::create_dir_all(dir)?;
        let snapshot_path = dir.join("snapshot.json");
        let snapshot: Option<StoredSnapshot> = match std::fs::read(&snapshot_path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(std::io::Error::other)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let data = match &snapshot {
            Some(stored) => StateMachineData {
                last_applied: stored.meta.last_log_id,
                membership: stored.meta.last_membership.clone(),
                metadata: serde_json::from_slice(&stored.data).map_err(std::io::Error::other)?,
            },
            None => StateMachineData::default(),
        };
        let (published, receiver) = watch::channel(Arc::new(applied_of(&data)));
        Ok((
            MetadataStateMachine {
                inner: Arc::new(Mutex::new(Inner {
                    data,
                    snapshot,
                    snapshots_built: 0,
                })),
                published: Arc::new(published),
                snapshot_path,
            },
            receiver,
        ))
    }

    fn publish(&self, data: &StateMachineData) {
        self.published.send_replace(Arc::new(applied_of(data)));
    }

    fn persist(&self, snapshot: &StoredSnapshot) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
        write_atomically(&self.snapshot_path, &bytes)
    }
}

fn applied_of(data: &StateMachineData) -> Applied {
    Applied {
        index: data.last_applied.map_or(0, |id| id.index),
        metadata: data.metadata.clone(),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl RaftSnapshotBuilder<TypeConfig> for MetadataStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let mut inner = self.inner.lock().await;
        let data = serde_json::to_vec(&inner.data.metadata).map_err(io_error)?;
        inner.snapshots_built += 1;
        let snapshot_id = match inner.data.last_applied {
            Some(last) => format!(
                "{}-{}-{}",
                last.leader_id, last.index, inner.snapshots_built
            ),
            None => format!("--{}", inner.snapshots_built),
        };
        let meta = SnapshotMeta {
            last_log_id: inner.data.last_applied,
            last_membership: inner.data.membership.clone(),
            snapshot_id,
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        self.persist(&stored).map_err(io_error)?;
        inner.snapshot = Some(stored);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MetadataStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let inner = self.inner.lock().await;
        Ok((inner.data.last_applied, inner.data.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
    {
        let mut inner = self.inner.lock().await;
        let mut results = Vec::new();
        for entry in entries {
            inner.data.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => results.push(Ok(())),
                EntryPayload::Normal(command) => {
                    let result = inner.data.metadata.apply(&command);
                    if let Err(error) = &result {
                        tracing::debug!(%error, ?command, "metadata command changed nothing");
                    }
                    results.push(result);
                }
                EntryPayload::Membership(membership) => {
                    inner.data.membership = StoredMembership::new(Some(entry.log_id), membership);
                    results.push(Ok(()));
                }
            }
        }
        self.publish(&inner.data);
        Ok(results)
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: snapshot.into_inner(),
        };
        let metadata: Metadata = serde_json::from_slice(&stored.data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        self.persist(&stored).map_err(io_error)?;
        let mut inner = self.inner.lock().await;
        inner.data = StateMachineData {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            metadata,
        };
        inner.snapshot = Some(stored);
        self.publish(&inner.data);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let inner = self.inner.lock().await;
        Ok(inner.snapshot.as_ref().map(|stored| Snapshot {
            meta: stored.meta.clone(),
            snapshot: Box::new(Cursor::new(stored.data.clone())),
        }))
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::metadata::Command;
    use openraft::{CommittedLeaderId, EntryPayload};
    use uuid::Uuid;

    fn entry(index: u64, command: Command) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(command),
        }
    }

    #[tokio::test]
    async fn a_reopened_state_machine_starts_from_its_last_snapshot() {
        let dir = std::env::temp_dir().join(format!("mq-sm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut machine, published) = MetadataStateMachine::open(&dir).unwrap();
        let up = Command::NodeUp {
            id: 1,
            addr: "127.0.0.1:9401".into(),
            incarnation: Uuid::new_v4(),
            now_ms: 1,
        };
        let create = Command::CreateTopic {
            name: "t".into(),
            id: Uuid::new_v4(),
            config: crate::cluster::metadata::tests::topic_config(2),
            replicas: vec![vec![1], vec![1]],
        };
        let results = machine
            .apply([entry(1, up), entry(2, create.clone())])
            .await
            .unwrap();
        assert_eq!(results, vec![Ok(()), Ok(())]);
        assert_eq!(published.borrow().index, 2, "every apply is published");
        let again = machine.apply([entry(3, create)]).await.unwrap();
        assert!(again[0].is_err(), "a second create of `t` changes nothing");

        let mut builder = machine.get_snapshot_builder().await;
        let snapshot = builder.build_snapshot().await.unwrap();
        assert_eq!(snapshot.meta.last_log_id.map(|id| id.index), Some(3));
        let before = published.borrow().metadata.clone();
        drop(machine);

        let (mut reopened, published) = MetadataStateMachine::open(&dir).unwrap();
        let (applied, _) = reopened.applied_state().await.unwrap();
        assert_eq!(applied.map(|id| id.index), Some(3));
        assert_eq!(published.borrow().metadata, before);
        assert!(reopened.get_current_snapshot().await.unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
