//! `grade regress`: the grader's regression set (placeholder, filled in below).
use std::process::ExitCode;
pub fn run(_args: &[String]) -> ExitCode {
    ExitCode::from(2)
}
