//! Section "Ready: the race and the fix": a helper creates the array, the parent opens
//! it as soon as the name exists; first with the magic number stored too early.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use shared_memory::{Shmem, ShmemConf};
use shmbook::process::{describe, Child};
use shmbook::{names, wait, PROCESS_TIMEOUT};

use crate::layout::{count_sin, create_array, elements, open_array, publish, sin_of_index, stage};

// ANCHOR: race
const RACE_N: usize = 100_000;

pub fn run() -> Result<()> {
    for naive in [true, false] {
        if naive {
            println!("-- the creator publishes the header, then fills the array:");
        } else {
            println!("-- the creator fills the array, then publishes (Release):");
        }
        let name = names::unique("arrays");
        // The helper creates the segment, and removes it when it ends.
        let mut creator = start_creator(&name, naive)?;
        let shmem = open_when_created(&name, &mut creator)?;
        let array = open_array::<f64>(&shmem)?; // waits for the magic number (Acquire)
                                                // SAFETY: nobody writes the elements while we read: the naive creator waits for
                                                // our `stage` signal below before it fills them; the right one filled them
                                                // before publishing.
        let right = count_sin(unsafe { array.as_slice() });
        let len = array.len;
        println!("opener:  header checked: {len} f64; elements equal to sin(i): {right}");
        stage(&shmem).store(1, Ordering::Release); // lets the naive creator go on
        finish(creator)?;
    }
    Ok(())
}
// ANCHOR_END: race

/// Starts `arrays _init NAME [--naive]`: a helper that dies with this process.
fn start_creator(name: &str, naive: bool) -> Result<Child> {
    let mut cmd = Command::new(std::env::current_exe().context("finding this program")?);
    cmd.args(["_init", name]).stdin(std::process::Stdio::null());
    if naive {
        cmd.arg("--naive");
    }
    Child::spawn(&mut cmd).context("starting the creator")
}

/// Opens `name` once the creator has made it; fails at once if the creator ended first
/// (e.g. because the name was taken), and after [`PROCESS_TIMEOUT`] at the latest.
fn open_when_created(name: &str, creator: &mut Child) -> Result<Shmem> {
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    loop {
        // Fails while the name is missing, and while it is still 0 bytes long.
        if let Ok(shmem) = ShmemConf::new().os_id(name).open() {
            return Ok(shmem);
        }
        if let Some(status) = creator.try_wait().context("checking on the creator")? {
            bail!(
                "the creator ended ({}) before {name} could be opened",
                describe(status)
            );
        }
        ensure!(
            Instant::now() < deadline,
            "timed out waiting for the creator to make {name}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (bounded) for the creator to end, and requires that it succeeded.
fn finish(mut creator: Child) -> Result<()> {
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    match creator
        .wait_until(deadline)
        .context("waiting for the creator")?
    {
        Some(status) if status.success() => Ok(()),
        Some(status) => bail!("the creator failed ({})", describe(status)),
        None => bail!("the creator did not finish within 20 s; killed it"),
    }
}

// ANCHOR: init
pub fn init(name: &str, naive: bool) -> Result<()> {
    let shmem = create_array::<f64>(name, RACE_N)?; // ours: removed on every way out
    let array = elements::<f64>(&shmem)?;
    let opener_looked = || stage(&shmem).load(Ordering::Acquire) == 1;
    if naive {
        println!("creator: publishing the header, then filling {RACE_N} elements");
        publish(&shmem); // too early: the elements are still zeros
                         // Staging: wait until the opener has looked, so that every run shows the
                         // unlucky timing. Without this wait the outcome would vary from run to run.
        wait::until("the opener to look", PROCESS_TIMEOUT, opener_looked)?;
        // SAFETY: the opener has finished reading (it said so through `stage`).
        sin_of_index(0..RACE_N, unsafe { array.range_mut(0..RACE_N) });
        println!("creator: filled");
    } else {
        println!("creator: filling {RACE_N} elements, then publishing the header");
        // SAFETY: nothing is published yet, so no opener reads the elements.
        sin_of_index(0..RACE_N, unsafe { array.range_mut(0..RACE_N) });
        publish(&shmem);
    }
    // Keep the name until the opener has mapped and read the array.
    wait::until("the opener to finish", PROCESS_TIMEOUT, opener_looked)
}
// ANCHOR_END: init
