//! A walk over every group, dimension, variable and attribute of a NetCDF file with the C
//! library itself, before the `netcdf` crate touches the file. The crate unwraps the
//! library's errors on metadata reads (an attribute lookup in a file whose HDF5 attribute
//! messages are corrupt panics with `Netcdf(-107)`), and expects every name to be UTF-8. The
//! C library reads a netCDF-4 file's attributes lazily, at their first lookup, so a file that
//! opens may still fail there. Reading all of the metadata here turns every such failure into
//! an error naming the file and the object, and afterwards the library serves the crate's
//! lookups from what it has already read.

use std::ffi::{c_char, c_int, CStr, CString};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use netcdf_sys::{
    libnetcdf_lock, nc_close, nc_inq_att, nc_inq_attname, nc_inq_dim, nc_inq_dimids,
    nc_inq_grpname, nc_inq_grps, nc_inq_natts, nc_inq_var, nc_inq_varids, nc_open, nc_strerror,
    nc_type, NC_GLOBAL, NC_MAX_NAME, NC_NOERR, NC_NOWRITE,
};

use crate::{Error, Result};

/// Deepest group nesting walked: deeper files are refused rather than recursed into.
const MAX_GROUP_DEPTH: usize = 32;

/// Whether [`check_metadata`] first walks the file in a child process (the command line
/// sets it: the child is the `fourdvar` binary itself).
static IN_CHILD_FIRST: AtomicBool = AtomicBool::new(false);

/// The hidden first argument with which the `fourdvar` binary walks one file's metadata and
/// exits: 0 when it reads, 2 when it does not; a crash of the C library kills only it.
pub const CHILD_ARGUMENT: &str = "__check-netcdf-metadata";

/// Makes every later [`check_metadata`] walk the file in a child process first. Some
/// corruptions crash libhdf5 itself (a segmentation fault, as in `ncdump`), which no code in
/// this process could catch; a child that dies of a signal turns that into an error.
pub fn walk_in_child_first() {
    IN_CHILD_FIRST.store(true, Ordering::Relaxed);
}

/// Reads all metadata of the NetCDF file at `path` through the C library and fails, naming
/// the file and the object, at the first error or non-UTF-8 name, or when reading it crashes
/// the library in the child (after [`walk_in_child_first`]). A file the library cannot open
/// at all is left to the caller's own open, which reports it.
pub fn check_metadata(path: &Path) -> Result<()> {
    if IN_CHILD_FIRST.load(Ordering::Relaxed) {
        walk_in_child(path)?;
    }
    walk(path)
}

/// The walk in a child process: only its death by a signal is reported here (any other
/// failure repeats in [`walk`], which says what it was). Where no child can be started, the
/// walk runs in this process alone.
fn walk_in_child(path: &Path) -> Result<()> {
    let Ok(binary) = std::env::current_exe() else {
        return Ok(());
    };
    let Ok(status) = Command::new(binary)
        .arg(CHILD_ARGUMENT)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    else {
        return Ok(());
    };
    match status.signal() {
        Some(signal) => Err(Error::input(
            path,
            None,
            format!(
                "the file is corrupt: reading its metadata crashed the HDF5 library (signal \
                 {signal}, in a separate process)"
            ),
        )),
        None => Ok(()),
    }
}

/// The walk in this process.
pub fn walk(path: &Path) -> Result<()> {
    let Some(c_path) = path.to_str().and_then(|p| CString::new(p).ok()) else {
        return Ok(());
    };
    // The C library is not thread-safe: hold the lock the netcdf crate uses for every call.
    let _lock = libnetcdf_lock.lock();
    let mut ncid: c_int = 0;
    // SAFETY: a valid NUL-terminated path and an out-pointer to a c_int.
    if unsafe { nc_open(c_path.as_ptr(), NC_NOWRITE, &mut ncid) } != NC_NOERR {
        return Ok(());
    }
    let walked = Walk { path }.group(ncid, "/", 0);
    // SAFETY: ncid was opened above and is closed once.
    unsafe { nc_close(ncid) };
    walked
}

/// The walk over one open file.
struct Walk<'a> {
    path: &'a Path,
}

