//! Bad input to any example: one line on standard error saying what is wrong and how to
//! call the example, nothing on standard output, exit status 2, no panic, nothing left
//! in /dev/shm.
//!
//! The probes are derived from each example's `--help`, so a new example is covered
//! without editing this file. For every visible subcommand `CMD` with options
//! `--FLAG VALUE`:
//! - `CMD --no-such-option`, `CMD stray-word` (for commands without positional words),
//! - `CMD --FLAG` with the value missing, and `CMD --FLAG %%` (a malformed value; not
//!   probed for free-form values named PATH or TEXT);
//!
//! and for the example itself: no subcommand at all, and an unknown one.

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(bin: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().expect("collect output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One subcommand as `--help` lists it.
struct Spec {
    command: String,
    /// Options that take a value: (flag, placeholder such as BYTES).
    flags: Vec<(String, String)>,
    /// Whether it takes positional words.
    positional: bool,
}

fn commands_from_help(help: &str) -> Vec<Spec> {
    let mut out = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("commands:") {
            in_commands = true;
            continue;
        }
        if !in_commands || !line.starts_with("  ") {
            continue;
        }
        // The spec is separated from its description by two or more spaces.
        let spec = line.trim_start().split("  ").next().unwrap_or("");
        let words: Vec<&str> = spec
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '[' || c == ']'))
            .collect();
        let Some((cmd, rest)) = words.split_first() else {
            continue;
        };
        let mut flags = Vec::new();
        let mut positional = false;
        let mut i = 0;
        while i < rest.len() {
            let w = rest[i];
            if w.starts_with("--") {
                match rest.get(i + 1) {
                    Some(v)
                        if !v.starts_with("--")
                            && v.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
                    {
                        flags.push((w.to_string(), v.to_string()));
                        i += 1;
                    }
                    _ => {}
                }
            } else if w
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c == '.')
            {
                positional = true;
            }
            i += 1;
        }
        out.push(Spec {
            command: cmd.to_string(),
            flags,
            positional,
        });
    }
    out
}

#[test]
fn every_example_rejects_bad_input_with_one_line_and_status_2() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    runner::build_examples().expect("build the examples");
    // Only what these probes leave counts, not other programs' entries meanwhile.
    let name_log = runner::start_name_log("bad_input");
    let before = runner::dev_shm_entries();
    let mut failures = Vec::new();
    let mut probes = 0;
    let examples = runner::all_examples(root);
    assert!(!examples.is_empty(), "no examples found");
    for example in &examples {
        let bin = runner::examples_dir().join(example);
        let (code, help, _) = run(&bin, &["--help"]);
        if code != Some(0) || !help.contains("commands:") {
            failures.push(format!(
                "{example} --help: status {code:?}, no 'commands:' list"
            ));
            continue;
        }
        let mut cases: Vec<Vec<String>> = vec![vec![], vec!["no-such-command".into()]];
        let commands = commands_from_help(&help);
        if commands.is_empty() {
            failures.push(format!("{example} --help lists no commands"));
        }
        for Spec {
            command: cmd,
            flags,
            positional,
        } in commands
        {
            cases.push(vec![cmd.clone(), "--no-such-option".into()]);
            if !positional {
                cases.push(vec![cmd.clone(), "stray-word".into()]);
            }
            for (flag, value) in flags {
                cases.push(vec![cmd.clone(), flag.clone()]);
                if value != "PATH" && value != "TEXT" {
                    cases.push(vec![cmd.clone(), flag.clone(), "%%".into()]);
                }
            }
        }
        for case in cases {
            probes += 1;
            let args: Vec<&str> = case.iter().map(String::as_str).collect();
            let (code, stdout, stderr) = run(&bin, &args);
            let shown = format!("{example} {}", args.join(" "));
            if code != Some(2) {
                failures.push(format!("{shown}: exit status {code:?}, expected 2"));
            }
            if !stdout.is_empty() {
                failures.push(format!("{shown}: printed on standard output: {stdout:?}"));
            }
            if stderr.lines().count() != 1 {
                failures.push(format!(
                    "{shown}: expected one line on standard error, got {stderr:?}"
                ));
            }
            if !stderr.contains(&format!("usage: cargo run --example {example} -- ")) {
                failures.push(format!(
                    "{shown}: the line does not say how to call the example: {stderr:?}"
                ));
            }
            if stderr.contains("panicked") {
                failures.push(format!("{shown}: panicked: {stderr:?}"));
            }
        }
    }
    let leaked = runner::suite_leftovers(&before, &name_log);
    let _ = std::fs::remove_file(&name_log);
    runner::remove_leftovers(&leaked);
    assert!(
        leaked.is_empty(),
        "bad input left entries in /dev/shm: {leaked:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {probes} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{probes} bad-input probes over {} examples", examples.len());
}
