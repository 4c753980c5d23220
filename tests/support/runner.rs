//! Running a transcript's command the way a reader's shell would.
//!
//! The suite runs only commands it knows how to map to a real program:
//! - `cargo run -q --example NAME [-- ARGS]` runs the example binary cargo built for
//!   the tests (`target/<profile>/examples/NAME`), with the same arguments;
//! - `cargo run -q -p PACKAGE [-- ARGS]` runs the binary of a workspace member (a
//!   directory `PACKAGE/` of the repository), built first with `cargo build -p PACKAGE`
//!   (members with heavy system requirements, such as MPI, are not built by a plain
//!   `cargo test`);
//! - `python3 FILE [ARGS]` runs Python on a file of the repository;
//! - `cargo run -q -p grade [-- ARGS]` runs the homework grader's launcher
//!   (`grade/launch`, package `grade`), built first together with the grader it
//!   starts (`cargo build -p grade -p grade-core`).
//!
//! Any other command fails the suite. A command may end in `; echo "exit status: $?"`,
//! as a reader would type to see the status: the suite then adds that line to the
//! output, as the shell does. Without it, the command must succeed.
//!
//! Each command runs in its own process group with a time limit; when the limit is
//! reached the whole group is killed and the step fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// How long one transcript command may run.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(90);

const STATUS_SUFFIX: &str = "; echo \"exit status: $?\"";

/// Splits a command line into words, honouring single and double quotes.
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unclosed quote in `{line}`"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// The example a command runs, if it is a `cargo run -q --example NAME` command.
pub fn example_of(command: &str) -> Option<String> {
    let w = words(command.strip_suffix(STATUS_SUFFIX).unwrap_or(command)).ok()?;
    match w.as_slice() {
        [c, r, q, e, name, ..] if c == "cargo" && r == "run" && q == "-q" && e == "--example" => {
            Some(name.clone())
        }
        _ => None,
    }
}

/// The workspace member a command runs, if it is a `cargo run -q -p NAME` command.
pub fn package_of(command: &str) -> Option<String> {
    let w = words(command.strip_suffix(STATUS_SUFFIX).unwrap_or(command)).ok()?;
    match w.as_slice() {
        [c, r, q, p, name, ..] if c == "cargo" && r == "run" && q == "-q" && p == "-p" => {
            Some(name.clone())
        }
        _ => None,
    }
}

