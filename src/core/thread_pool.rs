//! rayon's global thread pool, started on first use. Where its threads cannot be started
//! (a process limit, a sandbox without threads), rayon would panic on the first parallel
//! call; [`parallel_available`] says so instead, once, and parallel code runs serially.

use std::sync::OnceLock;

/// Whether the global pool runs: started here on the first call.
static AVAILABLE: OnceLock<bool> = OnceLock::new();

/// Whether parallel code may use rayon's global pool. The first call starts the pool; if it
/// cannot start, a warning goes to stderr and the answer is false from then on.
pub fn parallel_available() -> bool {
    *AVAILABLE.get_or_init(|| match rayon::ThreadPoolBuilder::new().build_global() {
        Ok(()) => true,
        // Someone (a library user, a test harness) started the pool already.
        Err(e) if e.to_string().contains("already") => true,
        Err(e) => {
            eprintln!("fourdvar: warning: cannot start worker threads ({e}); running serially");
            false
        }
    })
}
