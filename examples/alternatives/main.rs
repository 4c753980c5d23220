//! Chapter "Alternatives": the same job done every way — move a large array of `f64`
//! from a producer to a consumer, and a small message there and back — timed side by
//! side in one run. Redis runs for real (the example starts its own `redis-server`
//! unless `--redis HOST:PORT` names one); the MPI counterpart is its own program,
//! `cargo run -q -p alternatives-mpi`.
mod fanout;
mod hosts;
mod isolation;
mod job;
mod latency;
mod mapped;
mod redis_way;
mod streams;
mod tables;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use shmbook::alternatives::{address, array_size, way_in, Way, LATENCY, THROUGHPUT};
use shmbook::cli;
use shmbook::record::Report;

/// Move an array and bounce a small message every way: shared memory, pipes, sockets,
/// serialization, files, threads, Redis.
#[derive(Parser)]
#[command(name = "alternatives", bin_name = shmbook::bin_name!("alternatives"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Move an array producer -> consumer every way; each round beside a memcpy
    Throughput {
        /// The array's size in bytes, a multiple of 8 (4 KiB to 1 GiB); several sizes
        /// comma-separated
        #[arg(long, default_value = "4MiB", value_delimiter = ',', value_parser = array_size)]
        size: Vec<usize>,
        /// Every size from 4 KiB to 256 MiB, each 4 times the one before (progress on
        /// standard error)
        #[arg(long)]
        sweep: bool,
        /// Rounds per way and size (1 to 1000; default 5, or with --sweep 51 for small
        /// arrays down to 8 for 256 MiB)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rounds: Option<u32>,
        /// The ways to run, comma-separated (default: all)
        #[arg(long, value_delimiter = ',', value_parser = way_in(THROUGHPUT))]
        ways: Vec<Way>,
        /// A Redis server to use instead of starting one
        #[arg(long, value_name = "HOST:PORT", value_parser = address)]
        redis: Option<String>,
        /// Also write every round's figures, with the machine's description, as JSON
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Round trips of an 8-byte message every way: percentiles, and the floor
    Latency {
        /// Timed round trips per way (1 to 1000000)
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        n: u32,
        /// The ways to run, comma-separated (default: all)
        #[arg(long, value_delimiter = ',', value_parser = way_in(LATENCY))]
        ways: Vec<Way>,
        /// A Redis server to use instead of starting one
        #[arg(long, value_name = "HOST:PORT", value_parser = address)]
        redis: Option<String>,
        /// Also write the percentiles, with the machine's description, as JSON
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// One producer, the same array to 1, 2 and 4 consumers: segment and sockets
    Fanout {
        /// The array's size in bytes, a multiple of 8 (4 KiB to 1 GiB); several sizes
        /// comma-separated
        #[arg(long, default_value = "4MiB", value_delimiter = ',', value_parser = array_size)]
        size: Vec<usize>,
        /// Rounds per size and number of consumers (1 to 1000)
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rounds: u32,
        /// Also write every round's figures, with the machine's description, as JSON
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// The whole measurement — the sweep, the latencies, the fan-out — into one JSON
    /// file (the chapter's data/alternatives/ holds such files); takes minutes
    Record {
        /// Where to write it, e.g. data/alternatives/RUN.json
        file: PathBuf,
        /// A small run instead (two sizes, 1000 round trips): seconds, for a test
        #[arg(long)]
        quick: bool,
        /// A Redis server to use instead of starting one
        #[arg(long, value_name = "HOST:PORT", value_parser = address)]
        redis: Option<String>,
    },
    /// The tables of a recorded run (a file `record` or `--json` wrote)
    Tables {
        /// The JSON file, e.g. data/alternatives/RUN.json
        file: PathBuf,
    },
    /// A crash in a thread, and a crash in another process
    Isolation,
    /// Move the array to another network namespace over a veth pair: TCP and Redis
    /// (needs root)
    Hosts {
        /// The array's size in bytes, a multiple of 8 (4 KiB to 1 GiB)
        #[arg(long, default_value = "4MiB", value_parser = array_size)]
        size: usize,
        /// Rounds per way (1 to 1000)
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rounds: u32,
        /// Also write every round's figures, with the machine's description, as JSON
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// (helper) the far end of `hosts`, in a network namespace of its own
    #[command(name = "_remote", hide = true)]
    Remote {
        #[arg(value_parser = array_size)]
        size: usize,
    },
    /// (helper) the consumer end of WAY; PEER says where the producer is
    #[command(name = "_consume", hide = true)]
    Consume {
        way: Way,
        peer: String,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rounds: u32,
    },
    /// (helper) the echo end of WAY
    #[command(name = "_echo", hide = true)]
    Echo {
        way: Way,
        peer: String,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        n: u32,
    },
    /// (helper) a process with two threads, one of which aborts
    #[command(name = "_crash", hide = true)]
    Crash,
}

fn main() -> std::process::ExitCode {
    cli::run("alternatives", |cli: Cli| match cli.command {
        Command::Throughput {
            size,
            sweep,
            rounds,
            ways,
            redis,
            json,
        } => {
            let (sizes, rounds) = if sweep {
                (&job::SWEEP[..], rounds)
            } else {
                (&size[..], rounds.or(Some(5)))
            };
            let result = job::throughput(sizes, rounds, &ways, redis.as_deref(), sweep)?;
            write(json, |r| r.throughput = Some(result))
        }
        Command::Latency {
            n,
            ways,
            redis,
            json,
        } => {
            let result = latency::run(n, &ways, redis.as_deref())?;
            write(json, |r| r.latency = Some(result))
        }
        Command::Fanout { size, rounds, json } => {
            let result = fanout::run(&size, rounds, false)?;
            write(json, |r| r.fanout = Some(result))
        }
        Command::Record { file, quick, redis } => record(&file, quick, redis.as_deref()),
        Command::Tables { file } => tables::run(&file),
        Command::Isolation => isolation::run(),
        Command::Hosts { size, rounds, json } => match hosts::run(size, rounds)? {
            Some(result) => write(json, |r| r.throughput = Some(result)),
            None => Ok(()),
        },
        Command::Remote { size } => hosts::remote(size),
        Command::Consume { way, peer, rounds } => job::consume(way, &peer, rounds),
        Command::Echo { way, peer, n } => latency::echo(way, &peer, n),
        Command::Crash => isolation::crash(),
    })
}

/// With `--json FILE`: the document of this run, with what `fill` puts in it.
fn write(json: Option<PathBuf>, fill: impl FnOnce(&mut Report)) -> anyhow::Result<()> {
    let Some(path) = json else { return Ok(()) };
    let mut report = Report::begin();
    fill(&mut report);
    report.write(&path)?;
    println!("(written to {})", path.display());
    Ok(())
}

/// `record`: the sweep, the latencies and the fan-out, in one document.
fn record(file: &std::path::Path, quick: bool, redis: Option<&str>) -> anyhow::Result<()> {
    let mut report = Report::begin(); // the load average before anything ran
    let (sizes, n, fan): (&[usize], u32, &[usize]) = if quick {
        (&[4 << 10, 1 << 20], 1000, &[1 << 20])
    } else {
        (&job::SWEEP, 20_000, &[64 << 10, 4 << 20, 64 << 20])
    };
    report.throughput = Some(job::throughput(sizes, None, &[], redis, true)?);
    report.latency = Some(latency::run(n, &[], redis)?);
    report.fanout = Some(fanout::run(fan, if quick { 5 } else { 11 }, true)?);
    report.write(file)?;
    println!("(written to {})", file.display());
    Ok(())
}
