//! Class 4: undersized and garbage segments for every helper role that attaches to one.
//! The roles are the hidden subcommands declared in the examples' sources; a role
//! attaches when one of its arguments is a segment (placeholder NAME, PEER or
//! SEGMENT). That argument gets a planted segment of 0 (never sized), 1, 100, 255, 4095
//! or 4096 bytes of zeros, 0xff or random bytes; an argument with a list of choices
//! gets each choice in turn; others a small plausible value.
//!
//! Expected: the role ends within [`LIMIT`] with status 0, 1 (then with an `error:`
//! line) or 2 — never a panic (101), SIGSEGV, SIGBUS, SIGABRT or a hang; it leaves no
//! process and nothing new behind. Status 0 is allowed (a role may accept any bytes,
//! e.g. one that only prints them) and counted. [`ON_PURPOSE`] lists the roles whose
//! crash is their lesson.
//!
//! Cases per role: by default 3 for one of its choices (a seeded pick) (sizes 0, 100 and 4096, the contents
//! rotating), each given [`QUICK_LIMIT`]: a role still waiting then (for a peer that
//! never comes; its own wait is bounded) is counted as *undecided*, not as passed;
//! `HOSTILE_FULL=1` runs every choice, each with all 16 (size 0 once, 5 sizes × 3
//! contents) and [`LIMIT`],
//! where a role that has not ended is a failure.

use std::time::Duration;

use crate::common;
use crate::help::Spec;

pub const NAME: &str = "/shmbook-garbage";
pub const LIMIT: Duration = Duration::from_secs(40);
pub const QUICK_LIMIT: Duration = Duration::from_secs(2);

/// Roles that crash on purpose: (example, role, the signal, why).
pub const ON_PURPOSE: &[(&str, &str, i32, &str)] = &[
    (
        "sizing",
        "_beyond",
        libc::SIGBUS,
        "reads the page past the segment's end: SIGBUS is the lesson",
    ),
    (
        "sizing",
        "_full",
        libc::SIGBUS,
        "touches a page a full tmpfs cannot give: SIGBUS is the lesson",
    ),
    (
        "alternatives",
        "_crash",
        libc::SIGABRT,
        "a process that crashes, to show that its parent survives",
    ),
];

/// The shell status with which `example ARGS` crashes on purpose, if it does.
pub fn crash_on_purpose(example: &str, args: &[String]) -> Option<i32> {
    ON_PURPOSE
        .iter()
        .find(|(e, r, _, _)| *e == example && args.first().is_some_and(|a| a == r))
        .map(|(_, _, sig, _)| 128 + sig)
}

fn is_segment(placeholder: &str) -> bool {
    ["NAME", "PEER", "SEGMENT"]
        .iter()
        .any(|p| placeholder.contains(p))
}

/// The command lines that make `spec` attach to [`NAME`]; empty when it does not.
pub fn attaching_lines(spec: &Spec) -> Vec<Vec<String>> {
    if !spec.args.iter().any(|a| a.required && is_segment(&a.value)) {
        return Vec::new();
    }
    let mut lines = vec![vec![spec.command.clone()]];
    for a in spec.args.iter().filter(|a| a.required) {
        let values: Vec<String> = if is_segment(&a.value) {
            vec![NAME.into()]
        } else if !a.choices.is_empty() {
            a.choices.clone()
        } else {
            vec![small(&a.value)]
        };
        lines = lines
            .into_iter()
            .flat_map(|l| {
                values.iter().map(move |v| {
                    let mut l = l.clone();
                    if !a.flag.is_empty() {
                        l.push(a.flag.clone());
                    }
                    l.push(v.clone());
                    l
                })
            })
            .collect();
    }
    lines
}

