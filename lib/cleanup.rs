//! Nothing left behind: what an example created is removed on every way out.
//!
//! A process can leave a function in two ways that matter here, and each needs its own
//! mechanism:
//!
//! - **returning** — normally, through an early `?`, or while a panic unwinds: a guard's
//!   `Drop` runs. [`Tracked`] is that guard (the owner's `Shmem` is another).
//! - **a signal** — Ctrl-C (`SIGINT`), `SIGTERM`, `SIGHUP`: no destructor runs. [`install`]
//!   starts a thread that waits for these signals, stops the helper processes this
//!   process started, removes every resource still registered, prints one line, and then
//!   lets the signal end the process with its default action, so the parent (a shell,
//!   a test) sees "killed by SIGINT", not an exit status.
//!
//! The signal handler itself does almost nothing: `signal-hook` writes one byte into a
//! pipe (the *self-pipe*, whose ends are close-on-exec, so no helper inherits them), and
//! the thread reading that pipe does the work in ordinary Rust, where locks and
//! allocation are allowed.
//!
//! Three rules keep the cleanup honest:
//!
//! 1. **Register only what you created, in the same step.** [`segment`], [`semaphore`]
//!    and [`file`] run the creating call while holding the registry's lock, and register
//!    the resource only when that call succeeded. The signal thread takes the same lock
//!    before it cleans up and never gives it back, so a signal cannot fall between
//!    "created" and "registered", and nothing is created after the cleanup ran.
//! 2. **Remove by name, never open.** Cleanup unlinks names (`shm_unlink`, `sem_unlink`,
//!    `unlink`); it never opens a path, which could block on a FIFO someone put there.
//! 3. **Remove only what is still yours.** On Linux the registry remembers the inode the
//!    creating call made; a name that now points at another file (someone removed ours
//!    and made a new one) is left alone.
//!
//! Only `SIGKILL` (and crashes such as `SIGSEGV` or `SIGBUS`, and `SIGQUIT`, `SIGABRT`,
//! `SIGPIPE`, whose default action ends the process at once) give a process no chance to
//! clean up.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Something an example created that must not outlive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A shared-memory segment, by its name (`/shmbook-…`).
    Segment(String),
    /// A named POSIX semaphore, by its name.
    Semaphore(String),
    /// A file: a Unix socket, a temporary file.
    File(PathBuf),
    /// A directory and everything in it.
    Dir(PathBuf),
}

impl Resource {
    /// Where the resource shows up in the file system, when it does (Linux keeps
    /// segments in `/dev/shm/NAME` and semaphores in `/dev/shm/sem.NAME`).
    fn path(&self) -> Option<PathBuf> {
        match self {
            #[cfg(target_os = "linux")]
            Resource::Segment(name) => {
                Some(Path::new("/dev/shm").join(name.trim_start_matches('/')))
            }
            #[cfg(target_os = "linux")]
            Resource::Semaphore(name) => {
                Some(Path::new("/dev/shm").join(format!("sem.{}", name.trim_start_matches('/'))))
            }
            #[cfg(not(target_os = "linux"))]
            Resource::Segment(_) | Resource::Semaphore(_) => None,
            Resource::File(p) | Resource::Dir(p) => Some(p.clone()),
        }
    }

    /// The inode the name points at now, without opening or following it.
    fn inode(&self) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(self.path()?)
            .ok()
            .map(|m| m.ino())
    }

    /// Removes the name. Never opens the path; a name that is gone already is fine.
    fn remove(&self) -> bool {
        match self {
            Resource::Segment(name) => nix::sys::mman::shm_unlink(name.as_str()).is_ok(),
            Resource::Semaphore(name) => match std::ffi::CString::new(name.as_str()) {
                // SAFETY: `c` is a NUL-terminated string that lives across the call;
                // sem_unlink only reads it and removes a name, touching no memory of ours.
                Ok(c) => (unsafe { libc::sem_unlink(c.as_ptr()) }) == 0,
                Err(_) => false,
            },
            Resource::File(p) => std::fs::remove_file(p).is_ok(),
            Resource::Dir(p) => std::fs::remove_dir_all(p).is_ok(),
        }
    }

    fn noun(&self) -> &'static str {
        match self {
            Resource::Segment(_) => "segment",
            Resource::Semaphore(_) => "semaphore",
            Resource::File(_) => "file",
            Resource::Dir(_) => "directory",
        }
    }
}

struct Entry {
    id: u64,
    resource: Resource,
    /// The inode the creating call made (Linux); cleanup removes the name only while it
    /// still points there.
    inode: Option<u64>,
}

#[derive(Default)]
struct Registry {
    next: u64,
    entries: Vec<Entry>,
    /// Helper processes this process started and has not reaped.
    children: Vec<i32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    entries: Vec::new(),
    children: Vec::new(),
});
/// Set by the signal handler itself, the moment a signal arrives (before the cleanup
/// thread wakes up): from then on the process is going to die by that signal, and no
/// other thread may report an error or exit in its own way.
static INTERRUPTED: std::sync::OnceLock<std::sync::Arc<AtomicBool>> = std::sync::OnceLock::new();

