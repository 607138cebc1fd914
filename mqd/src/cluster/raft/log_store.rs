//! [`RaftLogFiles`]: the Raft vote and log of this node's metadata group, kept on disk in one
//! directory (`node.data_dir/raft`) and mirrored in memory. It implements openraft's
//! [`RaftLogStorage`] (storage-v2 API) for any type config whose entries serialise with serde.
//!
//! Files in the directory:
//! - `vote.json`: the last saved vote;
//! - `purged.json`: the id of the last purged log entry;
//! - `committed.json`: the last saved committed log id (a hint, see below);
//! - `log.jsonl`: the log entries, one JSON document per line, in the order they were appended.
//!
//! Crash-safety rules:
//! - `vote.json` and `purged.json` are replaced atomically: write `NAME.tmp`, fsync it, rename it
//!   over `NAME`, fsync the directory. `save_vote` returns only once the vote is durable, so a
//!   restarted node keeps its vote and term.
//! - `append` writes all its entries to the end of `log.jsonl` and fsyncs the file before it
//!   reports the entries flushed. A crash mid-append leaves at most one torn line, the last: on
//!   open it is dropped and the file truncated to the last whole line. A bad line anywhere else
//!   is corruption and `open` fails.
//! - `truncate` and `purge` rewrite the whole log through `log.jsonl.tmp` and a rename (the log
//!   holds metadata only, and snapshots bound it). `purge` saves `purged.json` first, so entries
//!   a crash left in the file at or below the purged index are dropped on open.
//! - `committed.json` is replaced atomically but without the directory fsync: after a crash it
//!   may hold an older committed id, which is safe (Raft only re-applies less on restart). An
//!   unreadable one is ignored for the same reason.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    LogId, OptionalSend, RaftLogId, RaftLogReader, RaftTypeConfig, StorageError, StorageIOError,
    Vote,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;

const VOTE_FILE: &str = "vote.json";
const PURGED_FILE: &str = "purged.json";
const COMMITTED_FILE: &str = "committed.json";
const LOG_FILE: &str = "log.jsonl";

type NodeIdOf<C> = <C as RaftTypeConfig>::NodeId;

/// The persistent Raft log store. Cloning it is cheap: clones share the same state, which is how
/// [`RaftLogStorage::get_log_reader`] hands out readers.
pub struct RaftLogFiles<C: RaftTypeConfig> {
    inner: Arc<Mutex<Inner<C>>>,
}

impl<C: RaftTypeConfig> Clone for RaftLogFiles<C> {
    fn clone(&self) -> Self {
        RaftLogFiles {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: RaftTypeConfig> Debug for RaftLogFiles<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaftLogFiles").finish_non_exhaustive()
    }
}

/// The state behind the lock: what is on disk, plus the open log file.
struct Inner<C: RaftTypeConfig> {
    dir: PathBuf,
    vote: Option<Vote<NodeIdOf<C>>>,
    committed: Option<LogId<NodeIdOf<C>>>,
    last_purged: Option<LogId<NodeIdOf<C>>>,
    /// Every entry in `log.jsonl` above `last_purged`, by index.
    log: BTreeMap<u64, C::Entry>,
    /// `log.jsonl`, opened for appending.
    log_file: File,
    /// Bytes of `log.jsonl` that hold whole, synced lines: where the next append starts.
    log_len: u64,
}

impl<C> RaftLogFiles<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
{
    /// Opens the store in `dir`, creating the directory if it is missing and loading the vote,
    /// the committed and purged ids and the log found there. A torn last log line is dropped.
    pub fn open(dir: &Path) -> Result<Self, io::Error> {
        let created = !dir.exists();
        fs::create_dir_all(dir)?;
        remove_stale_tmp_files(dir)?;

        let vote = read_json(&dir.join(VOTE_FILE))?;
        let last_purged: Option<LogId<NodeIdOf<C>>> = read_json(&dir.join(PURGED_FILE))?;
        let committed = read_committed(&dir.join(COMMITTED_FILE));

        let log_path = dir.join(LOG_FILE);
        let bytes = read_if_exists(&log_path)?.unwrap_or_default();
        let parsed = parse_log::<C>(&bytes, last_purged.as_ref().map(|id| id.index))?;
        let log_file = open_log_for_append(&log_path)?;
        if parsed.good_len < bytes.len() as u64 {
            tracing::warn!(
                path = %log_path.display(),
                dropped_bytes = bytes.len() as u64 - parsed.good_len,
                "dropping the torn last line of the raft log"
            );
            log_file.set_len(parsed.good_len)?;
            log_file.sync_all()?;
        }

        sync_dir(dir)?;
        if created {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }

        let inner = Inner {
            dir: dir.to_path_buf(),
            vote,
            committed,
            last_purged,
            log: parsed.entries,
            log_file,
            log_len: parsed.good_len,
        };
        Ok(RaftLogFiles {
            inner: Arc::new(Mutex::new(inner)),
        })
    }
}

impl<C> Inner<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
{
    fn log_state(&self) -> LogState<C> {
        let last = self
            .log
            .values()
            .next_back()
            .map(|e| e.get_log_id().clone());
        LogState {
            last_purged_log_id: self.last_purged.clone(),
            last_log_id: last.or_else(|| self.last_purged.clone()),
        }
    }

