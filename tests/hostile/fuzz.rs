//! Malformed command lines, at random but reproducibly: a seeded generator takes a
//! command line that works (a subcommand or role of some example, its required
//! arguments filled in) and spoils it one to three times — a word replaced by a
//! hostile one, a hostile word inserted, a word dropped, doubled or moved. Each line
//! runs in a sandbox.
//!
//! Expected: status 0, 1 or 2 (1 and 2 with an `error:` line, or clap's whole help when
//! no subcommand is left; 2 also with nothing on standard output); never a panic or a
//! death by a signal (but for the roles that crash on purpose, see `garbage`); nothing
//! left behind. A line still running after [`LIMIT`] is killed and counted
//! *undecided* (a spoiled line can still be a valid long run such as `run --seeds`). A failure prints the seed: `HOSTILE_SEED=S` repeats the run.
//!
//! Cases: `HOSTILE_FUZZ` lines (default 25).

use std::time::Duration;

use crate::common::{self, Rng};
use crate::garbage;
use crate::help::Spec;

pub const LIMIT: Duration = Duration::from_secs(25);

const HOSTILE: &[&str] = &[
    "",
    " ",
    "-",
    "--",
    "---",
    "=",
    "-1",
    "0",
    "0x10",
    "1e3",
    "1.5",
    "NaN",
    "99999999999999999999999999",
    "18446744073709551616",
    "4294967296",
    "1T",
    "16EiB",
    "%%",
    "%n%s",
    "/",
    "/.",
    "/..",
    "..",
    "/dev/shm",
    "/shmbook-fuzz",
    "/shmbook-fuzz/x",
    "é",
    "\u{202e}evil",
    "a\tb",
    "--name",
    "--size",
    "--n",
    "--help=x",
    "-h2",
    "--version",
    "help",
];

fn base(spec: &Spec, rng: &mut Rng) -> Vec<String> {
    let mut out = vec![spec.command.clone()];
    for a in &spec.args {
        let wanted = a.required || a.flag == "--seconds" || rng.below(3) == 0;
        if !wanted {
            continue;
        }
        if !a.flag.is_empty() {
            out.push(a.flag.clone());
            if a.value.is_empty() {
                continue;
            }
        }
        let v = if a.flag == "--seconds" {
            "1".to_string()
        } else if !a.choices.is_empty() {
            rng.pick(&a.choices).clone()
        } else if a.value.contains("NAME") || a.value.contains("PEER") {
            "/shmbook-fuzz".into()
        } else if a.value == "BYTES" || a.value == "SIZE" {
            "4096".into()
        } else {
            "2".into()
        };
        out.push(v);
    }
    out
}

fn spoil(line: &mut Vec<String>, rng: &mut Rng) {
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(line.len() as u64 + 1) as usize;
        let word = if rng.below(4) == 0 {
            // A long word.
            "A".repeat(1 + rng.below(5000) as usize)
        } else {
            rng.pick(HOSTILE).to_string()
        };
        match rng.below(5) {
            0 if i < line.len() => line[i] = word,
            1 if i < line.len() && line.len() > 1 => {
                line.remove(i);
            }
            2 if i < line.len() => {
                let w = line[i].clone();
                line.insert(i, w);
            }
            3 if i + 1 < line.len() => line.swap(i, i + 1),
            _ => line.insert(i, word),
        }
    }
}

pub fn malformed_command_lines_at_random() {
    if !common::sandbox_or_ignore("fuzz") {
        return;
    }
    let all = common::specs();
    let seed = common::seed();
    let mut rng = Rng(seed);
    let n = common::knob("HOSTILE_FUZZ", 25);
    let mut cases = Vec::new();
    for _ in 0..n {
        let (example, specs) = rng.pick(&all);
        let spec = rng.pick(specs);
        let mut line = base(spec, &mut rng);
        spoil(&mut line, &mut rng);
        cases.push((example.clone(), line));
    }
    let undecided = std::sync::Mutex::new(Vec::new());
    let failures = common::pool_in_sandboxes(&cases, |sb, (example, args)| {
        let o = common::run_in(sb, example, args, None, LIMIT);
        let error_line = o.stderr().contains("error:");
        let mut wrong = Vec::new();
        // With no subcommand (`--` alone, say) clap shows the whole help instead.
        let help = o.stderr().contains("Usage:") && o.stderr().contains("Commands:");
        match o.code() {
            None => {
                // A spoiled line can still be a valid long run (`run --seeds`).
                undecided.lock().unwrap().push(common::shown(example, args));
                return None;
            }
            Some(0) => {}
            Some(1) if error_line => {}
            Some(2) if (error_line || help) && o.ran.stdout.is_empty() => {}
            c if c == garbage::crash_on_purpose(example, args) => {}
            Some(_) => wrong.push("crashed, or failed without a proper message".into()),
        }
        if o.panicked() {
            wrong.push("panicked".into());
        }
        // `leave` leaves its segment on purpose.
        let leaves = o.code() == Some(0) && args.iter().any(|a| a == "leave");
        if !o.survivors.is_empty() || (!o.left.is_empty() && !leaves) {
            wrong.push(format!("left {:?}, processes {:?}", o.left, o.survivors));
        }
        o.verdict(common::shown(example, args), &wrong)
    });
    let undecided = undecided.into_inner().unwrap();
    eprintln!(
        "hostile: fuzz: {} undecided (still running after {LIMIT:?}; killed): {undecided:?}",
        undecided.len()
    );
    common::report("fuzz", Some(seed), cases.len(), &failures);
}
