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

/// Reserves memory for the first `bytes` bytes of the segment `name` now
/// (`posix_fallocate`), so that a `/dev/shm` without room for them is a clear error here
/// instead of a `SIGBUS` at first touch, which would kill the process before it could
/// remove anything (the Sizing chapter shows both). Linux only; elsewhere it does
/// nothing.
pub fn reserve(name: &str, bytes: usize) -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let fd = nix::sys::mman::shm_open(name, OFlag::O_RDWR, Mode::empty())
            .map_err(|e| anyhow::anyhow!("opening {name} to reserve its memory: {e}"))?;
        match nix::fcntl::posix_fallocate(&fd, 0, bytes as i64) {
            Ok(()) => {}
            Err(Errno::ENOSPC) => anyhow::bail!(
                "no room in /dev/shm for {bytes} bytes (ENOSPC, posix_fallocate): it is too \
                 small or full (a container's /dev/shm is 64 MiB unless it is given more)"
            ),
            Err(e) => anyhow::bail!("reserving {bytes} bytes for {name}: {e}"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (name, bytes);
    Ok(())
}

/// "read and write for its owner, nothing for anyone else" for 0600, and so on.
pub fn describe_mode(mode: u32) -> String {
    let part = |bits: u32| match (bits & 4 != 0, bits & 2 != 0) {
        (true, true) => "read and write",
        (true, false) => "read only",
        (false, true) => "write only",
        (false, false) => "nothing",
    };
    let (owner, group, other) = (mode >> 6 & 7, mode >> 3 & 7, mode & 7);
    if group == 0 && other == 0 {
        format!("{} for its owner, nothing for anyone else", part(owner))
    } else {
        format!(
            "{} for its owner, {} for its group, {} for others",
            part(owner),
            part(group),
            part(other)
        )
    }
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

/// Opens the existing segment `name`, with context; anything that is not a segment (a
/// FIFO, a directory) is refused before it is mapped ([`shm_stat`]). Its `len()` is the
/// size the creator gave it.
pub fn open_segment(name: &str) -> anyhow::Result<shared_memory::Shmem> {
    use anyhow::Context;
    let context = || format!("opening {name}");
    shm_stat(name).with_context(context)?;
    let shmem = shared_memory::ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(explain);
    shmem.with_context(context)
}

/// Like [`explain`], for an error of `create` on the name `name`: when the name is
/// taken by something that is not a segment (a FIFO, a directory), says that instead of
/// "a segment with this name exists already".
pub fn explain_at(name: &str, e: ShmemError) -> anyhow::Error {
    if let ShmemError::MappingIdExists = e {
        if let Err(not_a_segment) = shm_stat(name) {
            return anyhow::anyhow!("{not_a_segment}; choose another name");
        }
    }
    explain(e)
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
