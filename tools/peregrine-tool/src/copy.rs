//! The file work `backup` and `restore` share: durable copies of segment files, removing
//! them again when the command fails part-way, and finding what a directory already holds.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context;
use peregrine_persist::{SegmentFile, MANIFEST_FILE};

/// Copies `file` into `dir` under the same name and syncs the copy; the copy is recorded
/// in `created` first, so that a failure part-way removes it too. Returns the copy, or
/// `None` when the source is gone (deleted by a snapshot that completed meanwhile).
pub fn copy_segment(
    file: &SegmentFile,
    dir: &Path,
    created: &mut CreatedFiles,
) -> anyhow::Result<Option<SegmentFile>> {
    let to = dir.join(&file.file_name);
    created.push(to.clone());
    match std::fs::copy(&file.path, &to) {
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound && !file.path.exists() => {
            return Ok(None)
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("can't copy {} to {}", file.path.display(), to.display()))
        }
    }
    std::fs::File::open(&to)
        .and_then(|copy| copy.sync_all())
        .with_context(|| format!("can't sync {}", to.display()))?;
    Ok(Some(SegmentFile {
        name: file.name,
        file_name: file.file_name.clone(),
        path: to,
    }))
}

/// Copies file `name` of `from` (if there is one) into `to`, durably: the data directory's
/// small companions of the segments (the function libraries).
pub fn copy_companion(
    from: &Path,
    to: &Path,
    name: &str,
    created: &mut CreatedFiles,
) -> anyhow::Result<bool> {
    let source = from.join(name);
    if !source.exists() {
        return Ok(false);
    }
    let target = to.join(name);
    created.push(target.clone());
    std::fs::copy(&source, &target)
        .and_then(|_| std::fs::File::open(&target)?.sync_all())
        .with_context(|| format!("can't copy {} to {}", source.display(), target.display()))?;
    Ok(true)
}

/// Makes the entries of `dir` (files created, renamed or removed) durable.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    peregrine_persist::manifest::sync_dir(dir)
        .with_context(|| format!("can't sync directory {}", dir.display()))
}

/// Files a command created, removed again when it is dropped without [`CreatedFiles::keep`]:
/// a command that fails part-way leaves the directory as it found it.
#[derive(Default)]
pub struct CreatedFiles {
    paths: Vec<PathBuf>,
}

impl CreatedFiles {
    /// Records a file about to be created.
    pub fn push(&mut self, path: PathBuf) {
        self.paths.push(path);
    }

    /// Removes every file recorded so far (those never created are skipped).
    pub fn remove_all(&mut self) -> anyhow::Result<()> {
        for path in self.paths.drain(..) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(error).with_context(|| format!("can't remove {}", path.display()))
                }
            }
        }
        Ok(())
    }

    /// Keeps the files: the command succeeded.
    pub fn keep(mut self) {
        self.paths.clear();
    }
}

impl Drop for CreatedFiles {
    fn drop(&mut self) {
        if let Err(error) = self.remove_all() {
            eprintln!("peregrine-tool: {error:#}");
        }
    }
}

/// The names of what `dir` holds of a data directory or a backup: the manifest (or its
/// temporary), and segment files (any name ending in `.pseg`). Empty when `dir` does not
/// exist.
pub fn occupants(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("can't read {}", dir.display())),
    };
    let temporary = format!("{MANIFEST_FILE}.tmp");
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("can't read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let companion = name == peregrine_persist::FUNCTIONS_FILE;
        if name == MANIFEST_FILE || name == temporary || companion || name.ends_with(".pseg") {
            names.push(name);
        }
    }
    // The manifest first: moving or removing it first leaves no manifest naming files
    // that are gone.
    names.sort_by_key(|name| (name != MANIFEST_FILE, name.clone()));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_persist::SegmentName;

    fn segment(dir: &Path, name: &str) -> SegmentFile {
        SegmentFile {
            name: SegmentName::parse(name).unwrap(),
            file_name: name.to_string(),
            path: dir.join(name),
        }
    }

    #[test]
    fn copies_and_reports_a_vanished_source() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        let present = segment(from.path(), "snap-0000000001-000.pseg");
        std::fs::write(&present.path, b"bytes").unwrap();
        let gone = segment(from.path(), "snap-0000000001-001.pseg");
        let mut created = CreatedFiles::default();
        let copy = copy_segment(&present, to.path(), &mut created)
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(&copy.path).unwrap(), b"bytes");
        assert!(copy_segment(&gone, to.path(), &mut created)
            .unwrap()
            .is_none());
        drop(created);
        assert!(
            !copy.path.exists(),
            "a dropped CreatedFiles removes its files"
        );
    }

    #[test]
    fn kept_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept");
        std::fs::write(&path, b"").unwrap();
        let mut created = CreatedFiles::default();
        created.push(path.clone());
        created.keep();
        assert!(path.exists());
    }

    #[test]
    fn occupants_are_the_manifest_first_then_segments() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "log-000-0000000001.pseg",
            "notes.txt",
            "manifest",
            "odd.pseg",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(
            occupants(dir.path()).unwrap(),
            ["manifest", "log-000-0000000001.pseg", "odd.pseg"]
        );
        assert!(occupants(&dir.path().join("missing")).unwrap().is_empty());
    }
}
