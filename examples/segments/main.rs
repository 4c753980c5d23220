//! Chapter "Segments": create, open, own and remove named shared-memory segments.
//!
//! Run `cargo run --example segments -- --help` for the subcommands. Each one shows one
//! point of the chapter; the helper roles (`_answer`, `_open`, ...) are this same
//! program started again by the creator, as the chapter explains.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use shared_memory::{Shmem, ShmemConf, ShmemError};
use shmbook::cleanup::{self, Unlink};
use shmbook::cli::{self, Bytes, SegmentName};
use shmbook::helper::{self, Helper};
use shmbook::{names, os, wait, PROCESS_TIMEOUT};

const USAGE: cli::Usage = cli::Usage {
    program: "segments",
    about: "named shared-memory segments: create, open, own, remove",
    commands: &[
        (
            "create [--size BYTES]",
            "create a segment; a helper process reads it and answers",
        ),
        (
            "ownership",
            "the creator's drop removes a segment, an opener's drop does not",
        ),
        (
            "leave --name NAME [--unsized]",
            "create a segment and exit without removing it",
        ),
        (
            "exists --name NAME",
            "say whether a segment exists, its size and mode",
        ),
        ("remove --name NAME", "remove a segment someone left behind"),
        (
            "open --name NAME",
            "open an existing segment and show its first bytes",
        ),
        (
            "names",
            "random and chosen names, and what a collision does",
        ),
        ("flink", "find a segment through a file link"),
        (
            "unsized",
            "open a segment before its creator sized it, and the fix",
        ),
        (
            "killed-owner",
            "an owner killed before its drop leaks its segment",
        ),
        (
            "threads",
            "share one mapping with threads although Shmem is not Send",
        ),
        ("perms", "who may open a segment"),
        (
            "hold [--name NAME] [--seconds N]",
            "keep a segment for N seconds (default 60) or until Ctrl-C",
        ),
        ("_answer NAME", ""),
        ("_open NAME [--retry]", ""),
        ("_own NAME", ""),
    ],
};

fn main() -> std::process::ExitCode {
    cli::main(&USAGE, |command, mut args| match command {
        "create" => {
            let size = args.value_or("--size", Bytes(4096))?;
            if size.0 < 2 * FIELD {
                return Err(args
                    .invalid(format!("--size must be at least {} bytes", 2 * FIELD))
                    .into());
            }
            args.finish()?;
            create(size.0)
        }
        "leave" | "exists" | "remove" | "open" => {
            let SegmentName(name) = args.required("--name")?;
            let never_sized = command == "leave" && args.switch("--unsized");
            args.finish()?;
            match command {
                "leave" if never_sized => leave_unsized(&name),
                "leave" => leave(&name),
                "exists" => exists(&name),
                "remove" => remove(&name),
                _ => open(&name),
            }
        }
        "hold" => {
            let name = args.value::<SegmentName>("--name")?.map(|n| n.0);
            let seconds: u64 = args.value_or("--seconds", 60)?;
            args.finish()?;
            hold(name, seconds)
        }
        "_answer" | "_own" => {
            let SegmentName(name) = args.positional("segment name")?;
            args.finish()?;
            if command == "_answer" {
                answer(&name)
            } else {
                own_until_killed(&name)
            }
        }
        "_open" => {
            let SegmentName(name) = args.positional("segment name")?;
            let retry = args.switch("--retry");
            args.finish()?;
            open_early(&name, retry)
        }
        other => {
            args.finish()?;
            match other {
                "ownership" => ownership(),
                "names" => names_demo(),
                "flink" => flink(),
                "unsized" => open_before_sized(),
                "killed-owner" => killed_owner(),
                "threads" => threads(),
                _ => perms(),
            }
        }
    })
}

// ANCHOR: fields
/// Each message lives in a fixed field of the segment: the creator's at offset 0, the
/// helper's answer at offset `FIELD`.
const FIELD: usize = 256;

