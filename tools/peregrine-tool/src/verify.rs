//! `verify`: checks the manifest, every segment's header and every block's checksum, and
//! decodes every record it can (plain data, or encrypted data with the key). One line per
//! problem, then a summary; the result is the worst [`Health`] found.

use std::io::Write;

use peregrine_persist::{Cipher, FormatError, Manifest, MANIFEST_FILE};

use crate::data_dir::DataDir;
use crate::health::{judge, Health, Problem};
use crate::scan::{decode_block, BlockOpener, SegmentScan};

/// Counts for the summary line.
#[derive(Default)]
struct Tally {
    segments: usize,
    blocks: usize,
    records: u64,
    undecoded_segments: usize,
    torn_tails: usize,
    corruptions: usize,
}

impl Tally {
    fn note(&mut self, problem: &Problem, out: &mut impl Write) -> std::io::Result<()> {
        match problem.health {
            Health::Clean => {}
            Health::TornTail => self.torn_tails += 1,
            Health::Corrupt => self.corruptions += 1,
        }
        writeln!(out, "{problem}")
    }

    fn health(&self) -> Health {
        if self.corruptions > 0 {
            Health::Corrupt
        } else if self.torn_tails > 0 {
            Health::TornTail
        } else {
            Health::Clean
        }
    }
}

/// `verify DIR`.
pub fn verify(dir: &DataDir, cipher: &Cipher, out: &mut impl Write) -> anyhow::Result<Health> {
    let mut tally = Tally::default();
    for problem in manifest_problems(dir) {
        tally.note(&problem, out)?;
    }
    for file in &dir.segments {
        let scan = SegmentScan::run(file)?;
        tally.segments += 1;
        tally.blocks += scan.blocks.len();
        for problem in judge(&scan, dir.is_last_log(file)) {
            tally.note(&problem, out)?;
        }
        if scan.header.is_none() {
            continue;
        }
        if !scan.decodable_with(cipher) {
            tally.undecoded_segments += 1;
            continue;
        }
        for problem in record_problems(&scan, cipher, &mut tally.records)? {
            tally.note(&problem, out)?;
        }
    }
    write_summary(&tally, out)?;
    Ok(tally.health())
}

/// What is wrong with the manifest: unreadable, or naming a snapshot that is not there.
fn manifest_problems(dir: &DataDir) -> Vec<Problem> {
    let problem = |what: String| Problem {
        file: MANIFEST_FILE.to_string(),
        offset: 0,
        health: Health::Corrupt,
        what,
    };
    match Manifest::read(&dir.path) {
        Ok(None) => Vec::new(),
        Ok(Some(manifest)) => manifest
            .shards
            .iter()
            .enumerate()
            .filter(|(_, entry)| !dir.path.join(&entry.snapshot).exists())
            .map(|(shard, entry)| {
                problem(format!(
                    "shard {shard}'s snapshot {} is missing",
                    entry.snapshot
                ))
            })
            .collect(),
        Err(FormatError::At { reason, .. }) => vec![problem(reason)],
        Err(error) => vec![problem(error.to_string())],
    }
}

/// Opens and decodes every valid block of `scan`, adding the records decoded to `records`.
/// A missing or wrong key is an error, not a problem of the data.
fn record_problems(
    scan: &SegmentScan,
    cipher: &Cipher,
    records: &mut u64,
) -> anyhow::Result<Vec<Problem>> {
    let opener = BlockOpener::new(scan, cipher)?;
    let mut problems = Vec::new();
    for block in &scan.blocks {
        let what = match opener.open(block) {
            Ok(bytes) => {
                let decoded = decode_block(block, &bytes);
                *records += decoded.records.len() as u64;
                decoded.problem
            }
            Err(error) => Some(format!("block does not open: {error}")),
        };
        if let Some(what) = what {
            problems.push(Problem {
                file: scan.file.file_name.clone(),
                offset: block.offset,
                health: Health::Corrupt,
                what: format!("corrupt: {what}"),
            });
        }
    }
    Ok(problems)
}

/// The last line: what was checked and the verdict.
fn write_summary(tally: &Tally, out: &mut impl Write) -> std::io::Result<()> {
    write!(
        out,
        "checked {} segments, {} blocks, {} records: ",
        tally.segments, tally.blocks, tally.records
    )?;
    match tally.health() {
        Health::Clean => write!(out, "ok")?,
        Health::TornTail => write!(
            out,
            "{} torn tails (what a crash leaves; truncate-torn-tail cuts them)",
            tally.torn_tails
        )?,
        Health::Corrupt => write!(
            out,
            "{} corrupt, {} torn tails",
            tally.corruptions, tally.torn_tails
        )?,
    }
    if tally.undecoded_segments > 0 {
        write!(
            out,
            "; {} encrypted segments checked by checksum only (records not decoded: no \
             --encryption-key-file)",
            tally.undecoded_segments
        )?;
    }
    writeln!(out)
}
