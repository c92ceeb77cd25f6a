//! Opening a NetCDF file for reading, with a check the library does not make: a classic-format
//! file (CDF-1, CDF-2 or CDF-5) shorter than its header says is refused. libnetcdf reads the
//! missing tail of such a file as fill values or zeros without an error, so a truncated
//! download would otherwise be read as a valid state. NetCDF-4 (HDF5) files carry their own
//! checks, which the library applies; their metadata is read whole through the C library
//! first (`netcdf_metadata_check`), so a corrupt attribute is an error, not a crate panic.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// The most header bytes read to find the expected size (headers of this toolkit's files are
/// a few kB; the model configuration text is the largest attribute).
const MAX_HEADER_BYTES: u64 = 64 << 20;

/// Opens `path` with libnetcdf after checking that a classic-format file is as long as its
/// header says and that all its metadata reads. Errors name `path`.
pub fn open_netcdf(path: &Path) -> Result<netcdf::File> {
    check_classic_length(path)?;
    super::netcdf_metadata_check::check_metadata(path)?;
    netcdf::open(path).map_err(|e| Error::netcdf(path, e))
}

/// Refuses a classic-format file shorter than the data its header describes. A file that
/// cannot be opened, or whose header does not parse, is left to libnetcdf, which reports it.
fn check_classic_length(path: &Path) -> Result<()> {
    let Ok(file) = File::open(path) else {
        return Ok(());
    };
    let actual = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = Vec::new();
    file.take(MAX_HEADER_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let version = match head.get(..4) {
        Some([b'C', b'D', b'F', v @ (1 | 2 | 5)]) => *v,
        _ => return Ok(()),
    };
    let truncated = |what: String| {
        Error::input(
            path,
            None,
            format!("the file is truncated or corrupt: {what}; it cannot be read safely"),
        )
    };
    match ClassicHeader::new(&head, version).expected_length() {
        Some(expected) if actual < expected => Err(truncated(format!(
            "its header describes {expected} bytes of data, the file has {actual}"
        ))),
        _ => Ok(()),
    }
}

/// A reader of the classic header (the CDF-1/2/5 format specification): big-endian counts
/// of 4 bytes (8 in CDF-5) and offsets of 4 bytes (CDF-1) or 8.
struct ClassicHeader<'a> {
    bytes: &'a [u8],
    at: usize,
    version: u8,
}

/// The tags of the header's lists.
const NC_DIMENSION: u64 = 0x0A;
const NC_VARIABLE: u64 = 0x0B;
const NC_ATTRIBUTE: u64 = 0x0C;
/// numrecs of a file still being written (unknown length).
const STREAMING: u64 = 0xFFFF_FFFF;

impl<'a> ClassicHeader<'a> {
    fn new(bytes: &'a [u8], version: u8) -> Self {
        ClassicHeader {
            bytes,
            at: 4,
            version,
        }
    }

    /// The next `width` bytes as a big-endian number.
    fn number(&mut self, width: usize) -> Option<u64> {
        let bytes = self.bytes.get(self.at..self.at.checked_add(width)?)?;
        self.at += width;
        Some(bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    }

    /// A count: 4 bytes, 8 in CDF-5.
    fn count(&mut self) -> Option<u64> {
        self.number(if self.version == 5 { 8 } else { 4 })
    }

    /// An offset: 4 bytes in CDF-1, 8 otherwise.
    fn offset(&mut self) -> Option<u64> {
        self.number(if self.version == 1 { 4 } else { 8 })
    }

    /// Skips `n` bytes padded to a multiple of 4.
    fn skip_padded(&mut self, n: u64) -> Option<()> {
        let padded = usize::try_from(n.checked_add(3)? / 4 * 4).ok()?;
        self.at = self.at.checked_add(padded)?;
        (self.at <= self.bytes.len()).then_some(())
    }

    /// A name: its length and its padded bytes.
    fn name(&mut self) -> Option<()> {
        let len = self.count()?;
        self.skip_padded(len)
    }

    /// The number of elements of a list tagged `tag` (0 for an absent list).
    fn list(&mut self, tag: u64) -> Option<u64> {
        let found = self.number(4)?;
        let n = self.count()?;
        match found {
            0 if n == 0 => Some(0),
            t if t == tag => Some(n),
            _ => None,
        }
    }

    /// Skips an attribute list.
    fn attributes(&mut self) -> Option<()> {
        for _ in 0..self.list(NC_ATTRIBUTE)? {
            self.name()?;
            let size = type_size(self.number(4)?)?;
            let n = self.count()?;
            self.skip_padded(n.checked_mul(size)?)?;
        }
        Some(())
    }

    /// The least file length the header describes, or None when it does not parse.
    fn expected_length(mut self) -> Option<u64> {
        let records = self.count()?;
        let mut record_dimensions = Vec::new();
        for d in 0..self.list(NC_DIMENSION)? {
            self.name()?;
            if self.count()? == 0 {
                record_dimensions.push(d);
            }
        }
        self.attributes()?;
        let mut end = self.at as u64;
        // (begin, vsize) of each record variable.
        let mut record_vars = Vec::new();
        for _ in 0..self.list(NC_VARIABLE)? {
            self.name()?;
            let rank = self.count()?;
            let mut first = None;
            for i in 0..rank {
                let id = self.count()?;
                if i == 0 {
                    first = Some(id);
                }
            }
            self.attributes()?;
            type_size(self.number(4)?)?;
            let vsize = self.count()?;
            let begin = self.offset()?;
            if first.is_some_and(|id| record_dimensions.contains(&id)) {
                record_vars.push((begin, vsize));
            } else {
                end = end.max(begin.checked_add(vsize)?);
            }
        }
        if records != STREAMING && records > 0 && !record_vars.is_empty() {
            let record_size: u64 = record_vars.iter().map(|(_, v)| v).sum();
            for (begin, vsize) in &record_vars {
                let last = begin.checked_add((records - 1).checked_mul(record_size)?)?;
                end = end.max(last.checked_add(*vsize)?);
            }
        }
        Some(end)
    }
}

/// Bytes per value of NetCDF type `code`, None for an unknown type.
fn type_size(code: u64) -> Option<u64> {
    match code {
        1 | 2 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 5 | 9 => Some(4),
        6 | 10 | 11 => Some(8),
        _ => None,
    }
}
