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
    // STARTER: todo!("write the length, then the values, all little-endian u64")
    // SOLUTION: begin
    out.write_all(&(values.len() as u64).to_le_bytes())?;
    let mut bytes = Vec::with_capacity(values.len() * 8);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&bytes)
    // SOLUTION: end
}

/// Reads one frame. `Ok(None)` when the stream ends cleanly before a frame; a stream
/// that ends inside a frame is an error (`io::ErrorKind::UnexpectedEof`).
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u64>>> {
    // STARTER: todo!("read the length (None at a clean end), then exactly that many values")
    // SOLUTION: begin
    let mut word = [0u8; 8];
    // The first byte decides between "clean end" and "a frame follows".
    let mut got = 0;
    while got < 8 {
        match input.read(&mut word[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u64::from_le_bytes(word);
    let mut values = Vec::new();
    for _ in 0..len {
        input.read_exact(&mut word)?;
        values.push(u64::from_le_bytes(word));
    }
    Ok(Some(values))
    // SOLUTION: end
}
// ANCHOR_END: task
