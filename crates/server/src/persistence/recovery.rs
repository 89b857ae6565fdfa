//! Start-up: find the latest complete snapshot and the log after it, work out which
//! multi-shard operations are complete in every participant's log, and replay a shard's
//! files in bounded steps (so the shard keeps answering `-LOADING` meanwhile).

use super::replay::Replayer;
use super::PersistenceSettings;
use bytes::Bytes;
use peregrine_persist::{
    parse_log_file_name, parse_snapshot_file_name, Cipher, Manifest, Record, RecordDecoder,
    ScanItem, SegmentReader,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// The files one shard of the data directory loads from, in order.
#[derive(Clone, Debug, Default)]
pub struct ShardFiles {
    /// Its snapshot segment, when a snapshot exists.
    pub snapshot: Option<PathBuf>,
    /// Its log segments after the snapshot, by sequence.
    pub logs: Vec<(u64, PathBuf)>,
    /// The LSN the log continues from after the snapshot.
    pub snapshot_next_lsn: u64,
    /// The first log sequence the snapshot does not cover.
    pub log_start: u64,
}

/// What the data directory holds.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Shards the data was written with (0 when the directory is empty).
    pub shard_count: u32,
    /// Per shard.
    pub shards: Vec<ShardFiles>,
    /// The manifest, if a snapshot completed.
    pub manifest: Option<Manifest>,
}

impl Layout {
    /// Bytes of segments to load.
    pub fn total_bytes(&self) -> u64 {
        self.shards
            .iter()
            .flat_map(|shard| {
                shard
                    .snapshot
                    .iter()
                    .chain(shard.logs.iter().map(|(_, path)| path))
            })
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum()
    }
}

/// Reads the data directory (creating it when missing) and removes files no snapshot or
/// log tail needs any more (left by a crash between a snapshot and its clean-up).
pub fn discover(dir: &Path) -> Result<Layout, String> {
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("can't create the data directory {}: {error}", dir.display()))?;
    let manifest = Manifest::read(dir).map_err(|error| error.to_string())?;
    let mut logs: HashMap<u32, Vec<(u64, PathBuf)>> = HashMap::new();
    let mut snapshots: Vec<(u64, PathBuf)> = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("can't read the data directory {}: {error}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((shard, sequence)) = parse_log_file_name(&name) {
            logs.entry(shard)
                .or_default()
                .push((sequence, entry.path()));
        } else if let Some((generation, _)) = parse_snapshot_file_name(&name) {
            snapshots.push((generation, entry.path()));
        }
    }
    let shard_count = match &manifest {
        Some(manifest) => manifest.shard_count,
        None => logs.keys().max().map_or(0, |&shard| shard + 1),
    };
    let generation = manifest.as_ref().map(|manifest| manifest.generation);
    for (snapshot_generation, path) in &snapshots {
        if Some(*snapshot_generation) != generation {
            remove_stale(path);
        }
    }
    let mut layout = Layout {
        shard_count,
        shards: vec![ShardFiles::default(); shard_count as usize],
        manifest: manifest.clone(),
    };
    if let Some(manifest) = &manifest {
        for (files, entry) in layout.shards.iter_mut().zip(&manifest.shards) {
            files.snapshot = Some(dir.join(&entry.snapshot));
            files.snapshot_next_lsn = entry.next_lsn;
            files.log_start = entry.log_start;
        }
    }
    for (shard, mut segments) in logs {
        segments.sort();
        let Some(files) = layout.shards.get_mut(shard as usize) else {
            // Left by a redistribution to fewer shards that stopped before removing them.
            segments.iter().for_each(|(_, path)| remove_stale(path));
            continue;
        };
        for (sequence, path) in segments {
            if sequence < files.log_start {
                remove_stale(&path);
            } else {
                files.logs.push((sequence, path));
            }
        }
    }
    Ok(layout)
}

