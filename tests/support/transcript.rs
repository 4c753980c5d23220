//! Reading and matching the book's transcripts.
//!
//! A transcript is a fenced block whose language is `console`. In it, a line starting
//! with `$ ` is a command; the lines after it, up to the next command or the end of the
//! block, are its expected output (standard output and standard error together, as a
//! terminal shows them).
//!
//! Expected output is compared line by line, exactly, except for these marks:
//!
//! | mark | stands for |
//! | --- | --- |
//! | `[..]` | any text within the line |
//! | `...` (a line of its own) | any number of lines, also none |
//! | `[NAME]` | a segment name such as `/shmbook-segments-4242-0` or `/shmem_1A2B` |
//! | `[PID]` | a process id |
//! | `[N]` | a number that varies from run to run (`37`, `12.5`, `1,024`) |
//! | `[TIME]` | a duration with its unit (`0.71 s`, `35 ms`, `820 ns`) |
//! | `[RATE]` | a throughput with its unit (`13.9 GB/s`) |
//! | `[ADDR]` | an address (`0x7f3a2c000000`) |
//! | `[PATH]` | a file path without spaces |
//!
//! Trailing white space is ignored on both sides.

use regex::Regex;

/// The marks and the text each stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("[..]", ".*?"),
    ("[NAME]", r"/?[A-Za-z0-9_.-]+"),
    ("[PID]", r"[0-9]+"),
    ("[N]", r"-?[0-9][0-9,_]*(\.[0-9]+)?"),
    ("[TIME]", r"[0-9]+(\.[0-9]+)? ?(ns|µs|us|ms|s)"),
    (
        "[RATE]",
        r"[0-9]+(\.[0-9]+)? ?(B/s|KB/s|MB/s|GB/s|GiB/s|MiB/s)",
    ),
    ("[ADDR]", r"0x[0-9a-fA-F]+"),
    ("[PATH]", r"[^\s]+"),
];

/// One command of a transcript and what it should print.
#[derive(Debug, Clone)]
pub struct Step {
    /// The file the transcript is in.
    pub file: String,
    /// The line of the `$` command (1-based).
    pub line: usize,
    /// The command as written after `$ `.
    pub command: String,
    /// The expected output lines.
    pub expected: Vec<String>,
}

/// One `console` block: the steps in it run in order.
#[derive(Debug, Clone)]
pub struct Block {
    pub file: String,
    pub line: usize,
    pub steps: Vec<Step>,
    /// Programs the block needs on `PATH`, from the fence's `needs=PROGRAM` attributes
    /// (```` ```console,needs=redis-server ````): see `runner::missing_programs`.
    pub needs: Vec<String>,
}

/// Problems found while reading a page: these fail the suite like a wrong output.
#[derive(Debug)]
pub struct ParseProblem {
    pub file: String,
    pub line: usize,
    pub what: String,
}

