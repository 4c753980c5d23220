//! What processes give that threads do not: a crash stays inside its process.

use anyhow::Result;
use shmbook::helper::{self, Helper};
use shmbook::PROCESS_TIMEOUT;

// ANCHOR: isolation
pub fn run() -> Result<()> {
    // A panic in a thread unwinds that thread only: join() reports it as an error.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // keep the panic's message out of the output
    let joined = std::thread::spawn(|| -> u64 { panic!("a bug in a worker thread") }).join();
    std::panic::set_hook(hook);
    let what = if joined.is_err() {
        "an error"
    } else {
        "a value"
    };
    println!("a thread panicked: join() returned {what}; this process carries on");

    // An abort (or a segmentation fault) in a thread ends its whole process.
    let crashed = Helper::spawn("_crash", &[])?.wait(PROCESS_TIMEOUT)?;
    println!(
        "the helper process was {}; its other thread died with it",
        helper::describe(crashed.status)
    );
    println!("this process, a separate one, carries on");
    Ok(())
}

pub fn crash() -> Result<()> {
    // A thread with work that would go on for a second...
    let worker = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(1)));
    println!("helper: two threads; one of them aborts now");
    // ...and one that aborts, as a failed C library or an out-of-memory abort would.
    let _ = std::thread::spawn(|| std::process::abort()).join();
    let _ = worker.join();
    anyhow::bail!("unreachable: the abort ends the process")
}
// ANCHOR_END: isolation
