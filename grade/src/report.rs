//! What a check's process said, turned into a verdict, printed for people or as JSON.
//!
//! A check prints one line on standard output: `PASS`, `SKIP<TAB>why` or
//! `FAIL<TAB>message<TAB>hint`. A check that prints none of them panicked, crashed or
//! hung; its standard error says which.

use serde::Serialize;

use crate::exercises::Exercise;
use crate::Finished;

/// How one exercise fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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
            exercise.hints.first().map(|h| h.0.to_string()),
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

/// `PASS  name` or `FAIL  name: message`, with the hint on the next line.
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

/// One exercise in the JSON: these fields and their meaning are what instructors'
/// scripts read (src/instructors.md); add fields, never rename them.
#[derive(Serialize)]
struct ExerciseJson<'a> {
    name: &'a str,
    chapter: &'a str,
    status: Status,
    message: &'a str,
    hint: Option<&'a str>,
    seconds: f64,
    /// Added: the book's number of the exercise, e.g. "2.1".
    number: &'a str,
}

#[derive(Serialize)]
struct Head<'a> {
    checked: &'a str,
    passed: usize,
    total: usize,
    /// Added: how many could not be checked on this system.
    skipped: usize,
}

/// The results as one JSON object, one exercise per line.
pub fn json(checked: &str, outcomes: &[Outcome]) -> String {
    let count = |s| outcomes.iter().filter(|o| o.status == s).count();
    let head = serde_json::to_string(&Head {
        checked,
        passed: count(Status::Pass),
        total: outcomes.len(),
        skipped: count(Status::Skip),
    })
    .expect("plain data serializes");
    let lines: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let e = ExerciseJson {
                name: o.exercise.name,
                chapter: o.exercise.chapter,
                status: o.status,
                message: &o.message,
                hint: o.hint.as_deref(),
                seconds: (o.seconds * 1000.0).round() / 1000.0,
                number: o.exercise.number,
            };
            format!(
                "  {}",
                serde_json::to_string(&e).expect("plain data serializes")
            )
        })
        .collect();
    // The head's fields, then the exercises, one per line.
    format!(
        "{},\"exercises\":[\n{}\n]}}\n",
        head.trim_end_matches('}'),
        lines.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_is_json_with_todays_fields() {
        let e = &crate::exercises::EXERCISES[0];
        let o = super::Outcome {
            exercise: e,
            status: super::Status::Fail,
            message: "a \"quoted\"\tmessage\n".into(),
            hint: None,
            seconds: 0.5,
        };
        let text = super::json("homework", &[o]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["checked"], "homework");
        assert_eq!(v["passed"], 0);
        assert_eq!(v["total"], 1);
        let x = &v["exercises"][0];
        assert_eq!(x["name"], e.name);
        assert_eq!(x["chapter"], e.chapter);
        assert_eq!(x["status"], "fail");
        assert_eq!(x["message"], "a \"quoted\"\tmessage\n");
        assert!(x["hint"].is_null());
        assert_eq!(x["seconds"], 0.5);
        assert_eq!(text.lines().count(), 3, "one line per exercise: {text}");
    }
}
