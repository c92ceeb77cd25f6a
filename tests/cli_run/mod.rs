//! Running the `fourdvar` binary from the tests that drive the command line, and reading what
//! it printed.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `fourdvar args…` in the repository root.
pub fn fourdvar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

/// Runs `fourdvar args…` in `dir`.
pub fn fourdvar_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
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