fn interrupted_flag() -> &'static AtomicBool {
    INTERRUPTED.get_or_init(|| std::sync::Arc::new(AtomicBool::new(false)))
}

/// The registry, locked. A lock poisoned by a panic elsewhere is still usable: the data
/// is a list that no half-done update can break.
fn registry() -> MutexGuard<'static, Registry> {
    let guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if interrupted_flag().load(Ordering::SeqCst) && !on_signal_thread() {
        // The cleanup has begun (or is about to): nothing new may be created or
        // started. The signal thread ends the process shortly.
        drop(guard);
        park_forever();
    }
    guard
}

thread_local! {
    static SIGNAL_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn on_signal_thread() -> bool {
    SIGNAL_THREAD.with(|c| c.get())
}

/// Blocks this thread for good; used once the process is being ended by a signal.
pub(crate) fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// True once a signal has started the cleanup: the process is about to end by it.
pub fn interrupted() -> bool {
    interrupted_flag().load(Ordering::SeqCst)
}

/// A value whose resource is removed when it is dropped, and on Ctrl-C, `SIGTERM` or
/// `SIGHUP` while it lives. Reach the value through `*` (it derefs to it).
#[must_use = "the resource is removed when this guard is dropped"]
pub struct Tracked<T> {
    value: Option<T>,
    id: Option<u64>,
    resource: Resource,
}

impl<T> Tracked<T> {
    /// Keeps the resource: it is no longer removed on drop or on a signal. Returns the
    /// value.
    pub fn keep(mut self) -> T {
        if let Some(id) = self.id.take() {
            unregister(id);
        }
        self.value
            .take()
            .expect("a Tracked holds its value until dropped")
    }

    /// What is guarded.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
            .as_ref()
            .expect("a Tracked holds its value until dropped")
    }
}

impl<T> DerefMut for Tracked<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_mut()
            .expect("a Tracked holds its value until dropped")
    }
}

impl<T> Drop for Tracked<T> {
    fn drop(&mut self) {
        // The value first: an owner's `Shmem` removes its own segment as it drops.
        drop(self.value.take());
        if let Some(id) = self.id.take() {
            let mut reg = registry();
            if let Some(i) = reg.entries.iter().position(|e| e.id == id) {
                let entry = reg.entries.swap_remove(i);
                remove_if_ours(&entry);
            }
        }
    }
}

fn unregister(id: u64) {
    registry().entries.retain(|e| e.id != id);
}

fn remove_if_ours(entry: &Entry) -> bool {
    match (entry.inode, entry.resource.inode()) {
        // The name points at another file now: not ours to remove.
        (Some(ours), Some(now)) if ours != now => false,
        // Gone already (or a platform without paths): unlinking by name is harmless.
        _ => entry.resource.remove(),
    }
}

/// Runs `create` and, if it succeeds, registers `resource` for removal — as one step
/// that a signal cannot split. An error from `create` registers nothing: a name that
/// belongs to someone else (`EEXIST`) is never removed by this process.
pub fn create<T, E>(
    resource: Resource,
    create: impl FnOnce() -> Result<T, E>,
) -> Result<Tracked<T>, E> {
    create_then(create, |_| resource)
}

/// Like [`create`], for a resource whose name is known only once it exists (a segment
/// that `shared_memory` names at random): `name_of` reads it from what `create` returned,
/// and both happen under the registry's lock, so a signal cannot fall between them.
pub fn create_then<T, E>(
    create: impl FnOnce() -> Result<T, E>,
    name_of: impl FnOnce(&T) -> Resource,
) -> Result<Tracked<T>, E> {
    let mut reg = registry();
    let value = create()?;
    let resource = name_of(&value);
    if let Resource::Segment(name) | Resource::Semaphore(name) = &resource {
        crate::names::log_if_asked(name); // for the test suites' leak checks
    }
    let inode = resource.inode();
    let id = reg.next;
    reg.next += 1;
    reg.entries.push(Entry {
        id,
        resource: resource.clone(),
        inode,
    });
    Ok(Tracked {
        value: Some(value),
        id: Some(id),
        resource,
    })
}

/// [`create`] for a shared-memory segment called `name`.
pub fn segment<T, E>(name: &str, create: impl FnOnce() -> Result<T, E>) -> Result<Tracked<T>, E> {
    self::create(Resource::Segment(name.to_string()), create)
}

/// A new segment of `size` bytes under a name no other segment has
/// ([`crate::names::unique`] with `tag`), through [`segment`]; its name is `get_os_id()`.
pub fn unique_segment(tag: &str, size: usize) -> anyhow::Result<Tracked<shared_memory::Shmem>> {
    use anyhow::Context;
    let name = crate::names::unique(tag);
    let conf = || shared_memory::ShmemConf::new().size(size).os_id(&name);
    segment(&name, || conf().create())
        .map_err(crate::os::explain)
        .with_context(|| format!("creating {name} ({size} bytes)"))
}

