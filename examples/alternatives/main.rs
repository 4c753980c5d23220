//! Chapter "Alternatives": the same job done every way — move a large array of `f64`
//! from a producer to a consumer, and a small message there and back — timed side by
//! side in one run. Redis runs for real (the example starts its own `redis-server`
//! unless `--redis HOST:PORT` names one); the MPI counterpart is its own program,
//! `cargo run -q -p alternatives-mpi`.
mod hosts;
mod isolation;
mod job;
mod latency;
mod mapped;
mod redis_way;
mod streams;

use clap::{Parser, Subcommand};
use shmbook::alternatives::{address, array_size, way_in, Way, LATENCY, THROUGHPUT};
use shmbook::cli;

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
    /// Move an array producer -> consumer every way; GB/s against memcpy
    Throughput {
        /// The array's size in bytes, a multiple of 8 (4 KiB to 1 GiB)
        #[arg(long, default_value = "4MiB", value_parser = array_size)]
        size: usize,
        /// Rounds per way; the fastest counts (1 to 1000)
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rounds: u32,
        /// The ways to run, comma-separated (default: all)
        #[arg(long, value_delimiter = ',', value_parser = way_in(THROUGHPUT))]
        ways: Vec<Way>,
        /// A Redis server to use instead of starting one
        #[arg(long, value_name = "HOST:PORT", value_parser = address)]
        redis: Option<String>,
    },
    /// Round trips of an 8-byte message every way
    Latency {
        /// Round trips per way (1 to 1000000)
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        n: u32,
        /// The ways to run, comma-separated (default: all)
        #[arg(long, value_delimiter = ',', value_parser = way_in(LATENCY))]
        ways: Vec<Way>,
        /// A Redis server to use instead of starting one
        #[arg(long, value_name = "HOST:PORT", value_parser = address)]
        redis: Option<String>,
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
            rounds,
            ways,
            redis,
        } => job::throughput(size, rounds, &ways, redis.as_deref()),
        Command::Latency { n, ways, redis } => latency::run(n, &ways, redis.as_deref()),
        Command::Isolation => isolation::run(),
        Command::Hosts { size, rounds } => hosts::run(size, rounds),
        Command::Remote { size } => hosts::remote(size),
        Command::Consume { way, peer, rounds } => job::consume(way, &peer, rounds),
        Command::Echo { way, peer, n } => latency::echo(way, &peer, n),
        Command::Crash => isolation::crash(),
    })
}
