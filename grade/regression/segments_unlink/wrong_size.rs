// WRONG (size): create() makes a segment of size bytes, forgetting the header before them.
// expect: fail DATA + size | made
//! Segments, exercise 3: remove the name as soon as every process has the segment.
//!
//! A segment whose name is removed (`shm_unlink`) stays usable in every process that has
//! it mapped, and its memory goes back to the system with the last mapping, however
//! that process ends: once the name is gone, even a process killed with `SIGKILL`
//! leaks nothing. So a group of processes that share one segment removes its name as
//! soon as all of them have it mapped, not when they end.
//!
//! One process calls `create`, the others call `open`; each of them, the creator too,
//! calls `arrive` once it has the segment mapped. The last of them to arrive removes
//! the name. The grader plays the creator itself and starts the other parties one by
//! one, looking for the name after every arrival; then it writes a value that every
//! party must read through its mapping, with the name gone. Last, several parties
//! arrive at the same moment.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context};
use shared_memory::{Shmem, ShmemConf};

// ANCHOR: header
/// The start of the segment. The parties' own bytes follow, from offset [`DATA`].
#[repr(C)]
pub struct Header {
    /// How many processes share the segment, the creator included (set by `create`).
    pub parties: AtomicU32,
    /// How many of them have called `arrive` so far.
    pub arrived: AtomicU32,
}

/// Where the parties' own bytes start.
pub const DATA: usize = 8;

/// The header of a segment `create` made (at least [`DATA`] bytes long).
pub fn header(shm: &Shmem) -> &Header {
    assert!(
        shm.len() >= DATA,
        "a segment of {} bytes has no header",
        shm.len()
    );
    // SAFETY: the mapping is page-aligned and at least DATA (8) bytes long; a Header
    // is two AtomicU32, valid for every bit pattern; the reference borrows `shm`.
    unsafe { &*shm.as_ptr().cast::<Header>() }
}
// ANCHOR_END: header

// ANCHOR: task
/// Creates the segment `name`, with `size` bytes after the header, for `parties`
/// processes (this one included). The name must stay until the last party arrives.
pub fn create(name: &str, size: usize, parties: u32) -> anyhow::Result<Shmem> {
    let mut shm = ShmemConf::new()
        .size(size)
        .os_id(name)
        .create()
        .map_err(shmbook::os::explain)
        .with_context(|| format!("creating {name}"))?;
    header(&shm).parties.store(parties, Ordering::Release);
    // The name is removed by the last `arrive`, not when this handle drops (which would
    // remove it a second time, maybe another process's segment by then).
    shm.set_owner(false);
    Ok(shm)
}

/// Opens the segment `name` that `create` made in another process.
pub fn open(name: &str) -> anyhow::Result<Shmem> {
    let shm = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(shmbook::os::explain)
        .with_context(|| format!("opening {name}"))?;
    if shm.len() < DATA {
        bail!("{name} has {} bytes: no room for a header", shm.len());
    }
    Ok(shm)
}

/// Counts this process in, once it has the segment mapped. The last party to arrive
/// removes the name at once; every mapping stays usable. Returns whether this call
/// removed it.
pub fn arrive(shm: &Shmem) -> anyhow::Result<bool> {
    let h = header(shm);
    // fetch_add tells each caller its own place: exactly one of them is the last.
    let now = h.arrived.fetch_add(1, Ordering::AcqRel) + 1;
    let parties = h.parties.load(Ordering::Acquire);
    if now < parties {
        return Ok(false);
    }
    if now > parties {
        bail!("arrival {now} of {parties} parties: one arrived twice");
    }
    let name = shm.get_os_id();
    shmbook::os::shm_unlink(name).with_context(|| format!("removing the name {name}"))?;
    Ok(true)
}
// ANCHOR_END: task