/// A small value for a placeholder that is not a segment.
fn small(placeholder: &str) -> String {
    match placeholder {
        "BYTES" | "SIZE" => "4096".into(),
        p if p.contains("START") => "0".into(),
        p if p.contains("END") => "8".into(),
        p if p.contains("SLOT") => "0".into(),
        _ => "2".into(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Fill {
    Zeros,
    Ones,
    Random,
}

fn bytes(len: usize, fill: Fill, seed: u64) -> Vec<u8> {
    let mut rng = common::Rng(seed);
    (0..len)
        .map(|_| match fill {
            Fill::Zeros => 0,
            Fill::Ones => 0xff,
            Fill::Random => rng.next() as u8,
        })
        .collect()
}

pub fn every_attaching_role_survives_undersized_and_garbage_segments() {
    let Some((full, seed, mut rng)) = common::begin("garbage") else {
        return;
    };
    let fills = [Fill::Zeros, Fill::Ones, Fill::Random];
    let mut cases = Vec::new();
    let mut roles = 0;
    for (example, specs) in common::specs() {
        for spec in specs.iter().filter(|s| s.command.starts_with('_')) {
            let mut lines = attaching_lines(spec);
            if !full {
                // One of the choices (e.g. one way of `_consume`), not all of them.
                common::sample(&mut lines, 1, &mut rng);
            }
            for line in lines {
                roles += 1;
                let mut shapes = vec![(0usize, Fill::Zeros)];
                if full {
                    for len in [1, 100, 255, 4095, 4096] {
                        shapes.extend(fills.iter().map(|f| (len, *f)));
                    }
                } else {
                    shapes.push((100, fills[roles % 3]));
                    shapes.push((4096, fills[(roles + 1) % 3]));
                }
                for (len, fill) in shapes {
                    cases.push((example.clone(), line.clone(), len, fill));
                }
            }
        }
    }
    assert!(roles > 0, "no role attaches to a segment: nothing to check");
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    let undecided = std::sync::atomic::AtomicUsize::new(0);
    let failures = common::pool_in_sandboxes(&cases, |sb, (example, args, len, fill)| {
        std::fs::write(sb.segment(NAME), bytes(*len, *fill, seed)).expect("plant");
        let o = common::run_in(
            sb,
            example,
            args,
            None,
            if full { LIMIT } else { QUICK_LIMIT },
        );
        let on_purpose = crash_on_purpose(example, args);
        let mut wrong = Vec::new();
        match o.code() {
            None if !full => {
                // Killed by the test (SIGKILL): what it leaves proves nothing.
                undecided.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return None;
            }
            None => wrong.push("hung".to_string()),
            c if c == on_purpose => {}
            Some(0) => {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Some(1) | Some(2) if o.stderr().contains("error:") => {}
            Some(1) | Some(2) => wrong.push("failed without an 'error:' line".into()),
            Some(_) => wrong.push("crashed".into()),
        }
        if o.panicked() {
            wrong.push("panicked".into());
        }
        if !o.survivors.is_empty() {
            wrong.push(format!("processes left running: {:?}", o.survivors));
        }
        if !o.left.is_empty() {
            wrong.push(format!("left behind: {:?}", o.left));
        }
        o.verdict(
            format!(
                "{} on {len} bytes of {fill:?} (seed {seed})",
                common::shown(example, args)
            ),
            &wrong,
        )
    });
    eprintln!(
        "hostile: garbage: {} role lines; of {} runs, {} accepted the segment (status 0), \
         {} undecided (still waiting after {:?})",
        roles,
        cases.len(),
        accepted.into_inner(),
        undecided.into_inner(),
        QUICK_LIMIT
    );
    common::report("garbage", Some(seed), cases.len(), &failures);
}

/// Bytes that a terminal would obey: escape sequences (title, clear screen, colour),
/// bell, carriage return, backspace, NUL, and bytes that are not UTF-8.
const TERMINAL_ATTACK: &[u8] = b"\x1b]0;pwned\x07\x1b[2J\x1b[31mred\r\x08\x00\xff\xfe hello";

/// Everything a program printed that a terminal would obey or cannot show.
fn raw_control(out: &[u8]) -> Option<String> {
    if let Some(b) = out
        .iter()
        .find(|&&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
    {
        return Some(format!("a raw control byte {b:#04x}"));
    }
    std::str::from_utf8(out)
        .err()
        .map(|e| format!("bytes that are not UTF-8 ({e})"))
}

/// Bytes read from a segment are printed escaped: every visible subcommand with a
/// `--name` option and every role that attaches (one line each) runs on a segment that
/// starts with [`TERMINAL_ATTACK`]; nothing it prints may hold a raw control byte or
/// invalid UTF-8. Cases: one per such subcommand or role.
pub fn bytes_from_a_segment_are_printed_escaped() {
    if !common::sandbox_or_ignore("escaped") {
        return;
    }
    let seed = common::seed();
    let mut rng = common::Rng(seed);
    let mut cases = Vec::new();
    for (example, specs) in common::specs() {
        for spec in &specs {
            let mut lines = if spec.command.starts_with('_') {
                attaching_lines(spec)
            } else if spec.options().any(|a| a.flag == "--name") {
                vec![common::words(&[
                    &spec.command,
                    "--name",
                    NAME,
                    "--seconds",
                    "1",
                ])]
                .into_iter()
                .map(|mut l| {
                    if !spec.options().any(|a| a.flag == "--seconds") {
                        l.truncate(3);
                    }
                    l
                })
                .collect()
            } else {
                Vec::new()
            };
            common::sample(&mut lines, 1, &mut rng);
            cases.extend(lines.into_iter().map(|l| (example.clone(), l)));
        }
    }
    assert!(
        !cases.is_empty(),
        "nothing reads a segment: nothing to check"
    );
    let failures = common::pool_in_sandboxes(&cases, |sb, (example, args)| {
        let mut bytes = TERMINAL_ATTACK.to_vec();
        bytes.resize(4096, b'x');
        std::fs::write(sb.segment(NAME), bytes).expect("plant");
        let o = common::run_in(sb, example, args, None, QUICK_LIMIT);
        let wrong: Vec<String> = [("stdout", &o.ran.stdout), ("stderr", &o.ran.stderr)]
            .iter()
            .filter_map(|(which, out)| raw_control(out).map(|w| format!("{which}: {w}")))
            .collect();
        o.verdict(common::shown(example, args), &wrong)
    });
    common::report("escaped", Some(seed), cases.len(), &failures);
}

pub fn raw_control_sees_what_a_terminal_obeys() {
    assert!(raw_control(TERMINAL_ATTACK).is_some());
    assert!(raw_control(b"\xff").is_some());
    assert!(raw_control("said \"\\x1b[2J\" é\n\tok".as_bytes()).is_none());
}
