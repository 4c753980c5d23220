//! Section "From Python: NumPy on the same segment": NumPy reads an array this program
//! made, and this program reads an array NumPy made.

use anyhow::Result;
use shmbook::cleanup::{self, Resource};
use shmbook::process::describe;
use shmbook::python::Python;
use shmbook::{names, os, PROCESS_TIMEOUT};

use crate::layout::{
    create_array, elements, open_array, open_segment, publish, sin_of_index, yes_no,
};

// ANCHOR: python_reads
/// `mode`: the script's `--naive` or `--close-early`, or neither.
pub fn reads(mode: Option<&str>) -> Result<()> {
    let n = 1000;
    let name = names::unique("arrays");
    let shmem = create_array::<f64>(&name, n)?;
    let array = elements::<f64>(&shmem)?;
    // SAFETY: nothing is published yet; no other process has the segment.
    sin_of_index(0..n, unsafe { array.range_mut(0..n) });
    publish(&shmem);
    println!("rust:   created the segment: {n} f64 after the header; starting python3");
    let mut args = vec![name.as_str()];
    args.extend(mode);
    let script = "read_array.py";
    let python = Python::spawn(script, &args)?.finish(PROCESS_TIMEOUT)?;
    if mode == Some("--close-early") {
        // The script is meant to crash: show how it ended instead of failing.
        python.print();
        println!("rust:   python3 ended: {}", describe(python.status));
    } else {
        python.ok(script)?.print();
    }
    let exists = yes_no(os::shm_exists(&name)?);
    println!("rust:   python3 has exited; the segment still exists: {exists}");
    Ok(())
}
// ANCHOR_END: python_reads

// ANCHOR: python_writes
pub fn writes(n: usize) -> Result<()> {
    let name = names::unique("arrays");
    // Python adds the leading slash itself: it gets the name without it.
    let bare = name.trim_start_matches('/');
    let script = "make_array.py";
    let mut py = Python::spawn(script, &[bare, &n.to_string()])?;
    println!("python: {}", py.read_line(PROCESS_TIMEOUT)?);
    // Python made the segment: should it be killed, we remove it.
    let _guard = cleanup::adopt(Resource::Segment(name.clone()));

    let shmem = open_segment(&name)?;
    let array = open_array::<u64>(&shmem)?;
    // SAFETY: Python wrote the elements before it printed its line, and it writes
    // nothing more.
    let mut squares = unsafe { array.as_slice() }.iter().enumerate();
    let squares = yes_no(squares.all(|(i, &v)| v == (i as u64) * (i as u64)));
    let (bytes, len) = (shmem.len(), array.len);
    println!("rust:   opened it: {bytes} bytes, {len} u64; every element is i*i: {squares}");
    drop(shmem);
    py.send_line("done")?;
    py.finish(PROCESS_TIMEOUT)?.ok(script)?.print();
    let exists = yes_no(os::shm_exists(&name)?);
    println!("rust:   the segment exists: {exists}");
    Ok(())
}
// ANCHOR_END: python_writes
