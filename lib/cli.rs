//! Command lines for the examples: one line of error, exit status 2, never a panic.
//!
//! Each example declares a [`Usage`] (its subcommands and their options) and hands its
//! body to [`main`]. Bad input — an unknown subcommand or option, a missing or malformed
//! value, a stray argument — is reported as a single line that says what is wrong and
//! how to call the example, with exit status 2. A failure while running is reported as
//! `error: …` with its whole chain of context on one line, with exit status 1.
//!
//! Subcommands whose name starts with `_` are the helper roles an example starts with
//! [`crate::helper`]; they are accepted but not listed in `--help`.

use std::fmt;
use std::process::ExitCode;
use std::str::FromStr;

/// What an example accepts, shown by `--help` and in every usage error.
pub struct Usage {
    /// The example's name, as in `cargo run --example NAME`.
    pub program: &'static str,
    /// One sentence on what the example shows.
    pub about: &'static str,
    /// Subcommands: the command with its options (`"create [--size BYTES]"`) and what it does.
    pub commands: &'static [(&'static str, &'static str)],
}

impl Usage {
    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.commands
            .iter()
            .map(|(spec, _)| spec.split_whitespace().next().unwrap_or(spec))
    }

    /// How to call the example (or one subcommand of it), as shown in error lines.
    pub fn synopsis(&self, command: Option<&str>) -> String {
        let spec = command.and_then(|c| {
            self.commands
                .iter()
                .find(|(spec, _)| spec.split_whitespace().next() == Some(c))
                .map(|(spec, _)| spec.to_string())
        });
        let spec = spec.unwrap_or_else(|| {
            let visible: Vec<_> = self.names().filter(|n| !n.starts_with('_')).collect();
            format!("<{}> ...", visible.join("|"))
        });
        format!("cargo run --example {} -- {spec}", self.program)
    }

    /// The text `--help` prints.
    pub fn help(&self) -> String {
        let mut out = format!(
            "{}: {}\nusage: cargo run --example {} -- <COMMAND> [OPTIONS]\ncommands:\n",
            self.program, self.about, self.program
        );
        let width = self
            .commands
            .iter()
            .map(|(s, _)| s.len())
            .max()
            .unwrap_or(0);
        for (spec, what) in self.commands.iter().filter(|(s, _)| !s.starts_with('_')) {
            out.push_str(&format!("  {spec:width$}  {what}\n"));
        }
        out
    }
}

/// Bad input: reported on one line, exit status 2.
#[derive(Debug)]
pub struct UsageError {
    /// The subcommand it concerns, if the subcommand was known.
    pub command: Option<String>,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.command {
            Some(c) => write!(f, "{c}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for UsageError {}

/// A value that can be parsed from one command-line word.
pub trait FromArg: Sized {
    /// How the value is described in errors ("a number of bytes").
    const WHAT: &'static str;
    /// Parses the word, or says why it is not such a value.
    fn from_arg(word: &str) -> Result<Self, String>;
}

fn parse_number<T: FromStr>(word: &str) -> Result<T, String> {
    let digits: String = word.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{word}' is not a whole number"));
    }
    digits.parse().map_err(|_| format!("'{word}' is too large"))
}

macro_rules! from_arg_number {
    ($($t:ty),*) => {$(
        impl FromArg for $t {
            const WHAT: &'static str = "a whole number";
            fn from_arg(word: &str) -> Result<Self, String> {
                parse_number(word)
            }
        }
    )*};
}
from_arg_number!(u32, u64, usize);

/// A size in bytes: `4096`, `64KiB`, `256MiB`, `1GiB`, `1TiB` (also `K`, `M`, `G`, `T`;
/// powers of 1024).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes(pub usize);

impl FromArg for Bytes {
    const WHAT: &'static str = "a size in bytes";
    fn from_arg(word: &str) -> Result<Self, String> {
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
            _ => {
                return Err(format!(
                    "'{word}' is not a size (write e.g. 4096, 64KiB, 256MiB)"
                ))
            }
        };
        let n: usize = parse_number(number)
            .map_err(|_| format!("'{word}' is not a size (write e.g. 4096, 64KiB, 256MiB)"))?;
        n.checked_mul(1 << shift)
            .map(Bytes)
            .ok_or_else(|| format!("'{word}' is too large"))
    }
}

/// A segment name the reader typed; see [`crate::names::check`] for the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentName(pub String);

impl FromArg for SegmentName {
    const WHAT: &'static str = "a segment name";
    fn from_arg(word: &str) -> Result<Self, String> {
        crate::names::check(word).map(SegmentName)
    }
}

impl FromArg for std::path::PathBuf {
    const WHAT: &'static str = "a path";
    fn from_arg(word: &str) -> Result<Self, String> {
        if word.is_empty() || word.starts_with('-') {
            return Err(format!("'{word}' is not a path"));
        }
        Ok(word.into())
    }
}

/// The words after the subcommand, taken one option at a time.
pub struct Args {
    program: &'static str,
    command: String,
    words: Vec<String>,
}

impl Args {
    fn error(&self, what: String) -> UsageError {
        UsageError {
            command: Some(self.command.clone()),
            what,
        }
    }

    /// A usage error about this subcommand that the example found itself, e.g. a value
    /// out of range: `args.invalid("--size must be at least 512 bytes")`.
    pub fn invalid(&self, what: impl Into<String>) -> UsageError {
        self.error(what.into())
    }

