//! Small, explained wrappers over the system calls the examples use to *inspect*
//! segments: removing one by name, checking whether one exists, reading its mode and
//! size, and turning `shared_memory`'s bare error numbers into sentences.

use std::io;
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode, SFlag};
use shared_memory::ShmemError;

/// Removes the segment `name` (POSIX `shm_unlink`). A segment that does not exist is
/// not an error. Processes that still map the segment keep their mapping; the name is
/// gone at once, the memory when the last mapping goes.
pub fn shm_unlink(name: &str) -> io::Result<()> {
    match nix::sys::mman::shm_unlink(name) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
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
///
/// Never blocks: the name is opened with `O_NONBLOCK` (a FIFO put there by someone else
/// would otherwise wait for a writer), and anything but a regular file — a FIFO, a
/// directory — is an error, not a segment.
pub fn shm_stat(name: &str) -> io::Result<Option<SegmentStat>> {
    let fd =
        match nix::sys::mman::shm_open(name, OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
    let st = fstat(fd.as_fd())?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFREG {
        let what = match kind {
            SFlag::S_IFIFO => "a FIFO",
            SFlag::S_IFDIR => "a directory",
            SFlag::S_IFSOCK => "a socket",
            _ => "not a regular file",
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name} is {what}, not a shared-memory segment"),
        ));
    }
    Ok(Some(SegmentStat {
        size: st.st_size as u64,
        mode: (st.st_mode as u32) & 0o7777,
        uid: st.st_uid,
    }))
}

/// True when a segment called `name` exists.
pub fn shm_exists(name: &str) -> io::Result<bool> {
    Ok(shm_stat(name)?.is_some())
}

/// The effective user id of this process.
pub fn uid() -> u32 {
    nix::unistd::geteuid().as_raw()
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
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(4096)
}

/// The first executable file called `name` in the directories of `PATH`, as a shell
/// would find it; `None` when there is none (the program is not installed).
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
