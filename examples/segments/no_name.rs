//! No name at all: `memfd_create` makes memory with no name, and `SCM_RIGHTS` passes its
//! descriptor to another process over a Unix socket. Linux (and FreeBSD) only.

#[cfg(target_os = "linux")]
pub use linux::{receive, run};

#[cfg(not(target_os = "linux"))]
pub fn run() -> anyhow::Result<()> {
    anyhow::bail!("memfd_create is not supported on this system")
}

#[cfg(not(target_os = "linux"))]
pub fn receive() -> anyhow::Result<()> {
    run()
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{IoSlice, IoSliceMut};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::net::UnixStream;

    use anyhow::{Context, Result};
    use memmap2::MmapMut;
    use nix::sys::memfd::{memfd_create, MFdFlags};
    use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
    use shmbook::helper::Helper;
    use shmbook::PROCESS_TIMEOUT;

    const GREETING: &[u8] = b"hello through a descriptor";
    const ANSWER: &[u8] = b"hello back, no name needed";
    const FIELD: usize = 256;

    // ANCHOR: no_name
    pub fn run() -> Result<()> {
        let fd = memfd_create("shmbook", MFdFlags::MFD_CLOEXEC).context("memfd_create")?;
        nix::unistd::ftruncate(&fd, 4096).context("ftruncate")?;
        let mut map = map(&fd)?;
        map[..GREETING.len()].copy_from_slice(GREETING);
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .context("reading the descriptor's link in /proc")?;
        println!("parent: memfd_create made 4096 bytes; its only name: {link:?}");

        let (ours, theirs) = UnixStream::pair().context("socketpair")?;
        let helper = Helper::spawn_with_stdin("_no_name", &[], OwnedFd::from(theirs))?;
        let fds = [fd.as_raw_fd()];
        let rights = [ControlMessage::ScmRights(&fds)];
        let byte = [IoSlice::new(b"m")]; // a message carries at least one byte
        sendmsg::<()>(ours.as_raw_fd(), &byte, &rights, MsgFlags::empty(), None)
            .context("sendmsg")?;
        println!("parent: sent the descriptor over a Unix socket");

        helper.wait_ok(PROCESS_TIMEOUT)?; // the helper answers and exits
        println!("parent: read \"{}\"", text(&map[FIELD..]));
        Ok(())
    }
    // ANCHOR_END: no_name

    // ANCHOR: receive
    pub fn receive() -> Result<()> {
        let (mut byte, mut space) = ([0u8; 1], nix::cmsg_space!([RawFd; 1]));
        let mut iov = [IoSliceMut::new(&mut byte)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC;
        let msg =
            recvmsg::<()>(0, &mut iov, Some(&mut space), flags) // 0: stdin, the socket
                .context("recvmsg on standard input (a Unix socket from the parent)")?;
        let mut fds = Vec::new();
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = cmsg {
                // SAFETY: the kernel has just installed these descriptors in this
                // process for this message; nothing else owns or closes them.
                fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
            }
        }
        let fd = fds
            .first()
            .context("the parent's message carried no descriptor")?;
        let size = nix::sys::stat::fstat(fd).context("fstat")?.st_size;
        let mut map = map(fd)?;
        println!(
            "helper: received a descriptor of {size} bytes; read \"{}\"",
            text(&map)
        );
        map[FIELD..FIELD + ANSWER.len()].copy_from_slice(ANSWER);
        Ok(())
    }
    // ANCHOR_END: receive

    /// Maps the whole memory file shared; refuses one too small for the two fields.
    fn map(fd: &OwnedFd) -> Result<MmapMut> {
        let size = nix::sys::stat::fstat(fd).context("fstat")?.st_size;
        anyhow::ensure!(size >= 2 * FIELD as i64, "{size} bytes: too small");
        // SAFETY: a shared mapping of the memory file; the two processes take turns
        // (the parent writes before it sends the descriptor and reads after the helper
        // has exited), so no slice of it is read while the other process writes.
        unsafe { MmapMut::map_mut(fd) }.context("mmap")
    }

    /// The text at the start of `bytes`, up to a NUL, at most one field, escaped.
    fn text(bytes: &[u8]) -> String {
        let field = &bytes[..bytes.len().min(FIELD)];
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        field[..end].escape_ascii().to_string()
    }
}
