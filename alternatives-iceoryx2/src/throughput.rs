//! The array, moved with iceoryx2: copied into a loan (one copy, like the reused
//! segment) and produced in the loan (no copy: only the hand-over is timed).

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use iceoryx2::prelude::*;
use shmbook::measure::{checksum, warn_if_debug};

use crate::report::row;
use shmbook::process::describe;

use crate::{go_on, helper, node, service_name, spin_until, HELPER_EXIT};

/// `--sweep`: the sizes of the chapter's sweep.
pub const SWEEP: [usize; 7] = [
    4 << 10,
    64 << 10,
    1 << 20,
    4 << 20,
    16 << 20,
    64 << 20,
    256 << 20,
];

/// `--sizes`: 4 KiB to 1 GiB, a whole number of `f64`.
pub fn array_size(word: &str) -> Result<usize, String> {
    let size = shmbook::cli::bytes(4096, 1 << 30)(word)?;
    if !size.is_multiple_of(8) {
        return Err(format!("{word} is not a multiple of 8 bytes (one f64)"));
    }
    Ok(size)
}

type Publisher<T> = iceoryx2::port::publisher::Publisher<ipc::Service, T, ()>;
type Subscriber<T> = iceoryx2::port::subscriber::Subscriber<ipc::Service, T, ()>;

/// The producer's two ports: the array out, the consumer's answers in.
struct Producer {
    data: Publisher<[f64]>,
    answers: Subscriber<u64>,
}

// ANCHOR: loan
impl Producer {
    /// One copy: a loan of shared memory, the array copied into it, the loan sent.
    fn copy_in(&self, array: &[f64]) -> Result<()> {
        let loan = self.data.loan_slice_uninit(array.len())?;
        loan.write_from_slice(array).send()?;
        Ok(())
    }

    /// No copy: the values are produced in the loan itself (before the clock runs);
    /// sending hands over an offset into the segment, not the data.
    fn produce_in_loan(
        &self,
        n: usize,
    ) -> Result<iceoryx2::sample_mut::SampleMut<ipc::Service, [f64], ()>> {
        let loan = self.data.loan_slice_uninit(n)?;
        Ok(loan.write_from_fn(|i| i as f64 * 0.5)) // shmbook::measure::make_array's values
    }

    /// Waits for the consumer's next answer.
    fn answer(&self) -> Result<u64> {
        spin_until("answer from the consumer", || {
            Ok(self.answers.receive()?.map(|s| *s))
        })
    }
}

// ANCHOR_END: loan

// ANCHOR: consume
/// The consumer: every array that arrives is answered at once ("I have it"), then
/// checked in place (its checksum, outside the producer's clock). An empty one ends.
pub fn consume(run: u32) -> Result<()> {
    let node = node(run)?;
    let data = data_service(&node, run)?.subscriber_builder().create()?;
    let answers = answer_service(&node, run)?.publisher_builder().create()?;
    answers.send_copy(READY)?;
    loop {
        let sample = spin_until("array from the producer", || Ok(data.receive()?))?;
        if sample.payload().is_empty() {
            return Ok(());
        }
        answers.send_copy(0)?; // the producer's clock stops here
        answers.send_copy(checksum(sample.payload()))?;
    }
}
// ANCHOR_END: consume

/// The consumer's first answer: its ports exist.
const READY: u64 = u64::MAX;

type Factory<T> =
    iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, T, ()>;

/// Run `run`'s service for the array: one publisher, one subscriber, no history.
fn data_service(node: &Node<ipc::Service>, run: u32) -> Result<Factory<[f64]>> {
    node.service_builder(&service_name(run, "data")?)
        .publish_subscribe::<[f64]>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(1)
        .subscriber_max_borrowed_samples(1)
        .open_or_create()
        .context("opening the iceoryx2 service for the array")
}

/// Run `run`'s service for the consumer's answers.
fn answer_service(node: &Node<ipc::Service>, run: u32) -> Result<Factory<u64>> {
    node.service_builder(&service_name(run, "answers")?)
        .publish_subscribe::<u64>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(4)
        .open_or_create()
        .context("opening the iceoryx2 service for the answers")
}

