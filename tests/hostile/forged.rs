//! Class 4, continued: forged segments. Garbage is refused by a header's magic number;
//! a forger starts from a real segment. Each example's quick commands (the signal
//! class's table) run once in a sandbox while the test copies every segment they
//! make, as often as it changes (so half-written states are caught too). The copies
//! are then spoiled — a header word set to 0 or to all ones, random bytes flipped in
//! the first 256, cut to half its length or to 64 bytes, or left as they are (a stale
//! segment) — and handed to every role of the same example that attaches, as in
//! `garbage`, with the same expectations: status 0, 1 (with `error:`) or 2, never a
//! panic, a crash or a hang, nothing left.
//!
//! Cases: by default, per example, 1 copy from one command × 2 forgeries × one line
//! per role (seeded picks), each given `garbage::QUICK_LIMIT` (a role still waiting then is counted
//! *undecided*); `HOSTILE_FULL=1`: every copy from every command (up to 4 states per
//! segment) × 6 forgeries × every line, with `garbage::LIMIT`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shmbook::process::{self, Output};

use crate::common::{self, Rng};
use crate::garbage;
use crate::sandbox::Sandbox;
use crate::signals::QUICK;

/// The segments `example ARGS` makes, copied while it runs: up to 4 different states
/// of each, at most 1 MiB each.
fn harvest(example: &str, args: &[&str]) -> Vec<Vec<u8>> {
    let sb = Sandbox::new().expect("sandbox");
    let mut cmd = sb.command(&common::bin(example), common::root());
    cmd.args(args);
    let mut running = process::start(&mut cmd, Output::Separate, None).expect("start");
    let start = Instant::now();
    let mut seen: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    while running.running().unwrap_or(false) && start.elapsed() < Duration::from_secs(20) {
        for e in std::fs::read_dir(sb.shm()).into_iter().flatten().flatten() {
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            let states = seen
                .entry(e.file_name().to_string_lossy().into_owned())
                .or_default();
            if !bytes.is_empty()
                && bytes.len() <= 1 << 20
                && states.len() < 4
                && !states.contains(&bytes)
            {
                states.push(bytes);
            }
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    let _ = running.finish(Duration::ZERO);
    seen.into_values().flatten().collect()
}

/// Forgery `kind` (0 to 5) of `real`.
fn forge(real: &[u8], kind: u64, rng: &mut Rng) -> Vec<u8> {
    let mut b = real.to_vec();
    let head = b.len().min(256);
    match kind {
        0 | 1 if head >= 8 => {
            let at = 8 * rng.below(head as u64 / 8) as usize;
            let word = if kind == 0 { [0xff; 8] } else { [0; 8] };
            b[at..at + 8].copy_from_slice(&word);
        }
        2 => {
            for _ in 0..8 {
                let at = rng.below(head as u64) as usize;
                b[at] ^= 1 << rng.below(8);
            }
        }
        3 => b.truncate(b.len() / 2),
        4 => b.truncate(64),
        _ => {}
    }
    b
}

pub fn roles_survive_forged_segments() {
    let Some((full, seed, mut rng)) = common::begin("forged") else {
        return;
    };
    let mut cases = Vec::new();
    for (example, specs) in common::specs() {
        let mut lines: Vec<Vec<String>> = Vec::new();
        for spec in specs.iter().filter(|s| s.command.starts_with('_')) {
            let mut l = garbage::attaching_lines(spec);
            if !full {
                common::sample(&mut l, 1, &mut rng);
            }
            lines.extend(l);
        }
        if lines.is_empty() {
            continue;
        }
        let mut sources: Vec<_> = QUICK.iter().filter(|(e, _, _)| *e == example).collect();
        if !full {
            common::sample(&mut sources, 1, &mut rng);
        }
        let mut copies: Vec<Vec<u8>> = sources
            .iter()
            .flat_map(|(_, args, _)| harvest(&example, args))
            .collect();
        if !full {
            common::sample(&mut copies, 1, &mut rng);
        }
        for copy in &copies {
            let kinds: Vec<u64> = if full {
                (0..6).collect()
            } else {
                vec![rng.below(6), rng.below(6)]
            };
            for kind in kinds {
                let forged = forge(copy, kind, &mut rng);
                for line in &lines {
                    cases.push((example.clone(), line.clone(), forged.clone(), kind));
                }
            }
        }
    }
    assert!(!cases.is_empty(), "no segment harvested: nothing to check");
    let limit = if full {
        garbage::LIMIT
    } else {
        garbage::QUICK_LIMIT
    };
    let undecided = std::sync::atomic::AtomicUsize::new(0);
    let failures = common::pool_in_sandboxes(&cases, |sb, (example, args, bytes, kind)| {
        std::fs::write(sb.segment(garbage::NAME), bytes).expect("plant");
        let o = common::run_in(sb, example, args, None, limit);
        let mut wrong = Vec::new();
        match o.code() {
            None if !full => {
                undecided.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return None;
            }
            None => wrong.push("hung".to_string()),
            c if c == garbage::crash_on_purpose(example, args) => {}
            Some(0) => {}
            Some(1 | 2) if o.stderr().contains("error:") => {}
            Some(1 | 2) => wrong.push("failed without an 'error:' line".into()),
            Some(_) => wrong.push("crashed".into()),
        }
        if o.panicked() {
            wrong.push("panicked".into());
        }
        wrong.extend(o.leaks());
        o.verdict(
            format!(
                "{} on a forged segment ({} bytes, forgery {kind}, seed {seed}; starts {:?})",
                common::shown(example, args),
                bytes.len(),
                bytes[..bytes.len().min(48)].escape_ascii().to_string()
            ),
            &wrong,
        )
    });
    eprintln!(
        "hostile: forged: {} undecided (still waiting after {limit:?})",
        undecided.into_inner()
    );
    common::report("forged", Some(seed), cases.len(), &failures);
}
