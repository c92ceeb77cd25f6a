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

/// What the run wrote to standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the run wrote to standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
