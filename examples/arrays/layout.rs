//! Section "A header, then the elements": the header every array segment starts with,
//! creating and publishing an array, the checks every opener makes, and the views of
//! the elements. The other sections use these.

use std::marker::PhantomData;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use anyhow::{bail, ensure, Context, Result};
use bytemuck::{Pod, Zeroable};
use shared_memory::{Shmem, ShmemConf};
use shmbook::cleanup::{self, Tracked};
use shmbook::{names, os, wait, PROCESS_TIMEOUT};

// ANCHOR: header
/// "SHMARRAY" read as a little-endian u64: the first 8 bytes of every array segment.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SHMARRAY");
/// The layout this program writes and reads. A new layout gets a new number.
pub const VERSION: u32 = 1;
/// The header's size; the elements start right after it.
pub const HEADER: usize = 64;

/// The first 64 bytes of an array segment. `#[repr(C)]`: fields in this order, at
/// these offsets, in every language that reads it (Python: `struct "<QIIQQ"`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Header {
    pub magic: u64,       // MAGIC; written last, with Release: it is also the ready flag
    pub version: u32,     // VERSION
    pub elem: u32,        // what the elements are: Element::CODE
    pub len: u64,         // how many elements
    pub data_offset: u64, // where they start: HEADER
    pub stage: u32,       // used only by `race`, to stage an unlucky timing
    _reserved: [u32; 7],
}
const _: () = assert!(size_of::<Header>() == HEADER);
// ANCHOR_END: header

// ANCHOR: element
/// The element types a header can describe, by their code in `Header::elem`.
pub trait Element: Pod {
    const CODE: u32;
    const NAME: &'static str;
}
impl Element for f64 {
    const CODE: u32 = 1;
    const NAME: &'static str = "f64";
}
impl Element for u64 {
    const CODE: u32 = 2;
    const NAME: &'static str = "u64";
}
// ANCHOR_END: element

/// An element code as a reader wants to see it.
fn elem_name(code: u32) -> String {
    match code {
        f64::CODE => f64::NAME.into(),
        u64::CODE => u64::NAME.into(),
        other => format!("element type {other}"),
    }
}

/// The magic number as an atomic: the only header field read while it may change.
fn magic(shmem: &Shmem) -> &AtomicU64 {
    assert!(shmem.len() >= HEADER, "callers check the segment's length");
    // SAFETY: the mapping is page-aligned and at least HEADER bytes long (asserted); the
    // reference lives no longer than `shmem`; every process reads and writes these 8
    // bytes only atomically once the segment is shared.
    unsafe { &*(shmem.as_ptr() as *const AtomicU64) }
}

/// The `stage` field as an atomic (the race section's hand-over).
pub fn stage(shmem: &Shmem) -> &AtomicU32 {
    assert!(shmem.len() >= HEADER, "callers check the segment's length");
    let offset = std::mem::offset_of!(Header, stage);
    // SAFETY: as for `magic`: offset 32 is 4-byte aligned and inside the header; both
    // processes access it only atomically.
    unsafe { &*(shmem.as_ptr().add(offset) as *const AtomicU32) }
}

// ANCHOR: create
/// Creates the segment `name` for `len` elements of `T` and writes its header, all but
/// the magic number: the array is not ready until [`publish`]. The guard removes the
/// segment on every way out, Ctrl-C included.
pub fn create_array<T: Element>(name: &str, len: usize) -> Result<Tracked<Shmem>> {
    let size = len
        .checked_mul(size_of::<T>())
        .and_then(|b| b.checked_add(HEADER))
        .context("array too large")?;
    let shmem = cleanup::segment(name, || ShmemConf::new().size(size).os_id(name).create())
        .map_err(os::explain)
        .with_context(|| format!("creating {name} ({size} bytes)"))?;
    let header = Header {
        version: VERSION,
        elem: T::CODE,
        len: len as u64,
        data_offset: HEADER as u64,
        ..Zeroable::zeroed() // magic: 0, not ready
    };
    // Bytes 8..64 only: an opener may already be loading bytes 0..8 (the magic number,
    // still zero) atomically, so we leave them alone.
    let src = &bytemuck::bytes_of(&header)[8..];
    let dst = shmem.as_ptr().wrapping_add(8);
    // SAFETY: the mapping holds at least HEADER bytes; no opener reads bytes 8..64
    // before it has seen the magic number, which `publish` stores later.
    unsafe { dst.copy_from_nonoverlapping(src.as_ptr(), src.len()) };
    Ok(shmem)
}

/// Marks the array ready. Release: every write this process made before (header and
/// elements) is visible to a process that loads the magic number with Acquire.
pub fn publish(shmem: &Shmem) {
    magic(shmem).store(MAGIC, Ordering::Release);
}
// ANCHOR_END: create

// ANCHOR: open
/// Checks the header of `shmem` and returns its elements as `T`, waiting (bounded) for
/// the creator to publish it. Anything but a ready array of `T` is an error.
pub fn open_array<T: Element>(shmem: &Shmem) -> Result<Array<'_, T>> {
    ensure!(
        shmem.len() >= HEADER,
        "truncated: the segment has {} bytes, less than the {HEADER}-byte header",
        shmem.len()
    );
    let mut seen = 0;
    wait::until("the creator to publish the array", PROCESS_TIMEOUT, || {
        seen = magic(shmem).load(Ordering::Acquire);
        seen != 0
    })?;
    ensure!(
        seen == MAGIC,
        "not an array segment: its first 8 bytes are \"{}\", not \"SHMARRAY\"",
        seen.to_le_bytes().escape_ascii()
    );
    elements(shmem)
}
// ANCHOR_END: open

