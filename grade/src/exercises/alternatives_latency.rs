//! 5.3 `alternatives_latency`: latency percentiles, by nearest rank.

use std::time::{Duration, Instant};

use homework::alternatives_latency::percentile;

use super::Exercise;
use crate::kit::{catch, fail, Ctx, Hint, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "alternatives_latency",
    number: "5.3",
    chapter: "alternatives",
    check,
    roles: &[],
    hints: HINTS,
    linux_only: false,
};

const FAST: Hint = Hint("one sort of a copy, O(n log n), is fast enough: no loop over the samples inside a loop over the samples");
const MEAN: Hint =
    Hint("a percentile is one of the samples, at a rank of the sorted samples, not an average");
const SORT: Hint = Hint("the samples come in any order: sort a copy first");
const RANK: Hint = Hint("ranks count from 1: the sample at rank r is sorted[r - 1], and r = ⌈k·n/1000⌉ rounds up (p50 of 1000 samples is sorted[499])");
const EDGES: Hint =
    Hint("no samples, or k outside 1..=1000, is None; one sample is every percentile of itself");

pub const HINTS: &[Hint] = &[FAST, MEAN, SORT, RANK, EDGES];

/// Hundreds of thousands of samples are summarized well within this by a sort (a
/// fraction of a second, also unoptimized), never by comparing every pair.
const BIG_WITHIN: Duration = Duration::from_secs(5);
/// Millions of samples: their copy alone takes a while in an unoptimized build.
const HUGE_WITHIN: Duration = Duration::from_secs(20);

/// The nearest-rank percentile, as the exercise defines it, of samples `sorted`.
fn expected(sorted: &[u64], k: u32) -> Option<u64> {
    if sorted.is_empty() || !(1..=1000).contains(&k) {
        return None;
    }
    Some(sorted[rank(sorted.len(), k) - 1])
}

/// ⌈k·n/1000⌉, at least 1.
fn rank(n: usize, k: u32) -> usize {
    (k as usize * n).div_ceil(1000).max(1)
}

/// A small generator, seeded per run (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Round trips as they look: most near a floor, a few far slower, in arrival order.
fn recorded(rng: &mut Rng, n: usize, distinct: bool) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n)
        .map(|i| {
            let r = rng.next();
            let base = if r.is_multiple_of(100) { 200_000 } else { 400 };
            if distinct {
                // Distinct values, so that a rank one off is a different answer.
                (base + (r >> 20) % 997) * (1 << 20) + i as u64
            } else {
                base + (r >> 20) % 8 * 50
            }
        })
        .collect();
    // Any order.
    for i in (1..v.len()).rev() {
        v.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    v
}

fn check(_ctx: &Ctx) -> Verdict {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
    let mut sets: Vec<(String, Vec<u64>)> = Vec::new();
    for n in [1, 2, 7, 10, 99, 101, 999, 1000, 1001, 2000, 12_345] {
        sets.push((format!("{n} distinct samples"), recorded(&mut rng, n, true)));
    }
    let n = 1000 + (rng.next() % 9000) as usize;
    sets.push((
        format!("{n} samples, many equal"),
        recorded(&mut rng, n, false),
    ));
    sets.push(("3 equal samples".into(), vec![777; 3]));
    let mut ks = vec![1, 250, 500, 900, 990, 999, 1000];
    ks.extend((0..3).map(|_| 1 + (rng.next() % 1000) as u32));
    for (what, samples) in &sets {
        let sorted = sorted(samples);
        for &k in &ks {
            compare(what, samples, &sorted, k)?;
        }
    }
    let seven = sorted(&sets[2].1);
    for k in [0, 1001] {
        compare("7 samples", &sets[2].1, &seven, k)?;
    }
    compare("no samples", &[], &[], 500)?;
    // Many samples, in time: k·n = 1000·q + 1 with q even, far above 2^24, where f32
    // steps by 16 and rounds k·n down to 1000·q (a rank in f32 is one short there).
    let n = 1000 * (151 + 2 * (rng.next() % 50) as usize) - 1;
    let big = recorded(&mut rng, n, true);
    let want = expected(&sorted(&big), 999);
    in_time(
        &format!("{n} samples in any order"),
        big,
        999,
        want,
        BIG_WITHIN,
    )?;
    // More samples than a u32 rank can count to at p99.9 (k·n above 2^32), given
    // sorted (descending), so that a sort takes little time.
    let n = 4_300_000 + (rng.next() % 1000) as usize;
    let huge: Vec<u64> = (0..n as u64).rev().collect();
    let want = Some(rank(n, 999) as u64 - 1);
    in_time(
        &format!("{n} samples (k·n above 2^32)"),
        huge,
        999,
        want,
        HUGE_WITHIN,
    )
}

/// The student's call on its own thread, given at most `within`.
fn in_time(what: &str, samples: Vec<u64>, k: u32, want: Option<u64>, within: Duration) -> Verdict {
    let r = rank(samples.len(), k);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let began = Instant::now();
        let got = catch(|| percentile(&samples, k));
        let _ = tx.send((got, began.elapsed()));
    });
    let limit = within.as_secs();
    match rx.recv_timeout(within) {
        Err(_) => Err(fail(format!("percentile({what}, {k}) took more than {limit} s")).hint(FAST)),
        Ok((_, took)) if took > within => Err(fail(format!(
            "percentile({what}, {k}) took {:.1} s, more than {limit} s",
            took.as_secs_f64()
        ))
        .hint(FAST)),
        Ok((Err(panic), _)) => Err(fail(format!("percentile({what}, {k}) panicked: {panic}"))),
        Ok((Ok(got), _)) if got != want => Err(fail(format!(
            "percentile({what}, {k}) is {got:?}, expected {want:?} (rank ⌈k·n/1000⌉ = {r})"
        ))
        .hint(RANK)),
        Ok(_) => Ok(()),
    }
}

fn sorted(samples: &[u64]) -> Vec<u64> {
    let mut s = samples.to_vec();
    s.sort_unstable();
    s
}

/// One call of the student's function against the definition (`sorted` is `samples`
/// sorted).
fn compare(what: &str, samples: &[u64], sorted: &[u64], k: u32) -> Verdict {
    let want = expected(sorted, k);
    let got = catch(|| percentile(samples, k))
        .map_err(|panic| fail(format!("percentile of {what}, k = {k}: panicked: {panic}")))?;
    if got == want {
        return Ok(());
    }
    let show = |v: Option<u64>| v.map_or("None".to_string(), |x| x.to_string());
    let f = fail(format!(
        "percentile({what}, {k}) is {}, expected {}",
        show(got),
        show(want)
    ));
    let (Some(g), Some(_)) = (got, want) else {
        return Err(f.hint(EDGES));
    };
    let mean =
        (samples.iter().map(|&x| u128::from(x)).sum::<u128>() / samples.len() as u128) as u64;
    if !sorted.contains(&g) || g == mean {
        return Err(f.hint(MEAN));
    }
    // Which trap: the same samples given sorted tell a missing sort (now right) from a
    // rank one off (still one off).
    let rank = rank(samples.len(), k);
    let near = |r: usize, v: u64| r >= 1 && r <= sorted.len() && sorted[r - 1] == v;
    Err(match catch(|| percentile(sorted, k)) {
        Ok(again) if again == want => f.hint(SORT),
        Ok(Some(v)) if near(rank + 1, v) || near(rank - 1, v) => f.hint(RANK),
        _ => f,
    })
}
