//! Helper processes: an example starts them by running its own executable again.
//!
//! Python's `multiprocessing` can `fork` the interpreter and continue in the child, or
//! `spawn` a fresh interpreter that imports the main module. Rust's standard library
//! has neither: a program starts another process from an executable. The book's
//! examples therefore run *themselves* again with a helper role as the subcommand,
//! e.g. `segments _answer /shmbook-segments-4242-0`, and the helper attaches to shared
//! memory by name — exactly what `spawn` does in Python.
//!
//! A [`Helper`] is bounded and tidy:
//! - [`Helper::wait`] waits at most a given time; a helper still running then is killed
//!   and the wait fails with a clear error;
//! - dropping a `Helper` that is still running kills and reaps it, so an early `?` or a
//!   panic in the parent leaves no process behind;
//! - on Linux the helper also gets `SIGTERM` when its parent dies in any way, and a
//!   parent's Ctrl-C stops its helpers before it removes its own segments (see
//!   [`crate::process::Child`], which a `Helper` is built on).

use std::marker::PhantomData;
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::process::Child;
pub use crate::process::{describe, die_with_parent};

/// A running helper process.
pub struct Helper {
    child: Option<Child>,
    role: String,
}

/// What became of a helper: how it ended, and its standard output if it was captured.
#[derive(Debug)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output, when the helper was started with [`Helper::spawn_captured`].
    pub stdout: String,
}

impl Helper {
    /// Runs the current executable again as `ROLE ARGS…`, sharing this terminal.
    ///
    /// The helper's output goes where the parent's goes, so the two interleave: the
    /// examples take turns (the parent waits while the helper prints) to keep the order
    /// of lines the same on every run.
    pub fn spawn(role: &str, args: &[&str]) -> anyhow::Result<Helper> {
        Self::start(role, args, Stdio::inherit())
    }

    /// Like [`Helper::spawn`], but collects the helper's standard output for the parent.
    pub fn spawn_captured(role: &str, args: &[&str]) -> anyhow::Result<Helper> {
        Self::start(role, args, Stdio::piped())
    }

    /// Like [`Helper::spawn`], with the helper's standard input and output connected
    /// to pipes that this process holds: take them with [`Helper::take_stdin`] and
    /// [`Helper::take_stdout`]. Reads and writes on them block without a time limit;
    /// bound them with [`Helper::watchdog`].
    pub fn spawn_piped(role: &str, args: &[&str]) -> anyhow::Result<Helper> {
        Self::start_with(role, args, Stdio::piped(), Stdio::piped())
    }

    /// Like [`Helper::spawn`], with `stdin` as the helper's standard input: one end of
    /// a Unix socket, say, over which the parent then passes it descriptors.
    pub fn spawn_with_stdin(
        role: &str,
        args: &[&str],
        stdin: impl Into<Stdio>,
    ) -> anyhow::Result<Helper> {
        Self::start_with(role, args, stdin.into(), Stdio::inherit())
    }

    fn start(role: &str, args: &[&str], stdout: Stdio) -> anyhow::Result<Helper> {
        Self::start_with(role, args, Stdio::null(), stdout)
    }

    fn start_with(
        role: &str,
        args: &[&str],
        stdin: Stdio,
        stdout: Stdio,
    ) -> anyhow::Result<Helper> {
        let exe = std::env::current_exe().context("finding the current executable")?;
        let mut cmd = Command::new(&exe);
        cmd.arg(role).args(args).stdin(stdin).stdout(stdout);
        let child = Child::spawn(&mut cmd)
            .with_context(|| format!("starting helper '{role}' ({})", exe.display()))?;
        Ok(Helper {
            child: Some(child),
            role: role.to_string(),
        })
    }

    /// Takes the helper's standard output pipe (only for [`Helper::spawn_captured`] and
    /// [`Helper::spawn_piped`]), for a parent that reads binary results itself instead
    /// of waiting for a `String`.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(Child::take_stdout)
    }

    /// The helper's exit status if it has ended, without waiting; `None` while it runs.
    pub fn try_wait(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let child = self
            .child
            .as_mut()
            .context("the helper was waited for already")?;
        let role = &self.role;
        (child.try_wait()).with_context(|| format!("checking on helper '{role}'"))
    }

    /// The helper's process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The writing end of the helper's standard input, if it was started with
    /// [`Helper::spawn_piped`] and not taken yet. Dropping it closes the pipe: the
    /// helper reads end-of-file.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut().and_then(Child::take_stdin)
    }

    /// Kills the helper if it is still running `timeout` from now, unless the returned
    /// guard is dropped first. This bounds blocking reads and writes on the helper's
    /// pipes: once it is killed, they end with end-of-file or a broken pipe.
    ///
    /// The guard borrows the helper, so the helper cannot be waited for (and its
    /// process id reused by the system) while the watchdog may still fire.
    pub fn watchdog(&self, timeout: Duration) -> Watchdog<'_> {
        let pid = nix::unistd::Pid::from_raw(self.id() as i32);
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(timeout) {
                // `pid` is our child, not yet reaped: the guard's borrow keeps the Helper
                // from being waited for meanwhile, so the id cannot have been reused.
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
        Watchdog {
            cancel: Some(cancel),
            thread: Some(thread),
            _helper: PhantomData,
        }
    }

    /// Waits at most `timeout` for the helper to end. A helper still running then is
    /// killed, and the error says so.
    pub fn wait(mut self, timeout: Duration) -> anyhow::Result<Finished> {
        let mut child = self
            .child
            .take()
            .expect("a Helper holds its child until it is waited for");
        // Read captured output on a thread, so a chatty helper cannot block on a full pipe.
        let reader = child.take_stdout().map(|mut out| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut out, &mut s);
                s
            })
        });
        let Some(status) = child
            .wait_until(Instant::now() + timeout)
            .with_context(|| format!("waiting for helper '{}'", self.role))?
        else {
            bail!(
                "helper '{}' did not finish within {} s; killed it",
                self.role,
                timeout.as_secs_f64()
            );
        };
        let stdout = reader
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        Ok(Finished { status, stdout })
    }

    /// Waits at most `timeout` and requires that the helper succeeded.
    pub fn wait_ok(self, timeout: Duration) -> anyhow::Result<Finished> {
        let role = self.role.clone();
        let finished = self.wait(timeout)?;
        if !finished.status.success() {
            bail!("helper '{role}' failed ({})", describe(finished.status));
        }
        Ok(finished)
    }

    /// Kills the helper at once (SIGKILL: it gets no chance to clean up) and reaps it.
    pub fn kill(mut self) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("helper '{}' was already waited for", self.role);
        };
        child
            .kill()
            .with_context(|| format!("reaping helper '{}'", self.role))
    }
}

/// Kills a helper that is still running when its time is up; see [`Helper::watchdog`].
#[must_use = "the watchdog is cancelled when this guard is dropped"]
pub struct Watchdog<'a> {
    cancel: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _helper: PhantomData<&'a Helper>,
}

impl Drop for Watchdog<'_> {
    fn drop(&mut self) {
        drop(self.cancel.take()); // wakes the watchdog thread: cancelled
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
