//! The `fourdvar` binary: all the work is in the library; this only hands it the arguments.

fn main() {
    // Without the handler a signal still stops the run, only without removing temporary files.
    if let Err(e) = fourdvar::interrupt::install() {
        eprintln!("fourdvar: warning: cannot handle Ctrl-C ({e}); an interrupted run may leave a hidden temporary file");
    }
    std::process::exit(fourdvar::cli::main_with_args(std::env::args_os()));
}
