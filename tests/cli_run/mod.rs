//! Running the `fourdvar` binary from the tests that drive the command line, and reading what
//! it printed.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `fourdvar args…` in the repository root.
pub fn fourdvar(args: &[&str]) -> Output {
    fourdvar_in(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// The binary with `args`, in `dir`. HDF5's file locks are off in the child: a test that
/// writes a NetCDF file in-process while another test thread spawns a child lets that child
/// inherit the open file and its lock until it exits, and a third child reading the file then
/// fails with "HDF error" (seen once in the suite). Only the test harness shares files
/// between processes this way.
fn command(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fourdvar"));
    c.args(args)
        .current_dir(dir)
        .env("HDF5_USE_FILE_LOCKING", "FALSE");
    c
}

/// Runs `fourdvar args…` in `dir`.
pub fn fourdvar_in(dir: &std::path::Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("the binary runs")
}

/// Runs `fourdvar args…` in `dir` and asserts that it succeeded (showing its stderr if not).
pub fn succeeded_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let o = fourdvar_in(dir, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

/// What the run wrote to standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the run wrote to standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The absolute path of `path` in the repository.
pub fn repo(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_string_lossy()
        .into_owned()
}

/// Every value of variable `name` in the NetCDF file `file`.
pub fn netcdf_values<T: netcdf::NcTypeDescriptor + Copy>(
    file: &std::path::Path,
    name: &str,
) -> Vec<T> {
    let file = netcdf::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let variable = file
        .variable(name)
        .unwrap_or_else(|| panic!("no variable {name}"));
    variable.get_values(..).unwrap()
}
