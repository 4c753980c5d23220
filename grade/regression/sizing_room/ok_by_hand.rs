// OK: makes and reserves the segment by hand (shm_open, ftruncate, posix_fallocate) and removes the name on failure, then maps it.
// expect: pass
//! Sizing, exercise 3: refuse at once a segment that `/dev/shm` has no room for.
//!
//! Creating a segment reserves no memory: a size larger than all of `/dev/shm` is
//! accepted, and the process dies of `SIGBUS` later, at the first touch of a page there
//! is no room for. That happens sooner than one thinks: a container's `/dev/shm` is
//! 64 MiB unless it is given more. `create_reserved` has the system reserve every page
//! while it makes the segment, so that a size that does not fit is an error the caller
//! can handle, and no segment is left behind then. The grader asks for sizes that fit
//! and looks at what the file system reserved for them (`st_blocks`), and for sizes
//! computed from this machine's own `/dev/shm` that cannot fit. Linux only.

use anyhow::Context;
use shared_memory::{Shmem, ShmemConf};

// ANCHOR: task
/// Creates the segment `name` of `len` bytes with every page of it reserved in
/// `/dev/shm` now. A size `/dev/shm` has no room for is an error, after which no
/// segment `name` exists. The returned `Shmem` owns the segment (dropping it removes
/// the name).
pub fn create_reserved(name: &str, len: usize) -> anyhow::Result<Shmem> {
    // Made by hand: shm_open, ftruncate, posix_fallocate, then mapped.
    let c = std::ffi::CString::new(name)?;
    let len_off = libc::off_t::try_from(len).context("the length does not fit an off_t")?;
    // SAFETY: a valid C string; the descriptor is closed below on every path.
    let fd = unsafe {
        libc::shm_open(c.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o600)
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("creating {name}"));
    }
    // SAFETY: `fd` is the descriptor just opened.
    let rc = unsafe {
        if libc::ftruncate(fd, len_off) != 0 {
            *libc::__errno_location()
        } else {
            libc::posix_fallocate(fd, 0, len_off)
        }
    };
    // SAFETY: ours, closed once.
    unsafe { libc::close(fd) };
    if rc != 0 {
        // SAFETY: a valid C string; the name is ours, made above.
        unsafe { libc::shm_unlink(c.as_ptr()) };
        anyhow::bail!("no room for {len} bytes: {}", std::io::Error::from_raw_os_error(rc));
    }
    let mut shm = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(shmbook::os::explain)
        .with_context(|| format!("opening {name}"))?;
    shm.set_owner(true);
    Ok(shm)
}
// ANCHOR_END: task

/// `posix_fallocate` over the whole segment, through its file in `/dev/shm`.
#[cfg(target_os = "linux")]
fn reserve(name: &str, len: usize) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let path = format!("/dev/shm{name}");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {path} to reserve its pages"))?;
    let len_off = libc::off_t::try_from(len).context("the length does not fit an off_t")?;
    // SAFETY: a valid descriptor, open for writing, for the duration of the call.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len_off) };
    // It returns the error number (0 for success); it does not set errno.
    if rc != 0 {
        let e = std::io::Error::from_raw_os_error(rc);
        anyhow::bail!("no room in /dev/shm for {len} bytes (posix_fallocate: {e})");
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn reserve(_name: &str, _len: usize) -> anyhow::Result<()> {
    anyhow::bail!("not supported on this system: posix_fallocate on a segment")
}
