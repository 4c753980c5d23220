//! Chapter "Sizing": how big a segment is, how much memory it takes, and what happens
//! at and beyond its end.
//!
//! Run `cargo run --example sizing -- --help` for the subcommands. The helper roles
//! (`_beyond`, `_full`, `_resident`, `_follow`) are this same program started again.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context, Result};
use shared_memory::{Shmem, ShmemConf, ShmemError};
use shmbook::cli::{self, SegmentName};
use shmbook::helper::{self, Helper};
use shmbook::{names, os, wait, PROCESS_TIMEOUT};

const USAGE: cli::Usage = cli::Usage {
    program: "sizing",
    about: "segment sizes, pages, lazy memory, SIGBUS and a full /dev/shm",
    commands: &[
        (
            "table",
            "requested size, len(), pages and memory reserved for 1, 4096, 4097, 20000 bytes",
        ),
        ("zero", "a segment of size 0 is an error"),
        (
            "opener",
            "an opener gets the creator's size, whatever it asks",
        ),
        (
            "lazy [--pages N]",
            "memory is taken only as pages are touched (Linux)",
        ),
        (
            "beyond",
            "the last page is usable to its end; the page after it is SIGBUS",
        ),
        (
            "full",
            "a full /dev/shm: SIGBUS on first touch, and failing early (Linux)",
        ),
        (
            "grow",
            "a segment cannot grow in place: move to a bigger one",
        ),
        ("_beyond NAME", ""),
        ("_full", ""),
        ("_resident NAME", ""),
        ("_follow NAME", ""),
    ],
};

fn main() -> std::process::ExitCode {
    cli::main(&USAGE, |command, mut args| match command {
        "lazy" => {
            let pages: usize = args.value_or("--pages", 256)?;
            if !(64..=1 << 20).contains(&pages) {
                return Err(args
                    .invalid("--pages must be between 64 and 1048576")
                    .into());
            }
            args.finish()?;
            lazy(pages)
        }
        "_beyond" | "_resident" | "_follow" => {
            let SegmentName(name) = args.positional("NAME")?;
            args.finish()?;
            match command {
                "_beyond" => beyond_helper(&name),
                "_resident" => resident_helper(&name),
                _ => follow(&name),
            }
        }
        _ => {
            args.finish()?;
            match command {
                "table" => table(),
                "zero" => zero(),
                "opener" => opener(),
                "beyond" => beyond(),
                "full" => full(),
                "_full" => full_helper(),
                "grow" => grow(),
                _ => unreachable!("cli::main accepts only the commands in USAGE"),
            }
        }
    })
}

fn create(name: &str, size: usize) -> Result<Shmem> {
    ShmemConf::new()
        .size(size)
        .os_id(name)
        .create()
        .map_err(os::explain)
        .with_context(|| format!("creating {name} ({size} bytes)"))
}

fn open(name: &str) -> Result<Shmem> {
    ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

// ANCHOR: table
fn table() -> Result<()> {
    let page = os::page_size(); // asked from the system: sysconf(_SC_PAGESIZE)
    println!("page size on this system: {page} bytes");
    println!("requested  len()  pages  bytes reserved");
    for requested in [1, 4096, 4097, 20000] {
        let name = names::unique("sizing");
        let mut shmem = create(&name, requested)?;
        let pages = shmem.len().div_ceil(page);
        // SAFETY: this process created the segment and no other process knows its
        // name, so nothing else reads or writes it while this slice lives.
        unsafe { shmem.as_slice_mut() }.fill(1); // touch every byte of len()
        println!(
            "{:<10} {:<6} {:<6} {}",
            requested,
            shmem.len(),
            pages,
            reserved_bytes(&name)?
        );
    }
    Ok(())
}

/// The memory a segment holds in /dev/shm right now: the file's allocated blocks.
#[cfg(target_os = "linux")]
fn reserved_bytes(name: &str) -> Result<String> {
    let fd = raw_open(name)?;
    // SAFETY: all-zero bytes are a valid `libc::stat`; `fd` is an open descriptor we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open, `st` is a writable stat.
    let rc = unsafe { libc::fstat(fd.0, &mut st) };
    if rc != 0 {
        bail!("fstat {name}: {}", std::io::Error::last_os_error());
    }
    Ok(format!("{}", st.st_blocks * 512)) // st_blocks counts 512-byte units
}

#[cfg(not(target_os = "linux"))]
fn reserved_bytes(_name: &str) -> Result<String> {
    Ok("(measuring it is not supported on this system)".into())
}
// ANCHOR_END: table

/// A file descriptor closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is open and owned by this guard; nothing uses it after.
        unsafe { libc::close(self.0) };
    }
}

