//! The Sizing chapter's plumbing: segments made and opened with context, a descriptor
//! of a segment for `fstat`, `ftruncate` and `posix_fallocate`, the space of
//! `/dev/shm`, and a private tmpfs over `/dev/shm` for one process.
//!
//! None of this is the chapter's lesson; its listings call these functions by name.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode, SFlag};
use shared_memory::{Shmem, ShmemConf};

use crate::cleanup::{self, Tracked};
use crate::{names, os};

/// A new segment of `size` bytes under a name no one else uses ([`names::unique`]),
/// removed when the returned guard drops and on Ctrl-C, `SIGTERM` or `SIGHUP`
/// ([`cleanup::segment`]). Its name is `get_os_id()`.
pub fn segment(size: usize) -> Result<Tracked<Shmem>> {
    let name = names::unique("sizing");
    cleanup::segment(&name, || ShmemConf::new().size(size).os_id(&name).create())
        .map_err(os::explain)
        .with_context(|| format!("creating {name} ({size} bytes)"))
}

/// Opens the segment `name` that another process made; its `len()` is the size the
/// creator gave it.
pub fn open(name: &str) -> Result<Shmem> {
    ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))
}

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
