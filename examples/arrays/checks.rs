//! Section "Checked, never garbage": opening segments that are not the expected array.

use std::mem::offset_of;

use anyhow::{Context, Result};
use shared_memory::{Shmem, ShmemConf};
use shmbook::cleanup::{self, Tracked};
use shmbook::{names, os};

use crate::layout::{create_array, open_array, publish, Header};

// ANCHOR: checks
pub fn run() -> Result<()> {
    let text = plain_segment(4096)?;
    // SAFETY: this process alone uses the segment, which holds at least 16 bytes.
    unsafe { text.as_ptr().copy_from(b"hello, I am text".as_ptr(), 16) };
    report("a segment holding text", &text);
    let tiny = plain_segment(16)?;
    report("a 16-byte segment", &tiny);

    let u = create_array::<u64>(&names::unique("arrays"), 8)?;
    publish(&u);
    report("an array of u64", &u);

    let v2 = create_array::<f64>(&names::unique("arrays"), 8)?;
    // SAFETY: this process alone uses the segment; the field is inside the header.
    unsafe { (v2.as_ptr().add(offset_of!(Header, version)) as *mut u32).write(2) };
    publish(&v2);
    report("a newer layout", &v2);

    let cut = create_array::<f64>(&names::unique("arrays"), 8)?;
    // SAFETY: as above, for the `len` field.
    unsafe { (cut.as_ptr().add(offset_of!(Header, len)) as *mut u64).write(1000) };
    publish(&cut);
    report("a header claiming 1000", &cut);
    Ok(())
}

fn report(what: &str, shmem: &Shmem) {
    match open_array::<f64>(shmem) {
        Ok(a) => println!("{what:<24} opened as {} f64", a.len),
        Err(e) => println!("{what:<24} error: {e:#}"),
    }
}
// ANCHOR_END: checks

/// A segment of `size` bytes that is not an array, removed on every way out.
fn plain_segment(size: usize) -> Result<Tracked<Shmem>> {
    let name = names::unique("arrays");
    cleanup::segment(&name, || ShmemConf::new().size(size).os_id(&name).create())
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))
}
