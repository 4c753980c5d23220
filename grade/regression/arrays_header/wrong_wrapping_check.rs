// WRONG (bounds): checks the length in wrapping arithmetic, so a huge count wraps around.
// expect: fail wraps | overflow in count
//! Arrays, exercise 1: open an array another process made, and trust nothing.
//!
//! Another program writes a `Header` at the start of a segment, followed by `count`
//! numbers of type `u64`. A segment is just bytes: it may come from an older version of
//! that program, from a different program, or be cut short. The grader makes good
//! segments and broken ones; `sum` must add up the good ones and refuse the others
//! with an error — never read past the end, never panic. The writer has finished
//! before `sum` is called: nobody writes the segment while you read it.

use std::mem::size_of;

use anyhow::{bail, Context};
use shared_memory::ShmemConf;

// ANCHOR: header
/// The layout every writer and reader agrees on: `#[repr(C)]` fixes the field order
/// and padding, so both sides compute the same offsets.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    /// Always [`MAGIC`]: says "this is one of ours".
    pub magic: u64,
    /// Always [`VERSION`]: a reader refuses layouts it does not know.
    pub version: u32,
    /// The size of one element in bytes: 8 for `u64`.
    pub elem_size: u32,
    /// How many elements follow the header.
    pub count: u64,
}

/// "SHMBOOK1" read as a little-endian number.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SHMBOOK1");
/// The only layout version there is.
pub const VERSION: u32 = 1;
// ANCHOR_END: header

// ANCHOR: task
/// Opens the segment `name`, checks its header, and returns the (wrapping) sum of its
/// `count` elements. Any header that does not describe exactly this layout, or that
/// promises more elements than the segment holds, is an error.
pub fn sum(name: &str) -> anyhow::Result<u64> {
    let shm = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(shmbook::os::explain)
        .with_context(|| format!("opening {name}"))?;
    let len = shm.len();
    if len < size_of::<Header>() {
        bail!("{name}: {len} bytes cannot hold a header");
    }
    // SAFETY: the mapping is at least size_of::<Header>() bytes long and page-aligned,
    // so aligned for Header; every bit pattern is a valid Header (plain integers).
    let header = unsafe { std::ptr::read(shm.as_ptr().cast::<Header>()) };
    if header.magic != MAGIC {
        bail!("{name}: bad magic {:#x}", header.magic);
    }
    if header.version != VERSION {
        bail!("{name}: version {} is not {VERSION}", header.version);
    }
    if header.elem_size as usize != size_of::<u64>() {
        bail!("{name}: elements of {} bytes are not u64", header.elem_size);
    }
    let count = header.count as usize;
    let room = len / 8;
    if size_of::<Header>().wrapping_add(count.wrapping_mul(8)) > len {
        bail!("{name}: header promises {count} elements, the segment holds {room}");
    }
    // SAFETY: the elements start right after the 24-byte header, so they are 8-byte
    // aligned; `count` of them fit in the mapping (checked above), which lives as long
    // as `shm`; every bit pattern is a valid u64; and the writer has finished, so
    // nobody writes these bytes while the shared slice lives (the exercise's premise).
    let data = unsafe {
        std::slice::from_raw_parts(shm.as_ptr().add(size_of::<Header>()).cast::<u64>(), count)
    };
    Ok(data.iter().fold(0u64, |a, &x| a.wrapping_add(x)))
}
// ANCHOR_END: task