impl Walk<'_> {
    /// The error for a failed read of `what`.
    fn failed(&self, what: &str, status: c_int) -> Error {
        // SAFETY: nc_strerror returns a static NUL-terminated message for any code.
        let reason = unsafe { CStr::from_ptr(nc_strerror(status)) }.to_string_lossy();
        Error::input(
            self.path,
            None,
            format!("the file is corrupt: reading {what} failed ({reason})"),
        )
    }

    /// Fails with a message naming `what` unless `status` is NC_NOERR.
    fn check(&self, what: impl FnOnce() -> String, status: c_int) -> Result<()> {
        if status == NC_NOERR {
            Ok(())
        } else {
            Err(self.failed(&what(), status))
        }
    }

    /// A name the library wrote into `buffer`, which must be UTF-8.
    fn name(&self, buffer: &[c_char], what: impl FnOnce() -> String) -> Result<String> {
        // SAFETY: the library NUL-terminates names within NC_MAX_NAME + 1 bytes.
        let bytes = unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_bytes();
        std::str::from_utf8(bytes).map(str::to_string).map_err(|_| {
            Error::input(
                self.path,
                None,
                format!("the name of {} is not valid UTF-8", what()),
            )
        })
    }

    /// A zeroed buffer for one name.
    fn name_buffer() -> Vec<c_char> {
        vec![0; NC_MAX_NAME as usize + 1]
    }

    /// The attributes, dimensions, variables and subgroups of group `ncid` called `group`.
    fn group(&self, ncid: c_int, group: &str, depth: usize) -> Result<()> {
        if depth > MAX_GROUP_DEPTH {
            return Err(Error::input(
                self.path,
                None,
                format!("groups are nested more than {MAX_GROUP_DEPTH} deep (at '{group}')"),
            ));
        }
        self.attributes(ncid, NC_GLOBAL, &|| format!("group '{group}'"))?;
        self.dimensions(ncid, group)?;
        self.variables(ncid, group)?;

        let mut count: c_int = 0;
        // SAFETY: a null id array asks for the count only.
        let status = unsafe { nc_inq_grps(ncid, &mut count, std::ptr::null_mut()) };
        self.check(|| format!("the subgroups of '{group}'"), status)?;
        let mut ids = vec![0; count.max(0) as usize];
        // SAFETY: `ids` holds `count` entries.
        let status = unsafe { nc_inq_grps(ncid, &mut count, ids.as_mut_ptr()) };
        self.check(|| format!("the subgroups of '{group}'"), status)?;
        for id in ids {
            let mut buffer = Self::name_buffer();
            // SAFETY: the buffer holds NC_MAX_NAME + 1 bytes.
            let status = unsafe { nc_inq_grpname(id, buffer.as_mut_ptr()) };
            self.check(|| format!("a subgroup name of '{group}'"), status)?;
            let name = self.name(&buffer, || format!("a subgroup of '{group}'"))?;
            self.group(id, &format!("{}{name}/", group), depth + 1)?;
        }
        Ok(())
    }

    /// Every dimension visible in group `ncid` (its own and its parents').
    fn dimensions(&self, ncid: c_int, group: &str) -> Result<()> {
        let mut count: c_int = 0;
        // SAFETY: a null id array asks for the count only.
        let status = unsafe { nc_inq_dimids(ncid, &mut count, std::ptr::null_mut(), 1) };
        self.check(|| format!("the dimensions of group '{group}'"), status)?;
        let mut ids = vec![0; count.max(0) as usize];
        // SAFETY: `ids` holds `count` entries.
        let status = unsafe { nc_inq_dimids(ncid, &mut count, ids.as_mut_ptr(), 1) };
        self.check(|| format!("the dimensions of group '{group}'"), status)?;
        for id in ids {
            let mut buffer = Self::name_buffer();
            let mut len = 0usize;
            // SAFETY: the buffer holds NC_MAX_NAME + 1 bytes; `len` is an out-pointer.
            let status = unsafe { nc_inq_dim(ncid, id, buffer.as_mut_ptr(), &mut len) };
            self.check(|| format!("dimension {id} of group '{group}'"), status)?;
            self.name(&buffer, || format!("dimension {id} of group '{group}'"))?;
        }
        Ok(())
    }

    /// Every variable of group `ncid`, with its attributes.
    fn variables(&self, ncid: c_int, group: &str) -> Result<()> {
        let mut count: c_int = 0;
        // SAFETY: a null id array asks for the count only.
        let status = unsafe { nc_inq_varids(ncid, &mut count, std::ptr::null_mut()) };
        self.check(|| format!("the variables of group '{group}'"), status)?;
        let mut ids = vec![0; count.max(0) as usize];
        // SAFETY: `ids` holds `count` entries.
        let status = unsafe { nc_inq_varids(ncid, &mut count, ids.as_mut_ptr()) };
        self.check(|| format!("the variables of group '{group}'"), status)?;
        for id in ids {
            let mut buffer = Self::name_buffer();
            let (mut xtype, mut ndims, mut natts): (nc_type, c_int, c_int) = (0, 0, 0);
            // SAFETY: the buffer holds NC_MAX_NAME + 1 bytes; a null dimid array is allowed.
            let status = unsafe {
                nc_inq_var(
                    ncid,
                    id,
                    buffer.as_mut_ptr(),
                    &mut xtype,
                    &mut ndims,
                    std::ptr::null_mut(),
                    &mut natts,
                )
            };
            self.check(|| format!("variable {id} of group '{group}'"), status)?;
            let name = self.name(&buffer, || format!("variable {id} of group '{group}'"))?;
            self.attributes(ncid, id, &|| format!("variable '{group}{name}'"))?;
        }
        Ok(())
    }

    /// Every attribute of variable `varid` (NC_GLOBAL: of the group) of group `ncid`.
    fn attributes(&self, ncid: c_int, varid: c_int, owner: &dyn Fn() -> String) -> Result<()> {
        let mut count: c_int = 0;
        let status = if varid == NC_GLOBAL {
            // SAFETY: an out-pointer to a c_int.
            unsafe { nc_inq_natts(ncid, &mut count) }
        } else {
            // SAFETY: nc_inq_var with only the attribute count asked for.
            unsafe {
                nc_inq_var(
                    ncid,
                    varid,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut count,
                )
            }
        };
        self.check(|| format!("the attributes of {}", owner()), status)?;
        for k in 0..count {
            let mut buffer = Self::name_buffer();
            // SAFETY: the buffer holds NC_MAX_NAME + 1 bytes.
            let status = unsafe { nc_inq_attname(ncid, varid, k, buffer.as_mut_ptr()) };
            self.check(|| format!("attribute {k} of {}", owner()), status)?;
            let name = self.name(&buffer, || format!("attribute {k} of {}", owner()))?;
            let (mut xtype, mut len): (nc_type, usize) = (0, 0);
            // SAFETY: a NUL-terminated name from the library and two out-pointers.
            let status = unsafe { nc_inq_att(ncid, varid, buffer.as_ptr(), &mut xtype, &mut len) };
            self.check(|| format!("attribute '{name}' of {}", owner()), status)?;
        }
        Ok(())
    }
}