/// [`create`] for a named semaphore called `name`.
pub fn semaphore<T, E>(name: &str, create: impl FnOnce() -> Result<T, E>) -> Result<Tracked<T>, E> {
    self::create(Resource::Semaphore(name.to_string()), create)
}

/// [`create`] for a file (a socket, a temporary file) at `path`.
pub fn file<T, E>(
    path: impl AsRef<Path>,
    create: impl FnOnce() -> Result<T, E>,
) -> Result<Tracked<T>, E> {
    self::create(Resource::File(path.as_ref().to_path_buf()), create)
}

/// Takes responsibility for a resource another process of this program created (a
/// helper that reported it made it): it is removed when the returned guard drops or
/// on a signal — but only while its name still points at the inode it has now.
pub fn adopt(resource: Resource) -> Tracked<()> {
    self::create(resource, || Ok::<(), std::convert::Infallible>(()))
        .unwrap_or_else(|never| match never {})
}

/// Records a child process, so that a signal stops it before this process cleans up.
/// Runs `start` under the registry's lock: a child is never started after the cleanup
/// began, and never left unrecorded.
pub(crate) fn start_child<T>(
    start: impl FnOnce() -> std::io::Result<T>,
    pid: impl Fn(&T) -> u32,
) -> std::io::Result<T> {
    let mut reg = registry();
    let child = start()?;
    reg.children.push(pid(&child) as i32);
    Ok(child)
}

/// Runs `reap` (which must not block for long) under the registry's lock, and forgets
/// the child `pid` if `reap` says it was reaped: its process id may be reused after that,
/// so the cleanup must no longer signal it.
pub(crate) fn reap_child<R>(pid: u32, reap: impl FnOnce() -> (bool, R)) -> R {
    let mut reg = registry();
    let (reaped, r) = reap();
    if reaped {
        reg.children.retain(|&c| c != pid as i32);
    }
    r
}

/// How long helpers get to clean up after themselves before they are killed.
const HELPER_GRACE: Duration = Duration::from_secs(2);

/// Starts the thread that cleans up on `SIGINT`, `SIGTERM` and `SIGHUP`; `program` names
/// the process in the one line it prints. [`crate::cli::run`] calls it first thing.
pub fn install(program: &'static str) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{program}: warning: cannot clean up on Ctrl-C ({e})");
            return;
        }
    };
    // A second handler for the same signals sets the flag at once, inside the handler
    // (an atomic store is async-signal-safe): a helper killed by the same Ctrl-C may be
    // noticed by the main thread before the cleanup thread has even woken up.
    interrupted_flag();
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        if let Some(flag) = INTERRUPTED.get() {
            let _ = signal_hook::flag::register(signal, std::sync::Arc::clone(flag));
        }
    }
    std::thread::spawn(move || {
        SIGNAL_THREAD.with(|c| c.set(true));
        // ANCHOR: signal_thread
        let Some(signal) = signals.forever().next() else {
            return;
        };
        interrupted_flag().store(true, Ordering::SeqCst);
        // Wait for a creating section to finish, then keep the lock until the end.
        let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        stop_children(&reg.children);
        reg.children.clear();
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for entry in &reg.entries {
            if remove_if_ours(entry) {
                let noun = entry.resource.noun();
                match counts.iter_mut().find(|(n, _)| *n == noun) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((noun, 1)),
                }
            }
        }
        // ANCHOR_END: signal_thread
        let removed = if counts.is_empty() {
            "nothing to remove".to_string()
        } else {
            let parts: Vec<String> = counts
                .iter()
                .map(|(noun, n)| format!("{n} {noun}{}", if *n == 1 { "" } else { "s" }))
                .collect();
            format!("removed {} it had made", parts.join(", "))
        };
        let name = Signal::try_from(signal).map_or("a signal", |s| s.as_str());
        // ANCHOR: die_by_signal
        eprintln!("{program}: interrupted by {name}; {removed}");
        // Now die by the signal itself: default action restored, signal raised again.
        let _ = signal_hook::low_level::emulate_default_handler(signal);
        // ANCHOR_END: die_by_signal
        // Not reached for these three signals; should it be, end the process anyway.
        std::process::exit(128 + signal);
    });
}

/// Asks each child to end (`SIGTERM`: it cleans up after itself and dies), waits up
/// to [`HELPER_GRACE`] for all of them, then kills the rest. Every child is reaped.
fn stop_children(children: &[i32]) {
    for &pid in children {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + HELPER_GRACE;
    let mut left: Vec<i32> = children.to_vec();
    while !left.is_empty() {
        left.retain(|&pid| {
            matches!(
                waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::StillAlive)
            )
        });
        if Instant::now() >= deadline {
            for &pid in &left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = waitpid(Pid::from_raw(pid), None);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