// ANCHOR: check
/// The checks of [`open_array`] without the wait: for the creator itself, and for an
/// opener once it has seen the magic number.
pub fn elements<T: Element>(shmem: &Shmem) -> Result<Array<'_, T>> {
    ensure!(shmem.len() >= HEADER, "truncated: smaller than the header");
    // SAFETY: the header's 64 bytes only, written before the Release store of the magic
    // number that this process saw with Acquire (or made); only `stage` changes later.
    let raw = unsafe { std::slice::from_raw_parts(shmem.as_ptr(), HEADER) };
    let h: Header = bytemuck::pod_read_unaligned(raw);
    let (version, len, offset) = (h.version, h.len as usize, h.data_offset as usize);
    ensure!(
        version == VERSION,
        "layout version {version}; this program reads version {VERSION}"
    );
    let (holds, wanted) = (elem_name(h.elem), T::NAME);
    ensure!(h.elem == T::CODE, "the array holds {holds}, not {wanted}");
    let bytes = len.checked_mul(size_of::<T>());
    let end = bytes.and_then(|b| b.checked_add(offset));
    ensure!(
        offset >= HEADER,
        "elements at offset {offset} overlap the header"
    );
    ensure!(
        end.is_some_and(|end| end <= shmem.len()),
        "truncated: the header says {len} {wanted} from offset {offset}, but the segment has {} bytes",
        shmem.len()
    );
    let ptr = shmem.as_ptr().wrapping_add(offset) as *mut T;
    ensure!(
        ptr.is_aligned(),
        "elements at offset {offset} are not aligned for {wanted}"
    );
    let _segment = PhantomData;
    Ok(Array { ptr, len, _segment })
}
// ANCHOR_END: check

// ANCHOR: view
/// A checked view of the elements of an array segment.
pub struct Array<'a, T> {
    ptr: *mut T,
    pub len: usize,
    _segment: PhantomData<&'a Shmem>,
}

impl<T: Element> Array<'_, T> {
    /// All elements, shared.
    ///
    /// # Safety
    /// No process may write any element while the slice lives.
    pub unsafe fn as_slice(&self) -> &[T] {
        // SAFETY: ptr/len describe elements inside the live mapping (checked by
        // `elements`); the caller promises that nobody writes them meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The elements in `range` (which must lie inside the array), exclusively.
    ///
    /// # Safety
    /// No other process or thread may read or write these elements while the slice
    /// lives (other ranges are fine: the slice covers only its own).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range_mut(&self, range: Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: the range is inside the elements (asserted); the caller promises
        // that this process is the only one touching it while the slice lives.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}
// ANCHOR_END: view

/// Opens the existing segment `name`; anything that is not a segment (a FIFO, a
/// directory) is refused before it is mapped.
pub fn open_segment(name: &str) -> Result<Shmem> {
    let context = || format!("opening {name}");
    os::shm_stat(name).with_context(context)?;
    let shmem = ShmemConf::new().os_id(name).open().map_err(os::explain);
    shmem.with_context(context)
}

/// "yes" or "no", as the transcripts print a bool.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Writes `sin(i)` for every `i` of `range` into `out`.
pub fn sin_of_index(range: Range<usize>, out: &mut [f64]) {
    for (slot, i) in out.iter_mut().zip(range) {
        *slot = (i as f64).sin();
    }
}

/// How many of `values` are, bit for bit, `sin(i)` of their index.
pub fn count_sin(values: &[f64]) -> usize {
    let same = |(i, v): (usize, &f64)| v.to_bits() == (i as f64).sin().to_bits();
    values.iter().enumerate().filter(|&iv| same(iv)).count()
}

// ANCHOR: layout
pub fn run() -> Result<()> {
    let shmem = create_array::<f64>(&names::unique("arrays"), 5)?;
    let array = elements::<f64>(&shmem)?;
    // SAFETY: nobody else knows the segment yet.
    sin_of_index(0..5, unsafe { array.range_mut(0..5) });
    publish(&shmem);

    let view = open_array::<f64>(&shmem)?;
    println!(
        "segment: {} bytes = {HEADER}-byte header + 5 f64 of 8 bytes",
        shmem.len()
    );
    let on_page = (shmem.as_ptr() as usize).is_multiple_of(os::page_size());
    let aligned = view.ptr.is_aligned();
    let (on_page, aligned) = (yes_no(on_page), yes_no(aligned));
    println!("mapping starts on a page boundary: {on_page}; elements 8-byte aligned: {aligned}");
    // SAFETY: nobody writes the array any more.
    println!("elements: {:.4?}", unsafe { view.as_slice() });
    // SAFETY: as above; these are the same bytes, read only.
    let bytes = unsafe { shmem.as_slice() };
    match bytemuck::try_cast_slice::<u8, f64>(&bytes[HEADER + 4..HEADER + 36]) {
        Ok(_) => bail!("a view 4 bytes off was accepted"),
        Err(e) => println!("viewing f64 from 4 bytes further on: {e:?}"),
    }
    Ok(())
}
// ANCHOR_END: layout
