//! The log writer: one task per shard, on the shard's persistence task queue, that cuts
//! the journal into blocks, appends them to the current segment and syncs per
//! `appendfsync`. With `always`, every write that arrived while a block was being written
//! and synced goes into the next block and shares its fsync (group commit).

use super::segment_file::SegmentFile;
use super::{FsyncPolicy, PersistenceSettings};
use crate::shard_state::{unix_millis, ShardState};
use peregrine_persist::{Cipher, SegmentHeader, SegmentKind};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

/// With `everysec` and `no`, blocks are cut at most this often (records accumulate in
/// between; a crash of the process loses at most this much besides the unsynced second).
const BLOCK_INTERVAL: Duration = Duration::from_millis(2);
/// How often the writer looks at `appendfsync` again.
const POLICY_REFRESH: Duration = Duration::from_millis(100);
/// How often a failing write or fsync is retried.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// The segment being appended to and how to make the next one.
pub struct LogTarget {
    /// The open segment.
    pub segment: SegmentFile,
    /// Its sequence number.
    pub sequence: u64,
    /// The shard count written into headers.
    pub shard_count: u32,
    /// The block cipher.
    pub cipher: Cipher,
}

impl LogTarget {
    /// Opens a new log segment `sequence` for `shard`.
    pub async fn create(
        settings: &PersistenceSettings,
        shard: u32,
        shard_count: u32,
        sequence: u64,
        cipher: Cipher,
    ) -> std::io::Result<LogTarget> {
        let header = SegmentHeader {
            kind: SegmentKind::Log,
            shard,
            shard_count,
            sequence,
            created: unix_millis(),
            cipher: cipher.kind(),
        };
        let segment = SegmentFile::create(
            &settings.data_dir,
            &header,
            &cipher,
            Some(settings.segment_size),
        )
        .await?;
        peregrine_persist::manifest::sync_dir(&settings.data_dir).map_err(std::io::Error::other)?;
        Ok(LogTarget {
            segment,
            sequence,
            shard_count,
            cipher,
        })
    }
}

/// Runs the shard's log writer forever.
pub async fn run(state: Rc<ShardState>, settings: PersistenceSettings, mut target: LogTarget) {
    let persistence = &state.persistence;
    persistence.active.set(true);
    let mut unsynced = false;
    let mut last_sync = Instant::now();
    let mut last_block = Instant::now();
    // A sealed block that could not be written yet (disk full): written again, first.
    let mut retry: Option<(Vec<u8>, u64)> = None;
    let mut policy = settings.fsync;
    let mut policy_read = Instant::now();
    // fdatasyncs in flight (appendfsync always).
    let syncs = Rc::new(SyncSlots::default());
    loop {
        if state.server.shutting_down.load(Ordering::Relaxed) && retry.is_none() {
            flush_for_shutdown(&state, &mut target).await;
            return;
        }
        // CONFIG SET appendfsync takes effect within POLICY_REFRESH (reading the settings
        // for every block would cost more than the block).
        if policy_read.elapsed() >= POLICY_REFRESH {
            policy = state.server.settings().persistence.fsync;
            policy_read = Instant::now();
        }
        let sync_due = unsynced && policy == FsyncPolicy::EverySec;
        wait_for_work(&state, retry.is_some(), sync_due.then_some(last_sync)).await;
        if policy != FsyncPolicy::Always && retry.is_none() {
            let since = last_block.elapsed();
            if since < BLOCK_INTERVAL {
                glommio::timer::sleep(BLOCK_INTERVAL - since).await;
            }
        }
        if persistence.rotate.take() {
            if let Err(error) = rotate(&state, &settings, &mut target).await {
                report_failure(&state, "segment rotation", &error);
                persistence.rotate.set(true);
                glommio::timer::sleep(RETRY_INTERVAL).await;
                continue;
            }
        }
        let block = retry.take().or_else(|| {
            let pending = state.journal.borrow_mut().take()?;
            Some((pending.seal(&target.cipher), pending.last_lsn()))
        });
        if let Some((block, last_lsn)) = block {
            last_block = Instant::now();
            if let Err(error) = append(&state, &settings, &mut target, &block).await {
                report_failure(&state, "write", &error);
                retry = Some((block, last_lsn));
                glommio::timer::sleep(RETRY_INTERVAL).await;
                continue;
            }
            let records = last_lsn.saturating_sub(persistence.written_lsn.get());
            persistence.written_lsn.set(last_lsn);
            state
                .server
                .persistence
                .changes_since_save
                .fetch_add(records, Ordering::Relaxed);
            unsynced = true;
        }
        if policy == FsyncPolicy::Always && unsynced {
            // Group commit, pipelined: the fsync of this block runs while the next block
            // (the writes that arrived meanwhile) is being written.
            syncs.acquire().await;
            let (syncer, syncs, state, lsn) = (
                target.segment.syncer(),
                syncs.clone(),
                state.clone(),
                persistence.written_lsn.get(),
            );
            glommio::spawn_local(async move {
                let started = Instant::now();
                match syncer.sync().await {
                    Ok(()) => {
                        let took = started.elapsed().as_micros() as u64;
                        crate::latency::add_if_needed(&state, "aof-fsync-always", took);
                        state.persistence.mark_durable(lsn);
                        clear_failure(&state);
                    }
                    // Not durable yet: the next successful fdatasync of this file covers
                    // these writes too (they reached the device; its cache flush failed).
                    Err(error) => report_failure(&state, "fsync", &error),
                }
                syncs.release();
                state.persistence.notify_writer();
            })
            .detach();
            unsynced = false;
            last_sync = Instant::now();
            continue;
        }
        let sync_now = match policy {
            FsyncPolicy::Always => false,
            FsyncPolicy::EverySec => unsynced && last_sync.elapsed() >= Duration::from_secs(1),
            FsyncPolicy::No => false,
        };
        if sync_now {
            if let Err(error) = target.segment.sync().await {
                report_failure(&state, "fsync", &error);
                glommio::timer::sleep(RETRY_INTERVAL).await;
                continue;
            }
            last_sync = Instant::now();
            unsynced = false;
            persistence.mark_durable(persistence.written_lsn.get());
        } else if policy == FsyncPolicy::No {
            persistence.mark_durable(persistence.written_lsn.get());
        }
        clear_failure(&state);
    }
}

