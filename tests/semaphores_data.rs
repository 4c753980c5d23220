//! The Semaphores chapter quotes its counter measurements from a recorded run,
//! `data/semaphores-counter.json` (written by `scripts/record-counter`). This test
//! rebuilds the quoted text from that file — the machine, the load, the table of
//! medians and ranges, the chart, the mutex-to-semaphore ratios — and fails if the page
//! says anything else between its markers. After a new recording, paste what the
//! failure prints.

use std::path::Path;

use serde_json::Value;

const BEGIN: &str =
    "<!-- generated from data/semaphores-counter.json by tests/semaphores_data.rs -->";
const END: &str = "<!-- end of generated text -->";

/// The variants in the order of the table, with their labels in it (the chart is
/// scripts/charts.py's).
const WAYS: [(&str, &str); 6] = [
    ("local", "local count, added once"),
    ("held", "semaphore held for the loop (the seeds' shape)"),
    ("racy", "no lock"),
    ("atomic", "`AtomicU64::fetch_add`"),
    ("mutex", "`raw_sync` `Mutex` per addition"),
    ("sem", "semaphore per addition"),
];

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn secs(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

/// "0.25 s (0.21–0.30)": the median and the range of `v`.
fn spread(v: &[f64]) -> String {
    let mut v = v.to_vec();
    let m = median(&mut v);
    format!("{} s ({}–{})", secs(m), secs(v[0]), secs(v[v.len() - 1]))
}

/// Every round's seconds for `way` in the run `which` ("two" or "alone").
fn times(rounds: &[Value], which: &str, way: &str) -> Vec<f64> {
    rounds
        .iter()
        .map(|r| {
            r[which]["ways"]
                .as_array()
                .expect("ways")
                .iter()
                .find(|w| w["variant"] == way)
                .unwrap_or_else(|| panic!("no {way} in a round's {which}"))["seconds"]
                .as_f64()
                .expect("seconds")
        })
        .collect()
}

fn expected(data: &Value) -> String {
    let rounds = data["rounds"].as_array().expect("rounds");
    let m = &data["machine"];
    let mut loads: Vec<f64> = rounds
        .iter()
        .flat_map(|r| ["two", "alone", "python"].map(|k| r[k].clone()))
        .flat_map(|run| ["load_before", "load_after"].map(|k| run[k][0].as_f64().expect("load")))
        .collect();
    loads.sort_by(f64::total_cmp);
    let mut out = vec![
        BEGIN.to_string(),
        format!(
            "Measured on {}, {} cores ({}, Linux {}, {} GiB), on {}: a release build, {} rounds, \
             each running every way with 2 processes, then with 1, then the seeds' Python. The \
             one-minute load average was {:.1} to {:.1} during the runs.",
            m["cpu"].as_str().expect("cpu"),
            m["cores"],
            m["arch"].as_str().expect("arch"),
            m["kernel"].as_str().expect("kernel"),
            m["memory_gib"],
            data["date"].as_str().expect("date"),
            rounds.len(),
            loads[0],
            loads[loads.len() - 1],
        ),
        String::new(),
        "| way | 2 processes × 50,000,000: median (min–max) | 1 process × 50,000,000 alone: median (min–max) |".into(),
        "| --- | ---: | ---: |".into(),
    ];
    for (way, label) in WAYS {
        let (two, alone) = (times(rounds, "two", way), times(rounds, "alone", way));
        let label = if way == "racy" {
            let n = rounds[0]["two"]["n"].as_f64().expect("n");
            let mut lost: Vec<f64> = rounds
                .iter()
                .map(|r| {
                    let c = r["two"]["ways"].as_array().expect("ways").iter();
                    let count = c.clone().find(|w| w["variant"] == "racy").expect("racy")["count"]
                        .as_f64()
                        .expect("count");
                    100.0 * (2.0 * n - count) / (2.0 * n)
                })
                .collect();
            lost.sort_by(f64::total_cmp);
            format!(
                "{label} ({:.0} to {:.0} % of the additions lost)",
                lost[0],
                lost[lost.len() - 1]
            )
        } else {
            label.to_string()
        };
        out.push(format!(
            "| {label} | {} | {} |",
            spread(&two),
            spread(&alone)
        ));
    }
    let python: Vec<f64> = rounds
        .iter()
        .map(|r| r["python"]["seconds"].as_f64().expect("python seconds"))
        .collect();
    out.push(format!(
        "| the seeds' Python (semaphore held for the loop) | {} | |",
        spread(&python)
    ));
    // The chart itself is drawn from the same file by scripts/charts.py (log axis, every
    // round's spread); tests/charts.rs checks it is the one the data gives.
    out.extend([
        String::new(),
        "![2 processes × 50,000,000 additions each, seconds on a log axis: median bar, \
          fastest and slowest round as whiskers](charts/semaphores-counter.svg)"
            .into(),
        String::new(),
    ]);
    let ratio = |which: &str| {
        let (m, s) = (times(rounds, which, "mutex"), times(rounds, which, "sem"));
        let mut r: Vec<f64> = m.iter().zip(&s).map(|(m, s)| m / s).collect();
        let faster = r.iter().filter(|x| **x > 1.0).count();
        let med = median(&mut r);
        (
            format!("{:.2} to {:.2} (median {med:.2})", r[0], r[r.len() - 1]),
            faster,
        )
    };
    let ((two, two_faster), (alone, alone_faster)) = (ratio("two"), ratio("alone"));
    out.push(format!(
        "The mutex's time divided by the semaphore's, round by round (above 1: the semaphore \
         was faster): with 2 processes {two}, alone {alone}. The semaphore was the faster of \
         the two in {two_faster} of {n} rounds with 2 processes and in {alone_faster} of {n} \
         alone.",
        n = rounds.len()
    ));
    out.push(END.into());
    out.join("\n")
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("data/semaphores-counter.json"))
        .expect("reading data/semaphores-counter.json");
    let data: Value = serde_json::from_str(&text).expect("data/semaphores-counter.json is JSON");
    let want = expected(&data);
    let page = std::fs::read_to_string(root.join("src/semaphores.md")).expect("reading the page");
    let found = match (page.find(BEGIN), page.find(END)) {
        (Some(b), Some(e)) if b < e => &page[b..e + END.len()],
        _ => panic!("src/semaphores.md has no generated block; put this in it:\n\n{want}\n"),
    };
    if found != want {
        panic!(
            "src/semaphores.md quotes other numbers than data/semaphores-counter.json; \
             replace its generated block with:\n\n{want}\n"
        );
    }
    println!("semaphores_data: the page quotes data/semaphores-counter.json exactly");
}
