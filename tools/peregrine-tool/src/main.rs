//! `peregrine-tool`: looks inside a Peregrine data directory without a running server,
//! and backs up and restores one.
//!
//! ```text
//! peregrine-tool [--encryption-key-file FILE] <COMMAND> <DIR>
//!   segments DIR                          one line per segment file
//!   verify DIR                            check every block (and record, given the key)
//!   blocks DIR [--file NAME] [--shard N]  one line per block
//!   records DIR [--file NAME] [--shard N] every record with its file and LSN
//!   manifest DIR                          the manifest's summary
//!   truncate-torn-tail DIR [--yes]        cut torn tails off shards' last log segments
//!   backup DIR DEST [--force] [--with-log] copy the latest snapshot (server may run)
//!   restore BACKUP DIR [--force]          verify a backup and copy it into DIR
//! ```
//!
//! `DIR` is always the directory that holds the manifest and the segments: for a server
//! started with `--dir D`, that is `D/appendonlydir` (or `D/<appenddirname>`).
//!
//! Checksums need no key, so `segments`, `blocks`, `truncate-torn-tail` and the checksum
//! part of `verify` work on encrypted data without one; `records` needs it for encrypted
//! segments, and `verify` decodes records only where it has it (or the data is plain).
//!
//! Exit status: `verify` and `truncate-torn-tail` exit 0 when the directory is (left)
//! sound, 1 when there is corruption, 2 when the only damage is a torn tail at the end of
//! a shard's last log segment (what a crash leaves). `backup` and `restore` exit 0 when
//! done and 1 when the data to copy is corrupt (nothing is then written). Any command
//! exits 3 when it cannot run: bad arguments, an unreadable directory, a missing or wrong
//! key, a destination that already holds data.
//!
//! It is not a repair tool: apart from cutting torn tails it never writes to a data
//! directory (`restore` writes into an empty one, or moves what was there aside), and it
//! never skips or rewrites corrupt blocks. The format is described in
//! `crates/persist/FORMAT.md`.

mod backup;
mod backup_set;
mod copy;
mod data_dir;
mod health;
mod inspect;
mod restore;
mod scan;
mod table;
mod truncate;
mod verify;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use peregrine_persist::Cipher;

use backup::BackupOptions;
use data_dir::{DataDir, Selection};
use health::{Health, EXIT_CANNOT_RUN};

/// Inspect, verify, repair torn tails of, back up and restore a Peregrine data directory.
#[derive(Parser)]
#[command(name = "peregrine-tool", version)]
struct Cli {
    /// The encryption key the data was written with: a file of 32 raw bytes or 64
    /// hexadecimal digits.
    #[arg(long, global = true, value_name = "FILE")]
    encryption_key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every segment file: identity, cipher, size, blocks, records, LSNs and state.
    Segments {
        /// The data directory.
        dir: PathBuf,
    },
    /// Check every block's checksum, and decode every record where the data is plain or
    /// the key is given; one line per problem.
    Verify {
        /// The data directory.
        dir: PathBuf,
    },
    /// List blocks: offset, first LSN, record count, lengths and flags.
    Blocks {
        /// The data directory.
        dir: PathBuf,
        #[command(flatten)]
        selection: Selection,
    },
    /// Print every record, prefixed with its file and LSN.
    Records {
        /// The data directory.
        dir: PathBuf,
        #[command(flatten)]
        selection: Selection,
    },
    /// Print the manifest's summary.
    Manifest {
        /// The data directory.
        dir: PathBuf,
    },
    /// Truncate each shard's last log segment where it ends in a torn tail (a write cut
    /// short by a crash). Only reports what it would do unless given --yes.
    TruncateTornTail {
        /// The data directory.
        dir: PathBuf,
        /// Truncate, rather than only report.
        #[arg(long)]
        yes: bool,
    },
    /// Copy the latest complete snapshot of a data directory, which a server may be using,
    /// into DESTINATION: the manifest and each shard's snapshot segment, verified and
    /// synced, the manifest last. Take a snapshot first (SAVE, or BGSAVE and wait for
    /// rdb_bgsave_in_progress:0): the backup is the point in time of that snapshot.
    Backup {
        /// The data directory (the one holding the manifest: <dir>/appendonlydir).
        dir: PathBuf,
        /// Where the backup goes; created when missing.
        destination: PathBuf,
        #[command(flatten)]
        options: BackupOptions,
    },
    /// Verify a backup and copy it into DIR, which then holds exactly that data: start the
    /// server with --dir set to DIR's parent (DIR named appendonlydir, the default).
    Restore {
        /// The backup: a directory `backup` wrote.
        backup: PathBuf,
        /// The data directory to restore into (created when missing).
        dir: PathBuf,
        /// When DIR already holds a manifest or segments, move them into
        /// DIR/replaced-<unix time>/ first instead of refusing.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout and succeed; anything else is a usage error, which
        // must not exit 2 (that means "torn tail").
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = run(cli, &mut out).and_then(|health| {
        out.flush()?;
        Ok(health)
    });
    match result {
        Ok(health) => health.exit_code(),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = out.flush();
            eprintln!("peregrine-tool: {}", describe(&error));
            ExitCode::from(EXIT_CANNOT_RUN)
        }
    }
}

/// Runs one command, writing its report to `out`.
fn run(cli: Cli, out: &mut impl Write) -> anyhow::Result<Health> {
    let cipher = match &cli.encryption_key_file {
        Some(path) => Cipher::from_key_file(path)?,
        None => Cipher::none(),
    };
    match cli.command {
        Command::Segments { dir } => inspect::segments(&DataDir::open(&dir)?, out),
        Command::Verify { dir } => verify::verify(&DataDir::open(&dir)?, &cipher, out),
        Command::Blocks { dir, selection } => {
            inspect::blocks(&DataDir::open(&dir)?, &selection, out)
        }
        Command::Records { dir, selection } => {
            inspect::records(&DataDir::open(&dir)?, &selection, &cipher, out)
        }
        Command::Manifest { dir } => inspect::manifest(&DataDir::open(&dir)?, out),
        Command::TruncateTornTail { dir, yes } => {
            truncate::truncate_torn_tails(&DataDir::open(&dir)?, yes, out)
        }
        Command::Backup {
            dir,
            destination,
            options,
        } => backup::backup(&dir, &destination, &options, &cipher, out),
        Command::Restore { backup, dir, force } => {
            restore::restore(&backup, &dir, force, &cipher, out)
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message
/// already ends with (persist errors repeat the I/O error they wrap).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// True when the reader of our output went away (`peregrine-tool records DIR | head`).
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe)
}
