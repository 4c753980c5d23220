//! What rank 0 prints, and the same figures as JSON (`--json FILE`), in the format of
//! the chapter's recorded runs (`shmbook::record`, see `data/alternatives/`):
//! `scripts/charts.py` draws charts from either.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use shmbook::measure::{duration_text, match_text, size_text};
use shmbook::record::{Latency, LatencyRow, Report, Row, Throughput};

/// The `program` field of this program's rows.
const PROGRAM: &str = "alternatives-mpi";

/// One size's timed rounds: the send's time and the `memcpy` beside it, round by round.
#[derive(Default)]
pub struct Measured {
    times: Vec<Duration>,
    baselines: Vec<Duration>,
    differed: bool,
}

impl Measured {
    pub fn round(&mut self, time: Duration, baseline: Duration, matched: bool) {
        self.times.push(time);
        self.baselines.push(baseline);
        self.differed |= !matched;
    }
}

/// The rows' label; it names the transports when `UCX_TLS` chose them (e.g. TCP).
fn label() -> String {
    match std::env::var("UCX_TLS") {
        Ok(tls) => format!("MPI, UCX_TLS={tls}"),
        Err(_) => "MPI send and receive".into(),
    }
}

/// The table's first line: what is moved, and how many rounds.
pub fn announce(plan: &[(usize, u32)]) {
    let fewest = plan.iter().map(|p| p.1).min().unwrap_or(0);
    let most = plan.iter().map(|p| p.1).max().unwrap_or(0);
    let rounds = match fewest == most {
        true => format!("{most} rounds"),
        false => format!("{fewest} to {most} rounds"),
    };
    println!(
        "moving an array of f64 from rank 0 to rank 1, {rounds} per size, each beside a \
         memcpy of the same size in the same round"
    );
}

/// One size: prints its line and returns its row.
pub fn row(size: usize, m: &Measured) -> Row {
    let mut row = Row::new("mpi", &label(), size, &m.times, &m.baselines);
    row.program = PROGRAM.into();
    row.matched = !m.differed;
    let r = |f: fn(&shmbook::record::Spread) -> f64| row.ratio.as_ref().map_or(f64::NAN, f);
    println!(
        "{:<8} {:<22} {}  {:.2} GB/s  {:.2} × memcpy ({:.2}–{:.2})",
        size_text(size),
        row.label,
        match_text(row.matched),
        row.gbps,
        r(|s| s.median),
        r(|s| s.min),
        r(|s| s.max),
    );
    row
}

/// The round trips' percentiles.
pub fn latency(n: u32, h: &Histogram<u64>) {
    let t = |q: f64| duration_text(Duration::from_nanos(h.value_at_quantile(q)));
    println!(
        "an 8-byte message to rank 1 and back: {n} round trips, each timed, after one untimed"
    );
    println!(
        "{:<22} p50 {}  p99 {}  p99.9 {}",
        label(),
        t(0.5),
        t(0.99),
        t(0.999)
    );
}

/// Writes the document begun before MPI started: the rows of every size, the
/// percentiles, the MPI library's version; its `run` is the file's stem.
pub fn write(
    mut doc: Report,
    path: &Path,
    plan: &[(usize, u32)],
    rows: Vec<Row>,
    n: u32,
    h: &Histogram<u64>,
) -> Result<()> {
    if let Some(stem) = path.file_stem() {
        doc.run = stem.to_string_lossy().into_owned();
    }
    doc.tools.mpi = Some(version());
    let mut sizes: Vec<usize> = plan.iter().map(|p| p.0).collect();
    sizes.sort_unstable();
    sizes.dedup();
    doc.throughput = Some(Throughput { sizes, rows });
    let row = LatencyRow {
        program: PROGRAM.into(),
        ..LatencyRow::new("mpi", &label(), h)
    };
    doc.latency = Some(Latency {
        n,
        rows: vec![row],
        spin_over_floor: None,
    });
    doc.write(path)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("(written to {})", path.display());
    Ok(())
}

/// The MPI library's family, from its version string.
pub fn library() -> &'static str {
    let library = mpi::environment::library_version().unwrap_or_default();
    if library.starts_with("MPICH") {
        "MPICH"
    } else if library.contains("Open MPI") {
        "Open MPI"
    } else {
        "another MPI library"
    }
}

/// The library's version and device lines (spaces squeezed), or its first line, and
/// `UCX_TLS` when it is set: "MPICH Version: 4.0.2 MPICH Device: ch4:ucx; UCX_TLS=tcp".
fn version() -> String {
    let text = mpi::environment::library_version().unwrap_or_default();
    let chosen: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Version") || l.contains("Device"))
        .collect();
    let lines = if chosen.is_empty() {
        text.lines().take(1).collect()
    } else {
        chosen
    };
    let mut version = lines
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    if let Ok(tls) = std::env::var("UCX_TLS") {
        version.push_str(&format!("; UCX_TLS={tls}"));
    }
    version
}
