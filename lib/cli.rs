//! Command lines for the examples, declared with clap.
//!
//! Each example declares its command line as a clap `Parser` (derive): one enum of
//! subcommands, whose doc comments are its `--help`; helper roles are hidden
//! subcommands whose names start with `_`. Ranges and choices are declared on the
//! arguments with the value parsers below ([`bytes`], [`count`], [`segment_name`]), so
//! that bad input is refused — with exit status 2 and clap's message saying what is
//! wrong and how to call the example — before anything is allocated or created.
//!
//! What clap does not do is here: [`run`] installs the cleanup on signals, reports a
//! failure as one `error: …` line with exit status 1, lets a signal end the process by
//! that signal, and ends quietly when standard output is a closed pipe
//! (`… | head -1`).

use std::process::ExitCode;
use std::str::FromStr;

fn parse_number<T: FromStr>(word: &str) -> Result<T, String> {
    let digits: String = word.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{word}' is not a whole number"));
    }
    digits.parse().map_err(|_| format!("'{word}' is too large"))
}

/// Parses a size in bytes: `4096`, `64KiB`, `256MiB`, `1GiB`, `1TiB` (also `K`, `M`,
/// `G`, `T`; powers of 1024).
fn parse_bytes(word: &str) -> Result<usize, String> {
    let not_a_size = || format!("'{word}' is not a size (write e.g. 4096, 64KiB, 256MiB)");
    let split = word
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(word.len());
    let (number, unit) = word.split_at(split);
    let shift = match unit {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        "T" | "TiB" => 40,
        _ => return Err(not_a_size()),
    };
    let n: usize = parse_number(number).map_err(|_| not_a_size())?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{word}' is too large"))
}

/// True when a panic is `println!` failing on a closed pipe (`… | head -1`): standard
/// output is gone, which is not an error of ours.
fn is_broken_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    text.starts_with("failed printing to stdout") && text.contains("Broken pipe")
}

/// Runs an example: installs the cleanup on Ctrl-C, `SIGTERM` and `SIGHUP`
/// ([`crate::cleanup::install`]), parses the command line into `C`, and runs `body`.
///
/// Exit status: 0 on success; 2 on bad input (clap's message: what is wrong, the usage
/// line, and where to find `--help`); 1 when `body` fails, after `error: …` with the
/// whole chain of context on one line. When a signal arrived, the process is ended by
/// that signal once the cleanup is done, whatever `body` returned.
pub fn run<C: clap::Parser>(
    program: &'static str,
    body: impl FnOnce(C) -> anyhow::Result<()>,
) -> ExitCode {
    crate::cleanup::install(program);
    let command = match C::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are "errors" that print to standard output.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Rust ignores SIGPIPE, so `println!` into a closed pipe panics: end quietly
    // instead, after the destructors have run (what we made is removed), with the
    // status a shell shows for a process killed by SIGPIPE.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe(info.payload()) {
            default_hook(info);
        }
    }));
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(command))) {
        Ok(result) => result,
        Err(payload) if is_broken_pipe(payload.as_ref()) => return ExitCode::from(141),
        Err(payload) => std::panic::resume_unwind(payload),
    };
    if crate::cleanup::interrupted() {
        // The signal thread is cleaning up and will end the process by the signal:
        // no "error:" line or exit status of ours may come first.
        crate::cleanup::park_forever();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The name clap shows in usage lines: the command a reader types,
/// `cargo run -q --example NAME --`. Use as `#[command(bin_name = cli::bin_name!("segments"))]`.
#[macro_export]
macro_rules! bin_name {
    ($example:literal) => {
        concat!("cargo run -q --example ", $example, " --")
    };
}

/// A segment name the reader typed (see [`crate::names::check`]), for
/// `#[arg(value_parser = cli::segment_name)]`.
pub fn segment_name(word: &str) -> Result<String, String> {
    crate::names::check(word)
}

/// A size in bytes (`4096`, `64KiB`, `256MiB`, `1GiB`; also `K`, `M`, `G`, `T`) between
/// `min` and `max` inclusive, for `#[arg(value_parser = cli::bytes(4096, 1 << 30))]`.
/// A size outside the range is refused before anything is allocated.
pub fn bytes(
    min: usize,
    max: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |word| {
        let n = parse_bytes(word)?;
        if n < min || n > max {
            return Err(format!(
                "{} is out of range: give {} to {}",
                word,
                show_bytes(min),
                show_bytes(max)
            ));
        }
        Ok(n)
    }
}

/// A whole number between `min` and `max` inclusive (`_` may separate digits:
/// `50_000_000`), for `#[arg(value_parser = cli::count(1, 1_000_000))]`.
pub fn count(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |word| {
        let n: u64 = parse_number(word)?;
        if n < min || n > max {
            return Err(format!("{word} is out of range: give {min} to {max}"));
        }
        Ok(n)
    }
}

/// `4096` as "4096 bytes", `1 << 30` as "1 GiB": sizes in range errors.
fn show_bytes(n: usize) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("64KiB"), Ok(65536));
        assert_eq!(parse_bytes("256M"), Ok(256 << 20));
        assert!(parse_bytes("12kb").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("99999999999999999999G").is_err());
        assert_eq!(parse_number::<u64>("50_000_000"), Ok(50_000_000));
        assert!(parse_number::<u64>("-1").is_err());
        assert!(parse_number::<u32>("4294967296").is_err());
    }

    #[test]
    fn a_closed_pipe_is_recognised() {
        let p: Box<dyn std::any::Any + Send> =
            Box::new("failed printing to stdout: Broken pipe (os error 32)".to_string());
        assert!(is_broken_pipe(p.as_ref()));
        let q: Box<dyn std::any::Any + Send> = Box::new("index out of bounds");
        assert!(!is_broken_pipe(q.as_ref()));
    }

    #[test]
    fn ranges() {
        let p = bytes(4096, 1 << 30);
        assert_eq!(p("64KiB"), Ok(65536));
        assert_eq!(
            p("4095"),
            Err("4095 is out of range: give 4 KiB to 1 GiB".into())
        );
        assert!(p("1T").is_err());
        assert!(p("18446744073709551615").is_err());
        let c = count(1, 1000);
        assert_eq!(c("1_000"), Ok(1000));
        assert!(c("0").is_err());
        assert!(c("4294967295").is_err());
    }
}
