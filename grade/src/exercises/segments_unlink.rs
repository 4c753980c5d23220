//! 1.3 `segments_unlink`: remove the name as soon as every process has the segment.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::bail;
use homework::segments_unlink::{arrive, create, open, DATA};
use shared_memory::Shmem;

use super::Exercise;
use crate::kit::{
    call, fail, until_or_ended, wait_all, Barrier, Ctx, Failure, Hint, Role, Verdict,
};

pub const EXERCISE: Exercise = Exercise {
    name: "segments_unlink",
    number: "1.3",
    chapter: "segments",
    check,
    roles: &[PEER],
    hints: HINTS,
    linux_only: false,
};

const BOUNDED: Hint =
    Hint("nothing in this exercise waits: create, open and arrive return at once");
const EARLY: Hint = Hint("remove the name only when the last party arrives: a process that has not opened the segment yet can no longer find it");
const LAST: Hint = Hint("the last party to arrive removes the name with shm_unlink at once: a Shmem's drop comes only when a process ends cleanly, and never after SIGKILL");
const ONE_REMOVER: Hint = Hint("fetch_add returns the count before your own arrival: exactly one caller sees itself as the last; a separate load after the add can make two (or none) of them think so");
const SIZE: Hint = Hint("the segment holds the header and then size bytes: DATA + size in all");

pub const HINTS: &[Hint] = &[BOUNDED, EARLY, LAST, ONE_REMOVER, SIZE];

/// How long a party may take to open and arrive (a process start, on a busy machine).
const ARRIVE_WITHIN: Duration = Duration::from_secs(10);

/// The u32 word `k` of the parties' bytes: a peer's mark (1 arrived, 2 arrived and
/// removed the name) at its slot, the value the check writes for all at `parties`.
fn word(shm: &Shmem, k: usize) -> &AtomicU32 {
    assert!(DATA + 4 * (k + 1) <= shm.len());
    // SAFETY: inside the mapping (asserted), 4-aligned (DATA is 8, the mapping
    // page-aligned); an AtomicU32 is valid for every bit pattern; borrows `shm`.
    unsafe { &*shm.as_ptr().add(DATA + 4 * k).cast::<AtomicU32>() }
}

fn exists(name: &str) -> bool {
    shmbook::os::shm_exists(name).unwrap_or(false)
}

/// A party that could not open or arrive: the hint when the name was gone.
fn party_failed(name: &str, what: String, why: &str) -> Failure {
    let f = fail(format!("{what}: {why}"));
    if exists(name) {
        f
    } else {
        f.hint(EARLY)
    }
}

