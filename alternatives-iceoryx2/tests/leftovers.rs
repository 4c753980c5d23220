//! `cargo test -p alternatives-iceoryx2`: a run leaves nothing of iceoryx2 behind — not
//! when it ends, not when a signal ends it, and a killed run's domain is removed by the
//! next run. Each run is an iceoryx2 domain of its own: `/dev/shm/shmbook-iox2-PID-…`
//! and the directory `TMP/shmbook-iox2-PID` (see `src/domain.rs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// One run at a time: a run removes the domains of dead runs, which would race with a
/// test that looks at a killed run's domain.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const PROGRAM: &str = env!("CARGO_BIN_EXE_alternatives-iceoryx2");

/// Longest wait for anything (a debug build on a busy machine).
const LIMIT: Duration = Duration::from_secs(120);

fn start(args: &[&str]) -> Child {
    Command::new(PROGRAM)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start alternatives-iceoryx2")
}

/// The entries of /dev/shm.
fn dev_shm() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .expect("read /dev/shm")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Run `pid`'s domain: its entries in /dev/shm, and its directory if it exists.
fn domain(pid: u32) -> (Vec<String>, Option<PathBuf>) {
    let prefix = format!("shmbook-iox2-{pid}-");
    let entries = dev_shm()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let dir = std::env::temp_dir().join(format!("shmbook-iox2-{pid}"));
    (entries, dir.exists().then_some(dir))
}

fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the run") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until run `pid` has made its domain and is under way.
fn wait_for_domain(pid: u32) {
    let deadline = Instant::now() + LIMIT;
    while domain(pid).0.is_empty() {
        assert!(Instant::now() < deadline, "run {pid} made no domain");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500)); // the helper starts, rounds begin
}

fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

#[test]
fn a_run_leaves_nothing_and_makes_nothing_outside_its_domain() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = dev_shm();
    let default_root = Path::new("/tmp/iceoryx2"); // iceoryx2's default root directory
    let had_default_root = default_root.exists();
    for args in [
        &["throughput", "--sizes", "4KiB", "--rounds", "1"][..],
        &["latency", "--n", "100"],
    ] {
        let mut run = start(args);
        let status = wait(&mut run);
        let errors = stderr_of(&mut run);
        assert!(status.success(), "{args:?} failed: {errors}");
        assert_eq!(domain(run.id()), (vec![], None), "{args:?} left its domain");
    }
    let new: Vec<String> = dev_shm()
        .into_iter()
        .filter(|n| n.starts_with("iox2_") && !before.contains(n))
        .collect();
    assert!(
        new.is_empty(),
        "iceoryx2's default domain was used: {new:?}"
    );
    assert!(
        had_default_root || !default_root.exists(),
        "iceoryx2's default directory was made"
    );
}

#[test]
fn a_signal_mid_run_leaves_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let mut run = start(&["latency", "--n", "10000000"]);
        wait_for_domain(run.id());
        kill(Pid::from_raw(run.id() as i32), signal).expect("signal the run");
        let status = wait(&mut run);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(signal as i32), "{signal}: {status}");
        assert_eq!(domain(run.id()), (vec![], None), "{signal} left the domain");
    }
}

#[test]
fn a_killed_runs_domain_is_removed_by_the_next_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut killed = start(&["latency", "--n", "10000000"]);
    wait_for_domain(killed.id());
    killed.kill().expect("SIGKILL the run");
    wait(&mut killed);
    // Its echo gets SIGTERM as its parent dies, and ends; wait until it has.
    let deadline = Instant::now() + LIMIT;
    while helper_alive(killed.id()) {
        assert!(
            Instant::now() < deadline,
            "the killed run's echo did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (entries, dir) = domain(killed.id());
    assert!(
        !entries.is_empty() && dir.as_deref().is_some_and(Path::is_dir),
        "SIGKILL gives no chance to clean up: the domain should still be there"
    );
    let mut next = start(&["latency", "--n", "100"]);
    let status = wait(&mut next);
    let errors = stderr_of(&mut next);
    assert!(status.success(), "the next run failed: {errors}");
    assert_eq!(
        domain(killed.id()),
        (vec![], None),
        "the next run left the killed run's domain"
    );
    assert_eq!(domain(next.id()), (vec![], None));
}

/// True while a helper of run `run` lives (a process whose command line is
/// `alternatives-iceoryx2 _echo RUN` or `_consume RUN`).
fn helper_alive(run: u32) -> bool {
    let run = run.to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
            return false;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        args.windows(2)
            .any(|w| (w[0] == b"_echo" || w[0] == b"_consume") && w[1] == run.as_bytes())
    })
}
