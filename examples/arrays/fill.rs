//! Section "Filling in parallel": helper processes fill disjoint ranges of one array.

use std::ops::Range;

use anyhow::{ensure, Result};
use shmbook::helper::Helper;
use shmbook::{names, PROCESS_TIMEOUT};

use crate::layout::{count_sin, create_array, open_array, open_segment, publish, sin_of_index};

// ANCHOR: fill
/// The k-th of `workers` ranges of 0..n: sizes differ by at most one, none is lost.
pub fn share(n: usize, workers: usize, k: usize) -> Range<usize> {
    n * k / workers..n * (k + 1) / workers
}

pub fn run(n: usize, workers: usize) -> Result<()> {
    let name = names::unique("arrays");
    let shmem = create_array::<f64>(&name, n)?;
    publish(&shmem); // the header is ready; the helpers write the elements
    println!("{workers} helpers fill {n} elements with sin(i):");
    let mut helpers = Vec::new();
    for k in 0..workers {
        let r = share(n, workers, k);
        let (start, end, len) = (r.start, r.end, r.len());
        println!("  helper {}: {start}..{end} ({len} elements)", k + 1);
        helpers.push(start_filler(&name, r)?);
    }
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    let array = open_array::<f64>(&shmem)?;
    // SAFETY: every helper has exited; nobody writes any more.
    let wrong = n - count_sin(unsafe { array.as_slice() });
    println!("parent: checked all {n} elements; wrong ones: {wrong}");
    ensure!(wrong == 0, "{wrong} elements are not sin(i)");
    Ok(())
}
// ANCHOR_END: fill

/// Starts `arrays _fill NAME START END`.
pub fn start_filler(name: &str, r: Range<usize>) -> Result<Helper> {
    Helper::spawn("_fill", &[name, &r.start.to_string(), &r.end.to_string()])
}

// ANCHOR: fill_range
pub fn fill_range(name: &str, range: Range<usize>) -> Result<()> {
    let shmem = open_segment(name)?; // refuses a FIFO, a directory, a missing name
    let array = open_array::<f64>(&shmem)?; // its length comes from the checked header
    let len = array.len;
    ensure!(
        range.start <= range.end && range.end <= len,
        "{range:?} is not in 0..{len}"
    );
    // SAFETY: the parent gives every helper a disjoint range and reads nothing until
    // all helpers have exited, so this slice is the only access to its elements.
    sin_of_index(range.clone(), unsafe { array.range_mut(range) });
    Ok(())
}
// ANCHOR_END: fill_range
