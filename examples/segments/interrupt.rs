//! Ctrl-C removes what the example made: create through `cleanup::segment`.

use std::time::Duration;

use anyhow::{Context, Result};
use shared_memory::ShmemConf;
use shmbook::{cleanup, names, os};

use crate::create::put;

// ANCHOR: hold
pub fn hold(name: Option<String>, seconds: u64) -> Result<()> {
    let name = name.unwrap_or_else(|| names::unique("hold"));
    // Created and registered as one step: from here on, Ctrl-C removes it too.
    let mut shmem = cleanup::segment(&name, || ShmemConf::new().size(4096).os_id(&name).create())
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))?;
    put(&mut shmem, 0, "held by `segments hold`")?;
    println!("holding {name} for {seconds} s; Ctrl-C ends it early and removes it too");
    std::thread::sleep(Duration::from_secs(seconds));
    println!("time is up; the owner's drop removes {name}");
    Ok(())
}
// ANCHOR_END: hold
