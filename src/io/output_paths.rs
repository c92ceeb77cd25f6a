//! The safety rules of output paths, checked before a command does any work: an output never
//! replaces one of the command's inputs (compared as files: symbolic links, `./` and hard
//! links included), two outputs of one command are never the same file, and an existing
//! output is replaced only when it is a regular file (or a symbolic link to one, which is
//! replaced by the new file while its target is left alone). Everything else at an output
//! path, such as a character device like `/dev/null`, a FIFO, a socket or a directory, is
//! refused, so that a run as root cannot break the machine.

use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A file a command reads or writes, with the name the user gave it by (the command line
/// passes its option, e.g. `--out`).
#[derive(Clone, Copy, Debug)]
pub struct NamedPath<'a> {
    /// How the user named the file, e.g. "--background".
    pub name: &'a str,
    /// The path as given.
    pub path: &'a Path,
}

impl<'a> NamedPath<'a> {
    /// `path`, known to the user as `name`.
    pub fn new(name: &'a str, path: &'a Path) -> Self {
        NamedPath { name, path }
    }
}

/// What a path refers to, for telling whether two paths are one file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FileIdentity {
    /// An existing file: its device and inode (hard links and symbolic links agree).
    Existing { device: u64, inode: u64 },
    /// A file that does not exist yet: the canonical folder and the file name.
    Planned(PathBuf),
}

/// The identity of `path`: device and inode when it exists, otherwise its canonical folder
/// joined with its name (so `./out.nc`, `out.nc` and `dir/../out.nc` agree).
fn identity(path: &Path) -> Option<FileIdentity> {
    if let Ok(meta) = fs::metadata(path) {
        return Some(FileIdentity::Existing {
            device: meta.dev(),
            inode: meta.ino(),
        });
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let dir = fs::canonicalize(dir).ok()?;
    Some(FileIdentity::Planned(dir.join(name)))
}

/// What kind of thing `meta` describes, for messages.
fn kind_of(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Refuses an existing `path` that is anything but a regular file or a symbolic link to one.
/// A missing path, or a dangling symbolic link, is fine: the output will be a new file.
pub fn check_replaceable(path: &Path) -> Result<()> {
    let Ok(meta) = fs::metadata(path) else {
        return Ok(());
    };
    if meta.is_file() {
        return Ok(());
    }
    Err(Error::io(
        path,
        io::Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "is {}; an output only ever replaces a regular file, give another path",
                kind_of(&meta)
            ),
        ),
    ))
}

/// Checks every output of a command against its inputs and against each other, and that
/// each existing output may be replaced ([`check_replaceable`]). Errors name both paths by
/// the names the user knows them by.
pub fn check_outputs(inputs: &[NamedPath<'_>], outputs: &[NamedPath<'_>]) -> Result<()> {
    let conflict = |output: &NamedPath<'_>, other: &NamedPath<'_>, what: &str| {
        Error::invalid(
            output.name,
            format!(
                "{} is the same file as {} ({}); {what}",
                output.path.display(),
                other.name,
                other.path.display()
            ),
        )
    };
    let input_ids: Vec<(NamedPath<'_>, Option<FileIdentity>)> =
        inputs.iter().map(|i| (*i, identity(i.path))).collect();
    let mut seen: Vec<(NamedPath<'_>, FileIdentity)> = Vec::new();
    for output in outputs {
        check_replaceable(output.path)?;
        let Some(id) = identity(output.path) else {
            // No file name or no folder: AtomicOutput reports that with its own message.
            continue;
        };
        if let Some((input, _)) = input_ids.iter().find(|(_, i)| i.as_ref() == Some(&id)) {
            return Err(conflict(
                output,
                input,
                "writing it would destroy an input; give another output path",
            ));
        }
        if let Some((first, _)) = seen.iter().find(|(_, s)| *s == id) {
            return Err(conflict(
                output,
                first,
                "two outputs cannot share one file; give another path",
            ));
        }
        seen.push((*output, id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<()>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn an_output_that_is_an_input_by_any_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        fs::write(&input, "1\n").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let hard = dir.path().join("hard.txt");
        fs::hard_link(&input, &hard).unwrap();
        let dotted = dir.path().join(".").join("sub").join("..").join("in.txt");
        fs::create_dir(dir.path().join("sub")).unwrap();
        for out in [&input, &link, &hard, &dotted] {
            let m = message(check_outputs(
                &[NamedPath::new("--initial", &input)],
                &[NamedPath::new("--out", out)],
            ));
            assert!(
                m.contains("--out") && m.contains("--initial") && m.contains("destroy"),
                "{m}"
            );
        }
        let other = dir.path().join("other.nc");
        check_outputs(
            &[NamedPath::new("--initial", &input)],
            &[NamedPath::new("--out", &other)],
        )
        .unwrap();
    }

    #[test]
    fn two_outputs_on_one_path_are_refused_even_before_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("net.json");
        let b = dir.path().join("sub").join("..").join("net.json");
        fs::create_dir(dir.path().join("sub")).unwrap();
        let m = message(check_outputs(
            &[],
            &[
                NamedPath::new("--out", &a),
                NamedPath::new("--loss-curve", &b),
            ],
        ));
        assert!(m.contains("--loss-curve") && m.contains("--out"), "{m}");
        assert!(!a.exists());
    }

    #[test]
    fn only_regular_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        assert!(message(check_replaceable(Path::new("/dev/null"))).contains("character device"));
        assert!(message(check_replaceable(dir.path())).contains("directory"));
        let link = dir.path().join("null-link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(message(check_replaceable(&link)).contains("character device"));
        let file = dir.path().join("old.nc");
        fs::write(&file, "old").unwrap();
        check_replaceable(&file).unwrap();
        check_replaceable(&dir.path().join("new.nc")).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        check_replaceable(&dangling).unwrap();
    }
}
