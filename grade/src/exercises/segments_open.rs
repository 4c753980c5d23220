//! 1.1 `segments_open`: create a segment, or open it when another process was first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};

use super::Exercise;
use crate::kit::{
    fail, gives_up, segment, view, worker_result, workers, Barrier, Ctx, GaveUp, Hint, Role,
    Verdict,
};

pub const EXERCISE: Exercise = Exercise {
    name: "segments_open",
    number: "1.1",
    chapter: "segments",
    check,
    roles: &[RACE, ONE],
    hints: HINTS,
    linux_only: false,
};

const BOUNDED: Hint =
    Hint("every wait must be bounded: give up on a segment that never gets sized");
const EINVAL: Hint = Hint("open() fails with EINVAL while the creator has made the name but not sized it yet: retry for a bounded time");
const ENOENT: Hint = Hint("between a failed create() and open(), the segment can vanish or not be there yet: retry both in a bounded loop");
const CREATE_FIRST: Hint = Hint(
    "create() makes the owner: call it first, and open() only when it fails with MappingIdExists",
);
const ONE_OWNER: Hint = Hint("only the process whose create() succeeded owns the segment; an opener must not call set_owner(true)");
const OWNER_REMOVES: Hint = Hint("the owner's Shmem removes the segment when it drops: don't give ownership away (set_owner(false)) or forget the Shmem");
const TOO_SMALL: Hint =
    Hint("compare the opened segment's len() with the size asked for: a smaller one is an error");
const SQUAT: Hint = Hint("a segment you did not create may be planted by someone else: after open, check its owner and mode (shmbook::os::shm_stat, shmbook::os::uid) and refuse one that is not yours or that other users may open");

pub const HINTS: &[Hint] = &[
    BOUNDED,
    EINVAL,
    ENOENT,
    CREATE_FIRST,
    ONE_OWNER,
    OWNER_REMOVES,
    TOO_SMALL,
    SQUAT,
];

/// The size every racer asks for: not a whole number of pages.
const SIZE: usize = 10_000;
const RACERS: u32 = 4;
/// A creator that never sizes its segment: the exercise allows "about two seconds".
const GIVE_UP_WITHIN: Duration = Duration::from_secs(5);

/// A worker's error, with the hint its errno points to.
fn racer_failed(what: String, why: &str) -> crate::kit::Failure {
    let f = fail(format!("{what}: {why}"));
    if why.contains("EINVAL") {
        f.hint(EINVAL)
    } else if why.contains("ENOENT") {
        f.hint(ENOENT)
    } else {
        f
    }
}

fn check(ctx: &Ctx) -> Verdict {
    // 3 (started first, judged last). A creator that never sizes its segment: the
    // opener must give up, in time.
    let never_name = ctx.name("never");
    let _never = Unsized::create(&never_name)?;
    let began = std::time::Instant::now();
    let never = ONE.spawn(&[&never_name, "4096"])?;
    // 1. Four processes call create_or_open at the same moment.
    let name = ctx.name("open");
    let start = ctx.name("start");
    let barrier = Barrier::create(&start)?;
    let args = vec![vec![name.clone(), RACERS.to_string(), start.clone()]; RACERS as usize];
    let results = workers(&RACE, &args)?;
    drop(barrier);
    let mut owners = 0;
    for r in &results {
        match r {
            Ok(role) if role == "owner" => owners += 1,
            Ok(_) => {}
            Err(why) => {
                return Err(racer_failed(
                    format!("{RACERS} processes started together; one failed"),
                    why,
                ))
            }
        }
    }
    if owners == 0 {
        return Err(fail(format!(
            "{RACERS} processes started together, none owns the segment"
        ))
        .hint(CREATE_FIRST));
    }
    if owners > 1 {
        return Err(
            fail(format!("{owners} of {RACERS} processes own the segment")).hint(ONE_OWNER),
        );
    }
    if shmbook::os::shm_exists(&name).unwrap_or(false) {
        return Err(fail(format!(
            "{name} is still there after all {RACERS} processes ended"
        ))
        .hint(OWNER_REMOVES));
    }
    // 2. A slow creator: the name exists for a while before it has a size.
    let name = ctx.name("slow");
    let slow = Unsized::create(&name)?;
    let opener = ONE.spawn(&[&name, "4096"])?;
    std::thread::sleep(Duration::from_millis(300));
    nix::unistd::ftruncate(&slow.fd, 4096).with_context(|| format!("sizing {name}"))?;
    match worker_result(&opener.wait(crate::kit::WORKER_TIMEOUT)?) {
        Ok(role) if role == "opener" => {}
        Ok(role) => {
            return Err(fail(format!(
                "a segment another process created (and sized 300 ms later) was reported as {role}"
            ))
            .hint(ONE_OWNER))
        }
        Err(why) => {
            return Err(racer_failed(
                "opening a segment whose creator sizes it 300 ms late failed".into(),
                &why,
            )
            .hint(EINVAL))
        }
    }
    // 4. An existing segment smaller than asked for.
    let name = ctx.name("small");
    let _small = segment(&name, 4096)?;
    let asked = 3 * 4096 + 1;
    match crate::kit::catch(|| homework::segments_open::create_or_open(&name, asked)) {
        Ok(Ok(shm)) => {
            return Err(fail(format!(
                "create_or_open({name}, {asked}) on an existing 4096-byte segment returned {} bytes instead of an error",
                shm.len()
            ))
            .hint(TOO_SMALL))
        }
        Ok(Err(_)) => {}
        Err(panic) => {
            return Err(fail(format!(
                "create_or_open on an existing segment smaller than asked for panicked: {panic}"
            )))
        }
    }
    // 5. Squatted names (before 3 is judged: its opener keeps trying meanwhile, so a
    // refusal missing here is reported at once, not after that wait).
    squatted(ctx)?;
    // 3, judged now: the opener started first.
    let what = "a segment that never gets a size";
    match gives_up(never, began, GIVE_UP_WITHIN)? {
        GaveUp::Never(limit) => Err(fail(format!(
            "{what}: create_or_open was still trying after {} s (the exercise says about two)",
            limit.as_secs()
        ))
        .hint(BOUNDED)),
        GaveUp::Succeeded(role, after) => Err(fail(format!(
            "{what} was returned (as {role}) after {:.1} s instead of an error",
            after.as_secs_f64()
        ))
        .hint(EINVAL)),
        GaveUp::Failed(_) => Ok(()),
    }
}

