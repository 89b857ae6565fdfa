//! Persistence (DESIGN.md §4): every shard logs the effects of its writes as records,
//! cut into checksummed, compressed blocks appended to its own segment files from its own
//! ring; at start-up the shards rebuild their data from the latest snapshot and the log
//! after it. The on-disk format lives in the `peregrine-persist` crate.

pub mod commands;
pub mod info;
pub mod log_writer;
pub mod recovery;
pub mod replay;
pub mod reshard;
pub mod schedule;
pub mod segment_file;
pub mod snapshot;
pub mod start;

pub use start::{finish_loading, start_shard, RecoveryPlan};

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Poll, Waker};

/// When a shard's log is flushed to stable storage (`appendfsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Before a write's reply is released (group commit).
    Always,
    /// About once a second.
    EverySec,
    /// When the operating system decides.
    No,
}

impl FsyncPolicy {
    /// The policy named by an `appendfsync` value.
    pub fn parse(text: &str) -> FsyncPolicy {
        match text {
            "always" => FsyncPolicy::Always,
            "no" => FsyncPolicy::No,
            _ => FsyncPolicy::EverySec,
        }
    }
}

/// What persistence needs from the configuration.
#[derive(Clone, Debug)]
pub struct PersistenceSettings {
    /// `appendonly`: whether writes are logged.
    pub enabled: bool,
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    /// `dir` joined with `appenddirname`: where segments and the manifest live.
    pub data_dir: PathBuf,
    /// `aof-segment-size`: a log segment is closed once it reaches this size.
    pub segment_size: u64,
    /// `encryption-key-file` ("" = no encryption).
    pub key_file: String,
    /// `aof-load-truncated`: start after truncating a torn log tail (else refuse).
    pub load_truncated: bool,
    /// `aof-load-skip-corrupt`: start anyway when a block in the middle is damaged,
    /// skipping it (else refuse with the file and offset).
    pub skip_corrupt: bool,
}

/// Persistence state shared by all shards.
#[derive(Debug, Default)]
pub struct SharedPersistence {
    /// Shards still loading their data (clients get `-LOADING` meanwhile).
    pub shards_loading: AtomicU32,
    /// Bytes of snapshot and log to load, all shards.
    pub loading_total_bytes: AtomicU64,
    /// Bytes loaded so far, all shards.
    pub loading_loaded_bytes: AtomicU64,
    /// When loading started (Unix seconds).
    pub loading_start_time: AtomicU64,
    /// Shards whose log writer is failing (disk full, I/O error): writes are refused.
    pub failing_shards: AtomicU32,
    /// The last write or fsync error, for `-MISCONF` and INFO.
    pub last_error: Mutex<String>,
    /// Ids of multi-shard operations, unique across restarts (seeded from the clock).
    pub next_tx_id: AtomicU64,
    /// Keys loaded at start-up (INFO `rdb_last_load_keys_loaded`).
    pub keys_loaded: AtomicU64,
    /// Some shard's log stopped at a multi-shard operation missing parts elsewhere: a
    /// snapshot must be taken before serving, so that the records after it (dropped for
    /// good) never replay.
    pub snapshot_before_serving: std::sync::atomic::AtomicBool,
    /// Shards running a log writer.
    pub shards_logging: AtomicU32,
    /// Shards whose log writer flushed and closed at shutdown.
    pub shards_closed: AtomicU32,
    /// A snapshot is being taken.
    pub snapshot_running: std::sync::atomic::AtomicBool,
    /// The generation of the latest complete snapshot (0: none yet).
    pub generation: AtomicU64,
    /// When the running snapshot started (Unix seconds).
    pub snapshot_started: AtomicU64,
    /// The last snapshot failed.
    pub last_snapshot_failed: std::sync::atomic::AtomicBool,
    /// Snapshots completed since start.
    pub snapshots: AtomicU64,
    /// Duration of the last snapshot in seconds.
    pub last_snapshot_seconds: AtomicU64,
    /// Bytes of the latest snapshot (the base the log's growth is measured against).
    pub snapshot_bytes: AtomicU64,
    /// Records logged since the last snapshot's cut (save rules count these changes).
    pub changes_since_save: AtomicU64,
    /// Log bytes written since the last snapshot's cut, all shards.
    pub log_bytes: AtomicU64,
    /// The block cipher, set once at start-up.
    pub block_cipher: std::sync::OnceLock<peregrine_persist::Cipher>,
}

impl SharedPersistence {
    /// True while some shard is still loading.
    pub fn loading(&self) -> bool {
        self.shards_loading.load(Ordering::Relaxed) > 0
    }

    /// The block cipher in use.
    pub fn cipher(&self) -> peregrine_persist::Cipher {
        self.block_cipher
            .get()
            .cloned()
            .unwrap_or_else(peregrine_persist::Cipher::none)
    }

    /// A fresh operation id for a multi-shard write.
    pub fn tx_id(&self) -> u64 {
        self.next_tx_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The `-MISCONF` error while a log cannot be written, else `None`.
    pub fn write_refusal(&self) -> Option<String> {
        if self.failing_shards.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let reason = match self.last_error.lock() {
            Ok(text) => text.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        Some(format!("MISCONF Errors writing to the AOF file: {reason}"))
    }
}

/// One shard's log progress and the tasks waiting on it.
#[derive(Default)]
pub struct ShardPersistence {
    /// The log writer runs (persistence enabled and loading done).
    pub active: Cell<bool>,
    /// Highest LSN written to the segment file.
    pub written_lsn: Cell<u64>,
    /// Highest LSN known durable.
    pub durable_lsn: Cell<u64>,
    /// The log segment being appended to.
    pub current_sequence: Cell<u64>,
    /// A snapshot asked the writer to move to a new segment.
    pub rotate: Cell<bool>,
    /// Set while writes to the log fail.
    pub failing: Cell<bool>,
    writer: Cell<Option<Waker>>,
    durable_waiters: RefCell<Vec<Waker>>,
}

impl ShardPersistence {
    /// Tells the log writer that records are waiting.
    pub fn notify_writer(&self) {
        if let Some(waker) = self.writer.take() {
            waker.wake();
        }
    }

    /// Resolves once every record up to `lsn` is durable (immediately when persistence is
    /// off on this shard).
    pub async fn wait_durable(&self, lsn: u64) {
        std::future::poll_fn(|context| {
            if !self.active.get() || self.durable_lsn.get() >= lsn {
                return Poll::Ready(());
            }
            self.durable_waiters
                .borrow_mut()
                .push(context.waker().clone());
            self.notify_writer();
            Poll::Pending
        })
        .await;
    }

    /// Records that everything up to `lsn` is durable and wakes the waiters.
    pub fn mark_durable(&self, lsn: u64) {
        self.durable_lsn.set(self.durable_lsn.get().max(lsn));
        for waker in self.durable_waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Parks the log writer until [`ShardPersistence::notify_writer`].
    pub(crate) fn park_writer(&self, waker: &Waker) {
        self.writer.set(Some(waker.clone()));
    }
}
