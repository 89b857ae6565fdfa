//! Loading data written by N shards into a server of M shards: before the shards start,
//! each old shard's snapshot and log are replayed (in parallel, one thread per old shard)
//! and the result is written as a new snapshot generation of M shards, each key in the
//! shard that owns it now. The manifest naming the new snapshot is the commit point; the
//! old files are removed after it, so a crash at any moment leaves either layout whole.

use super::recovery::{self, Layout, ShardLoader};
use super::replay::Replayer;
use super::PersistenceSettings;
use crate::shard_state::unix_millis;
use peregrine_commands::{rebuild::rebuild, CommandLimits};
use peregrine_keyspace::{DbIndex, Keyspace};
use peregrine_persist::{
    align_up, parse_log_file_name, parse_snapshot_file_name, Cipher, Journal, Manifest,
    SegmentHeader, SegmentKind, ShardEntry,
};
use peregrine_shard::ShardId;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

/// Records are cut into blocks of about this size.
const BLOCK_TARGET: usize = 256 * 1024;

/// Rewrites the data of `layout` for `shard_count` shards; returns the new layout.
pub fn reshard(
    layout: &Layout,
    cipher: &Cipher,
    settings: &PersistenceSettings,
    limits: CommandLimits,
    databases: u32,
    shard_count: u16,
) -> Result<Layout, String> {
    let dir = &settings.data_dir;
    tracing::info!(
        "the data in {} was written by {} shards: redistributing it over {shard_count}",
        dir.display(),
        layout.shard_count
    );
    let complete = recovery::complete_transactions(layout, cipher)?;
    let keyspaces: Vec<Keyspace> = std::thread::scope(|scope| {
        let loads: Vec<_> = layout
            .shards
            .iter()
            .map(|files| {
                let complete = complete.clone();
                scope.spawn(move || load(files, cipher, complete, settings, limits, databases))
            })
            .collect();
        loads
            .into_iter()
            .map(|load| {
                load.join()
                    .unwrap_or_else(|_| Err("a loader panicked".into()))
            })
            .collect::<Result<Vec<_>, String>>()
    })?;
    let generation = layout
        .manifest
        .as_ref()
        .map_or(0, |manifest| manifest.generation)
        + 1;
    let time = unix_millis();
    let mut writers = (0..shard_count)
        .map(|shard| SnapshotWriter::create(dir, generation, shard, shard_count, time, cipher))
        .collect::<Result<Vec<_>, String>>()?;
    let mut keys = 0u64;
    for keyspace in &keyspaces {
        for (DbIndex(db), database) in keyspace.iter() {
            let mut cursor = 0;
            loop {
                let mut failure = None;
                cursor = database.scan(cursor, |key, entry| {
                    let deadline = database.deadline(key);
                    if deadline.is_some_and(|at| at <= time) {
                        return;
                    }
                    let owner = ShardId::for_key(key, shard_count).index();
                    let writer = &mut writers[owner];
                    let mut sink = peregrine_commands::rebuild::JournalSink {
                        journal: &mut writer.records,
                        time,
                        db,
                    };
                    rebuild(key, &entry.value, deadline, &mut sink);
                    keys += 1;
                    if let Err(error) = writer.flush(BLOCK_TARGET) {
                        failure = Some(error);
                    }
                });
                if let Some(error) = failure {
                    return Err(error);
                }
                if cursor == 0 {
                    break;
                }
            }
        }
    }
    let log_start = layout
        .shards
        .iter()
        .flat_map(|files| files.logs.iter().map(|(sequence, _)| *sequence))
        .chain(layout.shards.iter().map(|files| files.log_start))
        .max()
        .unwrap_or(0)
        + 1;
    let mut entries = Vec::new();
    for writer in writers {
        entries.push(ShardEntry {
            snapshot: writer.finish()?,
            log_start,
            next_lsn: 1,
        });
    }
    let manifest = Manifest {
        generation,
        shard_count: u32::from(shard_count),
        created: time,
        cipher: cipher.kind(),
        shards: entries,
    };
    manifest.write(dir).map_err(|error| error.to_string())?;
    remove_old(dir, generation);
    tracing::info!("redistributed {keys} keys over {shard_count} shards (snapshot {generation})");
    recovery::discover(dir)
}

/// Replays one old shard into a keyspace of its own.
fn load(
    files: &recovery::ShardFiles,
    cipher: &Cipher,
    complete: HashSet<u64>,
    settings: &PersistenceSettings,
    limits: CommandLimits,
    databases: u32,
) -> Result<Keyspace, String> {
    let mut keyspace = Keyspace::new(databases);
    let mut loader = ShardLoader::new(files, cipher.clone(), complete, settings);
    let mut replayer = Replayer::new(&mut keyspace, limits);
    while loader.step(&mut replayer, usize::MAX)?.is_some() {}
    drop(replayer);
    Ok(keyspace)
}

/// Every log segment, and snapshot segments of other generations.
fn remove_old(dir: &Path, generation: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = parse_log_file_name(&name).is_some()
            || parse_snapshot_file_name(&name).is_some_and(|(other, _)| other != generation);
        if old {
            if let Err(error) = std::fs::remove_file(entry.path()) {
                tracing::warn!("can't remove {name}: {error}");
            }
        }
    }
}

/// A snapshot segment written with ordinary file I/O (before the shards' rings exist).
struct SnapshotWriter {
    file: std::fs::File,
    name: String,
    records: Journal,
    cipher: Cipher,
    written: u64,
}

impl SnapshotWriter {
    fn create(
        dir: &Path,
        generation: u64,
        shard: u16,
        shard_count: u16,
        time: u64,
        cipher: &Cipher,
    ) -> Result<SnapshotWriter, String> {
        let header = SegmentHeader {
            kind: SegmentKind::Snapshot,
            shard: u32::from(shard),
            shard_count: u32::from(shard_count),
            sequence: generation,
            created: time,
            cipher: cipher.kind(),
        };
        let name = header.file_name();
        let mut file = std::fs::File::create(dir.join(&name))
            .map_err(|error| format!("can't create {name}: {error}"))?;
        let bytes = header.encode(cipher);
        file.write_all(&bytes)
            .map_err(|error| format!("can't write {name}: {error}"))?;
        let mut records = Journal::disabled();
        records.enable(0);
        Ok(SnapshotWriter {
            file,
            name,
            records,
            cipher: cipher.clone(),
            written: bytes.len() as u64,
        })
    }

    /// Writes the buffered records as a block once `threshold` bytes wait (all with 0).
    fn flush(&mut self, threshold: usize) -> Result<(), String> {
        if self.records.buffered() < threshold.max(1) {
            return Ok(());
        }
        let Some(pending) = self.records.take() else {
            return Ok(());
        };
        let mut block = pending.seal(&self.cipher);
        block.resize(align_up(block.len() as u64) as usize, 0);
        self.file
            .write_all(&block)
            .map_err(|error| format!("can't write {}: {error}", self.name))?;
        self.written += block.len() as u64;
        Ok(())
    }

    /// Writes what is left, syncs, and returns the file name.
    fn finish(mut self) -> Result<String, String> {
        self.flush(0)?;
        self.file
            .sync_all()
            .map_err(|error| format!("can't sync {}: {error}", self.name))?;
        Ok(self.name)
    }
}
