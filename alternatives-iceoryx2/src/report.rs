//! The table a reader sees, and the same figures as JSON (`--json`), in the format of
//! the chapter's recorded runs (`shmbook::record`, see `data/alternatives/`):
//! `scripts/charts.py` draws charts from either.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Result;
use hdrhistogram::Histogram;
use shmbook::measure::{duration_text, match_text, rate_text, size_text};
use shmbook::record::{Latency, LatencyRow, Report, Row, Throughput};

/// The `program` field of this program's rows.
const PROGRAM: &str = "alternatives-iceoryx2";

/// The iceoryx2 version this program is built with (Cargo.lock).
const ICEORYX2: &str = "0.10.0";

/// The machine, the tools and the load when the run started.
static STARTED: OnceLock<Report> = OnceLock::new();

/// Records when the run started and the load average then; `main` calls it first.
pub fn started() {
    STARTED.get_or_init(Report::begin);
}

/// One way at one size: prints its line (unless `json`) and returns its row.
pub fn row(
    size: usize,
    way: &str,
    label: &str,
    m: crate::throughput::Way,
    memcpy: &[Duration],
    json: bool,
) -> Row {
    let mut row = Row::new(way, &format!("iceoryx2, {label}"), size, &m.times, memcpy);
    row.program = PROGRAM.into();
    row.matched = m.matched;
    if !json {
        let best = m.times.iter().copied().min().unwrap_or_default();
        let speed = match way.ends_with("loan") {
            true => format!("hand-over {}", duration_text(best)),
            false => rate_text(size, best),
        };
        let r = |f: fn(&shmbook::record::Spread) -> f64| row.ratio.as_ref().map_or(f64::NAN, f);
        println!(
            "{:<8} {label:<22} {}  {speed}  {:.2} × memcpy ({:.2}–{:.2})",
            size_text(size),
            match_text(m.matched),
            r(|s| s.median),
            r(|s| s.min),
            r(|s| s.max),
        );
    }
    row
}

/// Prints the throughput document: the rows of every size.
pub fn print_throughput(sizes: &[usize], rows: Vec<Row>) -> Result<()> {
    print_json("throughput", |doc| {
        doc.throughput = Some(Throughput {
            sizes: sizes.to_vec(),
            rows,
        })
    })
}

/// Prints the latency document: the percentiles of each histogram, `(way, label, h)`.
pub fn print_latency(n: u32, ways: &[(&str, &str, &Histogram<u64>)], ratio: f64) -> Result<()> {
    let rows = ways
        .iter()
        .map(|(way, label, h)| LatencyRow {
            program: PROGRAM.into(),
            ..LatencyRow::new(way, label, h)
        })
        .collect();
    print_json("latency", |doc| {
        doc.latency = Some(Latency {
            n,
            rows,
            spin_over_floor: Some(ratio),
        })
    })
}

/// Prints the whole document, with the `section` that `fill` sets.
fn print_json(section: &str, fill: impl FnOnce(&mut Report)) -> Result<()> {
    let mut doc = STARTED.get_or_init(Report::begin).clone();
    doc.run = format!("{}-iceoryx2-{section}", doc.run);
    doc.tools.iceoryx2 = Some(ICEORYX2.into());
    fill(&mut doc);
    print!("{}", doc.finish()?);
    Ok(())
}
