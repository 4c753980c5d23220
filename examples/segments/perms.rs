//! Who may open a segment: its mode, and what the mode does not protect.

use anyhow::{Context, Result};
use shared_memory::ShmemConf;
use shmbook::{cleanup, names, os, yes_no};

// ANCHOR: perms
pub fn run() -> Result<()> {
    let name = names::unique("segments");
    let _shmem = cleanup::segment(&name, || ShmemConf::new().size(4096).os_id(&name).create())
        .map_err(os::explain)?;
    let st = os::shm_stat(&name)?.context("the segment vanished")?;
    println!("mode {:04o}: {}", st.mode, os::describe_mode(st.mode));
    let mine = yes_no(st.uid == os::uid());
    println!("owner is this process's user: {mine}");
    Ok(())
}
// ANCHOR_END: perms
