//! Name squatting: another user creates a predictable name first. The attack, and the
//! defence: `O_EXCL` on create, `fstat` the opened descriptor, refuse a stranger's segment.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::mman::shm_open;
use nix::sys::stat::{fchmod, fstat, Mode};
use shared_memory::{ShmemConf, ShmemError};
use shmbook::helper::Helper;
use shmbook::{cleanup, names, os, wait, PROCESS_TIMEOUT};

use crate::threads::as_atomics;

/// Where the secret goes in the segment: after word 0, the "written" flag.
const TEXT: usize = 64;
const SECRET: &[u8] = b"a secret only the parent should see";

// ANCHOR: squat
pub fn run() -> Result<()> {
    let name = names::unique("segments"); // as predictable as any name in this book
    let squatter = Helper::spawn("_squat", &[&name])?;
    let made = || matches!(os::shm_stat(&name), Ok(Some(st)) if st.size > 0);
    wait::until("the squatter's segment", PROCESS_TIMEOUT, made)?;

    match create_or_open_checked(&name, 4096) {
        Ok(_) => bail!("careful: accepted {name}, which the squatter made"),
        Err(e) => println!("careful: {e:#}"),
    }
    // The naive create-or-open: create, and on EEXIST open whatever has the name.
    let shmem = match ShmemConf::new().size(4096).os_id(&name).create() {
        Err(ShmemError::MappingIdExists) => ShmemConf::new().os_id(&name).open(),
        other => other, // (never here: the squatter was first)
    }
    .map_err(os::explain)?;
    // SAFETY: TEXT + SECRET.len() bytes lie inside the 4096-byte mapping; the squatter
    // reads them only after the Release store below, and nothing else writes there.
    unsafe {
        shmem
            .as_ptr()
            .add(TEXT)
            .copy_from(SECRET.as_ptr(), SECRET.len())
    };
    as_atomics(&shmem)[0].store(1, Ordering::Release);
    let secret = SECRET.escape_ascii();
    println!("naive:   create failed (EEXIST), so it opened {name} and wrote \"{secret}\"");
    squatter.wait_ok(PROCESS_TIMEOUT)?;
    Ok(())
}
// ANCHOR_END: squat

// ANCHOR: checked
/// Creates `name` (size bytes) with `O_EXCL`, or opens it if it exists — but only if it
/// is this user's own segment and no other user may open it.
pub fn create_or_open_checked(name: &str, size: i64) -> Result<OwnedFd> {
    let rw = Mode::S_IRUSR | Mode::S_IWUSR;
    match shm_open(name, OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR, rw) {
        Ok(fd) => {
            nix::unistd::ftruncate(&fd, size).context("ftruncate")?;
            return Ok(fd); // made by this call: nobody else chose its owner or mode
        }
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(e).with_context(|| format!("creating {name}")),
    }
    let fd =
        shm_open(name, OFlag::O_RDWR, Mode::empty()).with_context(|| format!("opening {name}"))?;
    // Check the object this descriptor refers to, not the name: the name could be
    // replaced between a check and an open, the descriptor cannot.
    let st = fstat(&fd).with_context(|| format!("fstat of {name}"))?;
    let mode = st.st_mode & 0o777;
    if mode & 0o077 != 0 {
        bail!("{name} is open to other users (mode {mode:04o}): refused");
    }
    if st.st_uid != os::uid() {
        bail!(
            "{name} belongs to user {}, not to this one: refused",
            st.st_uid
        );
    }
    Ok(fd)
}
// ANCHOR_END: checked

/// The squatter (`_squat NAME`): as another user when started by root, it makes NAME
/// first, readable and writable by everyone, and waits for someone to write into it.
pub fn squatter(name: &str) -> Result<()> {
    let who = become_someone_else()?;
    let everyone = Mode::from_bits_truncate(0o666);
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
    let fd = cleanup::segment(name, || shm_open(name, flags, everyone))
        .with_context(|| format!("creating {name}"))?;
    fchmod(&*fd, everyone).context("fchmod")?; // the umask may have cleared bits
    println!("squatter: made {name} first, mode 0666, as {who}");
    nix::unistd::ftruncate(&*fd, 4096).context("ftruncate")?;
    let file = std::fs::File::from(fd.try_clone().context("dup")?);
    // SAFETY: a shared mapping of a 4096-byte segment; the bytes may change under us,
    // so they are read only after the writer's Release store is seen, and copied out.
    let map = unsafe { memmap2::MmapMut::map_mut(&file) }.context("mmap")?;
    // SAFETY: the mapping is page-aligned and at least 8 bytes long; word 0 is only
    // ever accessed atomically, by both processes; `map` outlives the reference.
    let written = unsafe { AtomicU64::from_ptr(map.as_ptr() as *mut u64) };
    let seen = || written.load(Ordering::Acquire) == 1;
    wait::until(
        "someone to write into the squatted segment",
        PROCESS_TIMEOUT,
        seen,
    )?;
    let text = &map[TEXT..TEXT + SECRET.len()];
    println!("squatter: read \"{}\"", text.escape_ascii());
    Ok(())
}

/// Root can be anyone: the squatter then runs as `nobody`. Anyone else stays itself
/// (a second user is what the attack needs, and only root can become one here).
fn become_someone_else() -> Result<&'static str> {
    #[cfg(target_os = "linux")]
    if nix::unistd::geteuid().is_root() {
        use nix::unistd::{setgid, setgroups, setuid, Gid, Uid, User};
        let nobody = User::from_name("nobody").ok().flatten();
        let (uid, gid) = nobody.map_or((65534, 65534), |u| (u.uid.as_raw(), u.gid.as_raw()));
        let parent = nix::unistd::getppid();
        setgroups(&[]).context("setgroups")?;
        setgid(Gid::from_raw(gid)).context("setgid")?;
        setuid(Uid::from_raw(uid)).context("setuid")?;
        // A change of user clears the "end with the parent" signal: set it again.
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM).context("prctl")?;
        if nix::unistd::getppid() != parent {
            bail!("the parent ended while this squatter changed user");
        }
        return Ok("another user (root started it as nobody)");
    }
    Ok("this same user (only root can start it as another)")
}