fn check(ctx: &Ctx) -> Verdict {
    // Sizes not a whole number of words or pages, varied from run to run; the creator
    // arrives first, last, and in between.
    let seed = std::process::id() as usize;
    let rounds = [
        (2, 0, 61 + seed % 7),
        (3, 2, 4093 + seed % 11),
        (5, 1 + seed as u32 % 3, 200 + seed % 4000),
    ];
    for (i, (parties, creator_at, size)) in rounds.into_iter().enumerate() {
        one_by_one(ctx, i, parties, creator_at, size)?;
    }
    together(ctx)?;
    refusals(ctx)?;
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        interleaved(ctx)
    } else {
        contention(ctx)
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[path = "segments_unlink_trap.rs"]
mod trap;

/// Two parties, A paused after each of its accesses to the header in turn while B
/// arrives in full (see `trap`): exactly one of them removes the name, every time.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn interleaved(ctx: &Ctx) -> Verdict {
    for at in 1..=16 {
        let name = ctx.name(&format!("early-step{at}"));
        let _creator = created(&name, 64, 2)?;
        let a = call("open", || open(&name))?;
        let b = call("open", || open(&name))?;
        let (a_said, b_said) = trap::paused(&a, &b, at);
        let there = exists(&name);
        let _ = shmbook::os::shm_unlink(&name);
        let setting = format!(
            "2 parties, one paused after its access {at} to the header while the other arrived"
        );
        let a_said = a_said
            .map_err(|e| fail(format!("{setting}: the paused one's arrive() failed: {e}")))?;
        let Some(b_said) = b_said else {
            // The paused party made fewer accesses: every point was tried.
            return Ok(());
        };
        if b_said == 3 {
            return Err(fail(format!(
                "{setting}: the other's arrive() failed or panicked"
            )));
        }
        if there {
            return Err(fail(format!("{setting}: the name is still there")).hint(LAST));
        }
        let removers = u32::from(a_said) + u32::from(b_said == 2);
        if removers != 1 {
            return Err(fail(format!(
                "{setting}: {removers} of them said they removed the name"
            ))
            .hint(ONE_REMOVER));
        }
    }
    Ok(())
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn interleaved(_: &Ctx) -> Verdict {
    Ok(())
}

/// Threads of this process arrive through many mappings each (one per party), all of
/// them released at the same instant; round after round, each on a fresh segment.
const THREADS: u32 = 2;
const MAPPINGS: u32 = 300;
const ROUNDS: u32 = 400;
/// The rounds stop after this long (a busy machine runs fewer of them).
const RACE_FOR: Duration = Duration::from_secs(2);

fn contention(ctx: &Ctx) -> Verdict {
    use std::sync::atomic::AtomicBool;
    use std::sync::Barrier as Line;
    let name = ctx.name("early-race");
    let parties = THREADS * MAPPINGS;
    let setup = Line::new(THREADS as usize + 1);
    let (ready, stop) = (AtomicU32::new(0), AtomicBool::new(false));
    let said = AtomicU32::new(0);
    let failed = std::sync::Mutex::new(None::<Failure>);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for round in 1..=ROUNDS {
                    setup.wait();
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let maps = (0..MAPPINGS)
                        .map(|_| call("open", || open(&name)))
                        .collect::<Result<Vec<_>, _>>();
                    // Both threads leave this spin together (neither sleeps in it).
                    ready.fetch_add(1, Ordering::AcqRel);
                    while ready.load(Ordering::Acquire) < THREADS * round {
                        std::hint::spin_loop();
                    }
                    let arrived = maps.and_then(|maps| {
                        maps.iter().try_for_each(|shm| {
                            if call("arrive", || arrive(shm))? {
                                said.fetch_add(1, Ordering::AcqRel);
                            }
                            Ok(())
                        })
                    });
                    if let Err(f) = arrived {
                        failed.lock().unwrap().get_or_insert(f);
                    }
                    setup.wait();
                }
            });
        }
        let began = std::time::Instant::now();
        let mut released = false;
        let verdict = (1..=ROUNDS).try_for_each(|round| {
            let made = created(&name, 64, parties);
            if made.is_err() {
                stop.store(true, Ordering::Release);
                released = true;
            }
            released |= round == ROUNDS;
            setup.wait();
            let _creator = made?;
            setup.wait();
            let there = exists(&name);
            let _ = shmbook::os::shm_unlink(&name);
            let removers = said.swap(0, Ordering::AcqRel);
            let setting = format!(
                "{parties} parties, {THREADS} threads arriving at the same instant (round {round})"
            );
            if let Some(f) = failed.lock().unwrap().take() {
                return Err(fail(format!("{setting}: {}", f.message)));
            }
            if there {
                return Err(fail(format!("{setting}: the name is still there")).hint(LAST));
            }
            if removers != 1 {
                return Err(fail(format!(
                    "{setting}: {removers} of them said they removed the name"
                ))
                .hint(ONE_REMOVER));
            }
            if began.elapsed() > RACE_FOR {
                return Err(fail(String::new()));
            }
            Ok(())
        });
        let verdict = verdict.or_else(|f| if f.message.is_empty() { Ok(()) } else { Err(f) });
        if !released {
            stop.store(true, Ordering::Release);
            setup.wait();
        }
        verdict
    })
}

/// `open` refuses a name that does not exist and a segment too short for the header,
/// with an error (not a panic).
fn refusals(ctx: &Ctx) -> Verdict {
    let missing = ctx.name("early-missing");
    let _ = shmbook::os::shm_unlink(&missing);
    let short = ctx.name("early-short");
    let _short = crate::kit::segment(&short, 4)?;
    for (name, what) in [
        (&missing, "a name that does not exist"),
        (&short, "a segment of 4 bytes (no room for the header)"),
    ] {
        match crate::kit::catch(|| open(name).map(|shm| shm.len())) {
            Ok(Err(_)) => {}
            Ok(Ok(len)) => {
                return Err(fail(format!(
                    "open() of {what} returned a mapping of {len} bytes, not an error"
                )))
            }
            Err(panic) => {
                return Err(fail(format!(
                    "open() of {what} panicked ({panic}), not an error with its reason"
                )))
            }
        }
    }
    Ok(())
}

/// The parties arrive one at a time, the creator (this process) as number
/// `creator_at`; the name is looked for after each arrival.
fn one_by_one(ctx: &Ctx, round: usize, parties: u32, creator_at: u32, size: usize) -> Verdict {
    let name = ctx.name(&format!("early{round}"));
    let shm = created(&name, size, parties)?;
    let mut peers = Vec::new();
    for at in 0..parties {
        let arrived = at + 1;
        let (who, removed) = if at == creator_at {
            ("the creator", call("arrive", || arrive(&shm))?)
        } else {
            let slot = peers.len() + 1;
            let peer = PEER.spawn(&[&name, &slot.to_string(), &parties.to_string(), "-"])?;
            let what = format!("party {arrived} of {parties} opening the segment and arriving");
            let peer = until_or_ended(peer, &what, ARRIVE_WITHIN, || {
                word(&shm, slot).load(Ordering::Acquire) != 0
            })
            .map_err(|why| party_failed(&name, what, &why))?;
            peers.push(peer);
            ("a party", word(&shm, slot).load(Ordering::Acquire) == 2)
        };
        let there = exists(&name);
        let setting = format!("{parties} parties, {arrived} arrived");
        if arrived < parties && !there {
            return Err(fail(format!(
                "{setting}: the name is gone, and the other parties can no longer open the segment"
            ))
            .hint(EARLY));
        }
        if arrived == parties && there {
            return Err(fail(format!(
                "{setting} (all of them still running, the segment mapped): the name is still there"
            ))
            .hint(LAST));
        }
        if removed != (arrived == parties) {
            return Err(fail(format!(
                "{setting}: arrive() in {who} returned {removed}, though it {} the last",
                if removed { "was not" } else { "was" }
            )));
        }
    }
    read_back(&shm, parties, peers)
}

