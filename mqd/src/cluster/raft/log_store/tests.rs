use super::*;
use openraft::storage::{RaftLogStorageExt, RaftStateMachine, Snapshot};
use openraft::testing::{log_id, StoreBuilder, Suite};
use openraft::{
    BasicNode, Entry, EntryPayload, Membership, RaftSnapshotBuilder, SnapshotMeta, StoredMembership,
};
use std::collections::BTreeSet;
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};

openraft::declare_raft_types!(pub TestConfig: D = String, R = String);

type Store = RaftLogFiles<TestConfig>;

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mqd-raft-log-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The smallest state machine the conformance suite accepts: it keeps the applied payloads.
#[derive(Default)]
struct SmState {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    data: Vec<String>,
    snapshot: Option<(SnapshotMeta<u64, BasicNode>, Vec<u8>)>,
    snapshot_seq: u64,
}

#[derive(Clone, Default)]
struct TestStateMachine(Arc<Mutex<SmState>>);

impl RaftSnapshotBuilder<TestConfig> for TestStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TestConfig>, StorageError<u64>> {
        let mut sm = self.0.lock().await;
        let data =
            serde_json::to_vec(&sm.data).map_err(|e| StorageIOError::read_state_machine(&e))?;
        sm.snapshot_seq += 1;
        let meta = SnapshotMeta {
            last_log_id: sm.last_applied,
            last_membership: sm.membership.clone(),
            snapshot_id: format!("snapshot-{}", sm.snapshot_seq),
        };
        sm.snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TestConfig> for TestStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let sm = self.0.lock().await;
        Ok((sm.last_applied, sm.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<String>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TestConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut sm = self.0.lock().await;
        let mut responses = Vec::new();
        for entry in entries {
            sm.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(data) => sm.data.push(data),
                EntryPayload::Membership(m) => {
                    sm.membership = StoredMembership::new(Some(entry.log_id), m)
                }
            }
            responses.push(String::new());
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let data = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let mut sm = self.0.lock().await;
        sm.last_applied = meta.last_log_id;
        sm.membership = meta.last_membership.clone();
        sm.data = data;
        sm.snapshot = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TestConfig>>, StorageError<u64>> {
        let sm = self.0.lock().await;
        Ok(sm.snapshot.as_ref().map(|(meta, data)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(data.clone())),
        }))
    }
}

struct Builder;

impl StoreBuilder<TestConfig, Store, TestStateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, Store, TestStateMachine), StorageError<u64>> {
        let dir = TempDir::new();
        let store = Store::open(dir.path()).map_err(|e| StorageIOError::read_logs(&e))?;
        Ok((dir, store, TestStateMachine::default()))
    }
}

#[test]
fn conformance_suite() {
    Suite::test_all(Builder).expect("openraft's storage conformance suite");
}

fn blank(term: u64, index: u64) -> Entry<TestConfig> {
    Entry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Blank,
    }
}

fn normal(term: u64, index: u64, data: &str) -> Entry<TestConfig> {
    Entry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Normal(data.to_string()),
    }
}

fn membership(term: u64, index: u64) -> Entry<TestConfig> {
    let voters = BTreeSet::from([1, 2, 3]);
    Entry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
    }
}

async fn all_entries(store: &mut Store) -> Vec<Entry<TestConfig>> {
    store.try_get_log_entries(..).await.expect("read log")
}

#[tokio::test(flavor = "current_thread")]
async fn reopen_keeps_vote_log_and_purged() {
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).expect("open");
    let vote = Vote::new_committed(3, 1);
    store.save_vote(&vote).await.expect("save vote");
    let entries: Vec<_> = (1..=10)
        .map(|i| match i {
            1 => blank(1, i),
            2 => membership(1, i),
            _ => normal(2, i, &format!("cmd-{i}")),
        })
        .collect();
    store.blocking_append(entries).await.expect("append");
    store.purge(log_id(1, 1, 2)).await.expect("purge");
    store.truncate(log_id(2, 1, 8)).await.expect("truncate");
    store
        .blocking_append([normal(3, 8, "new-8")])
        .await
        .expect("append");
    store
        .save_committed(Some(log_id(2, 1, 5)))
        .await
        .expect("save committed");

    let state = store.get_log_state().await.expect("log state");
    let log = all_entries(&mut store).await;
    assert_eq!(log.first().map(|e| e.log_id.index), Some(3));
    assert_eq!(log.last().map(|e| e.log_id), Some(log_id(3, 1, 8)));
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 1, 2)));
    assert_eq!(state.last_log_id, Some(log_id(3, 1, 8)));
    drop(store);

    let mut reopened = Store::open(dir.path()).expect("reopen");
    assert_eq!(reopened.read_vote().await.expect("vote"), Some(vote));
    assert_eq!(
        reopened.read_committed().await.expect("committed"),
        Some(log_id(2, 1, 5))
    );
    assert_eq!(reopened.get_log_state().await.expect("state"), state);
    assert_eq!(all_entries(&mut reopened).await, log);

    // Appends after a reopen land after the loaded entries and survive another reopen.
    reopened
        .blocking_append([blank(3, 9)])
        .await
        .expect("append");
    drop(reopened);
    let mut again = Store::open(dir.path()).expect("reopen");
    let state = again.get_log_state().await.expect("state");
    assert_eq!(state.last_log_id, Some(log_id(3, 1, 9)));
    assert_eq!(all_entries(&mut again).await.len(), 7);
}

