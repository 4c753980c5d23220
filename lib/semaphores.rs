//! The Semaphores chapter's segments: a checked header in front of the locks.
//!
//! A helper that attaches to a segment by name and calls `sem_post` or
//! `pthread_mutex_lock` on bytes that are not what it expects can hang, crash or abort
//! inside the C library. So every segment of the chapter starts with a header: eight
//! bytes that say which layout (and version) it has, and a number saying which lock
//! the creator put in it. The creator writes the header *last*, once the lock is set up
//! ([`Layout::publish`]); a helper checks the segment's real length and the header
//! before it touches anything else ([`Layout::open`]). A foreign, truncated or garbage
//! segment then gives a clear error instead.

pub mod demo;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use shared_memory::{Shmem, ShmemConf};

use crate::cleanup::{self, Tracked};
use crate::os;

/// Bytes reserved for the header at the start of the segment; the body follows.
pub const HEADER: usize = 64;

#[repr(C)]
struct Header {
    magic: AtomicU64,
    kind: AtomicU32,
}

/// What a segment of one example looks like: its magic (layout and version) and size.
pub struct Layout {
    /// Eight bytes naming the layout and its version, e.g. `*b"shmbsem1"`.
    pub magic: [u8; 8],
    /// The segment's size in bytes, header included (at most a few pages).
    pub size: usize,
}

fn header(shmem: &Shmem) -> &Header {
    // SAFETY: every segment made or accepted here is at least HEADER bytes and
    // page-aligned; the header's fields are atomics, valid for any bytes and usable by
    // several processes at once; the borrow cannot outlive the mapping.
    unsafe { &*(shmem.as_ptr() as *const Header) }
}

/// The body: the bytes after the header, where the example puts its data and locks.
pub fn body(shmem: &Shmem) -> *mut u8 {
    // SAFETY: every segment made or accepted here is larger than HEADER.
    unsafe { shmem.as_ptr().add(HEADER) }
}

/// Checks that `at` is 8-aligned with `size` bytes inside `mapping`: where a lock that
/// borrows the mapping may live.
pub fn place(mapping: &Shmem, at: *mut u8, size: usize) -> Result<()> {
    let (start, at) = (mapping.as_ptr() as usize, at as usize);
    let fits = at >= start && at - start + size <= mapping.len();
    if !fits || at % 8 != 0 {
        bail!(
            "a lock of {size} bytes at offset {} does not fit, 8-aligned, in a mapping of {} bytes",
            at.wrapping_sub(start),
            mapping.len()
        );
    }
    Ok(())
}

impl Layout {
    /// Creates a segment of this layout under a fresh name (`tag` says which example),
    /// removed when the guard drops and on Ctrl-C. Its header is still blank.
    pub fn create(&self, tag: &str) -> Result<Tracked<Shmem>> {
        cleanup::unique_segment(tag, self.size)
    }

    /// Writes the header: the segment now holds lock `kind`, set up. Call it after the
    /// lock is initialized and before any helper starts.
    pub fn publish(&self, shmem: &Shmem, kind: u32) {
        let h = header(shmem);
        h.kind.store(kind, Ordering::Relaxed);
        h.magic
            .store(u64::from_le_bytes(self.magic), Ordering::Release);
    }

    /// Opens the segment `name` and checks it: a regular file, at least this layout's
    /// size, with this layout's header. Returns it with the kind its header names.
    pub fn open(&self, name: &str) -> Result<(Shmem, u32)> {
        let found = os::shm_stat(name).with_context(|| format!("opening {name}"))?;
        match found {
            None => bail!("opening {name}: no segment has this name"),
            Some(st) if st.size < self.size as u64 => bail!(
                "{name} is {} bytes, smaller than the {} of this example's segments: not one of them",
                st.size,
                self.size
            ),
            Some(_) => {}
        }
        let shmem = ShmemConf::new()
            .os_id(name)
            .open()
            .map_err(os::explain)
            .with_context(|| format!("opening {name}"))?;
        // The size may have changed since the check: judge the mapping itself.
        if shmem.len() < self.size {
            bail!("{name} is {} bytes, too small", shmem.len());
        }
        let h = header(&shmem);
        let magic = h.magic.load(Ordering::Acquire).to_le_bytes();
        if magic != self.magic {
            bail!(
                "{name} is not a segment of this example: its header is {} where {} was expected",
                magic.escape_ascii(),
                self.magic.escape_ascii()
            );
        }
        let kind = h.kind.load(Ordering::Relaxed);
        Ok((shmem, kind))
    }

    /// [`Layout::open`], requiring that the header names lock `kind`.
    pub fn open_kind(&self, name: &str, kind: u32) -> Result<Shmem> {
        let (shmem, found) = self.open(name)?;
        if found != kind {
            bail!("{name} holds lock kind {found}, not the kind {kind} this role uses");
        }
        Ok(shmem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Layout = Layout {
        magic: *b"shmbtst1",
        size: 4096,
    };

    /// A segment of `bytes.len()` bytes holding `bytes` (none at all for an empty one).
    fn plant(bytes: &[u8]) -> (String, Tracked<std::os::fd::OwnedFd>) {
        use nix::fcntl::OFlag;
        use nix::sys::stat::Mode;
        let name = crate::names::unique("semtest");
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
        let fd = cleanup::segment(&name, || {
            nix::sys::mman::shm_open(name.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
        })
        .expect("creating a test segment");
        let mut file = std::fs::File::from(fd.try_clone().expect("dup"));
        std::io::Write::write_all(&mut file, bytes).expect("filling the test segment");
        (name, fd)
    }

    fn refused(name: &str) -> String {
        match TEST.open(name) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn foreign_truncated_and_garbage_segments_are_refused() {
        let (empty, _e) = plant(&[]);
        assert!(
            refused(&empty).contains("is 0 bytes"),
            "{}",
            refused(&empty)
        );
        let (small, _s) = plant(&[7; 100]);
        assert!(
            refused(&small).contains("is 100 bytes"),
            "{}",
            refused(&small)
        );
        let mut garbage = vec![0xff_u8; 4096];
        garbage[..8].copy_from_slice(b"\x01\x02abc\n\x1b!");
        let (bad, _b) = plant(&garbage);
        let why = refused(&bad);
        assert!(why.contains(r"\x01\x02abc\n\x1b!"), "not escaped: {why}");
        let missing = crate::names::unique("semtest");
        assert!(refused(&missing).contains("no segment has this name"));
    }

    #[test]
    fn the_header_names_the_kind() {
        let shmem = TEST.create("semtest").expect("creating a test segment");
        assert!(refused(shmem.get_os_id()).contains("not a segment of this example"));
        TEST.publish(&shmem, 2);
        assert!(TEST.open_kind(shmem.get_os_id(), 2).is_ok());
        let e = TEST
            .open_kind(shmem.get_os_id(), 3)
            .err()
            .expect("kind 3 refused");
        assert!(format!("{e}").contains("kind 2, not the kind 3"), "{e}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let name = crate::names::unique("semtest");
        let path = std::path::Path::new("/dev/shm").join(&name[1..]);
        let _fifo = cleanup::create(cleanup::Resource::File(path.clone()), || {
            nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU)
        })
        .expect("making a FIFO");
        assert!(refused(&name).contains("FIFO"), "{}", refused(&name));
    }
}
