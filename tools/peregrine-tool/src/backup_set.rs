//! The files a backup is made of: the manifest, the snapshot segment of each shard it
//! names, and (with the log) each shard's log segments from the manifest's `log_start`
//! on. Everything else in a data directory is left out: older snapshots and the log
//! segments a snapshot covers are about to be deleted, and recovery would ignore them.

use std::path::Path;

use anyhow::{bail, Context};
use peregrine_persist::{list_segments, Manifest, SegmentFile, SegmentName};

/// The manifest of `dir`; an error when there is none (no snapshot ever completed there).
pub fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    Manifest::read(dir)
        .with_context(|| format!("can't read the manifest of {}", dir.display()))?
        .with_context(|| {
            format!(
                "no manifest in {}: no snapshot has completed there (run SAVE, or BGSAVE and \
                 wait for rdb_bgsave_in_progress:0)",
                dir.display()
            )
        })
}

/// The snapshot segments `manifest` names, as files of `dir` whether they exist or not. An
/// error when it names something that is not a snapshot segment (a file name with a path
/// in it, for one, never parses as one).
pub fn snapshot_files(dir: &Path, manifest: &Manifest) -> anyhow::Result<Vec<SegmentFile>> {
    manifest
        .shards
        .iter()
        .enumerate()
        .map(|(shard, entry)| match SegmentName::parse(&entry.snapshot) {
            Some(name @ SegmentName::Snapshot { .. }) => Ok(SegmentFile {
                name,
                file_name: entry.snapshot.clone(),
                path: dir.join(&entry.snapshot),
            }),
            Some(SegmentName::Log { .. }) | None => bail!(
                "the manifest of {} names {:?} as shard {shard}'s snapshot, which is not a \
                 snapshot segment's name",
                dir.display(),
                entry.snapshot
            ),
        })
        .collect()
}

/// The log segments of `dir` that continue `manifest`'s snapshot: each shard's segments
/// with a sequence at or after its `log_start`, in recovery order.
pub fn log_files(dir: &Path, manifest: &Manifest) -> anyhow::Result<Vec<SegmentFile>> {
    let segments = list_segments(dir)
        .with_context(|| format!("can't read data directory {}", dir.display()))?;
    Ok(segments
        .into_iter()
        .filter(|file| match file.name {
            SegmentName::Log { shard, sequence } => manifest
                .shards
                .get(shard as usize)
                .is_some_and(|entry| sequence >= entry.log_start),
            SegmentName::Snapshot { .. } => false,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_persist::{log_file_name, snapshot_file_name, CipherKind, ShardEntry};

    fn manifest(snapshots: [&str; 2]) -> Manifest {
        Manifest {
            generation: 4,
            shard_count: 2,
            created: 0,
            cipher: CipherKind::None,
            shards: snapshots
                .iter()
                .zip([3, 7])
                .map(|(snapshot, log_start)| ShardEntry {
                    snapshot: snapshot.to_string(),
                    log_start,
                    next_lsn: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn takes_the_named_snapshots_and_the_log_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            snapshot_file_name(3, 0),
            snapshot_file_name(4, 0),
            snapshot_file_name(4, 1),
            log_file_name(0, 2),
            log_file_name(0, 3),
            log_file_name(0, 4),
            log_file_name(1, 6),
            log_file_name(1, 7),
            log_file_name(2, 9),
            "notes.txt".to_string(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let manifest = manifest(["snap-0000000004-000.pseg", "snap-0000000004-001.pseg"]);
        let snapshots: Vec<String> = snapshot_files(dir.path(), &manifest)
            .unwrap()
            .into_iter()
            .map(|file| file.file_name)
            .collect();
        assert_eq!(snapshots, [names[1].as_str(), names[2].as_str()]);
        let logs: Vec<String> = log_files(dir.path(), &manifest)
            .unwrap()
            .into_iter()
            .map(|file| file.file_name)
            .collect();
        assert_eq!(
            logs,
            [names[4].as_str(), names[5].as_str(), names[7].as_str()]
        );
    }

    #[test]
    fn a_manifest_naming_anything_but_a_snapshot_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../snap-0000000004-000.pseg", "log-000-0000000004.pseg"] {
            let manifest = manifest([bad, "snap-0000000004-001.pseg"]);
            let error = snapshot_files(dir.path(), &manifest).unwrap_err();
            assert!(
                error.to_string().contains("not a snapshot segment's name"),
                "{error}"
            );
        }
    }

    #[test]
    fn no_manifest_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_manifest(dir.path()).unwrap_err();
        assert!(error.to_string().contains("run SAVE"), "{error}");
    }
}
