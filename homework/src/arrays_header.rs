// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's
// repository edit solutions/ instead. Students: this file is yours to complete.

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
    todo!("open the segment, validate its Header, then sum the elements")
}
// ANCHOR_END: task
