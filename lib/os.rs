//! Small, explained wrappers over the system calls the examples use to *inspect*
//! segments: removing one by name, checking whether one exists, reading its mode and
//! size, and turning `shared_memory`'s bare error numbers into sentences.

use std::ffi::CString;
use std::io;

use shared_memory::ShmemError;

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

/// Removes the segment `name` (POSIX `shm_unlink`). A segment that does not exist is
/// not an error. Processes that still map the segment keep their mapping; the name is
/// gone at once, the memory when the last mapping goes.
pub fn shm_unlink(name: &str) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string that lives across the call;
    // shm_unlink only reads it.
    if unsafe { libc::shm_unlink(c.as_ptr()) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOENT) {
        Ok(())
    } else {
        Err(e)
    }
}

/// What `fstat` says of a segment: its size in bytes, permission bits and owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStat {
    /// The segment's size in bytes (what its creator asked for).
    pub size: u64,
    /// Permission bits, e.g. `0o600`.
    pub mode: u32,
    /// The user id that owns it.
    pub uid: u32,
}

/// Looks at the segment `name` without mapping it. `Ok(None)`: there is no such segment.
pub fn shm_stat(name: &str) -> io::Result<Option<SegmentStat>> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string; O_RDONLY without O_CREAT never
    // creates anything, so the mode argument is not read.
    let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDONLY, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: all-zero bytes are a valid `libc::stat` (plain integers).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open descriptor we own, `st` is a writable `stat`.
    let rc = unsafe { libc::fstat(fd, &mut st) };
    let result = if rc == 0 {
        Ok(Some(SegmentStat {
            size: st.st_size as u64,
            mode: (st.st_mode as u32) & 0o7777,
            uid: st.st_uid,
        }))
    } else {
        Err(io::Error::last_os_error())
    };
    // SAFETY: `fd` is open and owned here; nothing uses it after this close.
    unsafe { libc::close(fd) };
    result
}

/// True when a segment called `name` exists.
pub fn shm_exists(name: &str) -> io::Result<bool> {
    Ok(shm_stat(name)?.is_some())
}

/// The effective user id of this process.
pub fn uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The symbolic name of an error number, e.g. `EINVAL` for 22 on Linux.
pub fn errno_name(n: i32) -> &'static str {
    match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ENOMEM => "ENOMEM",
        libc::EBUSY => "EBUSY",
        libc::EDEADLK => "EDEADLK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EMFILE => "EMFILE",
        _ => "unknown error",
    }
}

/// `shared_memory` reports system errors as bare numbers ("os error 22"). This adds the
/// error's name and what it usually means for a segment, for messages a reader can act
/// on. Use it as `.map_err(shmbook::os::explain)` before adding context.
pub fn explain(e: ShmemError) -> anyhow::Error {
    let (errno, opening) = match e {
        ShmemError::MapOpenFailed(n) => (n as i32, true),
        ShmemError::MapCreateFailed(n) | ShmemError::UnknownOsError(n) => (n as i32, false),
        ShmemError::MappingIdExists => {
            return anyhow::anyhow!("a segment with this name exists already (EEXIST)")
        }
        ShmemError::MapSizeZero => return anyhow::anyhow!("a segment cannot have size 0"),
        other => return anyhow::Error::new(other),
    };
    let meaning = match errno {
        libc::ENOENT => "no segment has this name",
        // Opening maps the size the segment has; only a size of 0 makes mmap refuse.
        libc::EINVAL if opening => {
            "the segment exists but has no size yet: its creator has not sized it"
        }
        libc::EINVAL | libc::EFBIG => "the system refused a segment of this size",
        libc::EACCES => "permission denied: the segment's mode does not let this user open it",
        libc::EEXIST => "a segment with this name exists already",
        libc::ENAMETOOLONG => "the name is too long for this system",
        libc::ENOSPC | libc::ENOMEM => "the system has no room for a segment this large",
        _ => "unexpected system error",
    };
    anyhow::anyhow!("{meaning} ({}, os error {errno})", errno_name(errno))
}

/// True for the errors an opener should retry for a while: the segment does not exist
/// yet (`ENOENT`) or exists but is not sized yet (`EINVAL`). Anything else — permission
/// denied, a name too long — will not go away by waiting.
pub fn is_transient(e: &ShmemError) -> bool {
    matches!(e, ShmemError::MapOpenFailed(n) if *n as i32 == libc::ENOENT || *n as i32 == libc::EINVAL)
}

/// The system's page size in bytes, asked from the system (never assumed).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).expect("the page size is positive")
}
