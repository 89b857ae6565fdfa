//! `backup DIR DESTINATION`: copies the latest complete snapshot out of a data directory,
//! which a server may be using meanwhile, into a directory of its own that `restore` (or
//! a server, as its data directory) loads.
//!
//! A snapshot's segments never change once the manifest names them, so copying the files
//! the manifest names gives the point in time of that snapshot. What can happen is that
//! the server completes a newer snapshot during the copy and deletes those files: a copy
//! that finds its source gone, or a manifest that changed by the time the copy is done,
//! starts again from the new manifest (up to [`ATTEMPTS`] times). The copies are verified
//! (every block's checksum, and the records where they can be decoded) and synced before
//! the manifest is written, last: a destination with a manifest holds a whole backup.
//!
//! With `--with-log`, each shard's log segments after the snapshot are copied too, without
//! their preallocated zeros; the block a shard was writing when its last segment was
//! copied is cut off, so the backup holds what a crash at that moment would have left,
//! less the torn write.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use peregrine_persist::{Cipher, Manifest, SegmentFile, SegmentKind, SEGMENT_HEADER_LEN};

use crate::backup_set::{log_files, read_manifest, snapshot_files};
use crate::copy::{copy_companion, copy_segment, occupants, sync_dir, CreatedFiles};
use crate::data_dir::DataDir;
use crate::health::Health;
use crate::scan::{Damage, SegmentScan};
use crate::truncate::truncate;
use crate::verify::verify;

/// Copies started again when snapshots complete during the copy, before giving up.
pub const ATTEMPTS: u32 = 5;

/// How `backup` copies.
#[derive(clap::Args)]
pub struct BackupOptions {
    /// Replace the backup DESTINATION already holds (its manifest and segment files are
    /// removed first).
    #[arg(long)]
    pub force: bool,
    /// Also copy each shard's log segments written since the snapshot: the backup is then
    /// the state when the copy ended rather than when the snapshot was taken.
    #[arg(long)]
    pub with_log: bool,
}

/// `backup DIR DESTINATION`. Corrupt copies leave no backup behind (exit 1).
pub fn backup(
    source: &Path,
    destination: &Path,
    options: &BackupOptions,
    cipher: &Cipher,
    out: &mut impl Write,
) -> anyhow::Result<Health> {
    prepare_destination(source, destination, options.force)?;
    let mut created = CreatedFiles::default();
    let (manifest, mut copies) =
        match copy_snapshot_set(source, destination, options.with_log, &mut created, out)? {
            SetCopy::Done { manifest, copies } => (manifest, copies),
            SetCopy::Missing(file_name) => {
                writeln!(
                    out,
                    "{file_name}: named by the manifest of {} but missing: the data \
                     directory is damaged; no backup written",
                    source.display()
                )?;
                return Ok(Health::Corrupt);
            }
        };
    if options.with_log {
        trim_log_copies(destination, &mut copies, out)?;
    }
    let copies_dir = DataDir {
        path: destination.to_path_buf(),
        segments: copies,
    };
    let health = verify(&copies_dir, cipher, out)?;
    if health == Health::Corrupt {
        writeln!(out, "the copies are damaged: no backup written")?;
        return Ok(health);
    }
    copy_companion(
        source,
        destination,
        peregrine_persist::FUNCTIONS_FILE,
        &mut created,
    )?;
    sync_dir(destination)?;
    manifest
        .write(destination)
        .with_context(|| format!("can't write the manifest in {}", destination.display()))?;
    created.keep();
    let bytes: u64 = copies_dir
        .segments
        .iter()
        .filter_map(|file| std::fs::metadata(&file.path).ok())
        .map(|metadata| metadata.len())
        .sum();
    writeln!(
        out,
        "backed up snapshot generation {} ({} shards): {} segment files, {bytes} bytes, and \
         the manifest in {}",
        manifest.generation,
        manifest.shard_count,
        copies_dir.segments.len(),
        destination.display()
    )?;
    Ok(health)
}

/// Creates `destination`, refusing the source itself and, unless `force`, a directory that
/// already holds a manifest or segments; with `force` those are removed (the manifest
/// first).
fn prepare_destination(source: &Path, destination: &Path, force: bool) -> anyhow::Result<()> {
    let created = !destination.exists();
    std::fs::create_dir_all(destination)
        .with_context(|| format!("can't create {}", destination.display()))?;
    if created {
        if let Some(parent) = destination.parent().filter(|parent| parent.exists()) {
            sync_dir(parent)?;
        }
    }
    let same = |path: &Path| path.canonicalize().ok();
    if same(source).is_some() && same(source) == same(destination) {
        bail!("the destination is the data directory itself");
    }
    let occupants = occupants(destination)?;
    if occupants.is_empty() {
        return Ok(());
    }
    if !force {
        bail!(
            "{} already holds a backup or data ({} files: the manifest or segments); choose \
             another destination, or pass --force to replace them",
            destination.display(),
            occupants.len()
        );
    }
    for name in &occupants {
        let path = destination.join(name);
        std::fs::remove_file(&path).with_context(|| format!("can't remove {}", path.display()))?;
        if name == peregrine_persist::MANIFEST_FILE {
            sync_dir(destination)?;
        }
    }
    sync_dir(destination)
}

