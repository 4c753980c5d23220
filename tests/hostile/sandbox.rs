//! A private /dev/shm and /tmp for one run of an example, so that what the run leaves
//! behind (segments, `sem.*` semaphores, sockets, temporary files) and which of its
//! processes outlive it are known exactly, whatever else runs on the machine.
//!
//! A holder process (`unshare --mount`) makes a mount namespace with a fresh tmpfs on
//! /dev/shm and on a temporary directory of its own (an empty directory under
//! `target/`, which every process of the run gets as `TMPDIR`; not over /tmp itself,
//! which may hold the checkout or its build) and then sleeps; the example is started inside that namespace
//! (`setns` between fork and exec), and so is every helper it starts. The test reads the
//! namespace's files through `/proc/HOLDER/root`, and finds the run's processes as those
//! whose `/proc/PID/ns/mnt` is the holder's. Needs root (CAP_SYS_ADMIN).
//!
//! [`Sandbox::with_pids`] adds a pid namespace: the run is started through `nsenter`
//! and gets a small, predictable process id (the namespace's few first ids go to its
//! init and the mounts), so names made from it (`/shmbook-TAG-PID-N`) can be planted
//! in advance.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Sandbox {
    holder: std::process::Child,
    /// With a pid namespace: the host pid of its init (a `sleep`).
    init: Option<u32>,
    ns: std::fs::File,
    ns_link: PathBuf,
    root: PathBuf,
    /// The run's temporary directory (`TMPDIR`), as a path inside the namespace.
    tmp: PathBuf,
}

/// Why the sandbox cannot be made here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(|| {
        if !nix::unistd::geteuid().is_root() {
            return Some("not root: a private /dev/shm needs CAP_SYS_ADMIN".into());
        }
        Sandbox::new().err()
    })
    .clone()
}

impl Sandbox {
    pub fn new() -> Result<Sandbox, String> {
        Sandbox::make(false, None)
    }

    /// A sandbox with a pid namespace of its own too.
    pub fn with_pids() -> Result<Sandbox, String> {
        Sandbox::make(true, None)
    }

    /// A sandbox whose /dev/shm holds at most `bytes` (as a container's small
    /// /dev/shm, or one that others have filled).
    pub fn with_small_shm(bytes: usize) -> Result<Sandbox, String> {
        Sandbox::make(false, Some(bytes))
    }

    fn make(pids: bool, shm_size: Option<usize>) -> Result<Sandbox, String> {
        let size = shm_size.map_or(String::new(), |b| format!(",size={b}"));
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = crate::runner::examples_dir()
            .parent()
            .expect("target/<profile>")
            .join(format!("hostile-tmp/{}-{n}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {tmp:?}: {e}"))?;
        let script = format!(
            "mount -t tmpfs -o mode=1777{size} hostile /dev/shm && \
             mount -t tmpfs -o mode=1777 hostile '{}' && echo ready && exec sleep 3600",
            tmp.display()
        );
        let mut unshare = vec!["--mount", "--propagation", "private"];
        if pids {
            unshare.extend(["--pid", "--fork", "--kill-child"]);
        }
        let mut holder = Command::new("unshare")
            .args(unshare)
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut line = String::new();
        let out = holder.stdout.take().expect("piped");
        let _ = BufReader::new(out).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            let _ = std::fs::remove_dir(&tmp);
            return Err(
                "unshare --mount with a tmpfs on /dev/shm and a temporary directory failed".into(),
            );
        }
        let pid = holder.id();
        let init = if pids {
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            Some(
                children
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("the pid namespace has no init")?,
            )
        } else {
            None
        };
        let ns_link = PathBuf::from(format!("/proc/{pid}/ns/mnt"));
        let ns = std::fs::File::open(&ns_link).map_err(|e| format!("open {ns_link:?}: {e}"))?;
        let ns_link = std::fs::read_link(&ns_link).map_err(|e| e.to_string())?;
        Ok(Sandbox {
            holder,
            init,
            ns,
            ns_link,
            root: PathBuf::from(format!("/proc/{pid}/root")),
            tmp,
        })
    }

    /// The sandbox's /dev/shm, seen from outside.
    pub fn shm(&self) -> PathBuf {
        self.root.join("dev/shm")
    }

    /// The file behind segment `name` (`/shmbook-x`) in the sandbox.
    pub fn segment(&self, name: &str) -> PathBuf {
        self.shm().join(name.trim_start_matches('/'))
    }

    /// The sandbox's two private directories, seen from outside, with the names its
    /// entries are shown under (`/dev/shm/NAME`, `/tmp/NAME` for the run's `TMPDIR`).
    fn private_dirs(&self) -> [(PathBuf, &'static str); 2] {
        let tmp = self.tmp.strip_prefix("/").unwrap_or(&self.tmp);
        [
            (self.root.join("dev/shm"), "dev/shm"),
            (self.root.join(tmp), "tmp"),
        ]
    }

    /// Everything in the sandbox's /dev/shm and temporary directory, as
    /// `/dev/shm/NAME`, `/tmp/NAME`.
    pub fn entries(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (dir, label) in self.private_dirs() {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                out.insert(format!("/{label}/{}", e.file_name().to_string_lossy()));
            }
        }
        out
    }

    /// The command that runs `program ARGS` inside the sandbox, in the directory `cwd`.
    pub fn command(&self, program: &Path, cwd: &Path) -> Command {
        match self.init {
            Some(init) => {
                let mut cmd = Command::new("nsenter");
                cmd.env("TMPDIR", &self.tmp);
                cmd.arg(format!("--target={init}"))
                    .args(["--mount", "--pid"])
                    .arg(format!("--wd={}", cwd.display()))
                    .arg("--")
                    .arg(program);
                cmd
            }
            None => {
                let mut cmd = Command::new(program);
                self.enter(&mut cmd, cwd);
                cmd
            }
        }
    }

    /// Makes `cmd` start inside the sandbox's mount namespace, in the directory `cwd`.
    pub fn enter(&self, cmd: &mut Command, cwd: &Path) {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::process::CommandExt;
        let fd = self.ns.as_raw_fd();
        let cwd = std::ffi::CString::new(cwd.as_os_str().as_bytes()).expect("no NUL in a path");
        cmd.env("TMPDIR", &self.tmp);
        // SAFETY: the closure runs in the child between fork and exec; it calls only
        // setns and chdir (async-signal-safe system calls) on a descriptor and a string
        // made before the fork, and allocates nothing. setns resets the working
        // directory to the namespace's root, hence the chdir after it.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNS) != 0 || libc::chdir(cwd.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// The processes living in the sandbox (the holder left out): (pid, command name).
    pub fn processes(&self) -> Vec<(i32, String)> {
        let holder = self.holder.id() as i32;
        let init = self.init.map_or(0, |p| p as i32);
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == holder || pid == init {
                continue;
            }
            if std::fs::read_link(e.path().join("ns/mnt")).is_ok_and(|l| l == self.ns_link) {
                let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
                out.push((pid, comm.trim().to_string()));
            }
        }
        out
    }

    /// Empties the sandbox for the next run: kills its processes, removes everything
    /// in its /dev/shm and /tmp.
    pub fn reset(&self) {
        self.kill_all();
        for (dir, _) in self.private_dirs() {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
    }

    /// Kills every process of the sandbox and reaps those that became our children.
    pub fn kill_all(&self) {
        for (pid, _) in self.processes() {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill_all();
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // The namespace and its tmpfs are gone with the holder: only the empty
        // directory it was mounted on is left on the machine.
        let _ = std::fs::remove_dir(&self.tmp);
    }
}