fn remove_stale(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!("removed {}: a newer snapshot covers it", path.display()),
        Err(error) => tracing::warn!("can't remove {}: {error}", path.display()),
    }
}

/// The ids of multi-shard operations whose every part is complete in the logs.
pub fn complete_transactions(layout: &Layout, cipher: &Cipher) -> Result<HashSet<u64>, String> {
    let mut parts: HashMap<u64, (u32, u32)> = HashMap::new();
    for shard in &layout.shards {
        // A part may span blocks and segments: the open bracket carries over.
        let mut open = None;
        for (_, path) in &shard.logs {
            let mut reader =
                SegmentReader::open(path, cipher).map_err(|error| error.to_string())?;
            while let Some(item) = reader.next_item() {
                let ScanItem::Block(block) = item else {
                    continue;
                };
                for record in RecordDecoder::new(&block.records, block.header.base_time).flatten() {
                    match record {
                        Record::TxBegin { id, participants } => open = Some((id, participants)),
                        Record::TxEnd { id } => {
                            if let Some((begun, participants)) = open.take() {
                                if begun == id {
                                    let entry = parts.entry(id).or_insert((participants, 0));
                                    entry.1 += 1;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(parts
        .into_iter()
        .filter(|(_, (participants, seen))| seen >= participants)
        .map(|(id, _)| id)
        .collect())
}

/// How loading one shard went.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// The last LSN found in the shard's log (or the snapshot's cut).
    pub last_lsn: u64,
    /// The highest log segment sequence seen.
    pub last_sequence: u64,
    /// Records that failed when replayed (logged, then skipped).
    pub replay_errors: u64,
    /// A multi-shard operation whose other parts were lost: the log was applied up to it.
    pub stopped_at: Option<u64>,
}

/// Replays one shard's snapshot and log in steps.
pub struct ShardLoader {
    files: VecDeque<(PathBuf, bool)>,
    last_log: Option<PathBuf>,
    reader: Option<SegmentReader>,
    cipher: Cipher,
    complete: HashSet<u64>,
    load_truncated: bool,
    skip_corrupt: bool,
    skip_below: u64,
    /// How it went so far.
    pub outcome: LoadOutcome,
    done: bool,
}

impl ShardLoader {
    /// A loader for `files` (snapshot first, then the log) that applies the parts of
    /// multi-shard operations listed in `complete` and stops at any other.
    pub fn new(
        files: &ShardFiles,
        cipher: Cipher,
        complete: HashSet<u64>,
        settings: &PersistenceSettings,
    ) -> ShardLoader {
        let mut queue: VecDeque<(PathBuf, bool)> = VecDeque::new();
        if let Some(snapshot) = &files.snapshot {
            queue.push_back((snapshot.clone(), false));
        }
        for (_, path) in &files.logs {
            queue.push_back((path.clone(), true));
        }
        ShardLoader {
            files: queue,
            last_log: files.logs.last().map(|(_, path)| path.clone()),
            reader: None,
            cipher,
            complete,
            load_truncated: settings.load_truncated,
            skip_corrupt: settings.skip_corrupt,
            skip_below: files.snapshot_next_lsn,
            outcome: LoadOutcome {
                last_lsn: files.snapshot_next_lsn.saturating_sub(1),
                last_sequence: files
                    .logs
                    .last()
                    .map_or(files.log_start, |(sequence, _)| *sequence),
                ..LoadOutcome::default()
            },
            done: false,
        }
    }

    /// Applies up to `max_blocks` blocks; returns the bytes consumed, or `None` when
    /// everything is loaded.
    pub fn step(
        &mut self,
        replayer: &mut Replayer<'_>,
        max_blocks: usize,
    ) -> Result<Option<u64>, String> {
        let mut consumed = 0;
        for _ in 0..max_blocks {
            if self.done {
                return Ok(None);
            }
            let Some(reader) = self.reader.as_mut() else {
                let Some((path, _)) = self.files.pop_front() else {
                    self.done = true;
                    return Ok(if consumed > 0 { Some(consumed) } else { None });
                };
                let reader = SegmentReader::open(&path, &self.cipher)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                consumed += peregrine_persist::SEGMENT_HEADER_LEN;
                self.reader = Some(reader);
                continue;
            };
            let before = reader.offset();
            match reader.next_item() {
                None => self.reader = None,
                Some(ScanItem::Block(block)) => {
                    consumed += reader.offset() - before;
                    let is_log = reader.header.kind == peregrine_persist::SegmentKind::Log;
                    if is_log {
                        self.outcome.last_lsn =
                            block.header.first_lsn + u64::from(block.header.count) - 1;
                    }
                    let payload = Bytes::from(block.records);
                    // Log records before the snapshot's cut are in the snapshot already.
                    let skip = if is_log {
                        self.skip_below.saturating_sub(block.header.first_lsn)
                    } else {
                        0
                    };
                    if !self.apply_block(replayer, &payload, block.header.base_time, skip)? {
                        self.done = true;
                        return Ok(Some(consumed));
                    }
                }
                Some(ScanItem::TornTail { offset, dropped }) => {
                    let path = reader.path().to_path_buf();
                    consumed += dropped;
                    if Some(&path) != self.last_log.as_ref() {
                        return Err(format!(
                            "{}: offset {offset}: damaged block at the end of a segment that is not the last of the log",
                            path.display()
                        ));
                    }
                    if !self.load_truncated {
                        return Err(format!(
                            "{}: offset {offset}: the log ends with a torn block ({dropped} bytes); set aof-load-truncated yes to truncate it and start",
                            path.display()
                        ));
                    }
                    truncate(&path, offset)?;
                    tracing::warn!(
                        "{}: torn tail at offset {offset}: truncated, {dropped} bytes dropped",
                        path.display()
                    );
                }
                Some(ScanItem::Corrupt {
                    offset,
                    reason,
                    resume_at,
                }) => {
                    let path = reader.path().display().to_string();
                    if !self.skip_corrupt {
                        return Err(format!(
                            "{path}: offset {offset}: corrupt block ({reason}); set aof-load-skip-corrupt yes to start anyway without it"
                        ));
                    }
                    consumed += resume_at - before;
                    tracing::warn!(
                        "{path}: offset {offset}: corrupt block ({reason}) skipped as configured (aof-load-skip-corrupt yes); resuming at {resume_at}"
                    );
                }
            }
        }
        Ok(Some(consumed))
    }

    /// Applies a block's records; false when replay must stop (an incomplete operation).
    fn apply_block(
        &mut self,
        replayer: &mut Replayer<'_>,
        payload: &Bytes,
        base_time: u64,
        skip: u64,
    ) -> Result<bool, String> {
        for record in RecordDecoder::new(payload, base_time).skip(skip as usize) {
            let record = record.map_err(|error| format!("undecodable record: {error}"))?;
            match record {
                Record::TxBegin { id, .. } => {
                    if !self.complete.contains(&id) {
                        tracing::warn!(
                            "a multi-shard operation (id {id}) is missing parts in other shards' logs: this shard's log is applied up to it"
                        );
                        self.outcome.stopped_at = Some(id);
                        return Ok(false);
                    }
                }
                Record::TxEnd { .. } => {}
                other => {
                    if let Err(error) = replayer.apply(payload, &other) {
                        self.outcome.replay_errors += 1;
                        if self.outcome.replay_errors <= 10 {
                            tracing::warn!("a record failed to replay ({error}): {other}");
                        }
                    }
                }
            }
        }
        Ok(true)
    }
}

fn truncate(path: &Path, length: u64) -> Result<(), String> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|error| format!("can't open {} to truncate it: {error}", path.display()))?;
    file.set_len(length)
        .and_then(|()| file.sync_all())
        .map_err(|error| format!("can't truncate {}: {error}", path.display()))
}
