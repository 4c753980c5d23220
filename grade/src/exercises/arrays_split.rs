//! 3.3 `arrays_split`: split `n` items over `w` workers.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::bail;
use homework::arrays_split::{fill, part};

use super::Exercise;
use crate::kit::{catch, fail, segment, workers, Ctx, Failure, Hint, Role, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "arrays_split",
    number: "3.3",
    chapter: "arrays",
    check,
    roles: &[FILL_ROLE],
    hints: HINTS,
    linux_only: false,
};

const NO_WAIT: Hint =
    Hint("part() is arithmetic and fill() touches its own part only: nothing waits");
const TRUNCATED: Hint = Hint("n / w * i drops the remainder: the last items belong to nobody; compute i * n / w instead (multiply first)");
const OVERLAP: Hint =
    Hint("a part ends where the next one starts (ranges exclude their end): no item in two parts");
const UNEVEN: Hint = Hint("giving the remainder to one worker makes it up to w - 1 items longer than the others: spread it, one item each");
const OVERFLOW: Hint = Hint(
    "i * n overflows for large n: compute it in u128 (or as i * (n / w) plus a share of n % w)",
);
const FILL: Hint =
    Hint("fill() adds 1 to the counters of part(counts.len(), w, i), and to no other");

pub const HINTS: &[Hint] = &[NO_WAIT, TRUNCATED, OVERLAP, UNEVEN, OVERFLOW, FILL];

fn check(ctx: &Ctx) -> Verdict {
    let seed = std::process::id() as usize;
    let mut pairs = vec![
        (0, 1),
        (0, 3),
        (1, 1),
        (3, 5),
        (5, 4),
        (10, 3),
        (10, 4),
        (7, 1),
        (100, 7),
        (1_000_003, 4),
        (usize::MAX, 3),
        (usize::MAX - 1, 7),
    ];
    // Pairs that change from run to run: a table of answers cannot pass.
    for k in 1..=24 {
        let x = seed.wrapping_mul(2_654_435_761).rotate_left(k) ^ (k as usize * 7919);
        pairs.push((x % 100_000, 1 + x / 100_000 % 40));
    }
    for (n, w) in pairs {
        parts(n, w)?;
    }
    // The workers, each in a process of its own, on one shared array.
    let name = ctx.name("split");
    for (n, w) in [
        (10, 3),
        (3, 5),
        (1 + seed % 5000, 1),
        (100_003 + seed % 1000, 4),
    ] {
        let shm = segment(&name, 4 * n)?;
        // SAFETY: the segment holds n u32 counters, page-aligned; AtomicU32 is valid for
        // every bit pattern; the slice borrows `shm`.
        let counts = unsafe { std::slice::from_raw_parts(shm.as_ptr().cast::<AtomicU32>(), n) };
        for (j, c) in counts.iter().enumerate() {
            c.store(start(seed, j), Ordering::Release);
        }
        let args: Vec<Vec<String>> = (0..w)
            .map(|i| vec![name.clone(), n.to_string(), w.to_string(), i.to_string()])
            .collect();
        for r in workers(&FILL_ROLE, &args)? {
            if let Err(why) = r {
                return Err(fail(format!(
                    "{w} workers on {n} items: a worker failed: {why}"
                )));
            }
        }
        if let Some((j, c)) = counts
            .iter()
            .map(|c| c.load(Ordering::Acquire))
            .enumerate()
            .find(|&(j, c)| c != start(seed, j) + 1)
        {
            return Err(fail(format!(
                "fill() by {w} worker processes on {n} shared counters: item {j} went from {} to {c}, not to {}",
                start(seed, j),
                start(seed, j) + 1
            ))
            .hint(FILL));
        }
        alone(n, w, seed % w, seed)?;
    }
    Ok(())
}

/// What the check writes in counter `j` before the workers run (never 0).
fn start(seed: usize, j: usize) -> u32 {
    1 + (seed
        .wrapping_mul(31)
        .wrapping_add(j.wrapping_mul(2_654_435_761))
        % 1_000_000) as u32
}

