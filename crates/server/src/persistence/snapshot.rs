//! Snapshots without fork (DESIGN.md §4): at a cut taken under a lock on everything (no
//! multi-shard operation in flight), every shard flips its snapshot parity and notes where
//! its log stands; then each shard sweeps its keyspace in small steps between requests,
//! writing rebuild records to its snapshot segment, while writes capture the entries they
//! are about to change first. Once every shard is done, the manifest names the new
//! snapshot and the log segments it covers are removed.

use super::segment_file::SegmentFile;
use crate::coordinator::{everything, lock_in_order, release_all};
use crate::shard_state::{unix_millis, ShardRouter, ShardState};
use peregrine_keyspace::DbIndex;
use peregrine_persist::{
    parse_log_file_name, parse_snapshot_file_name, Manifest, SegmentHeader, SegmentKind, ShardEntry,
};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Records are written to the snapshot in blocks of about this size.
const BLOCK_TARGET: usize = 256 * 1024;
/// Longest stretch of sweeping before the shard serves requests again.
const STEP_BUDGET: Duration = Duration::from_millis(1);

/// What one shard's part of a snapshot produced.
struct ShardSnapshot {
    file: String,
    log_start: u64,
    next_lsn: u64,
    bytes: u64,
    entries: u64,
}

/// A completed snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotSummary {
    /// Its generation.
    pub generation: u64,
    /// Bytes of snapshot segments, all shards.
    pub bytes: u64,
    /// Entries written.
    pub entries: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Takes a snapshot of every shard while serving. Fails when another is running.
pub async fn take(router: &Rc<ShardRouter>) -> Result<SnapshotSummary, String> {
    let shared = &router.state().server.persistence;
    if shared.snapshot_running.swap(true, Ordering::SeqCst) {
        return Err("ERR Background save already in progress".into());
    }
    let locks = everything(router, None);
    lock_in_order(router, &locks).await;
    let outcome = run(router, Some(locks)).await;
    finish(router, &outcome);
    outcome
}

/// Takes a snapshot while the caller holds a lock on everything (nothing changes while
/// it runs): DEBUG RELOAD's save.
pub async fn take_locked(router: &Rc<ShardRouter>) -> Result<SnapshotSummary, String> {
    let shared = &router.state().server.persistence;
    if shared.snapshot_running.swap(true, Ordering::SeqCst) {
        return Err("ERR Background save already in progress".into());
    }
    let outcome = run(router, None).await;
    finish(router, &outcome);
    outcome
}

fn finish(router: &ShardRouter, outcome: &Result<SnapshotSummary, String>) {
    let server = &router.state().server;
    let shared = &server.persistence;
    match outcome {
        Ok(summary) => {
            server
                .last_save
                .store(unix_millis() / 1000, Ordering::Relaxed);
            shared.last_snapshot_failed.store(false, Ordering::Relaxed);
            shared.snapshots.fetch_add(1, Ordering::Relaxed);
            shared
                .last_snapshot_seconds
                .store(summary.elapsed.as_secs(), Ordering::Relaxed);
            shared
                .snapshot_bytes
                .store(summary.bytes, Ordering::Relaxed);
            tracing::info!(
                "snapshot {} done: {} entries, {} bytes in {:.3} s",
                summary.generation,
                summary.entries,
                summary.bytes,
                summary.elapsed.as_secs_f64()
            );
        }
        Err(reason) => {
            shared.last_snapshot_failed.store(true, Ordering::Relaxed);
            tracing::warn!("snapshot failed: {reason}");
        }
    }
    shared.snapshot_running.store(false, Ordering::SeqCst);
}