/// Writes `text` into field `at` of the segment, NUL-terminated.
fn put(shmem: &mut Shmem, at: usize, text: &str) {
    // SAFETY: no other process touches the segment while this slice lives: the creator
    // and the helper take turns (the creator writes before it starts the helper and
    // reads after the helper has exited).
    let bytes = unsafe { shmem.as_slice_mut() };
    let field = &mut bytes[at..at + FIELD];
    field.fill(0);
    field[..text.len()].copy_from_slice(text.as_bytes());
}

/// Reads the NUL-terminated text in field `at`.
fn get(shmem: &Shmem, at: usize) -> String {
    // SAFETY: as in `put`: the two processes take turns, so nobody writes meanwhile.
    let bytes = unsafe { shmem.as_slice() };
    let field = &bytes[at..at + FIELD];
    let end = field.iter().position(|&b| b == 0).unwrap_or(FIELD);
    String::from_utf8_lossy(&field[..end]).into_owned()
}
// ANCHOR_END: fields

// ANCHOR: create
fn create(size: usize) -> Result<()> {
    let name = names::unique("segments");
    let mut shmem = ShmemConf::new()
        .size(size)
        .os_id(&name)
        .create()
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))?;
    println!(
        "creator: created {}, {} bytes",
        shmem.get_os_id(),
        shmem.len()
    );

    put(&mut shmem, 0, "hello from the creator");
    println!("creator: wrote \"hello from the creator\"; starting a helper");
    // The helper is this program again, told which segment to open.
    Helper::spawn("_answer", &[&name])?.wait_ok(PROCESS_TIMEOUT)?;

    println!("creator: read \"{}\"", get(&shmem, FIELD));
    drop(shmem); // the owner's drop unmaps the segment and removes its name
    println!(
        "creator: dropped the owner's Shmem; {name} exists: {}",
        yes_no(os::shm_exists(&name)?)
    );
    Ok(())
}

fn answer(name: &str) -> Result<()> {
    let mut shmem = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    println!(
        "helper:  opened {} by name, {} bytes",
        shmem.get_os_id(),
        shmem.len()
    );
    println!("helper:  read \"{}\"", get(&shmem, 0));
    put(&mut shmem, FIELD, "hello back from the helper");
    println!("helper:  wrote \"hello back from the helper\" and exits");
    Ok(()) // dropping an opener's Shmem only unmaps it
}
// ANCHOR_END: create

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

// ANCHOR: ownership
fn ownership() -> Result<()> {
    let name = names::unique("segments");
    let guard = Unlink::new(&name); // removes the name however this function ends
    let shmem = ShmemConf::new()
        .size(4096)
        .os_id(&name)
        .create()
        .map_err(os::explain)?;
    println!("creator: created {name}; is_owner() = {}", shmem.is_owner());

    let opener = ShmemConf::new().os_id(&name).open().map_err(os::explain)?;
    println!("opener:  opened it; is_owner() = {}", opener.is_owner());
    drop(opener);
    println!(
        "opener:  dropped it; {name} exists: {}",
        yes_no(os::shm_exists(&name)?)
    );

    let mut shmem = shmem;
    shmem.set_owner(false); // give up ownership: the drop will not remove it
    drop(shmem);
    println!(
        "creator: set_owner(false), dropped it; exists: {}",
        yes_no(os::shm_exists(&name)?)
    );

    drop(guard); // shm_unlink, what an owner's drop would have done
    println!(
        "guard:   removed it by name; exists: {}",
        yes_no(os::shm_exists(&name)?)
    );
    Ok(())
}
// ANCHOR_END: ownership

// ANCHOR: leave
fn leave(name: &str) -> Result<()> {
    let mut shmem = ShmemConf::new()
        .size(4096)
        .os_id(name)
        .create()
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))?;
    put(&mut shmem, 0, "left here by `segments leave`");
    shmem.set_owner(false);
    println!("created {name} and gave up ownership; exiting without removing it");
    Ok(())
}
// ANCHOR_END: leave