/// Worker `i` alone: exactly the counters of its own part go up by one.
fn alone(n: usize, w: usize, i: usize, seed: usize) -> Verdict {
    let own =
        catch(|| part(n, w, i)).map_err(|p| fail(format!("part({n}, {w}, {i}) panicked: {p}")))?;
    let counts: Vec<AtomicU32> = (0..n).map(|j| AtomicU32::new(start(seed, j))).collect();
    catch(|| fill(&counts, w, i))
        .map_err(|p| fail(format!("fill() of worker {i} of {w} panicked: {p}")))?;
    for (j, c) in counts.iter().enumerate() {
        let (was, now) = (start(seed, j), c.load(Ordering::Relaxed));
        let want = was + u32::from(own.contains(&j));
        if now != want {
            return Err(fail(format!(
                "fill() of worker {i} of {w} alone on {n} counters (its part {own:?}): item {j} went from {was} to {now}, not to {want}"
            ))
            .hint(FILL));
        }
    }
    Ok(())
}

/// Checks the parts of `n` items over `w` workers.
fn parts(n: usize, w: usize) -> Verdict {
    let mut ranges = Vec::new();
    for i in 0..w {
        match catch(|| part(n, w, i)) {
            Ok(r) => ranges.push(r),
            Err(panic) => {
                let f = fail(format!("part({n}, {w}, {i}) panicked: {panic}"));
                return Err(if panic.contains("overflow") {
                    f.hint(OVERFLOW)
                } else {
                    f
                });
            }
        }
    }
    let show = |i: usize| format!("part({n}, {w}, {i}) is {:?}", ranges[i]);
    let wrong = |what: String, hint: Hint| -> Failure { fail(what).hint(hint) };
    if ranges[0].start != 0 {
        return Err(fail(format!("{}: it must start at 0", show(0))));
    }
    for i in 0..w {
        if ranges[i].start > ranges[i].end {
            return Err(fail(format!("{}: it ends before it starts", show(i))));
        }
        if i > 0 && ranges[i].start != ranges[i - 1].end {
            let gap = ranges[i].start > ranges[i - 1].end;
            return Err(wrong(
                format!(
                    "{}, {}: {}",
                    show(i - 1),
                    show(i),
                    if gap {
                        "the items between belong to nobody"
                    } else {
                        "they overlap"
                    }
                ),
                if gap { TRUNCATED } else { OVERLAP },
            ));
        }
    }
    if ranges[w - 1].end != n {
        let last = ranges[w - 1].end;
        return Err(if last < n {
            wrong(
                format!("{}: items {last}..{n} belong to nobody", show(w - 1)),
                TRUNCATED,
            )
        } else {
            wrong(format!("{}: past the {n} items", show(w - 1)), OVERLAP)
        });
    }
    let lens = ranges.iter().map(|r| r.end - r.start);
    let (min, max) = (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0));
    if max - min > 1 {
        return Err(wrong(
            format!("{n} items over {w} workers: parts of {min} to {max} items"),
            UNEVEN,
        ));
    }
    Ok(())
}

/// Worker: `_split_fill NAME N W I` — run `fill` for worker I of W on the shared
/// array of N counters.
const FILL_ROLE: Role = Role {
    name: "_split_fill",
    run: |args| {
        let [name, n, w, i] = args else {
            bail!("needs NAME N W I")
        };
        let (n, w, i): (usize, usize, usize) = (n.parse()?, w.parse()?, i.parse()?);
        let shm = crate::kit::open(name)?;
        if shm.len() < 4 * n {
            bail!("the segment has {} bytes", shm.len());
        }
        // SAFETY: n u32 counters fit in the page-aligned mapping (checked); AtomicU32 is
        // valid for every bit pattern; the slice borrows `shm`.
        let counts = unsafe { std::slice::from_raw_parts(shm.as_ptr().cast::<AtomicU32>(), n) };
        fill(counts, w, i);
        Ok(String::new())
    },
};
