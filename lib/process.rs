//! Other processes, started and ended tidily: the book's one process runner.
//!
//! Two kinds of user need it:
//!
//! - **Examples** start helpers (themselves again, Python, a server). A [`Child`] is
//!   recorded for the interrupt cleanup ([`crate::cleanup`]): on Ctrl-C the parent asks
//!   it to end before it removes its own resources. On Linux a child also gets `SIGTERM`
//!   when its parent dies in any way (`PR_SET_PDEATHSIG`), even during its start.
//! - **The test suites and the grader** run a command to its end and look at what it
//!   printed: [`run`] (or [`start`] and [`Running::finish`], to signal it meanwhile).
//!   The command runs in a process group of its own; its output pipes are drained while
//!   it runs, so it can never block on a full pipe; when its time is up the whole group
//!   is killed; it is always reaped.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// Makes the program `cmd` starts end when this process ends, however it ends (Linux:
/// `PR_SET_PDEATHSIG` with `SIGTERM`, so a helper of ours still removes what it made).
/// A parent that died while the child was starting is noticed too: the child then does
/// not run at all. Does nothing on other systems.
///
/// Note: Linux sends the signal when the *thread* that started the child ends; start
/// helpers from a thread that outlives them (the main thread, in the book).
pub fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = nix::unistd::getpid();
        // SAFETY: the closure runs in the child between fork and exec. It calls only
        // prctl and getppid, both async-signal-safe, allocates nothing (the error is a
        // plain OS code) and touches no memory shared with the parent.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
                if nix::unistd::getppid() != parent {
                    // The parent died before prctl took effect: nobody would stop us.
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// A child process of an example, recorded for the interrupt cleanup. Dropping a
/// `Child` that still runs kills and reaps it.
pub struct Child {
    inner: Option<std::process::Child>,
}

impl Child {
    /// Starts `cmd` (see [`die_with_parent`]) and records it for the cleanup, in one
    /// step a signal cannot split.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
        die_with_parent(cmd);
        let inner = crate::cleanup::start_child(|| cmd.spawn(), std::process::Child::id)?;
        Ok(Child { inner: Some(inner) })
    }

    fn inner(&mut self) -> &mut std::process::Child {
        self.inner
            .as_mut()
            .expect("a Child holds its process until dropped")
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.inner.as_ref().map_or(0, std::process::Child::id)
    }

    /// The writing end of its standard input, if it was piped and not taken yet.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.inner().stdin.take()
    }

    /// The reading end of its standard output, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.inner().stdout.take()
    }

    /// The reading end of its standard error, if it was piped and not taken yet.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.inner().stderr.take()
    }

    /// Its exit status if it has ended (it is then reaped), `None` if it still runs.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        let pid = self.id();
        let inner = self.inner();
        crate::cleanup::reap_child(pid, || match inner.try_wait() {
            Ok(Some(s)) => (true, Ok(Some(s))),
            other => (false, other),
        })
    }

    /// Waits until `deadline`; a child still running then is killed and reaped, and
    /// `None` is returned.
    pub fn wait_until(&mut self, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                self.kill()?;
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sends `signal` to the child, unless it has been reaped already.
    pub fn signal(&mut self, signal: Signal) -> std::io::Result<()> {
        let pid = self.id();
        let inner = self.inner();
        crate::cleanup::reap_child(pid, || match inner.try_wait() {
            Ok(Some(_)) => (true, Ok(())),
            Ok(None) => (
                false,
                kill(Pid::from_raw(pid as i32), signal).map_err(Into::into),
            ),
            Err(e) => (false, Err(e)),
        })
    }

    /// Kills it at once (`SIGKILL`: it gets no chance to clean up) and reaps it.
    pub fn kill(&mut self) -> std::io::Result<ExitStatus> {
        let pid = self.id();
        let inner = self.inner();
        crate::cleanup::reap_child(pid, || {
            // A child that has exited already cannot be killed; reaping is all we need.
            let _ = inner.kill();
            let status = inner.wait();
            (status.is_ok(), status)
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.inner.is_some() {
            let _ = self.kill();
        }
    }
}

/// How a finished command's output is collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Standard output and standard error separately.
    Separate,
    /// Both through one pipe, in the order they were written, as a terminal shows them
    /// (all in [`Ran::stdout`]).
    Merged,
}

/// What became of a command run by [`run`].
#[derive(Debug)]
pub struct Ran {
    /// How it ended; `None` when it was killed because its time was up.
    pub status: Option<ExitStatus>,
    /// Its standard output (with [`Output::Merged`], standard error too).
    pub stdout: Vec<u8>,
    /// Its standard error (empty with [`Output::Merged`]).
    pub stderr: Vec<u8>,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Ran {
    /// True when it ran out of time and was killed.
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// Its exit code as a shell reports it: the code, or 128 + N when signal N killed
    /// it; `None` when it timed out.
    pub fn shell_code(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.status
            .map(|s| s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)))
    }
}

