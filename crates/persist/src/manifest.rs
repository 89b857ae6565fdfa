//! The manifest: the summary that ties the shards' snapshot segments of one generation
//! together and says where each shard's log tail starts. Written atomically (temporary
//! file, fsync, rename, fsync of the directory), so a crash leaves either the old or the
//! new one. A readable text file:
//!
//! ```text
//! PEREGRINE-MANIFEST 1
//! generation 3
//! shards 2
//! created 1764000000000
//! cipher none
//! shard 0 snap-0000000003-000.pseg 4 1200
//! shard 1 snap-0000000003-001.pseg 7 988
//! crc32c 1a2b3c4d
//! ```
//!
//! A `shard` line holds: shard, snapshot file, first log segment to replay after it, and
//! the LSN the log continues from.

use crate::cipher::CipherKind;
use crate::segment::FORMAT_VERSION;
use crate::FormatError;
use std::io::Write;
use std::path::Path;

/// The manifest's file name in the data directory.
pub const MANIFEST_FILE: &str = "manifest";
const HEADER: &str = "PEREGRINE-MANIFEST";

/// One shard's entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardEntry {
    /// The snapshot segment's file name.
    pub snapshot: String,
    /// The first log segment written after the snapshot started.
    pub log_start: u64,
    /// The LSN of the first record after the snapshot's cut.
    pub next_lsn: u64,
}

/// The latest complete snapshot of every shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Snapshot generation (increases with each snapshot).
    pub generation: u64,
    /// Shards that wrote it.
    pub shard_count: u32,
    /// When the snapshot started, Unix ms.
    pub created: u64,
    /// The cipher of its segments.
    pub cipher: CipherKind,
    /// Per shard, in shard order.
    pub shards: Vec<ShardEntry>,
}

impl Manifest {
    /// The manifest's text.
    pub fn encode(&self) -> String {
        let mut text = format!(
            "{HEADER} {FORMAT_VERSION}\ngeneration {}\nshards {}\ncreated {}\ncipher {}\n",
            self.generation,
            self.shard_count,
            self.created,
            self.cipher.name()
        );
        for (index, shard) in self.shards.iter().enumerate() {
            text.push_str(&format!(
                "shard {index} {} {} {}\n",
                shard.snapshot, shard.log_start, shard.next_lsn
            ));
        }
        let crc = crc32c::crc32c(text.as_bytes());
        text.push_str(&format!("crc32c {crc:08x}\n"));
        text
    }

    /// Parses a manifest's text.
    pub fn parse(text: &str) -> Result<Manifest, FormatError> {
        let malformed = FormatError::Malformed;
        let body_end = text
            .rfind("crc32c ")
            .ok_or(malformed("manifest without checksum"))?;
        let expected = u32::from_str_radix(text[body_end + 7..].trim(), 16)
            .map_err(|_| malformed("manifest checksum unreadable"))?;
        if crc32c::crc32c(&text.as_bytes()[..body_end]) != expected {
            return Err(malformed("manifest checksum mismatch"));
        }
        let mut lines = text[..body_end].lines();
        let first = lines.next().ok_or(malformed("empty manifest"))?;
        let version = first
            .strip_prefix(HEADER)
            .and_then(|rest| rest.trim().parse::<u32>().ok())
            .ok_or(malformed("not a Peregrine manifest"))?;
        if version != FORMAT_VERSION {
            return Err(FormatError::Version(version));
        }
        let mut manifest = Manifest {
            generation: 0,
            shard_count: 0,
            created: 0,
            cipher: CipherKind::None,
            shards: Vec::new(),
        };
        for line in lines {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let number = |index: usize| -> Result<u64, FormatError> {
                fields
                    .get(index)
                    .and_then(|field| field.parse().ok())
                    .ok_or(malformed("manifest number unreadable"))
            };
            match fields.first().copied() {
                Some("generation") => manifest.generation = number(1)?,
                Some("shards") => manifest.shard_count = number(1)? as u32,
                Some("created") => manifest.created = number(1)?,
                Some("cipher") => {
                    manifest.cipher = match fields.get(1).copied() {
                        Some("none") => CipherKind::None,
                        Some("aes-256-gcm") => CipherKind::Aes256Gcm,
                        _ => return Err(malformed("manifest cipher unknown")),
                    }
                }
                Some("shard") => {
                    if number(1)? as usize != manifest.shards.len() {
                        return Err(malformed("manifest shards out of order"));
                    }
                    manifest.shards.push(ShardEntry {
                        snapshot: fields
                            .get(2)
                            .ok_or(malformed("manifest shard line short"))?
                            .to_string(),
                        log_start: number(3)?,
                        next_lsn: number(4)?,
                    });
                }
                _ => return Err(malformed("manifest line unknown")),
            }
        }
        if manifest.shards.len() != manifest.shard_count as usize {
            return Err(malformed(
                "manifest shard count differs from its shard lines",
            ));
        }
        Ok(manifest)
    }

    /// Reads the manifest of `dir`; `None` when there is none yet.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, FormatError> {
        let path = dir.join(MANIFEST_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Manifest::parse(&text)
                .map(Some)
                .map_err(|error| FormatError::At {
                    file: path,
                    offset: 0,
                    reason: error.to_string(),
                }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Replaces the manifest of `dir` atomically and durably.
    pub fn write(&self, dir: &Path) -> Result<(), FormatError> {
        write_atomically(dir, MANIFEST_FILE, self.encode().as_bytes())
    }
}

/// Replaces file `name` of `dir` with `bytes` atomically and durably (temporary file,
/// fsync, rename, fsync of the directory): a crash leaves the old file or the new one.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), FormatError> {
    let temporary = dir.join(format!("{name}.tmp"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join(name))?;
    sync_dir(dir)
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<(), FormatError> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            generation: 3,
            shard_count: 2,
            created: 1_764_000_000_000,
            cipher: CipherKind::Aes256Gcm,
            shards: vec![
                ShardEntry {
                    snapshot: "snap-0000000003-000.pseg".into(),
                    log_start: 4,
                    next_lsn: 1200,
                },
                ShardEntry {
                    snapshot: "snap-0000000003-001.pseg".into(),
                    log_start: 7,
                    next_lsn: 988,
                },
            ],
        }
    }

    #[test]
    fn round_trips_through_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), None);
        sample().write(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), Some(sample()));
    }

    #[test]
    fn an_altered_manifest_is_refused() {
        let text = sample().encode().replace("generation 3", "generation 4");
        assert!(Manifest::parse(&text).is_err());
    }
}
