// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's
// repository edit solutions/ instead. Students: this file is yours to complete.

//! Alternatives, exercise 1: send arrays through a pipe, framed.
//!
//! A pipe carries bytes, not messages: one `write` may arrive as several `read`s, and
//! several writes as one. To send arrays, frame them: first the number of elements as
//! a `u64` in little-endian, then each element as a little-endian `u64`. The grader
//! sends frames in both directions, a few bytes at a time and through real pipes,
//! including an empty frame and one larger than the pipe's buffer, and streams that end
//! inside a frame or claim more than they hold.

use std::io::{self, Read, Write};

// ANCHOR: task
/// Writes one frame: `values.len()` as a little-endian `u64`, then the values.
pub fn write_frame(out: &mut impl Write, values: &[u64]) -> io::Result<()> {
    todo!("write the length, then the values, all little-endian u64")
}

/// Reads one frame. `Ok(None)` when the stream ends cleanly before a frame; a stream
/// that ends inside a frame is an error (`io::ErrorKind::UnexpectedEof`).
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u64>>> {
    todo!("read the length (None at a clean end), then exactly that many values")
}
// ANCHOR_END: task
