//! Ctrl-C (SIGINT), SIGTERM and SIGHUP.
//!
//! A command that can stop at a clean point (a minimisation between iterations, a cycle
//! between windows, training between epochs) holds a [`Graceful`] guard while it runs: the
//! first signal then only sets a flag ([`requested`]), which the loop reads as one more
//! stopping rule, so the best result so far is written and the command exits with 130. Any
//! other signal, or a second one, removes the temporary files of unfinished outputs and ends
//! the process at once with exit code 130, leaving nothing half-written behind.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::io::atomic_output::remove_live_temps;

/// The exit code of a run ended by a signal (128 + SIGINT, the shell convention).
pub const EXIT_CODE: i32 = 130;

/// Set by the first signal while a [`Graceful`] guard is alive.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// How many [`Graceful`] guards are alive.
static GRACEFUL: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler; the binary calls this once at start. A library user who installs
/// its own handler can call [`request`] from it instead.
pub fn install() -> std::result::Result<(), ctrlc::Error> {
    ctrlc::set_handler(on_signal)
}

/// What a signal does: ask the running loop to stop, or remove the temporary files and exit.
fn on_signal() {
    if GRACEFUL.load(Ordering::SeqCst) > 0 && !REQUESTED.swap(true, Ordering::SeqCst) {
        eprintln!(
            "\nfourdvar: interrupted: stopping at the next clean point and writing the result so \
             far (interrupt again to stop at once, writing nothing)"
        );
        return;
    }
    remove_live_temps();
    eprintln!("\nfourdvar: interrupted: stopped, no output written");
    std::process::exit(EXIT_CODE);
}

/// Asks the running loop to stop at its next clean point, as the first signal does.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for: loops that hold a [`Graceful`] guard check this as one more
/// stopping rule.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// While alive, the first signal asks the loop to stop instead of ending the process.
#[derive(Debug)]
pub struct Graceful(());

/// A [`Graceful`] guard for the loop about to run.
pub fn graceful() -> Graceful {
    GRACEFUL.fetch_add(1, Ordering::SeqCst);
    Graceful(())
}

impl Drop for Graceful {
    fn drop(&mut self) {
        GRACEFUL.fetch_sub(1, Ordering::SeqCst);
    }
}