/// What a creator killed between shm_open and ftruncate leaves behind.
fn leave_unsized(name: &str) -> Result<()> {
    let fd = raw_create(name)?;
    // SAFETY: `fd` is the descriptor raw_create just opened; nothing uses it afterwards.
    unsafe { libc::close(fd) };
    println!(
        "made {name} with shm_open only (size 0), as a creator that died before sizing it would"
    );
    Ok(())
}

fn exists(name: &str) -> Result<()> {
    let stat = match os::shm_stat(name) {
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            println!("{name} exists, but this user may not open it (EACCES)");
            return Ok(());
        }
        other => other.with_context(|| format!("looking at {name}"))?,
    };
    match stat {
        None => println!("{name} does not exist"),
        Some(st) => {
            let whose = if st.uid == os::uid() {
                "this user"
            } else {
                "another user"
            };
            println!(
                "{name} exists: {} bytes, mode {:04o}, owned by {whose}",
                st.size, st.mode
            );
            if cfg!(target_os = "linux") {
                println!("on Linux it is the file /dev/shm{name}");
            }
        }
    }
    Ok(())
}

// ANCHOR: remove
fn remove(name: &str) -> Result<()> {
    let mut shmem = match ShmemConf::new().os_id(name).open() {
        Ok(shmem) => shmem,
        // Size 0: its creator died between shm_open and ftruncate. It cannot be mapped,
        // so it cannot be owned; remove the name directly.
        Err(ShmemError::MapOpenFailed(n)) if n as i32 == libc::EINVAL => {
            os::shm_unlink(name).with_context(|| format!("removing {name}"))?;
            println!("{name} had size 0 (never sized); removed it by name with shm_unlink");
            return Ok(());
        }
        Err(e) => return Err(os::explain(e)).with_context(|| format!("opening {name}")),
    };
    shmem.set_owner(true); // now our drop removes it
    println!("opened {name} ({} bytes) and took ownership", shmem.len());
    drop(shmem);
    println!(
        "dropped it: {name} exists: {}",
        yes_no(os::shm_exists(name)?)
    );
    Ok(())
}
// ANCHOR_END: remove

fn open(name: &str) -> Result<()> {
    let shmem = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    println!(
        "opened {name}: {} bytes; it says \"{}\"",
        shmem.len(),
        get(&shmem, 0)
    );
    Ok(())
}

// ANCHOR: names
fn names_demo() -> Result<()> {
    // Without os_id, shared_memory picks a random name and retries on a collision.
    let random = ShmemConf::new().size(64).create().map_err(os::explain)?;
    println!("random name:  {}", random.get_os_id());

    let chosen = names::unique("segments");
    let first = ShmemConf::new()
        .size(64)
        .os_id(&chosen)
        .create()
        .map_err(os::explain)?;
    println!("chosen name:  {}", first.get_os_id());
    match ShmemConf::new().size(64).os_id(&chosen).create() {
        Err(e @ ShmemError::MappingIdExists) => {
            println!("second create with that name: {}", os::explain(e))
        }
        Err(e) => bail!("unexpected error on a second create: {e}"),
        Ok(_) => bail!("a second create with the same name succeeded"),
    }

    // Linux takes up to 255 bytes after the slash; macOS 31 bytes with the slash.
    let long = format!("{}-{}", chosen, "x".repeat(40 - chosen.len() - 1));
    match ShmemConf::new().size(64).os_id(&long).create() {
        Ok(_) => println!("a {}-character name: accepted here", long.len()),
        Err(e) => println!(
            "a {}-character name: refused here: {}",
            long.len(),
            os::explain(e)
        ),
    }
    Ok(())
}
// ANCHOR_END: names

