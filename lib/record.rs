//! The Alternatives chapter's recorded results: one JSON document per run, with the
//! machine it ran on, the tools, and every figure (every round's time, not only a
//! summary). `alternatives record FILE` writes one; the chapter's numbers and charts
//! are read from such files in `data/alternatives/`. The format is described field by
//! field in `data/alternatives/README.md`.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::process::Output;
use crate::PROCESS_TIMEOUT;

/// The `format` field: bumped when a field changes meaning.
pub const FORMAT: &str = "shmbook-alternatives/1";

/// One run's document.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Report {
    pub format: String,
    /// `YYYY-MM-DDTHHMMZ-HOSTNAME`: the file's stem when `record` names it.
    pub run: String,
    /// UTC, the start of the run.
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub tools: Tools,
    pub throughput: Option<Throughput>,
    pub latency: Option<Latency>,
    pub fanout: Option<Fanout>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Machine {
    pub hostname: String,
    pub arch: String,
    pub cpu: String,
    pub cores: usize,
    pub os: String,
    pub kernel: String,
    pub page_size: usize,
    /// The load averages (1, 5, 15 minutes) when the run started, and when it ended.
    pub load_before: [f64; 3],
    pub load_after: Option<[f64; 3]>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Tools {
    /// "debug" or "release"; `None` in documents of programs that are not Rust.
    pub profile: Option<String>,
    pub rustc: Option<String>,
    pub redis_server: Option<String>,
    /// The iceoryx2 version, in the `alternatives-iceoryx2` program's documents only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iceoryx2: Option<String>,
    /// The MPI library's version (and `UCX_TLS` when set), in the `alternatives-mpi`
    /// program's documents only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpi: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Throughput {
    pub sizes: Vec<usize>,
    pub rows: Vec<Row>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Fanout {
    pub rows: Vec<Row>,
}

/// One way at one size: every round's time beside the `memcpy` timed in the same round.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Row {
    pub program: String,
    pub way: String,
    pub label: String,
    /// Fan-out rows only: how many consumers got the array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumers: Option<u32>,
    pub size: usize,
    pub rounds: u32,
    pub matched: bool,
    /// Minor page faults in the round with the fewest; `None` where not counted.
    pub faults: Option<u64>,
    pub time_ns: Vec<u64>,
    pub baseline_ns: Vec<u64>,
    /// Per round, `baseline / time` (above 1: faster than `memcpy`).
    pub ratio: Option<Spread>,
    /// The size over the median time.
    pub gbps: f64,
    pub baseline_gbps: Option<f64>,
}

impl Row {
    /// A row from the rounds' times and their baselines (`baseline` may be empty).
    pub fn new(
        way: &str,
        label: &str,
        size: usize,
        times: &[Duration],
        baseline: &[Duration],
    ) -> Row {
        let ns = |d: &[Duration]| d.iter().map(|t| t.as_nanos() as u64).collect::<Vec<_>>();
        let ratios: Vec<f64> = baseline
            .iter()
            .zip(times)
            .map(|(b, t)| b.as_secs_f64() / t.as_secs_f64().max(1e-12))
            .collect();
        let rate = |d: &[Duration]| {
            let median = Spread::of(&d.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())?;
            Some(size as f64 / median.median.max(1e-12) / 1e9)
        };
        Row {
            program: "alternatives".into(),
            way: way.into(),
            label: label.into(),
            consumers: None,
            size,
            rounds: times.len() as u32,
            matched: true,
            faults: None,
            time_ns: ns(times),
            baseline_ns: ns(baseline),
            ratio: Spread::of(&ratios),
            gbps: rate(times).unwrap_or(0.0),
            baseline_gbps: rate(baseline),
        }
    }
}

/// The median of some values, their quartiles and their extremes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no values. Quartiles interpolate between the sorted values.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let x = q * (v.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
        };
        (!v.is_empty()).then(|| Spread {
            median: at(0.5),
            q1: at(0.25),
            q3: at(0.75),
            min: v[0],
            max: v[v.len() - 1],
        })
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Latency {
    /// Timed round trips per way, after one untimed.
    pub n: u32,
    pub rows: Vec<LatencyRow>,
    /// The spinning segment's p50 over the thread floor's, measured in the same run.
    pub spin_over_floor: Option<f64>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct LatencyRow {
    pub program: String,
    pub way: String,
    pub label: String,
    pub n: u64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub mean_ns: u64,
}

impl LatencyRow {
    /// The percentiles of a histogram of round trips in nanoseconds.
    pub fn new(way: &str, label: &str, h: &hdrhistogram::Histogram<u64>) -> LatencyRow {
        LatencyRow {
            program: "alternatives".into(),
            way: way.into(),
            label: label.into(),
            n: h.len(),
            min_ns: h.min(),
            p50_ns: h.value_at_quantile(0.5),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
            mean_ns: h.mean() as u64,
        }
    }
}

impl Report {
    /// A report of a run starting now: the machine, the tools, no figures yet.
    pub fn begin() -> Report {
        let uts = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref()
                .map_or_else(|| "unknown".into(), |u| f(u).to_string_lossy().into_owned())
        };
        let (date, stem) = utc_now();
        let hostname = field(|u| u.nodename());
        Report {
            format: FORMAT.into(),
            run: format!("{stem}-{hostname}"),
            date,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            machine: Machine {
                cpu: cpu_model(),
                cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
                arch: field(|u| u.machine()),
                os: field(|u| u.sysname()),
                kernel: field(|u| u.release()),
                hostname,
                page_size: crate::os::page_size(),
                load_before: load_average(),
                load_after: None,
            },
            tools: Tools {
                profile: Some(
                    if cfg!(debug_assertions) {
                        "debug"
                    } else {
                        "release"
                    }
                    .into(),
                ),
                rustc: first_line("rustc", "--version"),
                redis_server: first_line("redis-server", "--version"),
                iceoryx2: None,
                mpi: None,
            },
            throughput: None,
            latency: None,
            fanout: None,
        }
    }

    /// Notes the load at the end and returns the document as text (pretty JSON).
    pub fn finish(mut self) -> Result<String> {
        self.machine.load_after = Some(load_average());
        let mut text = String::new();
        layout(&serde_json::to_value(&self)?, 0, &mut text);
        text.push('\n');
        Ok(text)
    }

    /// Notes the load at the end and writes the document to `path` (pretty JSON).
    pub fn write(self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = self.finish()?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads a document `write` wrote.
    pub fn read(path: &Path) -> Result<Report> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Pretty JSON, except that an array of numbers stays on one line: a run's rounds are
/// one line per row, not one line per number.
fn layout(value: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let indent = |n: usize| "  ".repeat(n);
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            out.push_str("{\n");
            for (i, (key, field)) in fields.iter().enumerate() {
                out.push_str(&format!(
                    "{}{}: ",
                    indent(depth + 1),
                    Value::from(key.as_str())
                ));
                layout(field, depth + 1, out);
                out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}}}", indent(depth)));
        }
        Value::Array(items) if items.iter().any(|v| v.is_object() || v.is_array()) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                layout(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}]", indent(depth)));
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(Value::to_string).collect();
            out.push_str(&format!("[{}]", items.join(", ")));
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The 1, 5 and 15-minute load averages (`getloadavg`); zeros if unavailable.
fn load_average() -> [f64; 3] {
    let mut load = [0.0f64; 3];
    // SAFETY: getloadavg writes at most the given count (3) of doubles into the array.
    let got = unsafe { libc::getloadavg(load.as_mut_ptr(), 3) };
    if got == 3 {
        load
    } else {
        [0.0; 3]
    }
}

