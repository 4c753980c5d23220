//! The tables of a recorded run: what `record` (or `--json`) wrote, read back and
//! printed as the chapter shows it — every figure of the page's tables comes from here.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use shmbook::measure::{duration_text, size_text};
use shmbook::record::{Report, Row};

use crate::job::ratio_text;

pub fn run(file: &Path) -> Result<()> {
    let report = Report::read(file)?;
    let m = &report.machine;
    let load = |l: &[f64; 3]| format!("{:.2}", l[0]);
    match &report.tools.profile {
        Some(profile) => println!("run {} ({profile} build)", report.run),
        None => println!("run {}", report.run),
    }
    println!(
        "{}, {} cores, {} {}, {} KiB pages",
        m.cpu,
        m.cores,
        m.os,
        m.kernel,
        m.page_size >> 10
    );
    println!(
        "load average {} before, {} after",
        load(&m.load_before),
        m.load_after.as_ref().map_or_else(|| "?".into(), load)
    );
    if let Some(t) = &report.throughput {
        println!("\nthroughput: median of the per-round ratios to memcpy (above 1: faster)");
        table(&t.sizes, &t.rows, |r| r.label.clone());
        println!("\nthe order at each size (fastest first)");
        for &size in &t.sizes {
            let mut rows: Vec<&Row> = t.rows.iter().filter(|r| r.size == size).collect();
            rows.sort_by(|a, b| median(b).total_cmp(&median(a)));
            let order: Vec<String> = rows.iter().map(|r| r.way.clone()).collect();
            println!("{:>8}  {}", size_text(size), order.join(" > "));
        }
    }
    if let Some(l) = &report.latency {
        println!("\nround trips of 8 bytes ({} timed per way)", l.n);
        for r in &l.rows {
            let t = |ns| duration_text(Duration::from_nanos(ns));
            println!(
                "{:<24} p50 {}  p99 {}  p99.9 {}",
                r.label,
                t(r.p50_ns),
                t(r.p99_ns),
                t(r.p999_ns)
            );
        }
        if let Some(x) = l.spin_over_floor {
            println!(
                "the spinning segment's p50 is {} × the floor's",
                ratio_text(x)
            );
        }
    }
    if let Some(f) = &report.fanout {
        let mut sizes: Vec<usize> = f.rows.iter().map(|r| r.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        println!("\nfan-out: median ratio to one memcpy, until every consumer has the array");
        table(&sizes, &f.rows, |r| r.label.clone());
    }
    Ok(())
}

fn median(row: &Row) -> f64 {
    row.ratio.map_or(0.0, |r| r.median)
}

/// One line per label, one column per size: the median ratio ("-" where not run).
fn table(sizes: &[usize], rows: &[Row], label: impl Fn(&Row) -> String) {
    let mut line = format!("{:<24}", "");
    for &size in sizes {
        line += &format!(" {:>8}", size_text(size).replace(' ', ""));
    }
    println!("{}", line.trim_end());
    let mut labels: Vec<String> = Vec::new();
    for name in rows.iter().map(&label) {
        if !labels.contains(&name) {
            labels.push(name);
        }
    }
    for name in labels {
        let mut line = format!("{name:<24}");
        for &size in sizes {
            let cell = rows.iter().find(|r| label(r) == name && r.size == size);
            line += &format!(" {:>8}", cell.map_or("-".into(), |r| ratio_text(median(r))));
        }
        println!("{line}");
    }
}