/// `shm_open(name, O_RDWR)`: a descriptor for a segment that exists.
fn raw_open(name: &str) -> Result<Fd> {
    let c = std::ffi::CString::new(name)?;
    // SAFETY: `c` is a valid NUL-terminated string; without O_CREAT the mode is unused.
    let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDWR, 0) };
    if fd < 0 {
        bail!("shm_open({name}): {}", std::io::Error::last_os_error());
    }
    Ok(Fd(fd))
}

// ANCHOR: zero
fn zero() -> Result<()> {
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
fn opener() -> Result<()> {
    let name = names::unique("sizing");
    let shmem = create(&name, 20000)?;
    println!("creator: {} bytes", shmem.len());
    for asked in [1, 20000, 1 << 20] {
        let opened = ShmemConf::new()
            .os_id(&name)
            .size(asked) // ignored by open()
            .open()
            .map_err(os::explain)?;
        println!(
            "opener asking for {asked:>7} bytes: len() = {}",
            opened.len()
        );
    }
    Ok(())
}
// ANCHOR_END: opener

#[cfg(not(target_os = "linux"))]
fn lazy(_pages: usize) -> Result<()> {
    println!("lazy: not supported on this system (it reads /proc/self/smaps)");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn resident_helper(_name: &str) -> Result<()> {
    lazy(0)
}

// ANCHOR: lazy
#[cfg(target_os = "linux")]
fn lazy(pages: usize) -> Result<()> {
    let page = os::page_size();
    let name = names::unique("sizing");
    let shmem = create(&name, pages * page)?;
    let base = shmem.as_ptr();
    let show = |who: &str| -> Result<()> {
        println!(
            "{who:<28} resident pages here: {:>3}; in /dev/shm: {:>3}",
            resident_pages(base as usize, page)?,
            reserved_bytes(&name)?.parse::<usize>()? / page
        );
        Ok(())
    };
    println!("created a segment of {pages} pages of {page} bytes");
    show("after create:")?;
    // SAFETY: offset 0 is inside the mapping; no other process uses the segment yet.
    unsafe { base.write(1) };
    show("after writing 1 byte:")?;
    for p in 0..pages / 4 {
        // SAFETY: p * page < pages * page: inside the mapping; still ours alone.
        unsafe { base.add(p * page).write(1) };
    }
    show("after 1 byte in each of 1/4:")?;
    Helper::spawn("_resident", &[&name])?.wait_ok(PROCESS_TIMEOUT)?;
    Ok(())
}

/// A second process maps the same segment: its own resident count starts at zero,
/// and reading pages the first process already touched adds nothing to /dev/shm.
#[cfg(target_os = "linux")]
fn resident_helper(name: &str) -> Result<()> {
    let page = os::page_size();
    let shmem = open(name)?;
    let base = shmem.as_ptr();
    let here = |s: &Shmem| resident_pages(s.as_ptr() as usize, page);
    println!("helper: mapped it; resident pages here: {}", here(&shmem)?);
    // SAFETY: offset 0 is inside the mapping; the creator waits for this helper and
    // does not write meanwhile, so this read races with nothing.
    let first = unsafe { base.read_volatile() };
    println!(
        "helper: read 1 byte ({first}) of page 0; resident pages here: {}",
        here(&shmem)?
    );
    let quarter = shmem.len() / page / 4;
    let mut sum = 0u64;
    for p in 0..quarter {
        // SAFETY: inside the mapping; the creator waits for this helper and does not
        // write meanwhile, so this read races with nothing.
        sum += u64::from(unsafe { base.add(p * page).read() });
    }
    println!(
        "helper: read those {quarter} pages (sum {sum}); resident pages here: {}; in /dev/shm: {}",
        here(&shmem)?,
        reserved_bytes(name)?.parse::<usize>()? / page
    );
    Ok(())
}

/// How many pages of the mapping that starts at `start` are in this process's memory,
/// from the `Rss:` line of its entry in /proc/self/smaps (in kB).
#[cfg(target_os = "linux")]
fn resident_pages(start: usize, page: usize) -> Result<usize> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").context("reading /proc/self/smaps")?;
    let header = format!("{start:x}-");
    let mut in_entry = false;
    for line in smaps.lines() {
        if line.starts_with(|c: char| c.is_ascii_hexdigit()) && line.contains('-') {
            in_entry = line.starts_with(&header);
        } else if in_entry {
            if let Some(kb) = line.strip_prefix("Rss:") {
                let kb: usize = kb.trim().trim_end_matches("kB").trim().parse()?;
                return Ok(kb * 1024 / page);
            }
        }
    }
    bail!("no mapping at {start:#x} in /proc/self/smaps")
}
// ANCHOR_END: lazy

// ANCHOR: beyond
fn beyond() -> Result<()> {
    let page = os::page_size();
    let name = names::unique("sizing");
    let shmem = create(&name, page + 1)?;
    let mapped = shmem.len().div_ceil(page) * page;
    println!(
        "created {} bytes (one page and one byte); mapped: {} pages",
        shmem.len(),
        mapped / page
    );
    let last = shmem.as_ptr().wrapping_add(mapped - 1);
    // SAFETY: `last` is the final byte of the mapping's last page: mmap maps whole
    // pages, so it is inside the mapping although it is past len(). Nobody else uses
    // the segment yet.
    let before = unsafe { last.read() };
    // SAFETY: the same byte, inside the mapping; still no other process has it.
    unsafe { last.write(7) };
    println!(
        "byte {} (past len(), same page): read {before}, wrote 7: fine",
        mapped - 1
    );
    let helper = Helper::spawn("_beyond", &[&name])?.wait(PROCESS_TIMEOUT)?;
    println!("the helper ended: {}", helper::describe(helper.status));
    // Grow the segment to whole pages: the stray byte is now inside it.
    let fd = raw_open(&name)?;
    // SAFETY: `fd` is an open descriptor of the segment; ftruncate only sets its size.
    if unsafe { libc::ftruncate(fd.0, mapped as libc::off_t) } != 0 {
        bail!("ftruncate: {}", std::io::Error::last_os_error());
    }
    let mut byte = 0u8;
    // SAFETY: `byte` is one writable byte and pread writes at most 1 byte into it.
    let n = unsafe { libc::pread(fd.0, (&raw mut byte).cast(), 1, (mapped - 1) as libc::off_t) };
    if n != 1 {
        bail!("pread: {}", std::io::Error::last_os_error());
    }
    println!(
        "grown to {mapped} bytes with ftruncate: byte {} reads {byte}",
        mapped - 1
    );
    Ok(())
}

/// Maps one page more than the segment holds, as a process does that assumes a size
/// (or that mapped a segment someone then made smaller), and touches that page.
fn beyond_helper(name: &str) -> Result<()> {
    let page = os::page_size();
    let fd = raw_open(name)?;
    let len = 3 * page;
    // SAFETY: a fresh shared mapping of `fd` at an address the kernel picks; mmap
    // allows a length past the end of the object. The mapping is never unmapped: the
    // process dies below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.0,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        bail!("mmap: {}", std::io::Error::last_os_error());
    }
    let p = p as *mut u8;
    // SAFETY: offset 2 * page - 1 lies in the segment's second (last) page.
    let v = unsafe { p.add(2 * page - 1).read_volatile() };
    println!("helper: mapped 3 pages of it; the last byte of page 2 reads {v}");
    println!("helper: now reading the first byte of page 3, wholly past the segment");
    // SAFETY: this read is *meant* to fault: the address is mapped, but no page of the
    // segment backs it, so the kernel sends SIGBUS and the process dies. No Rust
    // value is created from memory that could be invalid: the process never returns.
    let v = unsafe { p.add(2 * page).read_volatile() };
    bail!("reading past the segment did not fault (read {v})")
}
// ANCHOR_END: beyond

