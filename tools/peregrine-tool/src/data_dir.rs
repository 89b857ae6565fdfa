//! The data directory a command looks at: its path and its segment files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use peregrine_persist::{list_segments, SegmentFile, SegmentName};

/// A data directory and the segment files found in it, in recovery order.
pub struct DataDir {
    /// Where it is.
    pub path: PathBuf,
    /// Its segment files: snapshots, then each shard's log in sequence.
    pub segments: Vec<SegmentFile>,
}

/// Which segment files a command looks at.
#[derive(clap::Args)]
pub struct Selection {
    /// Only this segment file (a name in the directory).
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
    /// Only the segments of this shard.
    #[arg(long, value_name = "N")]
    pub shard: Option<u32>,
}

impl DataDir {
    /// Lists the segment files of `path`.
    pub fn open(path: &Path) -> anyhow::Result<DataDir> {
        let segments = list_segments(path)
            .with_context(|| format!("can't read data directory {}", path.display()))?;
        Ok(DataDir {
            path: path.to_path_buf(),
            segments,
        })
    }

    /// True when `file` is the log segment its shard writes to: the one with the highest
    /// sequence. Only there can a torn tail be what a crash left.
    pub fn is_last_log(&self, file: &SegmentFile) -> bool {
        let SegmentName::Log { shard, sequence } = file.name else {
            return false;
        };
        !self.segments.iter().any(|other| {
            matches!(other.name, SegmentName::Log { shard: other_shard, sequence: later }
                if other_shard == shard && later > sequence)
        })
    }

    /// The segment files `selection` picks; an error when `--file` names none of them.
    pub fn select(&self, selection: &Selection) -> anyhow::Result<Vec<&SegmentFile>> {
        if let Some(name) = &selection.file {
            if !self.segments.iter().any(|file| &file.file_name == name) {
                bail!("no segment file {name} in {}", self.path.display());
            }
        }
        Ok(self
            .segments
            .iter()
            .filter(|file| {
                selection
                    .file
                    .as_ref()
                    .is_none_or(|name| &file.file_name == name)
            })
            .filter(|file| {
                selection
                    .shard
                    .is_none_or(|shard| file.name.shard() == shard)
            })
            .collect())
    }
}