/// Writes and syncs whatever is buffered, then reports this shard's log closed.
async fn flush_for_shutdown(state: &ShardState, target: &mut LogTarget) {
    let pending = state.journal.borrow_mut().take();
    if let Some(pending) = pending {
        if let Err(error) = target.segment.append(&pending.seal(&target.cipher)).await {
            tracing::warn!(
                "shard {}: log write at shutdown failed: {error}",
                state.id.0
            );
        }
    }
    if let Err(error) = target.segment.sync().await {
        tracing::warn!(
            "shard {}: log fsync at shutdown failed: {error}",
            state.id.0
        );
    }
    state.persistence.active.set(false);
    state
        .server
        .persistence
        .shards_closed
        .fetch_add(1, Ordering::SeqCst);
}

/// Most fdatasyncs in flight at once with `appendfsync always`. More than one pays when
/// the device's flushes are slow (each covers the blocks written while the previous
/// ones were in flight); on a fast device they mostly cost CPU.
const MAX_SYNCS: usize = 4;

/// The fdatasyncs in flight, and the writer waiting for one to finish.
#[derive(Default)]
struct SyncSlots {
    in_flight: Cell<usize>,
    waiter: Cell<Option<std::task::Waker>>,
}

impl SyncSlots {
    /// Waits until fewer than [`MAX_SYNCS`] are in flight, then takes a slot.
    async fn acquire(&self) {
        std::future::poll_fn(|context| {
            if self.in_flight.get() < MAX_SYNCS {
                self.in_flight.set(self.in_flight.get() + 1);
                Poll::Ready(())
            } else {
                self.waiter.set(Some(context.waker().clone()));
                Poll::Pending
            }
        })
        .await;
    }

    /// Gives a slot back and wakes the writer if it waits for one.
    fn release(&self) {
        self.in_flight.set(self.in_flight.get() - 1);
        if let Some(waker) = self.waiter.take() {
            waker.wake();
        }
    }
}

/// Waits until records are buffered, a retry is pending, or an everysec fsync is due.
async fn wait_for_work(state: &ShardState, retrying: bool, sync_since: Option<Instant>) {
    if retrying {
        return;
    }
    let ready = std::future::poll_fn(|context| {
        if state.journal.borrow().buffered() > 0 || state.persistence.rotate.get() {
            Poll::Ready(())
        } else {
            state.persistence.park_writer(context.waker());
            Poll::Pending
        }
    });
    let limit = match sync_since {
        Some(since) => Duration::from_secs(1).saturating_sub(since.elapsed()),
        None => Duration::from_millis(100),
    };
    futures_lite::future::or(ready, glommio::timer::sleep(limit)).await;
}

/// Appends one block, moving to a new segment first when the current one is full.
async fn append(
    state: &ShardState,
    settings: &PersistenceSettings,
    target: &mut LogTarget,
    block: &[u8],
) -> std::io::Result<()> {
    if !target.segment.is_empty()
        && target.segment.len() + block.len() as u64 > settings.segment_size
    {
        rotate(state, settings, target).await?;
    }
    let before = target.segment.len();
    target.segment.append(block).await?;
    let written = target.segment.len() - before;
    state
        .server
        .persistence
        .log_bytes
        .fetch_add(written, Ordering::Relaxed);
    Ok(())
}

/// Closes the current segment (synced) and continues in the next one.
async fn rotate(
    state: &ShardState,
    settings: &PersistenceSettings,
    target: &mut LogTarget,
) -> std::io::Result<()> {
    target.segment.sync().await?;
    let next = LogTarget::create(
        settings,
        u32::from(state.id.0),
        target.shard_count,
        target.sequence + 1,
        target.cipher.clone(),
    )
    .await?;
    let full = std::mem::replace(target, next);
    state.persistence.current_sequence.set(target.sequence);
    full.segment.close().await
}

fn report_failure(state: &ShardState, operation: &str, error: &std::io::Error) {
    let shared = &state.server.persistence;
    if !state.persistence.failing.replace(true) {
        shared.failing_shards.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            "shard {}: log {operation} failed: {error}; write commands are refused until it succeeds",
            state.id.0
        );
    }
    if let Ok(mut text) = shared.last_error.lock() {
        *text = error.to_string();
    }
}

fn clear_failure(state: &ShardState) {
    if state.persistence.failing.replace(false) {
        state
            .server
            .persistence
            .failing_shards
            .fetch_sub(1, Ordering::Relaxed);
        tracing::info!("shard {}: the log is written again", state.id.0);
    }
}
