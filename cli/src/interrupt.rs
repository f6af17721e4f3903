//! Ctrl-C (SIGINT) and SIGTERM: the first one asks the running command to stop cleanly (it
//! checks [`requested`] at least every 100 ms); a second Ctrl-C while it stops ends the process
//! at once. The hub and the demo use the same flag for their clean shutdown.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Exit status after an interruption (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Install the handlers (once per process; later calls do nothing).
pub fn install() -> io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag::{register, register_conditional_shutdown};
    // Registered first, so it sees the flag as it was before this signal: set = second one.
    register_conditional_shutdown(SIGINT, EXIT_INTERRUPTED, flag().clone())?;
    register(SIGINT, flag().clone())?;
    register(SIGTERM, flag().clone())?;
    let _ = INSTALLED.set(());
    Ok(())
}

/// True once Ctrl-C or SIGTERM arrived.
pub fn requested() -> bool {
    flag().load(Ordering::Acquire)
}
