//! Class 5: sizes and counts from 0 to 2^64−1 (and beyond) for every numeric argument
//! of every subcommand and role, read from their help (every option or positional
//! that takes a value and is not a name, address, path, text or a list of choices).
//! The other required arguments get a small plausible value.
//!
//! Expected: a value of 2^32−1 or more (or 1 TiB or more) is refused with exit 2 and
//! clap's `error:` before anything is allocated (no count or size of the book needs
//! that much; an unbounded `--n 4294967295` is what issue 16 found); any other value
//! is either refused the same way or accepted, and then the run ends with status 0 or
//! 1 (with `error:`); never a panic, an abort or another signal; nothing left behind.
//! An accepted value whose run is still going after [`LIMIT`] (a large value in range:
//! `--seconds 255`, `--size 1GiB` in a debug build) is killed and counted *undecided*,
//! neither passed nor failed.
//!
//! Cases per argument: by default 3 values ([`DEFAULT`]); `HOSTILE_FULL=1` adds
//! [`MORE`] (21 in all).

use std::time::Duration;

use crate::common;
use crate::help::{Arg, Spec};

pub const LIMIT: Duration = Duration::from_secs(40);

pub const DEFAULT: &[&str] = &["0", "18446744073709551615", "1T"];

pub const MORE: &[&str] = &[
    "1",
    "2",
    "255",
    "4095",
    "4096",
    "65536",
    "2147483647",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "4294967295",
    "18446744073709551608",
    "18446744073709551616",
    "-1",
    "1GiB",
    "1TiB",
    "16EiB",
];

/// True for a value of at least 2^32−1 (units included): it must be refused.
fn huge(v: &str) -> bool {
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    let unit = &v[digits.len()..];
    let n: u128 = digits.parse().unwrap_or(0);
    let scale: u128 = match unit.trim_end_matches("iB").trim_end_matches('B') {
        "" => 1,
        "K" | "k" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        "P" => 1 << 50,
        "E" => 1 << 60,
        _ => 1,
    };
    n.saturating_mul(scale) >= u128::from(u32::MAX)
}

fn numeric(a: &Arg) -> bool {
    const NOT: &[&str] = &[
        "NAME", "PEER", "ADDR", "PORT", "PATH", "TEXT", "LIST", "FILE", "DIR", "WAY",
    ];
    !a.value.is_empty() && a.choices.is_empty() && !NOT.iter().any(|n| a.value.contains(n))
}

/// A plausible value for an argument that is not probed.
fn plausible(a: &Arg) -> String {
    if let Some(c) = a.choices.first() {
        return c.clone();
    }
    match a.value.as_str() {
        v if v.contains("NAME") || v.contains("PEER") => "/shmbook-sizes".into(),
        "BYTES" | "SIZE" => "4096".into(),
        v if v.contains("START") || v.contains("SLOT") => "0".into(),
        _ => "2".into(),
    }
}

/// The command lines probing argument `i` of `spec` with `value`.
fn line(spec: &Spec, i: usize, value: &str) -> Vec<String> {
    let mut out = vec![spec.command.clone()];
    for (j, a) in spec.args.iter().enumerate() {
        if j != i && !a.required {
            continue;
        }
        let v = if j == i {
            value.to_string()
        } else {
            plausible(a)
        };
        if !a.flag.is_empty() {
            // `--n=-1` keeps a negative number a value.
            out.push(format!("{}={v}", a.flag));
        } else {
            out.push(v);
        }
    }
    out
}

pub fn sizes_and_counts_from_zero_to_two_to_the_64() {
    if !common::sandbox_or_ignore("sizes") {
        return;
    }
    let full = common::knob("HOSTILE_FULL", 0) != 0;
    let values: Vec<&str> = DEFAULT
        .iter()
        .chain(if full { MORE } else { &[] })
        .copied()
        .collect();
    let mut cases = Vec::new();
    let mut params = 0;
    for (example, specs) in common::specs() {
        for spec in &specs {
            for (i, a) in spec.args.iter().enumerate() {
                if !numeric(a) {
                    continue;
                }
                params += 1;
                for v in &values {
                    cases.push((example.clone(), line(spec, i, v), *v));
                }
            }
        }
    }
    assert!(params > 0, "no numeric argument found: nothing to check");
    let undecided = std::sync::Mutex::new(Vec::new());
    let failures = common::pool_in_sandboxes(&cases, |sb, (example, args, value)| {
        let o = common::run_in(sb, example, args, None, LIMIT);
        let mut wrong = Vec::new();
        let error_line = o.stderr().contains("error:");
        match o.code() {
            None if huge(value) => wrong.push("accepted a value of 2^32-1 or more".to_string()),
            None => {
                // Killed by the test: what it leaves proves nothing.
                undecided.lock().unwrap().push(common::shown(example, args));
                return None;
            }
            Some(2) if error_line => {}
            Some(0) | Some(1) if huge(value) => {
                wrong.push("accepted a value of 2^32-1 or more".into())
            }
            Some(0) => {}
            Some(1) if error_line => {}
            Some(_) => wrong.push("crashed or failed without 'error:'".into()),
        }
        if o.panicked() {
            wrong.push("panicked".into());
        }
        wrong.extend(o.leaks());
        o.verdict(common::shown(example, args), &wrong)
    });
    let undecided = undecided.into_inner().unwrap();
    eprintln!(
        "hostile: sizes: {params} numeric arguments × {} values; {} undecided (accepted, still \
         running after {LIMIT:?}): {undecided:?}",
        values.len(),
        undecided.len()
    );
    common::report("sizes", None, cases.len(), &failures);
}

pub fn huge_is_right() {
    assert!(huge("4294967296") && huge("1T") && huge("16EiB") && huge("18446744073709551616"));
    assert!(huge("4294967295") && !huge("4294967294"));
    assert!(!huge("2147483648") && !huge("1GiB") && !huge("0") && !huge("-1"));
}