// ANCHOR: full
#[cfg(target_os = "linux")]
fn full() -> Result<()> {
    let (size, free) = dev_shm_space()?;
    println!("/dev/shm (tmpfs) on this machine: {size} bytes, {free} free");
    let want = size + (1 << 30);
    match create_reserved(&names::unique("sizing"), want) {
        Ok(_) => bail!("reserving {want} bytes in /dev/shm succeeded"),
        Err(e) => println!("asking for 1 GiB more than that: error: {e:#}"),
    }
    println!("a helper mounts a private /dev/shm of 16 pages (its own mount namespace):");
    let status = Helper::spawn("_full", &[])?.wait(PROCESS_TIMEOUT)?.status;
    println!("the helper ended: {}", helper::describe(status));
    Ok(())
}

/// Creates a segment and makes the system reserve all of its pages at once, so that
/// a full /dev/shm is an error here instead of a SIGBUS at some later first touch.
#[cfg(target_os = "linux")]
fn create_reserved(name: &str, size: usize) -> Result<Shmem> {
    let shmem = create(name, size)?; // succeeds: sizing reserves nothing
    let fd = raw_open(name)?;
    // SAFETY: `fd` is an open descriptor of the segment; posix_fallocate reads nothing
    // from our memory.
    let rc = unsafe { libc::posix_fallocate(fd.0, 0, size as libc::off_t) };
    if rc != 0 {
        // Dropping `shmem` (the owner) removes the segment again.
        bail!(
            "no room in /dev/shm for {size} bytes ({}, posix_fallocate)",
            os::errno_name(rc)
        );
    }
    Ok(shmem)
}