/// The cut, the sweeps and the manifest. With `locks`, they are released right after the
/// cut.
async fn run(
    router: &Rc<ShardRouter>,
    locks: Option<
        std::collections::BTreeMap<peregrine_shard::ShardId, peregrine_shard::LockRequest>,
    >,
) -> Result<SnapshotSummary, String> {
    let started = Instant::now();
    let server = router.state().server.clone();
    let shared = &server.persistence;
    let generation = shared.generation.load(Ordering::SeqCst) + 1;
    let time = unix_millis();
    shared
        .snapshot_started
        .store(time / 1000, Ordering::Relaxed);
    let mut cuts = Vec::new();
    for shard in router.shards() {
        cuts.push(
            router
                .invoke_on(shard, move |state| async move { begin(&state, time) })
                .await,
        );
    }
    shared.changes_since_save.store(0, Ordering::Relaxed);
    shared.log_bytes.store(0, Ordering::Relaxed);
    if let Some(locks) = locks {
        release_all(router, locks).await;
    }
    let shard_count = u32::from(router.shard_count());
    let sweeps: Vec<_> = router
        .shards()
        .zip(cuts.iter().map(|(log_start, _)| *log_start))
        .map(|(shard, log_start)| {
            let router = router.clone();
            glommio::spawn_local(async move {
                router
                    .invoke_on(shard, move |state| async move {
                        let swept = sweep(&state, generation, shard_count, time).await;
                        await_rotation(&state, log_start).await;
                        swept
                    })
                    .await
            })
        })
        .collect();
    let mut parts = Vec::new();
    let mut failure = None;
    for (sweep, (log_start, next_lsn)) in sweeps.into_iter().zip(cuts) {
        match sweep.await {
            Ok((file, bytes, entries)) => parts.push(ShardSnapshot {
                file,
                log_start,
                next_lsn,
                bytes,
                entries,
            }),
            Err(reason) => failure = Some(reason),
        }
    }
    if let Some(reason) = failure {
        return Err(reason);
    }
    let settings = server.settings().persistence;
    let cipher = shared.cipher();
    let manifest = Manifest {
        generation,
        shard_count,
        created: time,
        cipher: cipher.kind(),
        shards: parts
            .iter()
            .map(|part| ShardEntry {
                snapshot: part.file.clone(),
                log_start: part.log_start,
                next_lsn: part.next_lsn,
            })
            .collect(),
    };
    manifest
        .write(&settings.data_dir)
        .map_err(|error| format!("can't write the manifest: {error}"))?;
    shared.generation.store(generation, Ordering::SeqCst);
    remove_covered(&settings.data_dir, &manifest);
    Ok(SnapshotSummary {
        generation,
        bytes: parts.iter().map(|part| part.bytes).sum(),
        entries: parts.iter().map(|part| part.entries).sum(),
        elapsed: started.elapsed(),
    })
}

/// The cut on one shard: flip the parity, start capturing, note where the log stands.
/// Returns (first log segment after the cut, first LSN after it).
fn begin(state: &ShardState, time: u64) -> (u64, u64) {
    let parity = peregrine_keyspace::flip_snapshot_parity();
    state.capture.borrow_mut().start(parity, time);
    let next_lsn = state.journal.borrow().next_lsn();
    let persistence = &state.persistence;
    let mut log_start = persistence.current_sequence.get();
    if persistence.active.get() {
        // The log moves to a new segment, so the ones before it can go with this snapshot.
        log_start += 1;
        persistence.rotate.set(true);
        persistence.notify_writer();
    }
    (log_start, next_lsn)
}

