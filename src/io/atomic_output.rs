//! Output files that appear all at once or not at all.
//!
//! A writer creates its content under a hidden temporary name in the target directory and
//! renames it onto the final name only when everything has been written. A run that fails
//! half-way therefore leaves the previous file (if any) untouched and no partial file behind.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// How many alternative temporary names to try when `.<name>.tmp-<pid>` is already taken
/// (by a second writer to the same path in this process, or by a stale file).
const MAX_TEMP_ATTEMPTS: usize = 100;

/// An output file written under a temporary name in the target directory and renamed into
/// place by [`commit`](AtomicOutput::commit), so a failed run never leaves a half-written file.
#[derive(Debug)]
pub struct AtomicOutput {
    /// Where the file ends up.
    path: PathBuf,
    /// Where it is written first (same directory, so the rename is atomic).
    temp: PathBuf,
    /// Whether `commit` moved the temporary file into place.
    committed: bool,
}

impl AtomicOutput {
    /// Reserves `path`: creates the temporary file `.<name>.tmp-<pid>` next to it, so an
    /// unwritable or missing directory is reported before any work is done. Errors name `path`.
    ///
    /// A `path` that is an existing directory, or that has no file name (such as `..`), is
    /// rejected.
    pub fn new(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Err(Error::io(
                path,
                io::Error::new(
                    ErrorKind::IsADirectory,
                    "is a directory; give a file name for the output",
                ),
            ));
        }
        let Some(name) = path.file_name() else {
            return Err(Error::io(
                path,
                io::Error::new(
                    ErrorKind::InvalidInput,
                    "has no file name; give a file name for the output",
                ),
            ));
        };
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(Error::io(
                path,
                io::Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "cannot write here: the directory {} does not exist",
                        dir.display()
                    ),
                ),
            ));
        }
        let pid = std::process::id();
        for attempt in 0..MAX_TEMP_ATTEMPTS {
            let mut temp_name = OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".tmp-{pid}"));
            if attempt > 0 {
                temp_name.push(format!("-{attempt}"));
            }
            let temp = dir.join(temp_name);
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(_) => {
                    return Ok(AtomicOutput {
                        path: path.to_path_buf(),
                        temp,
                        committed: false,
                    })
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::io(
                        path,
                        io::Error::new(
                            e.kind(),
                            format!("cannot create the temporary file {}: {e}", temp.display()),
                        ),
                    ))
                }
            }
        }
        Err(Error::io(
            path,
            io::Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "cannot create a temporary file in {}: {MAX_TEMP_ATTEMPTS} candidate names \
                     are already taken (remove stale .*.tmp-* files)",
                    dir.display()
                ),
            ),
        ))
    }

    /// The temporary path to write to (the file exists, empty; writers may truncate or
    /// recreate it).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary file onto the final path, replacing any existing file there.
    ///
    /// The content is flushed to disk first (best effort). On failure the temporary file is
    /// removed and the error names the final path.
    pub fn commit(mut self) -> Result<()> {
        if let Ok(file) = fs::File::open(&self.temp) {
            // Best effort: a file system that cannot sync must not stop the output.
            let _ = file.sync_all();
        }
        fs::rename(&self.temp, &self.path).map_err(|e| {
            Error::io(
                &self.path,
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot move the finished output {} into place: {e}",
                        self.temp.display()
                    ),
                ),
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicOutput {
    /// Removes the temporary file unless the output was committed.
    fn drop(&mut self) {
        if !self.committed {
            // Nothing sensible can be done about a failure here; the file is hidden anyway.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_name_is_hidden_and_next_to_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let out = AtomicOutput::new(&target).unwrap();
        let temp = out.temp_path().to_path_buf();
        assert_eq!(temp.parent(), Some(dir.path()));
        let name = temp.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!(".out.txt.tmp-{}", std::process::id()));
        assert!(temp.is_file());
        assert_eq!(out.path(), target);
    }

    #[test]
    fn two_outputs_to_the_same_path_do_not_share_a_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let a = AtomicOutput::new(&target).unwrap();
        let b = AtomicOutput::new(&target).unwrap();
        assert_ne!(a.temp_path(), b.temp_path());
        fs::write(a.temp_path(), "a").unwrap();
        fs::write(b.temp_path(), "b").unwrap();
        a.commit().unwrap();
        b.commit().unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "b");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn relative_path_without_directory_uses_current_directory() {
        let out = AtomicOutput::new(Path::new("fourdvar-atomic-output-unit-test.tmp")).unwrap();
        assert_eq!(out.temp_path().parent(), Some(Path::new(".")));
        let temp = out.temp_path().to_path_buf();
        drop(out);
        assert!(!temp.exists());
    }
}
