//! Judging what a scan found, and the exit status that follows from it.

use std::fmt;
use std::process::ExitCode;

use crate::scan::{Damage, SegmentScan};

/// The exit status of a command that could not run (bad arguments, unreadable files, a
/// missing or wrong key).
pub const EXIT_CANNOT_RUN: u8 = 3;

/// How bad the worst thing found is, from harmless to real damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Nothing wrong.
    Clean,
    /// Only torn tails at the end of shards' last log segments: what a crash leaves, and
    /// what recovery drops.
    TornTail,
    /// Damage a crash does not explain.
    Corrupt,
}

impl Health {
    /// The process exit status: 0, 2 and 1 respectively.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Health::Clean => ExitCode::SUCCESS,
            Health::TornTail => ExitCode::from(2),
            Health::Corrupt => ExitCode::from(1),
        }
    }
}

/// One thing wrong at a place in a file.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The file's name in the data directory.
    pub file: String,
    /// Byte offset in it.
    pub offset: u64,
    /// How bad it is.
    pub health: Health,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: offset {}: {}", self.file, self.offset, self.what)
    }
}

/// The problems of a scanned segment. A torn tail is harmless only at the end of its
/// shard's last log segment (`last_log`); anywhere else it is corruption. A header that
/// names another file is corruption too.
pub fn judge(scan: &SegmentScan, last_log: bool) -> Vec<Problem> {
    let problem = |offset, health, what| Problem {
        file: scan.file.file_name.clone(),
        offset,
        health,
        what,
    };
    let mut problems = Vec::new();
    if let Some(header) = &scan.header {
        let named = header.file_name();
        if named != scan.file.file_name {
            problems.push(problem(
                0,
                Health::Corrupt,
                format!("the segment header says this is {named}"),
            ));
        }
    }
    for damage in &scan.damage {
        problems.push(match damage {
            Damage::TornTail { offset, dropped } if last_log => problem(
                *offset,
                Health::TornTail,
                format!("torn tail: the last {dropped} bytes are not a whole block"),
            ),
            Damage::TornTail { offset, dropped } => problem(
                *offset,
                Health::Corrupt,
                format!(
                    "corrupt: the last {dropped} bytes are not a whole block, and this is not \
                     its shard's last log segment"
                ),
            ),
            Damage::Corrupt { offset, reason } => {
                problem(*offset, Health::Corrupt, format!("corrupt: {reason}"))
            }
        });
    }
    problems
}
