//! `truncate-torn-tail`: cuts the torn tail off each shard's last log segment, the bytes a
//! crash left after the last whole block. Any other damage is reported and left alone.

use std::io::Write;
use std::path::Path;

use crate::data_dir::DataDir;
use crate::health::{judge, Health};
use crate::scan::SegmentScan;

/// `truncate-torn-tail DIR [--yes]`: without `apply` only reports what it would do. The
/// result is the directory's health afterwards (a torn tail left in place still counts).
pub fn truncate_torn_tails(
    dir: &DataDir,
    apply: bool,
    out: &mut impl Write,
) -> anyhow::Result<Health> {
    let mut health = Health::Clean;
    let mut found = false;
    for file in &dir.segments {
        let scan = SegmentScan::run(file)?;
        for problem in judge(&scan, dir.is_last_log(file)) {
            found = true;
            match problem.health {
                Health::TornTail if apply => {
                    truncate(&file.path, problem.offset)?;
                    writeln!(
                        out,
                        "{}: truncated from {} to {} bytes",
                        file.file_name, scan.size, problem.offset
                    )?;
                }
                Health::TornTail => {
                    health = health.max(Health::TornTail);
                    writeln!(
                        out,
                        "{}: would truncate from {} to {} bytes (run again with --yes)",
                        file.file_name, scan.size, problem.offset
                    )?;
                }
                Health::Clean | Health::Corrupt => {
                    health = health.max(Health::Corrupt);
                    writeln!(out, "{problem}: left alone (not a torn tail)")?;
                }
            }
        }
    }
    if !found {
        writeln!(out, "no torn tail to truncate")?;
    }
    Ok(health)
}

/// Cuts `path` to `len` bytes, durably (the file's sync covers its new length; its
/// directory entry does not change).
pub fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}
