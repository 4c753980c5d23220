//! Section "A process pool against shared memory": results sent back through pipes, as
//! `ProcessPoolExecutor.map` does, against workers writing them in place.

use std::io::{Read, Write};
use std::ops::Range;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use shared_memory::Shmem;
use shmbook::cleanup::Tracked;
use shmbook::helper::Helper;
use shmbook::{names, PROCESS_TIMEOUT};

use crate::fill::{share, start_filler};
use crate::layout::{create_array, open_array, publish, sin_of_index, yes_no};

// ANCHOR: pool
/// Like `ProcessPoolExecutor.map`: each worker sends its results back through a pipe,
/// serialized, and the parent decodes them into its own array.
fn through_pipes(n: usize, workers: usize) -> Result<Vec<f64>> {
    let mut helpers = Vec::new();
    let mut readers = Vec::new();
    for k in 0..workers {
        let r = share(n, workers, k);
        let mut h = Helper::spawn_captured("_pool", &[&r.start.to_string(), &r.end.to_string()])?;
        readers.push(read_on_a_thread(&mut h)?);
        helpers.push(h);
    }
    let watchdogs: Vec<_> = helpers
        .iter()
        .map(|h| h.watchdog(PROCESS_TIMEOUT))
        .collect();
    let mut results = Vec::with_capacity(n);
    for reader in readers {
        let bytes = reader
            .join()
            .map_err(|_| anyhow!("a reader thread panicked"))?;
        let bytes = bytes.context("reading a worker's results")?;
        // Deserialize: 8 bytes at a time back into f64.
        let decode = |c: &[u8]| f64::from_le_bytes(c.try_into().expect("8 bytes"));
        results.extend(bytes.chunks_exact(8).map(decode));
    }
    drop(watchdogs);
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    Ok(results)
}
// ANCHOR_END: pool

// ANCHOR: worker
/// The `_pool` worker: computes its range and writes the f64s' bytes to the pipe.
pub fn pool_worker(range: Range<usize>) -> Result<()> {
    ensure!(
        range.start <= range.end,
        "{range:?} is empty the wrong way round"
    );
    let mut out = vec![0.0f64; range.len()];
    sin_of_index(range, &mut out);
    let mut stdout = std::io::stdout().lock();
    let sent = stdout
        .write_all(bytemuck::cast_slice(&out))
        .and_then(|_| stdout.flush());
    sent.context("sending results to the parent")
}
// ANCHOR_END: worker

/// Reads all a worker writes on its standard output, on a thread of its own: so that no
/// worker waits for the parent to read another's pipe first.
fn read_on_a_thread(h: &mut Helper) -> Result<JoinHandle<std::io::Result<Vec<u8>>>> {
    let mut out = h.take_stdout().context("the worker's output pipe")?;
    Ok(std::thread::spawn(move || {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).map(|_| bytes)
    }))
}

// ANCHOR: shared
/// Shared memory: the workers write their results where the parent reads them.
fn in_shared_memory(n: usize, workers: usize) -> Result<Tracked<Shmem>> {
    let name = names::unique("arrays");
    let shmem = create_array::<f64>(&name, n)?;
    publish(&shmem);
    let mut helpers = Vec::new();
    for k in 0..workers {
        helpers.push(start_filler(&name, share(n, workers, k))?);
    }
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    Ok(shmem)
}
// ANCHOR_END: shared

pub fn run(n: usize, workers: usize) -> Result<()> {
    let (start, cpu0) = (Instant::now(), cpu_times()?);
    let results = through_pipes(n, workers)?;
    let (pool_time, cpu1) = (start.elapsed(), cpu_times()?);
    let start = Instant::now();
    let shmem = in_shared_memory(n, workers)?;
    let (shm_time, cpu2) = (start.elapsed(), cpu_times()?);

    let array = open_array::<f64>(&shmem)?;
    // SAFETY: every worker has exited; nobody writes any more.
    let same = unsafe { array.as_slice() } == results.as_slice();
    println!("{n} f64 by {workers} worker processes:");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let line = |bytes: usize,
                wall: Duration,
                before: (Duration, Duration),
                after: (Duration, Duration)| {
        format!(
            "{bytes:>10} bytes copied back; {:.1} ms, CPU: parent {:.1} ms, workers {:.1} ms",
            ms(wall),
            ms(after.0 - before.0),
            ms(after.1 - before.1)
        )
    };
    println!(
        "  through pipes:    {}",
        line(results.len() * 8, pool_time, cpu0, cpu1)
    );
    println!("  in shared memory: {}", line(0, shm_time, cpu1, cpu2));
    println!("  same results: {}", yes_no(same));
    Ok(())
}

/// CPU time (user + system) used so far by this process, and by its children that
/// have been waited for (POSIX `getrusage`).
fn cpu_times() -> Result<(Duration, Duration)> {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = |who| -> Result<Duration> {
        let r = getrusage(who).context("getrusage")?;
        let t = |tv: nix::sys::time::TimeVal| {
            Duration::from_secs(tv.tv_sec() as u64) + Duration::from_micros(tv.tv_usec() as u64)
        };
        Ok(t(r.user_time()) + t(r.system_time()))
    };
    Ok((
        usage(UsageWho::RUSAGE_SELF)?,
        usage(UsageWho::RUSAGE_CHILDREN)?,
    ))
}
