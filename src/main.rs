//! The `fourdvar` binary: all the work is in the library; this only hands it the arguments.

fn main() {
    std::process::exit(fourdvar::cli::main_with_args(std::env::args_os()));
}
