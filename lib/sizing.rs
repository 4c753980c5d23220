//! The Sizing chapter's plumbing: segments made and opened with context, a descriptor
//! of a segment for `fstat`, `ftruncate` and `posix_fallocate`, the space of
//! `/dev/shm`, a private tmpfs over `/dev/shm` for one process, and the resident pages
//! of a mapping (`/proc/self/smaps`).
//!
//! None of this is the chapter's lesson; its listings call these functions by name.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode, SFlag};
use shared_memory::Shmem;

use crate::cleanup::{self, Tracked};
use crate::os;

/// A new segment of `size` bytes under a name no one else uses ([`crate::names::unique`]),
/// removed when the returned guard drops and on Ctrl-C, `SIGTERM` or `SIGHUP`
/// ([`cleanup::segment`]). Its name is `get_os_id()`.
pub fn segment(size: usize) -> Result<Tracked<Shmem>> {
    cleanup::unique_segment("sizing", size)
}

/// Opens the segment `name` that another process made (one function for the whole
/// book: [`os::open_segment`]).
pub use crate::os::open_segment as open;

/// A read-write descriptor of the segment `name` (`shm_open` without `O_CREAT`).
///
/// Never blocks (`O_NONBLOCK`: a FIFO someone put at the name would otherwise wait for
/// a writer), and refuses anything but a regular file.
pub fn shm_fd(name: &str) -> Result<OwnedFd> {
    let fd = nix::sys::mman::shm_open(name, OFlag::O_RDWR | OFlag::O_NONBLOCK, Mode::empty())
        .map_err(|e| anyhow::anyhow!("shm_open {name}: {}", describe(e)))?;
    let st = fstat(fd.as_fd()).with_context(|| format!("fstat {name}"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        bail!("{name} is not a shared-memory segment (not a regular file)");
    }
    Ok(fd)
}

/// How many whole pages of `page` bytes the segment behind `fd` spans, from its real
/// size (`fstat`); an empty segment is an error.
pub fn whole_pages(fd: impl AsFd, page: usize) -> Result<usize> {
    let size = fstat(fd.as_fd()).context("fstat")?.st_size;
    match usize::try_from(size) {
        Ok(size) if size > 0 => Ok(size.div_ceil(page)),
        _ => bail!("the segment has no size ({size} bytes)"),
    }
}

/// `ENOENT` as "ENOENT (no segment has this name)".
fn describe(e: Errno) -> String {
    match e {
        Errno::ENOENT => "ENOENT (no segment has this name)".into(),
        Errno::EACCES => "EACCES (permission denied)".into(),
        e => format!("{e:?} ({})", e.desc()),
    }
}

/// The size of `/dev/shm` and its free bytes, as `df /dev/shm` shows them.
#[cfg(target_os = "linux")]
pub fn dev_shm_space() -> Result<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs("/dev/shm").context("statvfs /dev/shm")?;
    let unit = st.fragment_size() as u64;
    Ok((
        st.blocks() as u64 * unit,
        st.blocks_available() as u64 * unit,
    ))
}

/// `/dev/shm` is Linux's.
#[cfg(not(target_os = "linux"))]
pub fn dev_shm_space() -> Result<(u64, u64)> {
    bail!("not supported on this system: there is no /dev/shm tmpfs")
}

/// Gives this process a `/dev/shm` of its own: a tmpfs of `bytes` bytes mounted over
/// `/dev/shm` in a new mount namespace (`unshare(CLONE_NEWNS)`), with propagation to
/// the rest of the system turned off first. Needs root (`CAP_SYS_ADMIN`).
///
/// Nothing needs removing afterwards, on any way out (return, signal, `SIGBUS`,
/// `SIGKILL`): no other process sees the mount, and the kernel discards the namespace,
/// the mount and every segment in it when this process, its only member, ends.
#[cfg(target_os = "linux")]
pub fn private_dev_shm(bytes: usize) -> Result<()> {
    if os::uid() != 0 {
        bail!("this part needs root: it mounts a private tmpfs over /dev/shm");
    }
    use nix::mount::{mount, MsFlags};
    // A copy of the mount table of our own; other processes keep theirs.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| anyhow::anyhow!("cannot make a private /dev/shm here (unshare: {e})"))?;
    // Stop mounts from propagating out of the new namespace, then mount over /dev/shm
    // inside it only.
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .and_then(|()| {
            mount(
                Some("tmpfs"),
                "/dev/shm",
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(format!("size={bytes}").as_str()),
            )
        })
        .map_err(|e| anyhow::anyhow!("mounting a private tmpfs: {e}"))?;
    Ok(())
}

/// Mount namespaces are Linux's.
#[cfg(not(target_os = "linux"))]
pub fn private_dev_shm(_bytes: usize) -> Result<()> {
    bail!("not supported on this system: it needs Linux's tmpfs and mount namespaces")
}

// The section "Memory is taken lazily".

/// The most pages `sizing lazy --pages` accepts.
pub const MAX_PAGES: u64 = 65536;

/// Opens the segment `name` for the `lazy` helper, which reads a quarter of its pages: a
/// segment larger than `run` makes is refused, since reading the holes of a huge sparse
/// segment would allocate them.
pub fn open_as_made(name: &str) -> Result<shared_memory::Shmem> {
    let shmem = open(name)?; // len() >= 1: mmap refuses an empty segment
    let pages = shmem.len().div_ceil(os::page_size()) as u64;
    if pages > MAX_PAGES {
        bail!("{name} has {pages} pages; `lazy` makes at most {MAX_PAGES}");
    }
    Ok(shmem)
}

/// `--pages`: 64 to 65536, and the quarter of them that `lazy` touches must fit in the
/// free space of /dev/shm, so that the run is refused before it allocates anything.
pub fn pages(word: &str) -> Result<usize, String> {
    let pages = crate::cli::count(64, MAX_PAGES)(word)? as usize;
    let touched = (pages / 4 * os::page_size()) as u64;
    match dev_shm_space() {
        Ok((_, free)) if touched > free => Err(format!(
            "{pages} pages: touching a quarter of them takes {touched} bytes, \
             and /dev/shm has {free} free"
        )),
        _ => Ok(pages),
    }
}

/// How many pages of the mapping that starts at `start` are in this process's memory,
/// from the `Rss:` line of its entry in /proc/self/smaps (in kB).
#[cfg(target_os = "linux")]
pub fn resident_pages(start: *const u8, page: usize) -> Result<usize> {
    use anyhow::Context;
    let smaps = std::fs::read_to_string("/proc/self/smaps").context("reading /proc/self/smaps")?;
    let header = format!("{:x}-", start as usize);
    let mut in_entry = false;
    for line in smaps.lines() {
        if line.starts_with(|c: char| c.is_ascii_hexdigit()) && line.contains('-') {
            in_entry = line.starts_with(&header);
        } else if let (true, Some(kb)) = (in_entry, line.strip_prefix("Rss:")) {
            let kb: usize = kb.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kb * 1024 / page);
        }
    }
    bail!("no mapping at {start:?} in /proc/self/smaps")
}

/// `/proc/self/smaps` is Linux's.
#[cfg(not(target_os = "linux"))]
pub fn resident_pages(_start: *const u8, _page: usize) -> Result<usize> {
    bail!("not supported on this system: it reads /proc/self/smaps")
}
