//! The listing commands: `segments`, `blocks`, `records` and `manifest`. They describe
//! what they find, damage included, and succeed whenever they could read the directory;
//! judging the damage is `verify`'s job.

use std::io::Write;

use peregrine_persist::{Cipher, Manifest, SegmentKind};

use crate::data_dir::{DataDir, Selection};
use crate::health::{judge, Health};
use crate::scan::{decode_block, BlockOpener, SegmentScan};
use crate::table::Table;

/// `segments DIR`: one row per segment file.
pub fn segments(dir: &DataDir, out: &mut impl Write) -> anyhow::Result<Health> {
    let mut table = Table::new(&[
        "FILE", "KIND", "SHARD", "SHARDS", "SEQUENCE", "CIPHER", "SIZE", "BLOCKS", "RECORDS",
        "LSNS", "STATE",
    ]);
    for file in &dir.segments {
        let scan = SegmentScan::run(file)?;
        let unknown = || "-".to_string();
        let header = scan.header;
        table.push(vec![
            file.file_name.clone(),
            kind_name(file.name.kind()).to_string(),
            file.name.shard().to_string(),
            header.map_or_else(unknown, |header| header.shard_count.to_string()),
            header.map_or_else(unknown, |header| header.sequence.to_string()),
            header.map_or_else(unknown, |header| header.cipher.name().to_string()),
            scan.size.to_string(),
            scan.blocks.len().to_string(),
            scan.record_count().to_string(),
            scan.lsn_range()
                .map_or_else(unknown, |(first, last)| format!("{first}-{last}")),
            scan.state(),
        ]);
    }
    if dir.segments.is_empty() {
        writeln!(out, "no segment files in {}", dir.path.display())?;
    } else {
        table.write(out)?;
    }
    Ok(Health::Clean)
}

/// `blocks DIR`: one row per valid block; damage is reported on stderr.
pub fn blocks(
    dir: &DataDir,
    selection: &Selection,
    out: &mut impl Write,
) -> anyhow::Result<Health> {
    let mut table = Table::new(&[
        "FILE",
        "OFFSET",
        "FIRST_LSN",
        "COUNT",
        "STORED_LEN",
        "RAW_LEN",
        "FLAGS",
    ]);
    for file in dir.select(selection)? {
        let scan = SegmentScan::run(file)?;
        report_damage(dir, &scan);
        for block in &scan.blocks {
            let header = &block.header;
            let flags: Vec<&str> = [
                (header.compressed(), "lz4"),
                (header.encrypted(), "encrypted"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            table.push(vec![
                file.file_name.clone(),
                block.offset.to_string(),
                header.first_lsn.to_string(),
                header.count.to_string(),
                header.stored_len.to_string(),
                header.raw_len.to_string(),
                if flags.is_empty() {
                    "-".to_string()
                } else {
                    flags.join(",")
                },
            ]);
        }
    }
    table.write(out)?;
    Ok(Health::Clean)
}

/// `records DIR`: every record of the selected segments as `FILE LSN RECORD`; damage and
/// records that do not decode are reported on stderr. Encrypted segments need the key.
pub fn records(
    dir: &DataDir,
    selection: &Selection,
    cipher: &Cipher,
    out: &mut impl Write,
) -> anyhow::Result<Health> {
    for file in dir.select(selection)? {
        let scan = SegmentScan::run(file)?;
        report_damage(dir, &scan);
        if scan.header.is_none() {
            continue;
        }
        let opener = BlockOpener::new(&scan, cipher)?;
        for block in &scan.blocks {
            let bytes = match opener.open(block) {
                Ok(bytes) => bytes,
                Err(error) => {
                    eprintln!(
                        "{}: offset {}: block does not open: {error}",
                        file.file_name, block.offset
                    );
                    continue;
                }
            };
            let decoded = decode_block(block, &bytes);
            for (lsn, record) in &decoded.records {
                writeln!(out, "{} {lsn} {record}", file.file_name)?;
            }
            if let Some(problem) = decoded.problem {
                eprintln!("{}: offset {}: {problem}", file.file_name, block.offset);
            }
        }
    }
    Ok(Health::Clean)
}

/// `manifest DIR`: the manifest's fields and one row per shard.
pub fn manifest(dir: &DataDir, out: &mut impl Write) -> anyhow::Result<Health> {
    let Some(manifest) = Manifest::read(&dir.path)? else {
        writeln!(
            out,
            "no manifest in {} (no snapshot has completed)",
            dir.path.display()
        )?;
        return Ok(Health::Clean);
    };
    writeln!(out, "generation  {}", manifest.generation)?;
    writeln!(out, "shards      {}", manifest.shard_count)?;
    writeln!(out, "created     {} (Unix ms)", manifest.created)?;
    writeln!(out, "cipher      {}", manifest.cipher.name())?;
    let mut table = Table::new(&["SHARD", "SNAPSHOT", "LOG_START", "NEXT_LSN"]);
    for (shard, entry) in manifest.shards.iter().enumerate() {
        let missing = !dir.path.join(&entry.snapshot).exists();
        table.push(vec![
            shard.to_string(),
            format!(
                "{}{}",
                entry.snapshot,
                if missing { " (missing)" } else { "" }
            ),
            entry.log_start.to_string(),
            entry.next_lsn.to_string(),
        ]);
    }
    table.write(out)?;
    Ok(Health::Clean)
}

/// The name listings print for a segment kind.
fn kind_name(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Log => "log",
        SegmentKind::Snapshot => "snapshot",
    }
}

/// Writes `scan`'s damage to stderr, one line each, as `verify` words it.
fn report_damage(dir: &DataDir, scan: &SegmentScan) {
    for problem in judge(scan, dir.is_last_log(&scan.file)) {
        eprintln!("{problem}");
    }
}
