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
    /// Log bytes written since start (INFO `aof_current_size` sums them).
    pub log_bytes: Cell<u64>,
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

/// What every shard needs to load its data and start its log, prepared once at start-up.
pub struct RecoveryPlan {
    /// The data directory's content.
    pub layout: recovery::Layout,
    /// Multi-shard operations whose every part is in the logs.
    pub complete: std::collections::HashSet<u64>,
    /// The block cipher (from `encryption-key-file`).
    pub cipher: peregrine_persist::Cipher,
    /// The persistence configuration.
    pub settings: PersistenceSettings,
}

impl RecoveryPlan {
    /// Reads the data directory and checks the key; errors are fit for the operator.
    pub fn prepare(
        settings: &PersistenceSettings,
        limits: peregrine_commands::CommandLimits,
        databases: u32,
        shard_count: u16,
    ) -> Result<RecoveryPlan, String> {
        let cipher = if settings.key_file.is_empty() {
            peregrine_persist::Cipher::none()
        } else {
            peregrine_persist::Cipher::from_key_file(std::path::Path::new(&settings.key_file))
                .map_err(|error| error.to_string())?
        };
        let mut layout = recovery::discover(&settings.data_dir)?;
        if layout.shard_count != 0 && layout.shard_count != u32::from(shard_count) {
            layout = reshard::reshard(&layout, &cipher, settings, limits, databases, shard_count)?;
        }
        let complete = recovery::complete_transactions(&layout, &cipher)?;
        Ok(RecoveryPlan {
            layout,
            complete,
            cipher,
            settings: settings.clone(),
        })
    }
}

/// On shard 0 once every shard has loaded: takes the snapshot recovery asked for (see
/// [`SharedPersistence::snapshot_before_serving`]), then lets clients in.
pub async fn finish_loading(router: std::rc::Rc<crate::shard_state::ShardRouter>) {
    let shared = &router.state().server.persistence;
    while shared.shards_loading.load(Ordering::SeqCst) > 1 {
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
    if shared.snapshot_before_serving.load(Ordering::SeqCst) {
        tracing::warn!("taking a snapshot before serving: part of the log was dropped");
        if let Err(reason) = snapshot::take(&router).await {
            tracing::warn!("the snapshot after recovery failed: {reason}");
        }
    }
    shared.shards_loading.fetch_sub(1, Ordering::SeqCst);
}

/// Loads this shard's data, then starts its log writer (when `appendonly` is on).
pub async fn start_shard(
    state: &std::rc::Rc<crate::shard_state::ShardState>,
    plan: &RecoveryPlan,
    shard_count: u16,
) -> Result<(), String> {
    let shard = u32::from(state.id.0);
    let files = plan
        .layout
        .shards
        .get(shard as usize)
        .cloned()
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let mut loader = recovery::ShardLoader::new(
        &files,
        plan.cipher.clone(),
        plan.complete.clone(),
        &plan.settings,
    );
    let shared = &state.server.persistence;
    let mut reported = started;
    loop {
        let step = {
            let mut keyspace = state.keyspace.borrow_mut();
            let mut replayer = replay::Replayer::new(&mut keyspace, state.limits());
            loader.step(&mut replayer, 8)?
        };
        match step {
            None => break,
            Some(bytes) => {
                shared
                    .loading_loaded_bytes
                    .fetch_add(bytes, Ordering::Relaxed);
                // Shard 0 reports the whole server's progress every few seconds.
                if shard == 0 && reported.elapsed() >= std::time::Duration::from_secs(2) {
                    reported = std::time::Instant::now();
                    let total = shared.loading_total_bytes.load(Ordering::Relaxed).max(1);
                    let loaded = shared
                        .loading_loaded_bytes
                        .load(Ordering::Relaxed)
                        .min(total);
                    tracing::info!(
                        "loading: {:.1}% ({loaded} of {total} bytes) after {:.1} s",
                        loaded as f64 * 100.0 / total as f64,
                        started.elapsed().as_secs_f64()
                    );
                }
                crate::expiry::pause_for_io().await;
            }
        }
    }
    let keys: usize = state.keyspace.borrow().iter().map(|(_, db)| db.len()).sum();
    shared.keys_loaded.fetch_add(keys as u64, Ordering::Relaxed);
    let outcome = &loader.outcome;
    if outcome.stopped_at.is_some() {
        shared.snapshot_before_serving.store(true, Ordering::SeqCst);
    }
    if files.snapshot.is_some() || !files.logs.is_empty() {
        tracing::info!(
            "shard {shard}: loaded {keys} keys from {} snapshot and {} log segments in {:.3} s{}",
            usize::from(files.snapshot.is_some()),
            files.logs.len(),
            started.elapsed().as_secs_f64(),
            if outcome.replay_errors > 0 {
                format!(" ({} records failed to replay)", outcome.replay_errors)
            } else {
                String::new()
            }
        );
    }
    if plan.settings.enabled {
        let target = log_writer::LogTarget::create(
            &plan.settings,
            shard,
            u32::from(shard_count),
            outcome.last_sequence + 1,
            plan.cipher.clone(),
        )
        .await
        .map_err(|error| {
            format!(
                "can't create a log segment in {}: {error}",
                plan.settings.data_dir.display()
            )
        })?;
        state.persistence.current_sequence.set(target.sequence);
        state.journal.borrow_mut().enable(outcome.last_lsn + 1);
        state.persistence.written_lsn.set(outcome.last_lsn);
        state.persistence.durable_lsn.set(outcome.last_lsn);
        let queue = glommio::executor().create_task_queue(
            glommio::Shares::Static(1000),
            glommio::Latency::NotImportant,
            "persistence",
        );
        let writer = log_writer::run(state.clone(), plan.settings.clone(), target);
        shared.shards_logging.fetch_add(1, Ordering::SeqCst);
        glommio::spawn_local_into(writer, queue)
            .map_err(|error| format!("can't start the log writer: {error}"))?
            .detach();
    }
    Ok(())
}