/// The size of /dev/shm and its free bytes, as `df /dev/shm` shows them.
#[cfg(target_os = "linux")]
fn dev_shm_space() -> Result<(usize, usize)> {
    // SAFETY: all-zero bytes are a valid statvfs (plain integers).
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a NUL-terminated literal and `st` is writable.
    if unsafe { libc::statvfs(c"/dev/shm".as_ptr(), &mut st) } != 0 {
        bail!("statvfs /dev/shm: {}", std::io::Error::last_os_error());
    }
    let unit = st.f_frsize as usize;
    Ok((st.f_blocks as usize * unit, st.f_bavail as usize * unit))
}

/// In a mount namespace of its own, mounts a 16-page tmpfs over /dev/shm (seen by this
/// process only, gone when it exits), then creates a 32-page segment in it and
/// touches it page by page.
#[cfg(target_os = "linux")]
fn full_helper() -> Result<()> {
    let page = os::page_size();
    private_dev_shm(16 * page)?;
    let name = names::unique("sizing");
    let shmem = create(&name, 32 * page)?;
    println!("helper: created a 32-page segment in it: no error");
    match create_reserved(&names::unique("sizing"), 32 * page) {
        Ok(_) => bail!("posix_fallocate found room for 32 pages in 16"),
        Err(e) => println!("helper: the same with posix_fallocate: error: {e:#}"),
    }
    for p in 0..32 {
        if p == 16 {
            println!("helper: without it, touched 16 pages; now touching page 17");
        }
        // SAFETY: inside the 32-page mapping. Page 17 has no room behind it: the
        // kernel answers the fault with SIGBUS and the process dies, by design here.
        unsafe { shmem.as_ptr().add(p * page).write_volatile(1) };
    }
    bail!("touched 32 pages in a 16-page tmpfs without a fault")
}