// ANCHOR: flink
fn flink() -> Result<()> {
    let link = std::env::temp_dir().join(format!("shmbook-flink-{}", std::process::id()));
    let shmem = ShmemConf::new()
        .size(4096)
        .flink(&link)
        .create()
        .map_err(os::explain)?;
    println!("created {} with a file link", shmem.get_os_id());
    let inside = std::fs::read_to_string(&link).context("reading the link file")?;
    println!(
        "the link file holds the segment's name: {}",
        yes_no(inside == shmem.get_os_id())
    );

    let opener = ShmemConf::new().flink(&link).open().map_err(os::explain)?;
    println!(
        "opened through the link: {} bytes, same name: {}",
        opener.len(),
        yes_no(opener.get_os_id() == shmem.get_os_id())
    );
    drop(opener);

    match ShmemConf::new().size(4096).flink(&link).create() {
        Err(e @ ShmemError::LinkExists) => println!("a second create with the same link: {e}"),
        other => bail!(
            "expected LinkExists, got {:?}",
            other.map(|s| s.get_os_id().to_string())
        ),
    }
    drop(shmem);
    println!(
        "after the owner's drop the link file exists: {}",
        yes_no(link.exists())
    );
    Ok(())
}
// ANCHOR_END: flink

// ANCHOR: unsized
fn open_before_sized() -> Result<()> {
    let name = names::unique("segments");
    let _guard = Unlink::new(&name);
    // What ShmemConf::create does in three steps, paused after the first:
    // shm_open(O_CREAT) makes a segment of size 0; ftruncate sizes it; mmap maps it.
    let fd = raw_create(&name)?;
    println!("creator: shm_open made {name}; it has not been sized yet");

    let early = Helper::spawn("_open", &[&name])?.wait(PROCESS_TIMEOUT)?;
    println!(
        "creator: that helper ended with {}",
        helper::describe(early.status)
    );

    let patient = Helper::spawn("_open", &[&name, "--retry"])?;
    std::thread::sleep(Duration::from_millis(50)); // let it try and fail a few times
    println!("creator: started a helper that retries; sizing the segment to 4096 bytes now");
    // SAFETY: `fd` is the descriptor shm_open returned above and is still open.
    if unsafe { libc::ftruncate(fd, 4096) } != 0 {
        bail!("ftruncate: {}", std::io::Error::last_os_error());
    }
    patient.wait_ok(PROCESS_TIMEOUT)?;
    // SAFETY: `fd` is open and ours; it is not used after this.
    unsafe { libc::close(fd) };
    Ok(())
}

fn open_early(name: &str, retry: bool) -> Result<()> {
    let attempt = || ShmemConf::new().os_id(name).open();
    if !retry {
        let e = attempt()
            .err()
            .context("the open succeeded, but the segment had no size")?;
        bail!("opening {name}: {}", os::explain(e));
    }
    let mut failures = 0;
    let shmem = wait::retry(PROCESS_TIMEOUT, || attempt().inspect_err(|_| failures += 1))
        .map_err(os::explain)
        .with_context(|| {
            format!(
                "opening {name}, retrying for {} s",
                PROCESS_TIMEOUT.as_secs()
            )
        })?;
    println!(
        "helper:  opened after {failures} failed attempts: {} bytes",
        shmem.len()
    );
    Ok(())
}
// ANCHOR_END: unsized