#[tokio::test(flavor = "current_thread")]
async fn purge_past_the_last_entry_survives_reopen() {
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).expect("open");
    store
        .blocking_append([blank(1, 1), blank(1, 2)])
        .await
        .expect("append");
    store.purge(log_id(1, 1, 5)).await.expect("purge");
    drop(store);

    let mut reopened = Store::open(dir.path()).expect("reopen");
    let state = reopened.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 1, 5)));
    assert_eq!(state.last_log_id, Some(log_id(1, 1, 5)));
    assert!(all_entries(&mut reopened).await.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn entries_left_below_a_saved_purge_are_dropped_on_open() {
    // A crash after purged.json was saved but before the log was rewritten.
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).expect("open");
    store
        .blocking_append([blank(1, 1), blank(1, 2), blank(1, 3)])
        .await
        .expect("append");
    drop(store);
    let purged = serde_json::to_vec(&log_id(1, 1, 2)).expect("encode");
    fs::write(dir.path().join(PURGED_FILE), purged).expect("write purged");

    let mut reopened = Store::open(dir.path()).expect("reopen");
    let log = all_entries(&mut reopened).await;
    assert_eq!(log, vec![blank(1, 3)]);
}

#[tokio::test(flavor = "current_thread")]
async fn torn_last_line_is_dropped() {
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).expect("open");
    let entries = vec![blank(1, 1), normal(1, 2, "a"), normal(1, 3, "b")];
    store
        .blocking_append(entries.clone())
        .await
        .expect("append");
    drop(store);

    let log_path = dir.path().join(LOG_FILE);
    let good = fs::read(&log_path).expect("read log");
    let mut file = OpenOptions::new()
        .append(true)
        .open(&log_path)
        .expect("open log");
    file.write_all(br#"{"log_id":{"leader_id":{"term":1,"#)
        .expect("write garbage");
    drop(file);

    let mut reopened = Store::open(dir.path()).expect("reopen");
    assert_eq!(all_entries(&mut reopened).await, entries);
    assert_eq!(fs::read(&log_path).expect("read log"), good);

    // The next append starts on a clean line.
    reopened
        .blocking_append([normal(1, 4, "c")])
        .await
        .expect("append");
    drop(reopened);
    let mut again = Store::open(dir.path()).expect("reopen");
    assert_eq!(all_entries(&mut again).await.len(), 4);
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_last_line_with_newline_is_dropped() {
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).expect("open");
    store.blocking_append([blank(1, 1)]).await.expect("append");
    drop(store);
    let log_path = dir.path().join(LOG_FILE);
    let good = fs::read(&log_path).expect("read log");
    let mut bytes = good.clone();
    bytes.extend_from_slice(b"\0\0\0\n");
    fs::write(&log_path, bytes).expect("write log");

    let mut reopened = Store::open(dir.path()).expect("reopen");
    assert_eq!(all_entries(&mut reopened).await, vec![blank(1, 1)]);
    assert_eq!(fs::read(&log_path).expect("read log"), good);
}

#[tokio::test(flavor = "current_thread")]
async fn bad_line_in_the_middle_is_an_error() {
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).expect("open");
    store
        .blocking_append([blank(1, 1), blank(1, 2)])
        .await
        .expect("append");
    drop(store);
    let log_path = dir.path().join(LOG_FILE);
    let text = fs::read_to_string(&log_path).expect("read log");
    let corrupted = text.replacen('{', "#", 1);
    fs::write(&log_path, corrupted).expect("write log");

    let err = Store::open(dir.path()).expect_err("a corrupt middle line must fail");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[tokio::test(flavor = "current_thread")]
async fn corrupt_vote_is_an_error() {
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).expect("open");
    store.save_vote(&Vote::new(2, 1)).await.expect("save vote");
    drop(store);
    fs::write(dir.path().join(VOTE_FILE), b"{\"leader").expect("write vote");

    let err = Store::open(dir.path()).expect_err("a corrupt vote must fail");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}
