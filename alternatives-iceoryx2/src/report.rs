//! The table a reader sees, and the same figures as JSON (`--json`), in the format of
//! the chapter's recorded runs (`shmbook-alternatives/1`, see `data/alternatives/`):
//! `scripts/charts.py` draws charts from either.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::{json, Value};
use shmbook::measure::{duration_text, match_text, rate_text, size_text};

/// The median, the quartiles and the extremes of per-round figures.
pub fn spread(values: &[f64]) -> Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let x = q * (v.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
    };
    json!({"median": at(0.5), "q1": at(0.25), "q3": at(0.75), "min": v[0], "max": v[v.len() - 1]})
}

/// One way at one size: prints its line (unless `json`) and returns its JSON row.
pub fn row(
    size: usize,
    way: &str,
    label: &str,
    m: crate::throughput::Way,
    memcpy: &[Duration],
    json: bool,
) -> Value {
    let secs = |d: &[Duration]| d.iter().map(Duration::as_secs_f64).collect::<Vec<_>>();
    let ns = |d: &[Duration]| d.iter().map(|t| t.as_nanos() as u64).collect::<Vec<_>>();
    let ratios: Vec<f64> = memcpy
        .iter()
        .zip(&m.times)
        .map(|(b, t)| b.as_secs_f64() / t.as_secs_f64())
        .collect();
    let ratio = spread(&ratios);
    let median = |d: &[Duration]| spread(&secs(d))["median"].as_f64().unwrap_or(f64::NAN);
    if !json {
        let best = m.times.iter().copied().min().unwrap_or_default();
        let speed = match way.ends_with("loan") {
            true => format!("hand-over {}", duration_text(best)),
            false => rate_text(size, best),
        };
        println!(
            "{:<8} {label:<22} {}  {speed}  {:.2} × memcpy ({:.2}–{:.2})",
            size_text(size),
            match_text(m.matched),
            ratio["median"].as_f64().unwrap_or(f64::NAN),
            ratio["min"].as_f64().unwrap_or(f64::NAN),
            ratio["max"].as_f64().unwrap_or(f64::NAN),
        );
    }
    json!({
        "program": "alternatives-iceoryx2", "way": way, "label": format!("iceoryx2, {label}"),
        "size": size, "rounds": m.times.len(), "matched": m.matched, "faults": null,
        "time_ns": ns(&m.times), "baseline_ns": ns(memcpy), "ratio": ratio,
        "gbps": size as f64 / median(&m.times) / 1e9,
        "baseline_gbps": size as f64 / median(memcpy) / 1e9,
    })
}

/// Prints the whole document, with `section` ("throughput" or "latency") filled.
pub fn print_json(section: &str, filled: Value) -> Result<()> {
    let start = *STARTED.get_or_init(now_and_load);
    let date = iso_date(start.0);
    let host =
        nix::unistd::gethostname().map_or("unknown".into(), |h| h.to_string_lossy().into_owned());
    let mut doc = json!({
        "format": "shmbook-alternatives/1",
        "run": format!("{}{}Z-{host}-iceoryx2-{section}", &date[..13], &date[14..16]),
        "date": date,
        "command": std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        "machine": machine(host, start.1),
        "tools": {
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
            "rustc": null, "redis_server": null, "iceoryx2": ICEORYX2,
        },
        "throughput": null, "latency": null, "fanout": null,
    });
    doc[section] = filled;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// The iceoryx2 version this program is built with (Cargo.lock).
const ICEORYX2: &str = "0.10.0";

static STARTED: OnceLock<(u64, [f64; 3])> = OnceLock::new();

/// Records when the run started and the load average then; `main` calls it first.
pub fn started() {
    STARTED.get_or_init(now_and_load);
}

fn now_and_load() -> (u64, [f64; 3]) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (secs, load())
}

fn load() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut w = text
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(f64::NAN));
    [0; 3].map(|_| w.next().unwrap_or(f64::NAN))
}

/// Where the figures were measured.
fn machine(hostname: String, load_before: [f64; 3]) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown".into(), |l| {
            l.trim_start_matches([' ', '\t', ':']).to_string()
        });
    let uname = nix::sys::utsname::uname().ok();
    json!({
        "hostname": hostname, "arch": std::env::consts::ARCH, "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "os": std::env::consts::OS,
        "kernel": uname.map(|u| u.release().to_string_lossy().into_owned()),
        "page_size": nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten(),
        "load_before": load_before, "load_after": load(),
    })
}

/// "2026-11-30T15:40:12Z" from seconds since 1970 (UTC; the civil-from-days algorithm).
fn iso_date(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}