/// The creator arrives first, then the others all at the same moment.
fn together(ctx: &Ctx) -> Verdict {
    let parties = 4;
    let name = ctx.name("early-all");
    let shm = created(&name, 64, parties)?;
    if call("arrive", || arrive(&shm))? {
        return Err(fail("arrive() in the first of 4 parties returned true").hint(EARLY));
    }
    let start = ctx.name("early-start");
    let _barrier = Barrier::create(&start)?;
    let mut started = Vec::new();
    for slot in 1..parties as usize {
        started.push(PEER.spawn(&[&name, &slot.to_string(), &parties.to_string(), &start])?);
    }
    let mut peers = Vec::new();
    for (slot, peer) in (1..).zip(started) {
        let what = "3 parties opening the segment and arriving at the same moment".to_string();
        let peer = until_or_ended(peer, &what, ARRIVE_WITHIN, || {
            word(&shm, slot).load(Ordering::Acquire) != 0
        })
        .map_err(|why| party_failed(&name, what, &why))?;
        peers.push(peer);
    }
    let removers = (1..parties as usize)
        .filter(|&s| word(&shm, s).load(Ordering::Acquire) == 2)
        .count();
    if exists(&name) {
        return Err(fail(
            "4 parties arrived, the last three at the same moment: the name is still there",
        )
        .hint(LAST));
    }
    if removers != 1 {
        return Err(fail(format!(
            "4 parties arrived, the last three at the same moment: {removers} of them said they removed the name"
        ))
        .hint(ONE_REMOVER));
    }
    read_back(&shm, parties, peers)
}

/// Calls the student's `create`, and checks the segment's size and name.
fn created(name: &str, size: usize, parties: u32) -> Result<Shmem, Failure> {
    let shm = call("create", || create(name, size, parties))?;
    if shm.len() < DATA + size {
        return Err(fail(format!(
            "create({name}, {size}, {parties}) made {} bytes, not {}",
            shm.len(),
            DATA + size
        ))
        .hint(SIZE));
    }
    if !exists(name) {
        return Err(fail(format!(
            "create({name}, {size}, {parties}) returned, and the name is already gone: no other party can open the segment"
        ))
        .hint(EARLY));
    }
    Ok(shm)
}

/// With the name gone, a value written through this process's mapping must reach every
/// other party through its own.
fn read_back(shm: &Shmem, parties: u32, peers: Vec<shmbook::helper::Helper>) -> Verdict {
    let value = 0x5EED_0000 | (std::process::id() & 0xFFFF) | parties;
    word(shm, parties as usize).store(value, Ordering::Release);
    for r in wait_all(peers) {
        match r {
            Ok(read) if read == value.to_string() => {}
            Ok(read) => {
                return Err(fail(format!(
                    "with the name removed, a party read {read} through its mapping, not {value}"
                )))
            }
            Err(why) => {
                return Err(fail(format!(
                    "with the name removed, a party could not go on using its mapping: {why}"
                )))
            }
        }
    }
    Ok(())
}

/// Worker: `_unlink_peer NAME SLOT PARTIES START|-` — (wait at the start line,) open,
/// arrive, mark its slot, then wait for the check's value and report it.
const PEER: Role = Role {
    name: "_unlink_peer",
    run: peer,
};

fn peer(args: &[String]) -> anyhow::Result<String> {
    let [name, slot, parties, start] = args else {
        bail!("needs NAME SLOT PARTIES START")
    };
    let (slot, parties): (usize, usize) = (slot.parse()?, parties.parse()?);
    if start != "-" {
        Barrier::wait(start, parties as u32 - 1)?;
    }
    let shm = open(name)?;
    if shm.len() < DATA + 4 * (parties + 1) {
        bail!("the segment has {} bytes", shm.len());
    }
    let removed = arrive(&shm)?;
    word(&shm, slot).store(if removed { 2 } else { 1 }, Ordering::Release);
    let value = word(&shm, parties);
    shmbook::wait::until("the check's value", ARRIVE_WITHIN, || {
        value.load(Ordering::Acquire) != 0
    })?;
    Ok(value.load(Ordering::Acquire).to_string())
}