/// unshare(CLONE_NEWNS), then a small tmpfs mounted over /dev/shm, private to this
/// process. Needs root (CAP_SYS_ADMIN).
#[cfg(target_os = "linux")]
fn private_dev_shm(bytes: usize) -> Result<()> {
    if os::uid() != 0 {
        bail!("this part needs root: it mounts a private tmpfs over /dev/shm");
    }
    // SAFETY: unshare(CLONE_NEWNS) gives this process its own copy of the mount table;
    // it changes no memory, and other processes keep theirs.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        bail!(
            "cannot make a private /dev/shm here (unshare: {})",
            std::io::Error::last_os_error()
        );
    }
    let opts = std::ffi::CString::new(format!("size={bytes}"))?;
    // SAFETY: every pointer is a NUL-terminated string or null, as mount(2) expects.
    // The first call stops mounts from propagating out of the new namespace; the
    // second mounts over /dev/shm inside it only.
    let rc = unsafe {
        let private = libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        );
        if private != 0 {
            private
        } else {
            libc::mount(
                c"tmpfs".as_ptr(),
                c"/dev/shm".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                opts.as_ptr() as *const libc::c_void,
            )
        }
    };
    if rc != 0 {
        bail!(
            "mounting a private tmpfs: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn full() -> Result<()> {
    println!("full: not supported on this system (it needs Linux's tmpfs and namespaces)");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn full_helper() -> Result<()> {
    full()
}
// ANCHOR_END: full

// ANCHOR: grow
/// The first NOTE bytes of the segment in this demonstration: word 0 is the "moved"
/// flag, word 1 the helper's "opened" flag, bytes 16..48 the new segment's name.
const NOTE: usize = 64;
const MOVED: u32 = 1;
const OPENED: u32 = 1;

/// Word `i` (0 or 1) of the note, as an atomic.
fn flag(shmem: &Shmem, i: usize) -> &AtomicU32 {
    assert!(i < 2);
    // SAFETY: the mapping is page-aligned and at least NOTE bytes long, so word i is
    // aligned and inside it; the reference lives no longer than `shmem`; every process
    // accesses these words only atomically.
    unsafe { &*(shmem.as_ptr().add(4 * i) as *const AtomicU32) }
}

fn grow() -> Result<()> {
    let page = os::page_size();
    let old_name = names::unique("sizing");
    let mut old = create(&old_name, page)?;
    // SAFETY: no other process has the segment yet.
    let data = unsafe { &mut old.as_slice_mut()[NOTE..] };
    data.fill(42);
    println!("creator: a {}-byte segment, full of data", old.len());

    let follower = Helper::spawn("_follow", &[&old_name])?;
    wait::until("the helper to open the segment", PROCESS_TIMEOUT, || {
        flag(&old, 1).load(Ordering::Acquire) == OPENED
    })?;

    println!(
        "creator: needs {} bytes; a segment cannot grow in place",
        4 * page
    );
    let new_name = names::unique("sizing");
    let mut new = create(&new_name, 4 * page)?;
    // SAFETY: the new segment is not known to anyone yet; the old one is read only.
    unsafe { new.as_slice_mut()[..old.len()].copy_from_slice(old.as_slice()) };
    // SAFETY: bytes 16..48 are inside the mapping (names are at most 31 bytes) and
    // the helper reads them only after the Release store below, seen with Acquire.
    unsafe {
        let field = old.as_ptr().add(16);
        field.write_bytes(0, 32);
        field.copy_from_nonoverlapping(new_name.as_ptr(), new_name.len());
    }
    flag(&old, 0).store(MOVED, Ordering::Release);
    println!("creator: made a bigger one, copied the data, left its name in the old one");
    follower.wait_ok(PROCESS_TIMEOUT)?;
    drop(old); // the owner's drop removes the old segment
    println!(
        "creator: removed the old segment; it exists: {}",
        yes_no(os::shm_exists(&old_name)?)
    );
    Ok(())
}

fn follow(old_name: &str) -> Result<()> {
    let mut old = open(old_name)?;
    println!("helper:  opened the old segment: {} bytes", old.len());
    flag(&old, 1).store(OPENED, Ordering::Release);
    wait::until("the segment to move", PROCESS_TIMEOUT, || {
        flag(&old, 0).load(Ordering::Acquire) == MOVED
    })?;
    // SAFETY: written before the Release store we observed; nobody writes it again.
    let field = unsafe { &old.as_slice()[16..48] };
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let new_name = std::str::from_utf8(&field[..end])?.to_string();
    old.set_owner(false);
    drop(old);
    let new = open(&new_name)?;
    // SAFETY: the creator finished writing the new segment before publishing its name.
    let intact = unsafe { new.as_slice()[NOTE..new.len() / 4].iter().all(|&b| b == 42) };
    println!(
        "helper:  followed the note to the new segment: {} bytes, data intact: {}",
        new.len(),
        yes_no(intact)
    );
    Ok(())
}
// ANCHOR_END: grow