/// `shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600)`: the first step of creating.
fn raw_create(name: &str) -> Result<i32> {
    let c = std::ffi::CString::new(name)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call; the
    // mode is passed as the variadic third argument shm_open expects with O_CREAT.
    let fd = unsafe {
        libc::shm_open(
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        bail!("shm_open({name}): {}", std::io::Error::last_os_error());
    }
    Ok(fd)
}

// ANCHOR: killed_owner
fn killed_owner() -> Result<()> {
    let name = names::unique("segments");
    let guard = Unlink::new(&name); // whatever happens below, the name is removed
    let owner = Helper::spawn("_own", &[&name])?;
    // Wait (bounded) until the helper has created the segment and marked it ready.
    let viewer = wait::retry_while(
        PROCESS_TIMEOUT,
        || ShmemConf::new().os_id(&name).open(),
        os::is_transient,
    )
    .map_err(os::explain)
    .context("waiting for the helper's segment")?;
    let ready = &as_atomics(&viewer)[0];
    wait::until("the helper's ready mark", PROCESS_TIMEOUT, || {
        ready.load(Ordering::Acquire) == READY
    })?;
    drop(viewer);

    let status = owner.kill()?;
    println!("creator: killed the helper: {}", helper::describe(status));
    println!(
        "creator: {name} exists: {}; the owner's drop never ran",
        yes_no(os::shm_exists(&name)?)
    );
    drop(guard);
    println!(
        "creator: removed it with shm_unlink; exists: {}",
        yes_no(os::shm_exists(&name)?)
    );
    Ok(())
}

/// The value the owner stores in the first word once the segment is set up.
const READY: u64 = 0x0052_4541_4459; // "READY" in ASCII

fn own_until_killed(name: &str) -> Result<()> {
    let shmem = ShmemConf::new()
        .size(4096)
        .os_id(name)
        .create()
        .map_err(os::explain)?;
    println!("helper:  created {name} as its owner; waiting to be killed");
    as_atomics(&shmem)[0].store(READY, Ordering::Release);
    std::thread::sleep(PROCESS_TIMEOUT); // bounded: if nobody kills us, we exit and clean up
    bail!(
        "nobody killed this helper within {} s",
        PROCESS_TIMEOUT.as_secs()
    )
}
// ANCHOR_END: killed_owner

// ANCHOR: threads
/// A view of the mapping as atomics. `&[AtomicU64]` is `Send` and `Sync`, so scoped
/// threads may share it; its lifetime is tied to the `Shmem`, which stays put.
fn as_atomics(shmem: &Shmem) -> &[AtomicU64] {
    // SAFETY: the mapping starts on a page boundary (mmap), so it is aligned for u64;
    // len / 8 whole words lie inside the mapping; the mapping lives as long as `shmem`,
    // which the returned borrow cannot outlive; atomics may be accessed from several
    // threads and processes at once, and every access in this example goes through them.
    unsafe { std::slice::from_raw_parts(shmem.as_ptr() as *const AtomicU64, shmem.len() / 8) }
}

fn threads() -> Result<()> {
    let shmem = ShmemConf::new().size(4096).create().map_err(os::explain)?;
    let words = as_atomics(&shmem);
    let quarter = words.len() / 4;
    std::thread::scope(|s| {
        for (t, part) in words.chunks(quarter).enumerate() {
            s.spawn(move || {
                for w in part {
                    w.store(t as u64 + 1, Ordering::Relaxed);
                }
            });
        }
    });
    let right = words
        .iter()
        .enumerate()
        .all(|(i, w)| w.load(Ordering::Relaxed) == (i / quarter) as u64 + 1);
    println!(
        "4 threads filled their quarters of a {}-byte segment; all words right: {}",
        shmem.len(),
        yes_no(right)
    );
    println!("the Shmem itself never left the main thread");
    Ok(())
}
// ANCHOR_END: threads

// ANCHOR: hold
fn hold(name: Option<String>, seconds: u64) -> Result<()> {
    let name = name.unwrap_or_else(|| names::unique("hold"));
    let mut shmem = ShmemConf::new()
        .size(4096)
        .os_id(&name)
        .create()
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))?;
    cleanup::remove_on_interrupt(&name); // Ctrl-C removes it too
    put(&mut shmem, 0, "held by `segments hold`");
    println!("holding {name} for {seconds} s; Ctrl-C ends it early and removes it too");
    std::thread::sleep(Duration::from_secs(seconds));
    println!("time is up; the owner's drop removes {name}");
    Ok(())
}
// ANCHOR_END: hold

// ANCHOR: perms
fn perms() -> Result<()> {
    let shmem = ShmemConf::new().size(4096).create().map_err(os::explain)?;
    let st = os::shm_stat(shmem.get_os_id())?.context("the segment vanished")?;
    println!("mode {:04o}: {}", st.mode, describe_mode(st.mode));
    println!(
        "owner is this process's user: {}",
        yes_no(st.uid == os::uid())
    );
    Ok(())
}
// ANCHOR_END: perms

/// "read and write for its owner, nothing for anyone else" for 0600, and so on.
fn describe_mode(mode: u32) -> String {
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