/// The CPU's model name (Linux: /proc/cpuinfo), or "unknown".
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The first line `PROGRAM ARG` prints, if the program is on PATH and succeeds.
fn first_line(program: &str, arg: &str) -> Option<String> {
    let path = crate::os::find_program(program)?;
    let mut cmd = std::process::Command::new(path);
    cmd.arg(arg);
    let out = crate::process::run(&mut cmd, Output::Separate, None, PROCESS_TIMEOUT).ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(str::to_string)
}

/// Now in UTC: "2026-11-30T15:40:12Z", and "2026-11-30T1540Z" for a file name.
fn utc_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}-{month:02}-{day:02}");
    (
        format!("{date}T{h:02}:{m:02}:{s:02}Z"),
        format!("{date}T{h:02}{m:02}Z"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_values() {
        let s = Spread::of(&[4.0, 1.0, 3.0, 2.0, 5.0]).unwrap();
        assert_eq!(
            (s.median, s.q1, s.q3, s.min, s.max),
            (3.0, 2.0, 4.0, 1.0, 5.0)
        );
        assert_eq!(Spread::of(&[2.0, 1.0]).unwrap().median, 1.5);
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn a_row_divides_each_round_by_its_own_baseline() {
        let ms = Duration::from_millis;
        let row = Row::new(
            "shm",
            "x",
            1_000_000,
            &[ms(1), ms(2), ms(4)],
            &[ms(1), ms(1), ms(2)],
        );
        assert_eq!(row.ratio.unwrap().median, 0.5);
        assert_eq!(row.ratio.unwrap().max, 1.0);
        assert!((row.gbps - 0.5).abs() < 1e-9);
    }

    #[test]
    fn numbers_stay_on_one_line_and_the_document_reads_back() {
        let mut report = Report::begin();
        let ms = Duration::from_millis;
        let row = Row::new("shm", "x", 4096, &[ms(1), ms(2)], &[ms(1), ms(1)]);
        report.throughput = Some(Throughput {
            sizes: vec![4096],
            rows: vec![row],
        });
        let path = std::env::temp_dir().join(format!("shmbook-record-{}.json", std::process::id()));
        report.clone().write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let back = Report::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(text.contains("\"time_ns\": [1000000, 2000000]"), "{text}");
        assert_eq!(
            back.throughput.unwrap().rows[0].time_ns,
            vec![1_000_000, 2_000_000]
        );
        assert_eq!(back.run, report.run);
    }

    #[test]
    fn every_recorded_run_reads_back() {
        // data/alternatives/ and its folders (runs/, loaded/)
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/alternatives");
        let (mut folders, mut read) = (vec![dir.clone()], 0);
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|x| x == "json") {
                    Report::read(&path).unwrap_or_else(|e| panic!("{e:#}"));
                    read += 1;
                }
            }
        }
        assert!(read > 0, "no recorded run in {}", dir.display());
    }

    #[test]
    fn the_date_is_a_utc_date() {
        let (date, stem) = utc_now();
        assert_eq!(date.len(), "2026-11-30T15:40:12Z".len());
        assert!(date.starts_with("20") && stem.ends_with('Z'));
    }
}