/// Runs `cargo build --quiet ARGS` once per test process and ARGS, in the profile of
/// this test run, so that a transcript never runs a stale binary. The result is kept:
/// later calls with the same ARGS return it at once.
fn cargo_build(args: &[&str]) -> Result<(), String> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static BUILT: Mutex<Option<HashMap<String, Result<(), String>>>> = Mutex::new(None);
    let key = args.join(" ");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(result) = built.get(&key) {
        return result.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet"]).args(args);
    if profile_dir().file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    // cargo's own progress is hidden (--quiet): say what is happening, so that a first
    // build (minutes) never looks like a hung test.
    println!(
        "building first: cargo build {key} (nothing to do when it is built already; \
         a first build takes {FIRST_BUILD})"
    );
    let result = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("running cargo build {key}: {e}"))
        .and_then(|out| {
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "cargo build {key} failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        });
    built.insert(key, result.clone());
    result
}

/// How long a first build takes (README.md has the measured times).
const FIRST_BUILD: &str = "several minutes on a 2-core machine";

/// Builds the workspace member `name` (see [`cargo_build`]).
pub fn build_package(name: &str) -> Result<(), String> {
    cargo_build(&["-p", name])
}

/// `target/<profile>`: where cargo put this test run's binaries.
pub fn profile_dir() -> PathBuf {
    examples_dir()
        .parent()
        .expect("examples/ sits in target/<profile>")
        .to_path_buf()
}

/// What a fence may name in `needs=` that is a Python module, not a program: the
/// `python3` on `PATH` must be able to import it.
pub const PYTHON_MODULES: &[&str] = &["numpy"];

/// What a fence names in `needs=` when it needs the suite to run as root, not a
/// program: a private tmpfs mount over /dev/shm needs `CAP_SYS_ADMIN`, and so do the
/// network namespace and veth pair of the Alternatives chapter's `hosts` (made with
/// iproute2's `ip`, which must be on `PATH` too).
pub const ROOT: &str = "root";

/// The programs (and Python modules, see [`PYTHON_MODULES`], and [`ROOT`]) of `needs`
/// that this machine lacks.
pub fn missing_programs(needs: &[String]) -> Vec<String> {
    needs
        .iter()
        .filter(|p| {
            if p.as_str() == ROOT {
                shmbook::os::uid() != 0 || shmbook::os::find_program("ip").is_none()
            } else if PYTHON_MODULES.contains(&p.as_str()) {
                !python_imports(p)
            } else {
                shmbook::os::find_program(p).is_none()
            }
        })
        .cloned()
        .collect()
}

/// True when `python3 -c "import MODULE"` succeeds.
fn python_imports(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// How to get a program a transcript needs, for the line the suite prints instead.
pub fn install_hint(program: &str) -> String {
    match program {
        "redis-server" => "install Redis (Debian, Ubuntu: apt-get install redis-server; \
                           macOS: brew install redis)"
            .into(),
        "mpirun" => "install MPI and libclang (Debian, Ubuntu: apt-get install mpich \
                     libmpich-dev libclang-dev; macOS: brew install mpich llvm)"
            .into(),
        ROOT => "run the tests as root, with iproute2's `ip` installed (the blocks mount a \
                 private tmpfs over /dev/shm, or make a network namespace and a veth pair, \
                 and remove them)"
            .into(),
        "numpy" => "install NumPy for the python3 on PATH (pip install numpy; Debian, \
                    Ubuntu: apt-get install python3-numpy)"
            .into(),
        other => format!("install {other}"),
    }
}

/// True on a CI machine (`CI=true`, as CI services and `.ci/run` set it): there, a
/// transcript whose programs are missing fails instead of being skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Builds the examples (see [`cargo_build`]): cargo builds them for a plain
/// `cargo test`, but not when only one test target is named (`cargo test --test book`).
pub fn build_examples() -> Result<(), String> {
    cargo_build(&["--examples"])
}

/// Where cargo put the example binaries for this test run.
pub fn examples_dir() -> PathBuf {
    // The test binary is target/<profile>/deps/book-HASH; examples sit beside deps.
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("examples")
}

/// The examples of the package: `examples/NAME.rs` and `examples/NAME/main.rs`.
pub fn all_examples(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(root.join("examples"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "rs") {
            out.insert(p.file_stem().unwrap().to_string_lossy().into_owned());
        } else if p.join("main.rs").is_file() {
            out.insert(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

/// The arguments after `--` in the words that follow a command's name; `what` names
/// the thing they follow, for the error.
fn args_after<'a>(rest: &'a [String], line: &str, what: &str) -> Result<&'a [String], String> {
    match rest {
        [] => Ok(&[]),
        [dd, args @ ..] if dd == "--" => Ok(args),
        _ => Err(format!("write `-- ARGS` after {what} in `{line}`")),
    }
}

fn command_for(root: &Path, line: &str) -> Result<Command, String> {
    let w = words(line)?;
    if let Some(name) = example_of(line) {
        let args = args_after(&w[5..], line, "the example name")?;
        build_examples()?;
        let bin = examples_dir().join(&name);
        if !bin.is_file() {
            return Err(format!(
                "there is no example binary {} (is examples/{name}.rs there?)",
                bin.display()
            ));
        }
        let mut cmd = Command::new(bin);
        cmd.args(args);
        return Ok(cmd);
    }
    if let [c, r, q, p, pkg, rest @ ..] = w.as_slice() {
        if c == "cargo" && r == "run" && q == "-q" && p == "-p" && pkg == "grade" {
            let args = args_after(rest, line, "`-p grade`")?;
            // `-p grade` is the launcher (grade/launch), which builds the grader
            // (grade-core) and runs it. Both are built here first, announced and outside
            // the command's time limit, so that a first run is not a timeout; then the
            // launcher runs as `cargo run` would run it once built, and it does its own
            // `cargo build` of the grader as always.
            cargo_build(&["-p", "grade", "-p", "grade-core"])?;
            let mut cmd = Command::new(profile_dir().join("grade"));
            cmd.args(args);
            return Ok(cmd);
        }
    }
    if let Some(name) = package_of(line) {
        let args = args_after(&w[5..], line, "the package name")?;
        if name.contains('/') || !root.join(&name).join("Cargo.toml").is_file() {
            return Err(format!(
                "there is no workspace member {name}/ in the repository"
            ));
        }
        build_package(&name)?;
        let mut cmd = Command::new(profile_dir().join(&name));
        cmd.args(args);
        return Ok(cmd);
    }
    match w.split_first() {
        Some((p, args)) if p == "python3" && !args.is_empty() => {
            if !root.join(&args[0]).is_file() {
                return Err(format!("python3: no file {} in the repository", args[0]));
            }
            let mut cmd = Command::new("python3");
            cmd.args(args);
            Ok(cmd)
        }
        _ => Err(format!(
            "the suite cannot run `{line}`: a transcript runs `cargo run -q --example NAME -- ARGS`, `cargo run -q -p PACKAGE -- ARGS` (`-p grade` included) or `python3 FILE ARGS`"
        )),
    }
}

/// Runs `line` from the repository root and returns its output lines (standard output
/// and standard error through one pipe, in the order they were written).
pub fn run(root: &Path, line: &str) -> Result<Vec<String>, String> {
    let (line, show_status) = match line.strip_suffix(STATUS_SUFFIX) {
        Some(l) => (l, true),
        None => (line, false),
    };
    let mut cmd = command_for(root, line)?;
    cmd.current_dir(root).env("RUST_BACKTRACE", "0");
    let ran = shmbook::process::run(
        &mut cmd,
        shmbook::process::Output::Merged,
        None,
        STEP_TIMEOUT,
    )
    .map_err(|e| format!("could not run `{line}`: {e}"))?;
    let Some(code) = ran.shell_code() else {
        return Err(format!(
            "timed out after {} s; killed its process group",
            STEP_TIMEOUT.as_secs()
        ));
    };
    let bytes = ran.stdout;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if show_status {
        lines.push(format!("exit status: {code}"));
    } else if code != 0 {
        return Err(format!(
            "exited with status {code}, but the transcript does not show a failure \
             (end the command with `; echo \"exit status: $?\"`)\n--- output\n{}",
            lines.join("\n")
        ));
    }
    Ok(lines)
}

/// The names in /dev/shm (Linux: segments and `sem.NAME` semaphores); empty elsewhere.
pub fn dev_shm_entries() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The segment names a transcript types (`/shmbook-WORD`) are made unique to this run
/// of the suite, so that two runs on one machine (two clones, two users) never meet on
/// a name: the suite runs the command with `/shmbook-WORD-rPID`, PID being the suite's
/// process id, and shows the output with the name as the book typed it. The suffix
/// also tells the leak check which entries of /dev/shm are this run's.
pub fn run_suffix() -> String {
    format!("-r{}", std::process::id())
}

/// `command` with every `shmbook-WORD` it names made unique to this run (see
/// [`run_suffix`]), and the pairs (as typed, as run) to restore in its output.
pub fn unique_typed_names(command: &str) -> Result<(String, Vec<(String, String)>), String> {
    let re = regex::Regex::new(r"shmbook-[A-Za-z0-9_.-]+").expect("a valid pattern");
    let mut pairs: Vec<(String, String)> = Vec::new();
    for m in re.find_iter(command) {
        let typed = m.as_str().to_string();
        let run = format!("{typed}{}", run_suffix());
        // The longest suffix: `-r` and a process id of 7 digits (Linux's largest).
        if 1 + typed.len() + 9 > shmbook::names::MAX_PORTABLE_LEN {
            return Err(format!(
                "the name /{typed} is too long for the suite to make it unique to a run: \
                 a typed name has at most {} characters with its slash",
                shmbook::names::MAX_PORTABLE_LEN - 9
            ));
        }
        if !pairs.iter().any(|(t, _)| *t == typed) {
            pairs.push((typed, run));
        }
    }
    let rewritten = re.replace_all(command, |c: &regex::Captures| {
        format!("{}{}", &c[0], run_suffix())
    });
    Ok((rewritten.into_owned(), pairs))
}

/// Where a run of the whole book (`tests/book.rs`) writes how long each step took, in
/// the build's own directory (`target/<profile>/`): one line per step, its page, its
/// command and its seconds, separated by tabs. The suites read it to start the steps
/// that took longest first; it only orders them, every step runs every time.
pub const STEP_TIMES: &str = "book-step-times.tsv";

/// The last run's times ([`STEP_TIMES`]) by "page\tcommand"; empty before a first run.
pub fn read_step_times() -> std::collections::BTreeMap<String, f64> {
    let text = std::fs::read_to_string(profile_dir().join(STEP_TIMES)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (key, secs) = l.rsplit_once('\t')?;
            Some((key.to_string(), secs.parse().ok()?))
        })
        .collect()
}

/// `items` in groups that may run at the same time: the items whose commands type one
/// segment name (`/shmbook-WORD`, see [`unique_typed_names`]) share a group, in their
/// order, since a later one may open what an earlier one left; every other item is a
/// group of its own.
pub fn groups_by_typed_names<T>(items: Vec<T>, commands: impl Fn(&T) -> Vec<&str>) -> Vec<Vec<T>> {
    // A group: the names its items type, and the items with their places in `items`.
    type Group<T> = (BTreeSet<String>, Vec<(usize, T)>);
    let mut groups: Vec<Group<T>> = Vec::new();
    for (at, item) in items.into_iter().enumerate() {
        let mut names: BTreeSet<String> = commands(&item)
            .into_iter()
            .filter_map(|c| unique_typed_names(c).ok())
            .flat_map(|(_, pairs)| pairs.into_iter().map(|(typed, _)| typed))
            .collect();
        let mut members = vec![(at, item)];
        let mut k = 0;
        while k < groups.len() {
            if groups[k].0.is_disjoint(&names) {
                k += 1;
                continue;
            }
            let (n, m) = groups.remove(k);
            names.extend(n);
            members.extend(m);
        }
        members.sort_by_key(|(at, _)| *at);
        groups.push((names, members));
    }
    groups.sort_by_key(|(_, m)| m[0].0);
    groups
        .into_iter()
        .map(|(_, m)| m.into_iter().map(|(_, item)| item).collect())
        .collect()
}

/// The output with each name as run shown as typed. A name printed as the book typed
/// it, without the run's suffix, is an error: the program did not print the name it
/// was given, and the book would be showing a name it never saw.
pub fn restore_typed_names(
    lines: &[String],
    pairs: &[(String, String)],
) -> Result<Vec<String>, String> {
    const MARK: char = '\u{0}';
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let mut out = Vec::new();
    for line in lines {
        let mut l = line.clone();
        for (typed, run) in pairs {
            let marked = l.replace(run.as_str(), &MARK.to_string());
            let bare = marked.match_indices(typed.as_str()).any(|(at, _)| {
                !marked[at + typed.len()..].starts_with(word)
                    && !marked[..at].ends_with(|c: char| word(c) && c != '/')
            });
            if bare {
                return Err(format!(
                    "the output shows {typed}, but the suite ran the command with {run}: \
                     it printed a name it was not given\n--- output\n{}",
                    lines.join("\n")
                ));
            }
            l = marked.replace(MARK, typed);
        }
        out.push(l);
    }
    Ok(out)
}

/// Starts this test process's log of the names its examples make (see
/// `shmbook::names::LOG_VAR`): every process it starts from now on appends to it.
/// Call it before starting any thread; pass the path to [`suite_leftovers`].
pub fn start_name_log(suite: &str) -> PathBuf {
    let log = profile_dir().join(format!("{suite}-names-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    std::env::set_var(shmbook::names::LOG_VAR, &log);
    log
}

/// The new entries of /dev/shm (since `before`) that this run of the suite made and
/// left: a name made by `shmbook::names::unique` in one of the suite's processes (they
/// append it to `log`, see `shmbook::names::LOG_VAR`) or a typed name carrying this
/// run's suffix. Entries other programs made meanwhile — another clone's run, another
/// user's program — are not counted, however they are named. Semaphores appear as
/// `sem.NAME`.
pub fn suite_leftovers(before: &BTreeSet<String>, log: &Path) -> Vec<String> {
    let logged: BTreeSet<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    let suffix = run_suffix();
    dev_shm_entries()
        .difference(before)
        .filter(|entry| {
            let name = entry.strip_prefix("sem.").unwrap_or(entry);
            logged.contains(name)
                || name.match_indices(suffix.as_str()).any(|(at, _)| {
                    name.starts_with("shmbook-")
                        && !name[at + suffix.len()..].starts_with(|c: char| c.is_ascii_digit())
                })
        })
        .cloned()
        .collect()
}

/// Removes entries of /dev/shm by name (the suite's own leftovers).
pub fn remove_leftovers(entries: &[String]) {
    for name in entries {
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
    }
}

/// The end of a suite with a harness of its own: each failure, then libtest's summary
/// line (so that `cargo test` shows this suite like the others), and the exit code.
pub fn finish(failures: &[String], passed: usize, ignored: usize, start: Instant) -> ExitCode {
    for f in failures {
        println!("\n---- {f}");
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; {ignored} ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