/// One measured way at one size: per-round times and ratios to that round's memcpy.
pub struct Way {
    pub times: Vec<Duration>,
    pub matched: bool,
}

impl Way {
    fn new() -> Way {
        Way {
            times: Vec::new(),
            matched: true,
        }
    }

    fn round(&mut self, took: Duration, matched: bool) {
        self.times.push(took);
        self.matched &= matched;
    }
}

/// Rounds not counted at each size: they map every sample slot of the segment once.
const WARM_UP: u32 = 3;

/// `throughput`: every size, `rounds` rounds of memcpy, copy-in and produce-in-loan.
pub fn run(sizes: &[usize], rounds: u32, json: bool) -> Result<()> {
    let largest = sizes.iter().copied().max().unwrap_or(4096);
    warn_if_debug(!json && largest >= 64 << 20);
    let run = std::process::id();
    let node = node(run)?;
    let data = data_service(&node, run)?
        .publisher_builder()
        .initial_max_slice_len(largest / 8)
        .max_loaned_samples(1)
        .create()?;
    let answers = answer_service(&node, run)?.subscriber_builder().create()?;
    let producer = Producer { data, answers };
    let mut consumer = helper("_consume", run)?;
    ensure!(
        producer.answer()? == READY,
        "the consumer's first answer was not READY"
    );
    crate::domain::log_names(run); // every segment of the run exists now
    if !json {
        println!(
            "moving an array of f64 to another process with iceoryx2 (publish-subscribe), \
             {rounds} rounds per size, each against a memcpy of the same size in the same round"
        );
    }
    let mut rows = Vec::new();
    for &size in sizes {
        let (copy, loan, memcpy) = one_size(&producer, size, rounds)?;
        rows.push(row(
            size,
            "iceoryx2_copy",
            "copied into a loan",
            copy,
            &memcpy,
            json,
        ));
        rows.push(row(
            size,
            "iceoryx2_loan",
            "produced in the loan",
            loan,
            &memcpy,
            json,
        ));
    }
    producer
        .data
        .loan_slice_uninit(0)?
        .write_from_fn(|_| 0.0)
        .send()?; // "no more"
    let status = consumer.wait_until(Instant::now() + HELPER_EXIT)?;
    let status = status.context("the consumer did not end")?;
    ensure!(
        status.success(),
        "the consumer failed ({})",
        describe(status)
    );
    if json {
        crate::report::print_throughput(sizes, rows)?;
    }
    Ok(())
}

/// The rounds at one size; returns copy-in, produce-in-loan, and the memcpy times.
fn one_size(producer: &Producer, size: usize, rounds: u32) -> Result<(Way, Way, Vec<Duration>)> {
    let mut src = aligned(size)?;
    let mut dst = aligned(size)?;
    let array: &mut [f64] = bytemuck::cast_slice_mut(&mut src[..]);
    array
        .iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v = i as f64 * 0.5);
    let expected = checksum(array);
    let (mut copy, mut loan) = (Way::new(), Way::new());
    let mut memcpys = Vec::new();
    for round in 0..WARM_UP + rounds {
        go_on()?;
        let start = Instant::now();
        dst.copy_from_slice(&src);
        let memcpy = start.elapsed();
        std::hint::black_box(&dst);
        let array: &[f64] = bytemuck::cast_slice(&src[..]);

        let start = Instant::now();
        producer.copy_in(array)?;
        producer.answer()?;
        let copy_time = start.elapsed();
        let copy_ok = producer.answer()? == expected;

        let sample = producer.produce_in_loan(array.len())?;
        let start = Instant::now();
        sample.send()?;
        producer.answer()?;
        let loan_time = start.elapsed();
        let loan_ok = producer.answer()? == expected;
        if round >= WARM_UP {
            memcpys.push(memcpy);
            copy.round(copy_time, copy_ok);
            loan.round(loan_time, loan_ok);
        }
    }
    Ok((copy, loan, memcpys))
}

/// `size` bytes of page-aligned memory, every page touched once (like the segment).
fn aligned(size: usize) -> Result<memmap2::MmapMut> {
    let mut map = memmap2::MmapMut::map_anon(size).context("mapping a buffer")?;
    map.fill(1);
    Ok(map)
}
