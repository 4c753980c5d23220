//! 2.3 `sizing_room`: refuse at once a segment that `/dev/shm` has no room for.

use std::time::{Duration, Instant};

use super::Exercise;
use crate::kit::{catch, fail, skip, within, Ctx, Hint, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "sizing_room",
    number: "2.3",
    chapter: "sizing",
    check,
    roles: &[],
    hints: HINTS,
    linux_only: true,
};

const QUICK: Hint = Hint("the kernel refuses a reservation larger than all of /dev/shm before it allocates anything: no loop, no waiting");
const RESERVE: Hint = Hint("creating a segment reserves nothing: call posix_fallocate on it for every byte, right after creating it");
const RETURNS_ERRNO: Hint = Hint("posix_fallocate returns the error number (0 for success) and does not set errno: compare its result with 0, not with -1");
const LEFT_BEHIND: Hint = Hint("when the reservation fails, remove the segment you created: the caller gets an error and no name");
const OWNER: Hint = Hint(
    "return the Shmem that created the segment, still its owner: dropping it removes the name",
);

pub const HINTS: &[Hint] = &[QUICK, RESERVE, RETURNS_ERRNO, LEFT_BEHIND, OWNER];

/// A refusal takes no time (the kernel checks the size first); a reservation of a few
/// pages neither.
const WITHIN: Duration = Duration::from_secs(5);
/// A refusal is a few system calls: a whole second covers a busy machine, not a retry
/// that sleeps.
const REFUSE_WITHIN: Duration = Duration::from_secs(1);

fn check(ctx: &Ctx) -> Verdict {
    if !cfg!(target_os = "linux") {
        return Err(skip(
            "posix_fallocate on a segment, and /dev/shm, are Linux's",
        ));
    }
    use homework::sizing_room::create_reserved;
    let page = shmbook::os::page_size();
    let (total, free) = shmbook::sizing::dev_shm_space()?;
    let seed = std::process::id() as usize;
    // 1. Sizes that fit: small, whole pages and not, varied from run to run.
    for (i, len) in [
        1,
        page + 1 + seed % (page - 1),
        (3 + seed % 5) * page,
        37 * page - seed % 100,
    ]
    .into_iter()
    .enumerate()
    {
        let name = ctx.name(&format!("room{i}"));
        let began = Instant::now();
        let shm = match catch(|| create_reserved(&name, len)) {
            Ok(Ok(shm)) => shm,
            Ok(Err(e)) => {
                return Err(fail(format!(
                    "create_reserved(name, {len}) failed with {free} bytes free in /dev/shm: {e:#}"
                )))
            }
            Err(panic) => {
                return Err(fail(format!(
                    "create_reserved(name, {len}) panicked: {panic}"
                )))
            }
        };
        let reserved_bytes = reserved(&name).unwrap_or(0);
        if shm.len() < len {
            return Err(fail(format!(
                "create_reserved(name, {len}) returned {} bytes",
                shm.len()
            )));
        }
        if reserved_bytes < len as u64 {
            return Err(fail(format!(
                "create_reserved(name, {len}) returned, and /dev/shm has {reserved_bytes} bytes reserved for the segment (st_blocks × 512)"
            ))
            .hint(RESERVE));
        }
        drop(shm);
        if exists(&name) {
            return Err(fail(format!(
                "the Shmem create_reserved(name, {len}) returned was dropped, and the name is still there"
            ))
            .hint(OWNER));
        }
        if began.elapsed() > WITHIN {
            return Err(fail(format!(
                "create_reserved(name, {len}) took {:.1} s",
                began.elapsed().as_secs_f64()
            ))
            .hint(QUICK));
        }
    }
    // 2. Sizes that cannot fit: more than all of /dev/shm (one byte to a page more,
    // varied), and more than a file can be long.
    let over = usize::try_from(total).unwrap_or(usize::MAX / 2) + 1 + seed % page;
    for (i, len) in [over, usize::MAX - seed % 1000].into_iter().enumerate() {
        let name = ctx.name(&format!("over{i}"));
        let what = format!(
            "create_reserved(name, {len}), /dev/shm holding {total} bytes in all ({free} free)"
        );
        let began = Instant::now();
        let asked = name.clone();
        let result = within(REFUSE_WITHIN, move || {
            create_reserved(&asked, len).map(|shm| shm.len())
        });
        let left = exists(&name);
        let _ = shmbook::os::shm_unlink(&name);
        let Some(result) = result else {
            return Err(fail(format!(
                "{what} took more than {} s to fail",
                REFUSE_WITHIN.as_secs()
            ))
            .hint(QUICK));
        };
        match result {
            Err(panic) => return Err(fail(format!("{what} panicked: {panic}"))),
            Ok(Ok(got)) => {
                // It reserved the small sizes above: the failure went unnoticed.
                return Err(fail(format!(
                    "{what} returned a segment of {got} bytes instead of an error"
                ))
                .hint(RETURNS_ERRNO));
            }
            Ok(Err(_)) if left => {
                return Err(
                    fail(format!("{what} failed, and left the name behind")).hint(LEFT_BEHIND)
                )
            }
            Ok(Err(_)) => {}
        }
        if began.elapsed() > REFUSE_WITHIN {
            return Err(fail(format!(
                "{what} took {:.1} s to fail (at most 1 s)",
                began.elapsed().as_secs_f64()
            ))
            .hint(QUICK));
        }
    }
    Ok(())
}

fn exists(name: &str) -> bool {
    shmbook::os::shm_exists(name).unwrap_or(false)
}

/// What /dev/shm has reserved for the segment: `st_blocks` × 512 bytes.
fn reserved(name: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/dev/shm{name}"))
        .ok()
        .map(|m| m.blocks() * 512)
}
