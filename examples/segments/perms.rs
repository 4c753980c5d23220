//! Who may open a segment: its mode, and what the mode does not protect.

use anyhow::{Context, Result};
use shared_memory::ShmemConf;
use shmbook::{cleanup, names, os};

use crate::create::yes_no;

// ANCHOR: perms
pub fn run() -> Result<()> {
    let name = names::unique("segments");
    let _shmem = cleanup::segment(&name, || ShmemConf::new().size(4096).os_id(&name).create())
        .map_err(os::explain)?;
    let st = os::shm_stat(&name)?.context("the segment vanished")?;
    println!("mode {:04o}: {}", st.mode, describe_mode(st.mode));
    let mine = yes_no(st.uid == os::uid());
    println!("owner is this process's user: {mine}");
    Ok(())
}
// ANCHOR_END: perms

/// "read and write for its owner, nothing for anyone else" for 0600, and so on.
fn describe_mode(mode: u32) -> String {
    let part = |bits: u32| match (bits & 4 != 0, bits & 2 != 0) {
        (true, true) => "read and write",
        (true, false) => "read only",
        (false, true) => "write only",
        (false, false) => "nothing",
    };
    let (owner, group, other) = (mode >> 6 & 7, mode >> 3 & 7, mode & 7);
    if group == 0 && other == 0 {
        format!("{} for its owner, nothing for anyone else", part(owner))
    } else {
        format!(
            "{} for its owner, {} for its group, {} for others",
            part(owner),
            part(group),
            part(other)
        )
    }
}
