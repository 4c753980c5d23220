// WRONG (partial): one read() per word, taken to fill it.
// expect: fail 5 bytes
//! Alternatives, exercise 1: send arrays through a pipe, framed.
//!
//! A pipe carries bytes, not messages: one `write` may arrive as several `read`s, and
//! several writes as one. To send arrays, frame them: first the number of elements as
//! a `u64` in little-endian, then each element as a little-endian `u64`. The grader
//! sends frames through a real pipe between two processes, in both directions, a few
//! bytes at a time, including an empty frame and one larger than the pipe's buffer.

use std::io::{self, Read, Write};

// ANCHOR: task
/// Writes one frame: `values.len()` as a little-endian `u64`, then the values.
pub fn write_frame(out: &mut impl Write, values: &[u64]) -> io::Result<()> {
    out.write_all(&(values.len() as u64).to_le_bytes())?;
    let mut bytes = Vec::with_capacity(values.len() * 8);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&bytes)
}

/// Reads one frame. `Ok(None)` when the stream ends cleanly before a frame; a stream
/// that ends inside a frame is an error (`io::ErrorKind::UnexpectedEof`).
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u64>>> {
    let mut word = [0u8; 8];
    // The first byte decides between "clean end" and "a frame follows".
    if input.read(&mut word)? == 0 {
        return Ok(None);
    }
    let len = u64::from_le_bytes(word);
    let mut values = Vec::new();
    for _ in 0..len {
        input.read(&mut word)?;
        values.push(u64::from_le_bytes(word));
    }
    Ok(Some(values))
}
// ANCHOR_END: task