/// How copying a manifest's snapshot set ended.
enum SetCopy {
    /// Every file copied, from a manifest still current when the copy ended (or the last
    /// attempt's, which is as consistent, only older).
    Done {
        manifest: Manifest,
        copies: Vec<SegmentFile>,
    },
    /// A file the manifest names is missing though the manifest did not change.
    Missing(String),
}

/// How one attempt at copying went.
enum Attempt {
    /// Every file copied.
    Complete(Vec<SegmentFile>),
    /// This file was gone when its turn came.
    Vanished(String),
}

/// Copies the snapshot set of the manifest current in `source` (and its log with
/// `with_log`), starting again when a newer snapshot completes meanwhile.
fn copy_snapshot_set(
    source: &Path,
    destination: &Path,
    with_log: bool,
    created: &mut CreatedFiles,
    out: &mut impl Write,
) -> anyhow::Result<SetCopy> {
    let mut manifest = read_manifest(source)?;
    for attempt in 1..=ATTEMPTS {
        let outcome = copy_once(source, destination, &manifest, with_log, created)?;
        let current = read_manifest(source)?;
        match outcome {
            Attempt::Complete(copies) if current == manifest || attempt == ATTEMPTS => {
                if current != manifest {
                    writeln!(
                        out,
                        "snapshots kept completing during the copy: this backup holds \
                         generation {}, not the newest",
                        manifest.generation
                    )?;
                }
                return Ok(SetCopy::Done { manifest, copies });
            }
            Attempt::Vanished(file_name) if current == manifest => {
                return Ok(SetCopy::Missing(file_name))
            }
            Attempt::Complete(_) => writeln!(
                out,
                "snapshot generation {} completed during the copy: copying it instead",
                current.generation
            )?,
            Attempt::Vanished(file_name) => writeln!(
                out,
                "{file_name} was removed during the copy (snapshot generation {} completed): \
                 copying that instead",
                current.generation
            )?,
        }
        created.remove_all()?;
        manifest = current;
    }
    bail!(
        "files were removed during each of {ATTEMPTS} copies (snapshots kept completing); \
         try again"
    )
}

/// One attempt: the snapshot segments, then (with `with_log`) the log segments, listed
/// only then so that the log copied is as recent as it can be.
fn copy_once(
    source: &Path,
    destination: &Path,
    manifest: &Manifest,
    with_log: bool,
    created: &mut CreatedFiles,
) -> anyhow::Result<Attempt> {
    let mut copies = Vec::new();
    let snapshots = snapshot_files(source, manifest)?;
    if let Some(vanished) = copy_all(&snapshots, destination, created, &mut copies)? {
        return Ok(Attempt::Vanished(vanished));
    }
    if with_log {
        let logs = log_files(source, manifest)?;
        if let Some(vanished) = copy_all(&logs, destination, created, &mut copies)? {
            return Ok(Attempt::Vanished(vanished));
        }
    }
    Ok(Attempt::Complete(copies))
}

/// Copies `files` into `destination`, adding the copies to `copies`; stops at the first
/// file that is gone and returns its name.
fn copy_all(
    files: &[SegmentFile],
    destination: &Path,
    created: &mut CreatedFiles,
    copies: &mut Vec<SegmentFile>,
) -> anyhow::Result<Option<String>> {
    for file in files {
        match copy_segment(file, destination, created)? {
            Some(copy) => copies.push(copy),
            None => return Ok(Some(file.file_name.clone())),
        }
    }
    Ok(None)
}

/// Trims the log copies to their whole blocks: the zeros a log segment is preallocated
/// with go, and so does the block a shard was writing when its last segment was copied (a
/// prefix of whole blocks is what a crash could have left). A last segment copied before
/// its header was written is left out. Damage anywhere else is left for `verify`.
fn trim_log_copies(
    destination: &Path,
    copies: &mut Vec<SegmentFile>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let copies_dir = DataDir {
        path: destination.to_path_buf(),
        segments: copies.clone(),
    };
    let mut dropped = Vec::new();
    for file in &copies_dir.segments {
        if file.name.kind() != SegmentKind::Log {
            continue;
        }
        let scan = SegmentScan::run(file)?;
        let first_damage = scan.damage.first().map(|damage| match damage {
            Damage::TornTail { offset, .. } | Damage::Corrupt { offset, .. } => *offset,
        });
        let end = match first_damage {
            Some(_) if !copies_dir.is_last_log(file) => continue,
            Some(_) if scan.header.is_none() => {
                std::fs::remove_file(&file.path)
                    .with_context(|| format!("can't remove {}", file.path.display()))?;
                writeln!(
                    out,
                    "{}: left out: it was being created when copied (no header yet)",
                    file.file_name
                )?;
                dropped.push(file.file_name.clone());
                continue;
            }
            Some(offset) => {
                writeln!(
                    out,
                    "{}: cut at offset {offset}: the shard was writing there when it was \
                     copied",
                    file.file_name
                )?;
                offset
            }
            None => scan.blocks.last().map_or(SEGMENT_HEADER_LEN, |block| {
                block.offset + block.header.block_len()
            }),
        };
        if end < scan.size {
            truncate(&file.path, end)
                .with_context(|| format!("can't truncate {}", file.path.display()))?;
        }
    }
    copies.retain(|file| !dropped.contains(&file.file_name));
    Ok(())
}
