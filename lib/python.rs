//! A Python script as a helper process, for the chapters where Rust and Python share
//! one segment.
//!
//! The Rust example is always the parent: it starts `python3 SCRIPT ARGS…` with its
//! standard input, output and error on pipes, reads what the script prints line by
//! line, and waits for it with a time limit. Because the parent prints the script's
//! lines itself, in the order it received them, a transcript stays the same on every
//! run. Errors are one line: a missing `python3`, or a script that fails (the scripts
//! print one line such as "numpy is not installed" and exit), end the example with
//! `error: …`.
//!
//! Waiting for the end of the script also waits for every process that inherited its
//! output pipes, such as Python's `resource_tracker`: [`Python::finish`] returns only
//! when the last of them has closed the pipes (or the time is over).

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};

use crate::process::Child;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// One line the script printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line on its standard output.
    Out(String),
    /// A line on its standard error.
    Err(String),
}

/// A running Python script.
pub struct Python {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<Option<Line>>,
    open_pipes: usize,
    script: String,
    /// Lines received while looking for something else, in order.
    seen: Vec<Line>,
}

/// How the script ended and everything it printed.
#[derive(Debug)]
pub struct PythonFinished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Every line it (and any process that shared its pipes) printed, in order received.
    pub lines: Vec<Line>,
}

/// Where the book's Python scripts are: `examples/python/` of this repository.
pub fn script_path(file: &str) -> String {
    format!("{}/examples/python/{file}", env!("CARGO_MANIFEST_DIR"))
}

impl Python {
    /// Starts `python3 examples/python/FILE ARGS…`.
    pub fn spawn(file: &str, args: &[&str]) -> anyhow::Result<Python> {
        let script = script_path(file);
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match Child::spawn(&mut cmd) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("python3 was not found: this part needs Python 3 with NumPy (pip install numpy)")
            }
            Err(e) => return Err(e).with_context(|| format!("starting python3 {file}")),
        };
        let (tx, rx) = mpsc::channel();
        let out = child.take_stdout().context("python3's standard output")?;
        let err = child.take_stderr().context("python3's standard error")?;
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(Some(Line::Out(l)));
            }
            let _ = tx.send(None);
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(Some(Line::Err(l)));
            }
            let _ = tx2.send(None);
        });
        Ok(Python {
            stdin: child.take_stdin(),
            child: Some(child),
            lines: rx,
            open_pipes: 2,
            script: file.to_string(),
            seen: Vec::new(),
        })
    }

    /// Waits at most `timeout` for the next line on the script's standard output.
    /// Lines on standard error received meanwhile are kept for [`Python::finish`]. If
    /// the script ends first, the error carries its last line on standard error.
    pub fn read_line(&mut self, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Some(Line::Out(l))) => return Ok(l),
                Ok(Some(e @ Line::Err(_))) => self.seen.push(e),
                Ok(None) => {
                    self.open_pipes -= 1;
                    if self.open_pipes == 0 {
                        return Err(self.failure());
                    }
                }
                Err(RecvTimeoutError::Timeout) => bail!(
                    "python3 {} printed nothing for {} s",
                    self.script,
                    timeout.as_secs_f64()
                ),
                Err(RecvTimeoutError::Disconnected) => return Err(self.failure()),
            }
        }
    }

    fn failure(&mut self) -> anyhow::Error {
        let last = self.seen.iter().rev().find_map(|l| match l {
            Line::Err(e) if !e.trim().is_empty() => Some(e.trim().to_string()),
            _ => None,
        });
        let status = self
            .child
            .as_mut()
            // Its pipes are closed, so it has ended or is about to: a short bound.
            .and_then(|c| {
                c.wait_until(Instant::now() + Duration::from_secs(5))
                    .ok()
                    .flatten()
            })
            .map(crate::process::describe)
            .unwrap_or_else(|| "ended".into());
        match last {
            Some(l) => anyhow::anyhow!("python3 {} failed ({status}): {l}", self.script),
            None => anyhow::anyhow!("python3 {} ended early ({status})", self.script),
        }
    }

    /// Sends one line to the script's standard input.
    pub fn send_line(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .context("python3's standard input is closed")?;
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .with_context(|| format!("writing to python3 {}", self.script))
    }

    /// Closes the script's standard input and waits at most `timeout` for it to end and
    /// for its pipes to close. A script still running then is killed, and the wait fails.
    pub fn finish(mut self, timeout: Duration) -> anyhow::Result<PythonFinished> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        let mut lines = std::mem::take(&mut self.seen);
        while self.open_pipes > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Some(l)) => lines.push(l),
                Ok(None) => self.open_pipes -= 1,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => bail!(
                    "python3 {} did not finish within {} s; killed it",
                    self.script,
                    timeout.as_secs_f64()
                ),
            }
        }
        let mut child = self
            .child
            .take()
            .expect("a Python holds its child until finished");
        let Some(status) = child.wait_until(deadline).context("waiting for python3")? else {
            bail!(
                "python3 {} did not finish within {} s; killed it",
                self.script,
                timeout.as_secs_f64()
            );
        };
        Ok(PythonFinished { status, lines })
    }
}

impl PythonFinished {
    /// Fails with the script's last line on standard error unless it exited with 0.
    pub fn ok(self, script: &str) -> anyhow::Result<PythonFinished> {
        if self.status.success() {
            return Ok(self);
        }
        let last = self.lines.iter().rev().find_map(|l| match l {
            Line::Err(e) if !e.trim().is_empty() => Some(e.trim().to_string()),
            _ => None,
        });
        bail!(
            "python3 {script} failed ({}): {}",
            crate::process::describe(self.status),
            last.unwrap_or_else(|| "it printed no error".into())
        )
    }

    /// Prints every line as `python: LINE` (standard output) or `python stderr: LINE`.
    pub fn print(&self) {
        for l in &self.lines {
            match l {
                Line::Out(s) => println!("python: {s}"),
                Line::Err(s) => println!("python stderr: {s}"),
            }
        }
    }
}
