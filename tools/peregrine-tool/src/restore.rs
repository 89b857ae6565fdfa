//! `restore BACKUP DIR`: verifies a backup, then copies it into the data directory `DIR`
//! (the directory that holds the manifest: `<dir>/appendonlydir` for a server started
//! with `--dir <dir>`), syncing every file and the directory, the manifest last.
//!
//! It refuses a `DIR` that already holds a manifest or segment files: a server's data
//! must not be mixed with a backup's. With `--force` those files are first moved aside
//! into `DIR/replaced-<unix time>/`, never deleted. The server must not be running on
//! `DIR` meanwhile.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use peregrine_persist::Cipher;

use crate::backup_set::{log_files, read_manifest, snapshot_files};
use crate::copy::{copy_companion, copy_segment, occupants, sync_dir, CreatedFiles};
use crate::data_dir::DataDir;
use crate::health::Health;
use crate::verify::verify;

/// The directory name a server uses under `--dir` unless `appenddirname` says otherwise.
const DEFAULT_DIR_NAME: &str = "appendonlydir";

/// `restore BACKUP DIR [--force]`. A damaged backup is refused before `DIR` is touched
/// (exit 1).
pub fn restore(
    backup: &Path,
    target: &Path,
    force: bool,
    cipher: &Cipher,
    out: &mut impl Write,
) -> anyhow::Result<Health> {
    let manifest = read_manifest(backup)?;
    let mut files = snapshot_files(backup, &manifest)?;
    files.extend(log_files(backup, &manifest)?);
    let backup_dir = DataDir {
        path: backup.to_path_buf(),
        segments: files,
    };
    let health = verify(&backup_dir, cipher, out)?;
    if health == Health::Corrupt {
        writeln!(out, "the backup is damaged: nothing restored")?;
        return Ok(health);
    }
    clear_target(target, force, out)?;
    let mut created = CreatedFiles::default();
    for file in &backup_dir.segments {
        if copy_segment(file, target, &mut created)?.is_none() {
            bail!("{} disappeared during the restore", file.path.display());
        }
    }
    copy_companion(
        backup,
        target,
        peregrine_persist::FUNCTIONS_FILE,
        &mut created,
    )?;
    sync_dir(target)?;
    manifest
        .write(target)
        .with_context(|| format!("can't write the manifest in {}", target.display()))?;
    created.keep();
    writeln!(
        out,
        "restored snapshot generation {} ({} shards, {} segment files) into {}\nstart the \
         server with: peregrine-server {}",
        manifest.generation,
        manifest.shard_count,
        backup_dir.segments.len(),
        target.display(),
        start_arguments(
            &target
                .canonicalize()
                .unwrap_or_else(|_| target.to_path_buf())
        )
    )?;
    Ok(health)
}

/// Creates `target`; when it holds a manifest or segments, refuses unless `force`, and
/// then moves them into a new `replaced-<unix time>` folder in it, the manifest first.
fn clear_target(target: &Path, force: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let created = !target.exists();
    std::fs::create_dir_all(target)
        .with_context(|| format!("can't create {}", target.display()))?;
    if created {
        if let Some(parent) = target.parent().filter(|parent| parent.exists()) {
            sync_dir(parent)?;
        }
    }
    let occupants = occupants(target)?;
    if occupants.is_empty() {
        return Ok(());
    }
    if !force {
        bail!(
            "{} already holds data ({} files: the manifest or segments); restore into an \
             empty directory, or pass --force to move them into a replaced-<time> folder \
             there first",
            target.display(),
            occupants.len()
        );
    }
    let aside = create_aside_dir(target)?;
    for name in &occupants {
        let (from, to) = (target.join(name), aside.join(name));
        std::fs::rename(&from, &to)
            .with_context(|| format!("can't move {} to {}", from.display(), to.display()))?;
    }
    sync_dir(&aside)?;
    sync_dir(target)?;
    writeln!(
        out,
        "moved {} files that were in {} into {}",
        occupants.len(),
        target.display(),
        aside.display()
    )?;
    Ok(())
}

/// A new, empty `replaced-<unix time>` folder in `target` (`-1`, `-2`, ... appended when
/// one of that second exists).
fn create_aside_dir(target: &Path) -> anyhow::Result<PathBuf> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let mut attempt = 0u32;
    loop {
        let name = match attempt {
            0 => format!("replaced-{seconds}"),
            _ => format!("replaced-{seconds}-{attempt}"),
        };
        let path = target.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => attempt += 1,
            Err(error) => {
                return Err(error).with_context(|| format!("can't create {}", path.display()))
            }
        }
    }
}

/// The `peregrine-server` arguments that make `target` its data directory.
fn start_arguments(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.display().to_string(),
        _ => ".".to_string(),
    };
    match name {
        Some(name) if name == DEFAULT_DIR_NAME => format!("--dir {parent}"),
        Some(name) => format!("--dir {parent} --appenddirname {name}"),
        None => format!("--dir {} --appenddirname .", target.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_arguments_name_the_parent_and_any_other_dir_name() {
        assert_eq!(
            start_arguments(Path::new("/var/lib/peregrine/appendonlydir")),
            "--dir /var/lib/peregrine"
        );
        assert_eq!(
            start_arguments(Path::new("/srv/restored")),
            "--dir /srv --appenddirname restored"
        );
        assert_eq!(start_arguments(Path::new("appendonlydir")), "--dir .");
    }

    #[test]
    fn aside_folders_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let first = create_aside_dir(dir.path()).unwrap();
        let second = create_aside_dir(dir.path()).unwrap();
        assert_ne!(first, second);
        assert!(first.is_dir() && second.is_dir());
    }
}
