//! Output files that appear all at once or not at all.
//!
//! A writer creates its content under a hidden temporary name in the target directory and
//! renames it onto the final name only when everything has been written. A run that fails
//! half-way therefore leaves the previous file (if any) untouched and no partial file behind.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::io::output_paths::check_replaceable;
use crate::{Error, Result};

/// How many alternative temporary names to try when `.<name>.tmp-<pid>` is already taken
/// (by a second writer to the same path in this process, or by a stale file).
const MAX_TEMP_ATTEMPTS: usize = 100;

/// The temporary files of this process not yet committed or dropped, so that a signal
/// handler can remove them before the process exits ([`remove_live_temps`]).
static LIVE_TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The list of live temporary files (a poisoned lock still holds a usable list).
fn live_temps() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes `temp` off the list of live temporary files.
fn forget_temp(temp: &Path) {
    live_temps().retain(|t| t != temp);
}

/// Removes every temporary file of this process that is neither committed nor dropped yet:
/// called on SIGINT / SIGTERM just before the process exits, so an interrupted write leaves
/// nothing behind. (SIGKILL cannot be caught: its temporary file stays until the next output
/// to the same path removes it, see [`AtomicOutput::new`].)
pub fn remove_live_temps() {
    for temp in live_temps().drain(..) {
        let _ = fs::remove_file(temp);
    }
}

/// Removes `.<name>.tmp-<pid>[-<n>]` files in `dir` whose process no longer runs (read from
/// /proc; nothing is removed where /proc is not mounted).
fn remove_stale_temps(dir: &Path, name: &std::ffi::OsStr) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    let Some(prefix) = prefix.to_str().map(str::to_owned) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file
            && !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

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
    /// A `path` that exists but is not a regular file (a directory, a device such as
    /// `/dev/null`, a FIFO, a socket; see [`check_replaceable`]), or that has no file name
    /// (such as `..`), is rejected. Temporary files of this name left by processes that no
    /// longer run (killed with SIGKILL during a write) are removed.
    pub fn new(path: &Path) -> Result<Self> {
        check_replaceable(path)?;
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
        remove_stale_temps(dir, name);
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
                    live_temps().push(temp.clone());
                    return Ok(AtomicOutput {
                        path: path.to_path_buf(),
                        temp,
                        committed: false,
                    });
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
        // Something may have appeared at the path while the output was being computed.
        check_replaceable(&self.path)?;
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
        forget_temp(&self.temp);
        Ok(())
    }
}

impl Drop for AtomicOutput {
    /// Removes the temporary file unless the output was committed.
    fn drop(&mut self) {
        if !self.committed {
            // Nothing sensible can be done about a failure here; the file is hidden anyway.
            let _ = fs::remove_file(&self.temp);
            forget_temp(&self.temp);
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
