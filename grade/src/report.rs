//! What a check's process said, turned into a verdict, printed for people or as JSON.
//!
//! A check prints one line on standard output: `PASS`, or `FAIL<TAB>message<TAB>hint`.
//! A check that prints neither panicked, crashed or hung; its standard error says which.

use std::fmt::Write;

use crate::{Exercise, Finished};

/// How one exercise fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// The check cannot run on this system (it is not counted as passed).
    Skip,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One exercise's result.
pub struct Outcome {
    pub exercise: &'static Exercise,
    pub status: Status,
    pub message: String,
    pub hint: Option<String>,
    pub seconds: f64,
}

/// Reads the check's output: its own verdict line, or else what killed it.
pub fn interpret(exercise: &Exercise, f: &Finished) -> (Status, String, Option<String>) {
    // A todo!() reached anywhere (in the check or in a worker it started) is the most
    // useful thing to say, whatever else went wrong because of it.
    if f.stderr.contains("not yet implemented") {
        return (
            Status::Fail,
            format!(
                "not implemented yet: replace the todo!() in homework/src/{}.rs",
                exercise.name
            ),
            None,
        );
    }
    if let Some(limit) = f.timed_out {
        return (
            Status::Fail,
            format!("did not finish within {} s; killed it", limit.as_secs()),
            Some(exercise.hang_hint.to_string()),
        );
    }
    for line in f.stdout.lines() {
        if line == "PASS" {
            return (Status::Pass, String::new(), None);
        }
        if let Some(rest) = line.strip_prefix("SKIP\t") {
            return (Status::Skip, rest.to_string(), None);
        }
        if let Some(rest) = line.strip_prefix("FAIL\t") {
            let (message, hint) = rest.split_once('\t').unwrap_or((rest, ""));
            let hint = (!hint.is_empty()).then(|| hint.to_string());
            return (Status::Fail, message.to_string(), hint);
        }
    }
    let how = match f.status {
        Some(s) => shmbook::helper::describe(s),
        None => "ended in an unknown way".to_string(),
    };
    let panic = f
        .stderr
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .nth(1)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let what = if how.starts_with("killed") {
        format!("the process running your code crashed ({how})")
    } else {
        format!("the check ended without a verdict ({how}){panic}")
    };
    (Status::Fail, what, None)
}

/// `PASS  name` or `FAIL  name  message`, with the hint on the next line.
pub fn print_text(o: &Outcome) {
    let word = o.status.word().to_uppercase();
    if o.message.is_empty() {
        println!("{word}  {}", o.exercise.name);
    } else {
        println!("{word}  {}: {}", o.exercise.name, o.message);
    }
    if let Some(h) = &o.hint {
        println!("      hint: {h}");
    }
}

/// The results as one JSON object; see src/instructors.md for the fields.
pub fn json(solutions: bool, outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|o| o.status == Status::Pass).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{{\"checked\": {}, \"passed\": {passed}, \"total\": {}, \"exercises\": [",
        quote(if solutions { "solutions" } else { "homework" }),
        outcomes.len()
    );
    for (i, o) in outcomes.iter().enumerate() {
        let hint = o.hint.as_deref().map_or("null".to_string(), quote);
        let _ = writeln!(
            s,
            "  {{\"name\": {}, \"chapter\": {}, \"status\": {}, \"message\": {}, \"hint\": {hint}, \"seconds\": {:.3}}}{}",
            quote(o.exercise.name),
            quote(o.exercise.chapter),
            quote(o.status.word()),
            quote(&o.message),
            o.seconds,
            if i + 1 < outcomes.len() { "," } else { "" }
        );
    }
    s.push_str("]}\n");
    s
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes() {
        assert_eq!(
            super::quote("a\"b\\c\nd\u{1}"),
            "\"a\\\"b\\\\c\\nd\\u0001\""
        );
    }
}
