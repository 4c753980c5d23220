//! Section "Size zero, and the opener's size": there is no default size, and an opener
//! maps what the creator made.

use anyhow::{bail, Result};
use shared_memory::{ShmemConf, ShmemError};
use shmbook::{os, sizing};

// ANCHOR: zero
pub fn run() -> Result<()> {
    match ShmemConf::new().size(0).create() {
        Err(e @ ShmemError::MapSizeZero) => println!("size(0): {e}"),
        Err(e) => bail!("expected MapSizeZero, got {e}"),
        Ok(_) => bail!("a segment of size 0 was created"),
    }
    match ShmemConf::new().create() {
        Err(e @ ShmemError::MapSizeZero) => println!("no size at all: {e}"),
        Err(e) => bail!("expected MapSizeZero, got {e}"),
        Ok(_) => bail!("a segment without a size was created"),
    }
    Ok(())
}
// ANCHOR_END: zero

// ANCHOR: opener
pub fn opener() -> Result<()> {
    let shmem = sizing::segment(20000)?;
    println!("creator: {} bytes", shmem.len());
    for asked in [1, 20000, 1 << 20] {
        let opened = ShmemConf::new()
            .os_id(shmem.get_os_id())
            .size(asked) // ignored by open()
            .open()
            .map_err(os::explain)?;
        let len = opened.len();
        println!("opener asking for {asked:>7} bytes: len() = {len}");
    }
    Ok(())
}
// ANCHOR_END: opener