    fn save_vote(&mut self, vote: &Vote<NodeIdOf<C>>) -> io::Result<()> {
        write_atomically(&self.dir, VOTE_FILE, &serde_json::to_vec(vote)?, true)?;
        self.vote = Some(vote.clone());
        Ok(())
    }

    fn save_committed(&mut self, committed: Option<LogId<NodeIdOf<C>>>) -> io::Result<()> {
        let bytes = serde_json::to_vec(&committed)?;
        write_atomically(&self.dir, COMMITTED_FILE, &bytes, false)?;
        self.committed = committed;
        Ok(())
    }

    /// Appends `entries` to `log.jsonl` and syncs it; only then are they added in memory. On an
    /// error the file is cut back to its last whole line, so a later append starts clean.
    fn append(&mut self, entries: Vec<C::Entry>) -> io::Result<()> {
        let bytes = encode_lines::<C>(entries.iter())?;
        if let Err(e) = self.write_log_tail(&bytes) {
            if let Err(cut) = self.log_file.set_len(self.log_len) {
                tracing::error!(error = %cut, "cannot cut a failed append off the raft log");
            }
            return Err(e);
        }
        for entry in entries {
            self.log.insert(entry.get_log_id().index, entry);
        }
        Ok(())
    }

    fn write_log_tail(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.log_file.write_all(bytes)?;
        self.log_file.sync_data()?;
        self.log_len += bytes.len() as u64;
        Ok(())
    }

    /// Removes the entries at `index` and above.
    fn truncate(&mut self, index: u64) -> io::Result<()> {
        let removed = self.log.split_off(&index);
        if removed.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.rewrite_log() {
            self.log.extend(removed);
            return Err(e);
        }
        Ok(())
    }

    /// Removes the entries up to `log_id` and remembers it as the last purged id. Purging is
    /// monotonic: an id at or below the last purged one changes nothing.
    fn purge(&mut self, log_id: LogId<NodeIdOf<C>>) -> io::Result<()> {
        if self.last_purged.as_ref() >= Some(&log_id) {
            return Ok(());
        }
        write_atomically(&self.dir, PURGED_FILE, &serde_json::to_vec(&log_id)?, true)?;
        let kept = self.log.split_off(&log_id.index.saturating_add(1));
        let removed = std::mem::replace(&mut self.log, kept);
        self.last_purged = Some(log_id);
        // Were the rewrite to fail, the old file is still correct: open drops what is purged.
        if !removed.is_empty() {
            self.rewrite_log()?;
        }
        Ok(())
    }