/// Finds every `console` block in `text`. Also reports fences without a language
/// (they are easy to mistake for a transcript, so the book has none) and console
/// blocks that hold no command.
pub fn parse(file: &str, text: &str) -> (Vec<Block>, Vec<ParseProblem>) {
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let info = info.trim();
        if info.is_empty() {
            problems.push(ParseProblem {
                file: file.into(),
                line: i + 1,
                what: "code fence without a language (write console, rust, text, ...)".into(),
            });
        }
        let lang = info.split([',', ' ']).next().unwrap_or("");
        let mut needs = Vec::new();
        for attr in info.split([',', ' ']).skip(1) {
            if let Some(program) = attr.strip_prefix("needs=") {
                if program.is_empty() {
                    problems.push(ParseProblem {
                        file: file.into(),
                        line: i + 1,
                        what: "`needs=` names no program".into(),
                    });
                }
                needs.push(program.to_string());
            }
        }
        let mut body = Vec::new();
        let mut closed = false;
        for (j, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") && l.trim() == "```" {
                closed = true;
                break;
            }
            let l = if l.len() >= indent && l[..indent].trim().is_empty() {
                &l[indent..]
            } else {
                l
            };
            body.push((j, l.to_string()));
        }
        if !closed {
            problems.push(ParseProblem {
                file: file.into(),
                line: i + 1,
                what: "code fence is never closed".into(),
            });
        }
        if lang != "console" {
            continue;
        }
        let mut steps: Vec<Step> = Vec::new();
        for (j, l) in body {
            if let Some(cmd) = l.strip_prefix("$ ") {
                steps.push(Step {
                    file: file.into(),
                    line: j + 1,
                    command: cmd.trim().to_string(),
                    expected: Vec::new(),
                });
            } else if let Some(step) = steps.last_mut() {
                step.expected.push(l);
            } else if !l.trim().is_empty() {
                problems.push(ParseProblem {
                    file: file.into(),
                    line: j + 1,
                    what: "console block: output before any '$ ' command".into(),
                });
            }
        }
        if steps.is_empty() {
            problems.push(ParseProblem {
                file: file.into(),
                line: i + 1,
                what: "console block without a '$ ' command".into(),
            });
        }
        blocks.push(Block {
            file: file.into(),
            line: i + 1,
            steps,
            needs,
        });
    }
    (blocks, problems)
}

/// Turns one expected line into an anchored regular expression; `None` for a `...` line.
pub fn compile_line(expected: &str) -> Option<Regex> {
    if expected.trim() == "..." {
        return None;
    }
    let mut pattern = String::from("^");
    let mut rest = expected.trim_end();
    'outer: while !rest.is_empty() {
        for (mark, re) in PLACEHOLDERS {
            if let Some(after) = rest.strip_prefix(mark) {
                pattern.push_str(re);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap();
        pattern.push_str(&regex::escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    pattern.push('$');
    Some(Regex::new(&pattern).expect("escaped text and fixed marks make a valid regex"))
}

/// Compiles every expected line.
pub fn compile(expected: &[String]) -> Vec<Option<Regex>> {
    expected.iter().map(|e| compile_line(e)).collect()
}

/// True when `actual` matches the `expected` lines with their marks.
pub fn matches(expected: &[String], actual: &[String]) -> bool {
    matches_compiled(&compile(expected), actual)
}

/// [`matches`] on lines compiled by [`compile`].
pub fn matches_compiled(expected: &[Option<Regex>], actual: &[String]) -> bool {
    let actual: Vec<&str> = actual.iter().map(|a| a.trim_end()).collect();
    // memo[i][j]: can expected[i..] match actual[j..]?
    let mut memo = vec![vec![None; actual.len() + 1]; expected.len() + 1];
    fn go(
        i: usize,
        j: usize,
        e: &[Option<Regex>],
        a: &[&str],
        memo: &mut Vec<Vec<Option<bool>>>,
    ) -> bool {
        if let Some(r) = memo[i][j] {
            return r;
        }
        let r = if i == e.len() {
            j == a.len()
        } else {
            match &e[i] {
                None => (j..=a.len()).any(|k| go(i + 1, k, e, a, memo)),
                Some(re) => j < a.len() && re.is_match(a[j]) && go(i + 1, j + 1, e, a, memo),
            }
        };
        memo[i][j] = Some(r);
        r
    }
    go(0, 0, expected, &actual, &mut memo)
}

/// The first expected line that does not match, for a readable failure report.
pub fn first_difference(expected: &[String], actual: &[String]) -> String {
    for (k, e) in expected.iter().enumerate() {
        if e.trim() == "..." {
            return "(after a '...' line the rest did not match)".into();
        }
        match actual.get(k) {
            Some(a) if compile_line(e).is_some_and(|re| re.is_match(a.trim_end())) => continue,
            Some(a) => return format!("line {}: expected `{}`, got `{}`", k + 1, e, a.trim_end()),
            None => return format!("line {}: expected `{}`, got nothing more", k + 1, e),
        }
    }
    format!(
        "line {}: unexpected `{}`",
        expected.len() + 1,
        actual
            .get(expected.len())
            .map(|s| s.trim_end())
            .unwrap_or("")
    )
}

/// Changes every character of every expected line, one at a time, and counts the
/// changed transcripts that still match `actual`. Returns (changes tried, survivors).
/// A survivor would mean a wrong transcript could pass: the suite fails on any.
///
/// Each changed transcript differs from the real one in one line, so it matches when
/// the lines above that one can match some first `j` actual lines, the changed line
/// matches actual line `j`, and the lines below it can match the rest: the two sides
/// are worked out once ([`reach`]), and each change costs at most one regular
/// expression and a match per such `j` (one, where no `...` line comes before it),
/// rather than matching the whole transcript again. `tests/matcher.rs` checks the answer against the
/// transcript matched whole.
pub fn mutation_check(expected: &[String], actual: &[String]) -> (usize, Vec<String>) {
    let compiled = compile(expected);
    let a: Vec<&str> = actual.iter().map(|l| l.trim_end()).collect();
    let (before, after) = reach(&compiled, &a);
    let mut tried = 0;
    let mut survivors = Vec::new();
    for (li, line) in expected.iter().enumerate() {
        let trimmed = line.trim_end();
        // Where the changed line could stand: after a match of the lines above, before
        // a match of the lines below.
        let at: Vec<usize> = (0..a.len())
            .filter(|&j| before[li][j] && after[li + 1][j + 1])
            .collect();
        let around =
            (0..=a.len()).any(|j| before[li][j] && (j..=a.len()).any(|k| after[li + 1][k]));
        for (ci, c) in trimmed.char_indices() {
            let replacement = if c == '#' { '%' } else { '#' };
            let changed = format!(
                "{}{}{}",
                &trimmed[..ci],
                replacement,
                &trimmed[ci + c.len_utf8()..]
            );
            tried += 1;
            // No mark holds '#' or '%': the replacement stands in the changed line as
            // itself, so only an actual line that holds it can match the changed line
            // (and the regular expression is compiled only for those).
            let survives = match at.iter().any(|&j| a[j].contains(replacement)) {
                false if changed.trim() != "..." => false,
                _ => match compile_line(&changed) {
                    Some(re) => at.iter().any(|&j| re.is_match(a[j])),
                    None => around, // the change made a `...` line
                },
            };
            if survives {
                survivors.push(changed);
            }
        }
    }
    (tried, survivors)
}

/// For expected lines `e` and actual lines `a`: `before[i][j]`, whether `e[..i]` can
/// match `a[..j]`, and `after[i][j]`, whether `e[i..]` can match `a[j..]`.
fn reach(e: &[Option<Regex>], a: &[&str]) -> (Vec<Vec<bool>>, Vec<Vec<bool>>) {
    let (n, m) = (e.len(), a.len());
    let fit: Vec<Vec<bool>> = e
        .iter()
        .map(|re| {
            a.iter()
                .map(|l| re.as_ref().is_some_and(|re| re.is_match(l)))
                .collect()
        })
        .collect();
    let fits = |i: usize, j: usize| j < m && fit[i][j];
    let mut before = vec![vec![false; m + 1]; n + 1];
    before[0][0] = true;
    for i in 0..n {
        for j in 0..=m {
            before[i + 1][j] = match e[i] {
                None => (0..=j).any(|k| before[i][k]),
                Some(_) => j > 0 && before[i][j - 1] && fits(i, j - 1),
            };
        }
    }
    let mut after = vec![vec![false; m + 1]; n + 1];
    after[n][m] = true;
    for i in (0..n).rev() {
        for j in 0..=m {
            after[i][j] = match e[i] {
                None => (j..=m).any(|k| after[i + 1][k]),
                Some(_) => fits(i, j) && after[i + 1][j + 1],
            };
        }
    }
    (before, after)
}

/// The expected lines rewritten from `actual` (`BLESS=1`): every expected line that
/// still matches an actual line keeps its text and marks, a `...` line stays where it
/// still stands for lines, every other actual line is taken as printed (in place of
/// the expected line it replaces, if any), and expected lines with no counterpart go.
/// Among the ways to line the two up, the one keeping the most expected lines wins;
/// among those, the one whose replaced lines look most like their replacements.
pub fn bless(expected: &[String], actual: &[String]) -> Vec<String> {
    let e = compile(expected);
    let a: Vec<&str> = actual.iter().map(|l| l.trim_end()).collect();
    let (n, m) = (e.len(), a.len());
    // best[i][j]: (expected lines kept, likeness of the replaced lines to their
    // replacements, lines replaced) for expected[i..] against a[j..]; the choices, in
    // order of preference when they tie:
    #[derive(Clone, Copy)]
    enum Choice {
        Keep,          // expected[i] matches a[j]
        Absorb(usize), // expected[i] is `...` and stands for a[j..k]
        Replace,       // a[j] replaces expected[i]
        Drop,          // expected[i] goes
        Insert,        // a[j] is new
    }
    let mut best = vec![vec![(0usize, 0usize, 0usize); m + 1]; n + 1];
    let mut choice = vec![vec![Choice::Insert; m + 1]; n + 1];
    let plus = |(k, l, r): (usize, usize, usize), (dk, dl, dr)| (k + dk, l + dl, r + dr);
    // Likeness: the characters two lines share at their start and at their end.
    let like = |x: &str, y: &str| {
        let pre = x.chars().zip(y.chars()).take_while(|(a, b)| a == b).count();
        let suf = x
            .chars()
            .rev()
            .zip(y.chars().rev())
            .take_while(|(a, b)| a == b)
            .count();
        (pre + suf).min(x.chars().count().min(y.chars().count()))
    };
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            let mut cands: Vec<((usize, usize, usize), Choice)> = Vec::new();
            if i < n {
                match &e[i] {
                    Some(re) if j < m && re.is_match(a[j]) => {
                        cands.push((plus(best[i + 1][j + 1], (1, 0, 0)), Choice::Keep))
                    }
                    None => {
                        for k in (j..=m).rev() {
                            cands.push((plus(best[i + 1][k], (1, 0, 0)), Choice::Absorb(k)));
                        }
                    }
                    _ => {}
                }
                if e[i].is_some() && j < m {
                    let l = like(expected[i].trim_end(), a[j]);
                    cands.push((plus(best[i + 1][j + 1], (0, l, 1)), Choice::Replace));
                }
                cands.push((best[i + 1][j], Choice::Drop));
            }
            if j < m {
                cands.push((best[i][j + 1], Choice::Insert));
            }
            // The first of the best candidates: max_by_key would take the last.
            if let Some(top) = cands.iter().map(|c| c.0).max() {
                let first = cands
                    .iter()
                    .find(|c| c.0 == top)
                    .expect("top is one of them");
                best[i][j] = first.0;
                choice[i][j] = first.1;
            }
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        let c = choice[i][j];
        match c {
            Choice::Keep | Choice::Absorb(_) => out.push(expected[i].clone()),
            Choice::Replace | Choice::Insert => out.push(a[j].to_string()),
            Choice::Drop => {}
        }
        (i, j) = match c {
            Choice::Keep | Choice::Replace => (i + 1, j + 1),
            Choice::Absorb(k) => (i + 1, k),
            Choice::Drop => (i + 1, j),
            Choice::Insert => (i, j + 1),
        };
    }
    out
}
