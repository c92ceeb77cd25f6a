//! Reading a whole input file with a size bound, so that a file far larger than any sensible
//! input (or one that never ends, such as `/dev/zero` or a FIFO nobody closes) is refused after
//! at most `limit + 1` bytes instead of filling the memory.

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::path::Path;

use crate::{Error, Result};

/// Bound of configuration files: model, experiment and observation-network TOML.
pub const CONFIG_BYTES: u64 = 16 << 20;

/// Bound of tables and networks: observation and sequence CSV, network JSON.
pub const TABLE_BYTES: u64 = 512 << 20;

/// The bytes of `path`, at most `limit` of them; a longer file is an error naming the file,
/// the bound and `what` the file was read as.
pub fn read_bytes(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let too_large = |size: String| {
        Error::io(
            path,
            io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{size}, more than the {limit} bytes any {what} can be; is this the right \
                     file?"
                ),
            ),
        )
    };
    if let Ok(meta) = file.metadata() {
        if meta.is_file() && meta.len() > limit {
            return Err(too_large(format!("is {} bytes", meta.len())));
        }
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!("goes on past {limit} bytes")));
    }
    Ok(bytes)
}

/// The text of `path` (UTF-8), at most `limit` bytes; see [`read_bytes`].
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String> {
    String::from_utf8(read_bytes(path, limit, what)?).map_err(|e| {
        Error::io(
            path,
            io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "is not UTF-8 text (byte {} is invalid); a {what} must be text",
                    e.utf8_error().valid_up_to() + 1
                ),
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_up_to_the_bound_are_read_and_longer_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        std::fs::write(&p, "12345").unwrap();
        assert_eq!(read_text(&p, 5, "test file").unwrap(), "12345");
        let m = read_text(&p, 4, "test file").unwrap_err().to_string();
        assert!(
            m.contains("f.txt: is 5 bytes, more than the 4 bytes"),
            "{m}"
        );
        // A device that never ends is cut off at the bound.
        let m = read_bytes(Path::new("/dev/zero"), 1000, "state file")
            .unwrap_err()
            .to_string();
        assert!(m.contains("/dev/zero: goes on past 1000 bytes"), "{m}");
        std::fs::write(&p, [b'a', 0xff, b'b']).unwrap();
        let m = read_text(&p, 10, "model configuration")
            .unwrap_err()
            .to_string();
        assert!(m.contains("not UTF-8") && m.contains("byte 2"), "{m}");
    }
}