    /// Takes `--flag VALUE` (or `--flag=VALUE`) if it is present.
    pub fn value<T: FromArg>(&mut self, flag: &str) -> Result<Option<T>, UsageError> {
        let Some(i) = self
            .words
            .iter()
            .position(|w| w == flag || w.starts_with(&format!("{flag}=")))
        else {
            return Ok(None);
        };
        let word = self.words.remove(i);
        let value = match word.split_once('=') {
            Some((_, v)) => v.to_string(),
            None if i < self.words.len() && !self.words[i].starts_with("--") => {
                self.words.remove(i)
            }
            None => return Err(self.error(format!("{flag} needs {}", T::WHAT))),
        };
        T::from_arg(&value)
            .map(Some)
            .map_err(|why| self.error(format!("{flag}: {why}")))
    }

    /// Takes `--flag VALUE`, or gives `default` when the flag is absent.
    pub fn value_or<T: FromArg>(&mut self, flag: &str, default: T) -> Result<T, UsageError> {
        Ok(self.value(flag)?.unwrap_or(default))
    }

    /// Takes `--flag VALUE`, which must be present.
    pub fn required<T: FromArg>(&mut self, flag: &str) -> Result<T, UsageError> {
        self.value(flag)?
            .ok_or_else(|| self.error(format!("{flag} is required")))
    }

    /// Takes a switch such as `--keep`; true when it was given.
    pub fn switch(&mut self, flag: &str) -> bool {
        match self.words.iter().position(|w| w == flag) {
            Some(i) => {
                self.words.remove(i);
                true
            }
            None => false,
        }
    }

    /// Takes the next word that is not an option, which must be present.
    pub fn positional<T: FromArg>(&mut self, what: &str) -> Result<T, UsageError> {
        let Some(i) = self.words.iter().position(|w| !w.starts_with("--")) else {
            return Err(self.error(format!("missing {what}")));
        };
        let word = self.words.remove(i);
        T::from_arg(&word).map_err(|why| self.error(format!("{what}: {why}")))
    }

    /// Checks that nothing is left over: an unknown option or a stray word is an error.
    pub fn finish(self) -> Result<(), UsageError> {
        match self.words.first() {
            None => Ok(()),
            Some(w) if w.starts_with('-') => Err(self.error(format!("unknown option '{w}'"))),
            Some(w) => Err(self.error(format!("unexpected argument '{w}'"))),
        }
    }

    /// The example's name.
    pub fn program(&self) -> &'static str {
        self.program
    }
}

/// Parses the command line and runs `body` with the subcommand and its options.
///
/// `--help` (or `-h`, or `help`), also after a subcommand, prints [`Usage::help`]. Exit status: 0 on success,
/// 1 when `body` fails, 2 on bad input, 128 + N when interrupted by signal N (after
/// removing the segments it made: see [`crate::cleanup::install_interrupt_cleanup`]).
pub fn main(usage: &Usage, body: impl FnOnce(&str, Args) -> anyhow::Result<()>) -> ExitCode {
    crate::cleanup::install_interrupt_cleanup(usage.program);
    let words: Vec<String> = std::env::args().skip(1).collect();
    let Some(first) = words.first() else {
        return usage_failure(usage, None, "missing subcommand");
    };
    if matches!(first.as_str(), "--help" | "-h" | "help") {
        print!("{}", usage.help());
        return ExitCode::SUCCESS;
    }
    if !usage.names().any(|n| n == first) {
        return usage_failure(usage, None, &format!("unknown subcommand '{first}'"));
    }
    // `CMD --help` is a request for help, not a bad option.
    if words[1..].iter().any(|w| w == "--help" || w == "-h") {
        print!("{}", usage.help());
        return ExitCode::SUCCESS;
    }
    let args = Args {
        program: usage.program,
        command: first.clone(),
        words: words[1..].to_vec(),
    };
    match body(first, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<UsageError>() {
            Some(bad) => usage_failure(usage, bad.command.as_deref(), &bad.what),
            None => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

/// Prints `PROGRAM [COMMAND]: WHAT; usage: …` on one line to standard error.
fn usage_failure(usage: &Usage, command: Option<&str>, what: &str) -> ExitCode {
    let who = match command {
        Some(c) => format!("{} {c}", usage.program),
        None => usage.program.to_string(),
    };
    eprintln!("{who}: {what}; usage: {}", usage.synopsis(command));
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(Bytes::from_arg("4096"), Ok(Bytes(4096)));
        assert_eq!(Bytes::from_arg("64KiB"), Ok(Bytes(65536)));
        assert_eq!(Bytes::from_arg("256M"), Ok(Bytes(256 << 20)));
        assert!(Bytes::from_arg("12kb").is_err());
        assert!(Bytes::from_arg("").is_err());
        assert!(Bytes::from_arg("99999999999999999999G").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(u64::from_arg("50_000_000"), Ok(50_000_000));
        assert!(u64::from_arg("-1").is_err());
        assert!(u32::from_arg("4294967296").is_err());
    }
}

// --- Command lines declared with clap ---------------------------------------------------
//
// Each example declares its command line as a clap `Parser` (derive): one enum of
// subcommands, whose doc comments are its `--help`; helper roles are hidden
// subcommands. Ranges and choices are declared on the arguments with the parsers below.

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
    let result = body(command);
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
        let Bytes(n) = Bytes::from_arg(word)?;
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
mod clap_tests {
    use super::*;

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