/// A segment planted under a name before anyone asked for it: one with mode 0666
/// (made by this user: the mode is what gives it away), and, when the grader runs as
/// root and can make one, one with mode 0600 that belongs to user `nobody`.
fn squatted(ctx: &Ctx) -> Verdict {
    let mut plants = vec![("mode 0666", "squat-mode", None)];
    if nix::unistd::geteuid().is_root() {
        plants.push(("owned by user nobody", "squat-owner", Some(nobody())));
    }
    for (what, tag, owner) in plants {
        let name = ctx.name(tag);
        let planted = Unsized::create(&name)?;
        let mode = if owner.is_some() { 0o600 } else { 0o666 };
        nix::sys::stat::fchmod(&planted.fd, nix::sys::stat::Mode::from_bits_truncate(mode))
            .with_context(|| format!("fchmod of {name}"))?;
        if let Some((uid, gid)) = owner {
            nix::unistd::fchown(&planted.fd, Some(uid), Some(gid))
                .with_context(|| format!("fchown of {name}"))?;
        }
        nix::unistd::ftruncate(&planted.fd, SIZE as i64)
            .with_context(|| format!("sizing {name}"))?;
        match crate::kit::catch(|| homework::segments_open::create_or_open(&name, SIZE)) {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => {
                return Err(fail(format!(
                    "a segment someone else planted under {name} before anyone asked for it ({what}) was opened instead of refused"
                ))
                .hint(SQUAT))
            }
            Err(panic) => {
                return Err(fail(format!(
                    "create_or_open on a segment someone else planted ({what}) panicked: {panic}"
                )))
            }
        }
    }
    Ok(())
}

/// User `nobody`'s ids (65534 where the user database has no such entry).
fn nobody() -> (nix::unistd::Uid, nix::unistd::Gid) {
    use nix::unistd::{Gid, Uid, User};
    match User::from_name("nobody") {
        Ok(Some(u)) => (u.uid, u.gid),
        _ => (Uid::from_raw(65534), Gid::from_raw(65534)),
    }
}

/// A name made as a creator makes it before it sets the size (`shm_open` with
/// `O_CREAT | O_EXCL`, mode 0600): its descriptor, to size it with; the name is removed
/// when this drops (and by the grader's sweep if the check dies first).
struct Unsized {
    name: String,
    fd: std::os::fd::OwnedFd,
}

impl Unsized {
    fn create(name: &str) -> anyhow::Result<Unsized> {
        use nix::fcntl::OFlag;
        use nix::sys::stat::Mode;
        let fd = nix::sys::mman::shm_open(
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .with_context(|| format!("creating {name}"))?;
        Ok(Unsized {
            name: name.to_string(),
            fd,
        })
    }
}

impl Drop for Unsized {
    fn drop(&mut self) {
        let _ = shmbook::os::shm_unlink(&self.name);
    }
}

/// Worker: `_open_race NAME N START` — wait at the start line, create or open, count
/// in, wait for all N, report `owner` or `opener`.
const RACE: Role = Role {
    name: "_open_race",
    run: open_race,
};

fn open_race(args: &[String]) -> anyhow::Result<String> {
    let [name, n, start] = args else {
        bail!("needs NAME N START")
    };
    let n: u32 = n.parse()?;
    Barrier::wait(start, n)?;
    let shm = homework::segments_open::create_or_open(name, SIZE)?;
    if shm.len() < SIZE {
        bail!(
            "create_or_open({name}, {SIZE}) returned {} bytes",
            shm.len()
        );
    }
    // SAFETY: the first 8 bytes of the segment are an AtomicU64 in every worker; a new
    // segment is all zeros; the reference does not outlive `shm`.
    let arrived: &AtomicU64 = unsafe { view(&shm) };
    arrived.fetch_add(1, Ordering::SeqCst);
    // Everyone stays until everyone has arrived: the owner must not remove the segment
    // while others still want to open it. All of them counting to N also shows they
    // share one segment.
    shmbook::wait::until(
        "all workers to open the segment",
        Duration::from_secs(10),
        || arrived.load(Ordering::SeqCst) >= u64::from(n),
    )
    .context("the workers did not all see one segment")?;
    Ok(if shm.is_owner() { "owner" } else { "opener" }.to_string())
}

/// Worker: `_open_one NAME SIZE` — create or open once, report `owner` or `opener`.
const ONE: Role = Role {
    name: "_open_one",
    run: |args| {
        let [name, size] = args else {
            bail!("needs NAME SIZE")
        };
        let shm = homework::segments_open::create_or_open(name, size.parse()?)?;
        Ok(if shm.is_owner() { "owner" } else { "opener" }.to_string())
    },
};
