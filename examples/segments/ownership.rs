//! Who removes a segment: the owner's drop does, an opener's drop does not.

use anyhow::Result;
use shared_memory::ShmemConf;
use shmbook::{cleanup, names, os};

use crate::create::yes_no;

// ANCHOR: ownership
pub fn run() -> Result<()> {
    let name = names::unique("segments");
    // The guard removes the name however this function ends. It holds the Shmem in an
    // Option, so that the Shmem can be dropped before it.
    let mut guard = cleanup::segment(&name, || {
        ShmemConf::new().size(4096).os_id(&name).create().map(Some)
    })
    .map_err(os::explain)?;
    let mut shmem = guard.take().expect("create returned the Shmem");
    println!("creator: created {name}; is_owner() = {}", shmem.is_owner());

    let opener = ShmemConf::new().os_id(&name).open().map_err(os::explain)?;
    println!("opener:  opened it; is_owner() = {}", opener.is_owner());
    drop(opener);
    let exists = || os::shm_exists(&name).map(yes_no);
    println!("opener:  dropped it; {name} exists: {}", exists()?);

    shmem.set_owner(false); // give up ownership: the drop will not remove it
    drop(shmem);
    println!(
        "creator: set_owner(false), dropped it; exists: {}",
        exists()?
    );

    drop(guard); // shm_unlink, what an owner's drop would have done
    println!("guard:   removed it by name; exists: {}", exists()?);
    Ok(())
}
// ANCHOR_END: ownership