/// Waits until this shard's log writer has moved to segment `sequence` (the segments
/// before it are about to be removed).
async fn await_rotation(state: &ShardState, sequence: u64) {
    let persistence = &state.persistence;
    while persistence.active.get() && persistence.current_sequence.get() < sequence {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

/// Sweeps one shard's keyspace into its snapshot segment. Returns (file name, bytes,
/// entries). On a write error the sweep still completes (every entry must end captured
/// for the next snapshot's parity to hold) and the error is returned.
async fn sweep(
    state: &Rc<ShardState>,
    generation: u64,
    shard_count: u32,
    time: u64,
) -> Result<(String, u64, u64), String> {
    let settings = state.server.settings().persistence;
    let cipher = state.server.persistence.cipher();
    let header = SegmentHeader {
        kind: SegmentKind::Snapshot,
        shard: u32::from(state.id.0),
        shard_count,
        sequence: generation,
        created: time,
        cipher: cipher.kind(),
    };
    let file = match SegmentFile::create(&settings.data_dir, &header, &cipher, None).await {
        Ok(file) => Some(file),
        Err(error) => {
            tracing::warn!(
                "can't create snapshot segment {}: {error}",
                header.file_name()
            );
            None
        }
    };
    let failure = file
        .is_none()
        .then(|| format!("can't create {}", header.file_name()));
    let mut output = SnapshotOutput {
        file,
        writes: VecDeque::new(),
        failure,
    };
    let databases = state.keyspace.borrow().db_count();
    for db in 0..databases {
        let keys = state.keyspace.borrow_mut().db(DbIndex(db)).len() as u64;
        if keys > 0 {
            state
                .capture
                .borrow_mut()
                .records
                .append(time, |record| record.size_hint(db, keys));
        }
        let mut cursor = 0;
        let mut scanned = false;
        loop {
            let started = Instant::now();
            {
                let mut capture = state.capture.borrow_mut();
                let mut keyspace = state.keyspace.borrow_mut();
                let database = keyspace.db(DbIndex(db));
                loop {
                    if capture.has_big(db) {
                        capture.big_step(database, db);
                    } else if scanned {
                        break;
                    } else {
                        cursor = capture.sweep_step(database, db, cursor);
                        scanned = cursor == 0;
                    }
                    if capture.records.buffered() >= BLOCK_TARGET
                        || started.elapsed() >= STEP_BUDGET
                    {
                        break;
                    }
                }
            }
            write_records(state, &mut output, BLOCK_TARGET).await;
            if scanned && !state.capture.borrow().has_big(db) {
                break;
            }
            crate::expiry::pause_for_io().await;
        }
    }
    state.capture.borrow_mut().finish();
    write_records(state, &mut output, 0).await;
    output.settle(0).await;
    let entries = state.capture.borrow().entries;
    let Some(file) = output.file else {
        return Err(output.failure.unwrap_or_default());
    };
    if let Some(reason) = output.failure {
        return Err(reason);
    }
    let bytes = file.len();
    let name = header.file_name();
    file.sync()
        .await
        .map_err(|error| format!("can't sync {name}: {error}"))?;
    file.close()
        .await
        .map_err(|error| format!("can't close {name}: {error}"))?;
    Ok((name, bytes, entries))
}

/// Writes of the snapshot in flight while the sweep goes on.
const WRITES_IN_FLIGHT: usize = 4;

/// The snapshot segment being written, with its writes in flight.
struct SnapshotOutput {
    file: Option<SegmentFile>,
    writes: VecDeque<glommio::task::JoinHandle<std::io::Result<()>>>,
    failure: Option<String>,
}

impl SnapshotOutput {
    /// Waits for writes until at most `limit` are in flight.
    async fn settle(&mut self, limit: usize) {
        while self.writes.len() > limit {
            let Some(write) = self.writes.pop_front() else {
                break;
            };
            let outcome = write
                .await
                .unwrap_or_else(|| Err(std::io::Error::other("write task lost")));
            if let Err(error) = outcome {
                if self.failure.is_none() {
                    let name = self
                        .file
                        .as_ref()
                        .map(|file| file.path().display().to_string())
                        .unwrap_or_default();
                    self.failure = Some(format!("can't write {name}: {error}"));
                }
            }
        }
    }
}

/// Writes the captured records as a block once at least `threshold` bytes wait (all of
/// them with 0). After a failure, records are dropped: the snapshot is lost anyway.
async fn write_records(state: &ShardState, output: &mut SnapshotOutput, threshold: usize) {
    let pending = {
        let mut capture = state.capture.borrow_mut();
        if capture.records.buffered() < threshold.max(1) {
            return;
        }
        capture.records.take()
    };
    let (Some(pending), Some(target)) = (pending, output.file.as_mut()) else {
        return;
    };
    if output.failure.is_some() {
        return;
    }
    let block = pending.seal(&state.server.persistence.cipher());
    output.writes.push_back(target.start_append(&block));
    output.settle(WRITES_IN_FLIGHT).await;
}

/// Removes snapshot segments of older generations and log segments the new snapshot
/// covers.
fn remove_covered(dir: &std::path::Path, manifest: &Manifest) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let covered = if let Some((generation, _)) = parse_snapshot_file_name(&name) {
            generation < manifest.generation
        } else if let Some((shard, sequence)) = parse_log_file_name(&name) {
            manifest
                .shards
                .get(shard as usize)
                .is_some_and(|entry| sequence < entry.log_start)
        } else {
            false
        };
        if covered {
            if let Err(error) = std::fs::remove_file(entry.path()) {
                tracing::warn!("can't remove {name}: {error}");
            }
        }
    }
    let _ = peregrine_persist::manifest::sync_dir(dir);
}