    /// Replaces `log.jsonl` with the entries in memory, atomically, and reopens it.
    fn rewrite_log(&mut self) -> io::Result<()> {
        let bytes = encode_lines::<C>(self.log.values())?;
        write_atomically(&self.dir, LOG_FILE, &bytes, true)?;
        self.log_file = open_log_for_append(&self.dir.join(LOG_FILE))?;
        self.log_len = bytes.len() as u64;
        Ok(())
    }
}

/// What [`parse_log`] found in `log.jsonl`.
struct ParsedLog<E> {
    entries: BTreeMap<u64, E>,
    /// Bytes up to the end of the last good line.
    good_len: u64,
}

/// Parses the lines of `log.jsonl`, later lines replacing earlier ones at the same index, and
/// leaves out entries at or below `purged_index`. The last line is torn (and not counted in
/// `good_len`) if it has no newline or does not parse; a bad line before it is an error.
fn parse_log<C>(bytes: &[u8], purged_index: Option<u64>) -> io::Result<ParsedLog<C::Entry>>
where
    C: RaftTypeConfig,
    C::Entry: DeserializeOwned,
{
    let mut entries = BTreeMap::new();
    let mut pos = 0;
    let mut line_no = 0;
    while pos < bytes.len() {
        line_no += 1;
        let Some(newline) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            break; // no newline: a torn last line
        };
        let end = pos + newline + 1;
        let entry: C::Entry = match serde_json::from_slice(&bytes[pos..end - 1]) {
            Ok(entry) => entry,
            Err(_) if end == bytes.len() => break, // a torn last line
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("raft log line {line_no} is corrupt: {e}"),
                ))
            }
        };
        let index = entry.get_log_id().index;
        if purged_index.is_none_or(|purged| index > purged) {
            entries.insert(index, entry);
        }
        pos = end;
    }
    check_contiguous(&entries)?;
    Ok(ParsedLog {
        entries,
        good_len: pos as u64,
    })
}

/// Raft logs have no holes: one in the loaded log means the files were damaged.
fn check_contiguous<E>(entries: &BTreeMap<u64, E>) -> io::Result<()> {
    let mut indexes = entries.keys();
    let Some(mut prev) = indexes.next().copied() else {
        return Ok(());
    };
    for &index in indexes {
        if index != prev + 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("raft log has a hole between indexes {prev} and {index}"),
            ));
        }
        prev = index;
    }
    Ok(())
}

/// One compact JSON document per entry, each followed by a newline (compact JSON has none inside).
fn encode_lines<'a, C>(entries: impl Iterator<Item = &'a C::Entry>) -> io::Result<Vec<u8>>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + 'a,
{
    let mut bytes = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut bytes, entry)?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Replaces `dir/name` with `bytes`: through `dir/name.tmp`, fsynced, then renamed over. With
/// `sync_parent` the directory is fsynced too, making the rename itself durable.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8], sync_parent: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    if sync_parent {
        sync_dir(dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn open_log_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a JSON file written by [`write_atomically`]; a missing file is `None`.
fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let Some(bytes) = read_if_exists(path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is corrupt: {e}", path.display()),
        )
    })
}

/// The committed id is only a hint for re-applying on restart: one that cannot be read is
/// treated as not saved.
fn read_committed<NID: openraft::NodeId>(path: &Path) -> Option<LogId<NID>> {
    match read_json::<Option<LogId<NID>>>(path) {
        Ok(committed) => committed.flatten(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring the saved committed log id");
            None
        }
    }
}

/// Leftovers of writes a crash interrupted; the files they were to replace are intact.
fn remove_stale_tmp_files(dir: &Path) -> io::Result<()> {
    for name in [VOTE_FILE, PURGED_FILE, COMMITTED_FILE, LOG_FILE] {
        match fs::remove_file(dir.join(format!("{name}.tmp"))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

impl<C> RaftLogReader<C> for RaftLogFiles<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        let inner = self.inner.lock().await;
        Ok(inner.log.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl<C> RaftLogStorage<C> for RaftLogFiles<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        Ok(self.inner.lock().await.log_state())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        let mut inner = self.inner.lock().await;
        inner
            .save_vote(vote)
            .map_err(|e| StorageIOError::write_vote(&e))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.inner.lock().await.vote.clone())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> Result<(), StorageError<C::NodeId>> {
        let mut inner = self.inner.lock().await;
        inner
            .save_committed(committed)
            .map_err(|e| StorageIOError::write(&e))?;
        Ok(())
    }

    async fn read_committed(
        &mut self,
    ) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.inner.lock().await.committed.clone())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        let mut inner = self.inner.lock().await;
        inner
            .append(entries)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        let mut inner = self.inner.lock().await;
        inner
            .truncate(log_id.index)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        let mut inner = self.inner.lock().await;
        inner
            .purge(log_id)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