/// A command started by [`start`], running in a process group of its own.
pub struct Running {
    child: std::process::Child,
    started: Instant,
    readers: Vec<mpsc::Receiver<Vec<u8>>>,
    merged: bool,
}

/// Starts `cmd` in a process group of its own, with its output drained into memory.
/// `stdin`: bytes written to its standard input (then closed); `None` gives it none.
pub fn start(
    cmd: &mut Command,
    output: Output,
    stdin: Option<Vec<u8>>,
) -> std::io::Result<Running> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut pipes = Vec::new();
    match output {
        Output::Merged => {
            let (reader, writer) = std::io::pipe()?;
            cmd.stdout(writer.try_clone()?).stderr(writer);
            pipes.push(Box::new(reader) as Box<dyn Read + Send>);
        }
        Output::Separate => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    let mut child = cmd.spawn()?;
    // Our copies of the merged pipe's writing end live in `cmd`: replace them, so that
    // the reader sees end-of-file when the command's group is gone.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(out) = child.stdout.take() {
        pipes.push(Box::new(out));
    }
    if let Some(err) = child.stderr.take() {
        pipes.push(Box::new(err));
    }
    if let (Some(bytes), Some(mut input)) = (stdin, child.stdin.take()) {
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = input.write_all(&bytes);
        });
    }
    let readers = pipes
        .into_iter()
        .map(|mut pipe| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                let _ = tx.send(bytes);
            });
            rx
        })
        .collect();
    Ok(Running {
        child,
        started: Instant::now(),
        readers,
        merged: output == Output::Merged,
    })
}

impl Running {
    /// The process id of the command (also its process group's id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the command alone (not its group), if it still runs.
    pub fn signal(&mut self, signal: Signal) -> std::io::Result<()> {
        if self.child.try_wait()?.is_none() {
            kill(Pid::from_raw(self.child.id() as i32), signal)?;
        }
        Ok(())
    }

    /// True while the command has not ended.
    pub fn running(&mut self) -> std::io::Result<bool> {
        Ok(self.child.try_wait()?.is_none())
    }

    /// Waits for the command until `timeout` after its start; then kills its whole
    /// group (also when it ended in time: helpers it left running would hold the pipes
    /// open), reaps it and returns what it printed.
    pub fn finish(mut self, timeout: Duration) -> std::io::Result<Ran> {
        let deadline = self.started + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait()? {
                break Some(s);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = self.started.elapsed();
        let group = Pid::from_raw(self.child.id() as i32);
        // An empty group is reported as an error (ESRCH), which is what we hoped for.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
        // A reader can still be blocked if something outside the group holds the pipe;
        // give up on it after a moment rather than hang.
        let collect_until = Instant::now() + Duration::from_secs(2);
        let mut outputs = self.readers.iter().map(|rx| {
            rx.recv_timeout(collect_until.saturating_duration_since(Instant::now()))
                .unwrap_or_default()
        });
        let stdout = outputs.next().unwrap_or_default();
        let stderr = if self.merged {
            Vec::new()
        } else {
            outputs.next().unwrap_or_default()
        };
        Ok(Ran {
            status,
            stdout,
            stderr,
            elapsed,
        })
    }
}

/// Runs `cmd` to its end, for at most `timeout` (see [`start`] and [`Running::finish`]).
pub fn run(
    cmd: &mut Command,
    output: Output,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
) -> std::io::Result<Ran> {
    start(cmd, output, stdin)?.finish(timeout)
}

/// "exit status 1", "killed by SIGKILL", "killed by SIGBUS".
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {sig} ({})", s.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        },
        None => "ended in an unknown way".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_output_keeps_order_and_status() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two >&2; echo three; exit 3"]);
        let ran = run(&mut cmd, Output::Merged, None, Duration::from_secs(10)).unwrap();
        assert_eq!(String::from_utf8_lossy(&ran.stdout), "one\ntwo\nthree\n");
        assert_eq!(ran.shell_code(), Some(3));
    }

    #[test]
    fn a_hanging_group_is_killed_in_time() {
        // The command leaves a grandchild holding the pipe: both die with the group.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & echo started; sleep 30"]);
        let ran = run(&mut cmd, Output::Separate, None, Duration::from_millis(300)).unwrap();
        assert!(ran.timed_out());
        assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
        assert_eq!(String::from_utf8_lossy(&ran.stdout), "started\n");
    }

    #[test]
    fn stdin_is_fed_and_closed() {
        let mut cmd = Command::new("cat");
        let ran = run(
            &mut cmd,
            Output::Separate,
            Some(b"abc".to_vec()),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(ran.stdout, b"abc");
        assert_eq!(ran.shell_code(), Some(0));
    }
}
