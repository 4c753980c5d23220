#!/usr/bin/env python3
"""Draws the book's charts as SVG from recorded data, and checks figures quoted in pages.

    scripts/charts.py                 # redraw src/charts/*.svg from data/
    scripts/charts.py --check         # fail if a chart or a quoted figure differs from data/
    scripts/charts.py RUN.json [--out DIR]   # your own run (any `--json` output): DIR/*.svg

Standard library only. Charts use a logarithmic axis where the values span more than a
decade, print every value beside its bar or line, and use one dark grey with black
whiskers, dash patterns and marker shapes, so that they read the same in greyscale.
Figures: a page names its data files once, `<!--figures KEY=data/FILE.json ...-->`, and
writes `<!--fig QUERY-->` right after each number it quotes (`query()` below says what
QUERY may be; `KEY:QUERY` for a file other than the first, ` /1000` to scale). The
number must equal the data rounded to the decimals it shows. Between `<!--figures-->`
and `<!--/figures-->` (or the page's end), a number with a unit (× , GB/s, µs, ns, ms)
outside code without such a comment is an error, unless its line ends `<!--nofig-->`.
"""

import glob
import html
import json
import math
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ROOT / "src" / "charts"
USAGE = "usage: scripts/charts.py [--check [--root DIR] | RUN.json... [--out DIR]]"

WIDTH = 760
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
BAR = "#3d3d3d"  # one dark grey: greyscale-safe, and the labels carry the values


# ---------------------------------------------------------------- numbers and axes

def fmt(v):
    """A value as the charts print it: 3 significant digits, no exponent."""
    if v == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{digits}f}"


def tick(v):
    """A tick label: 0.001, 0.1, 1, 10, 1000 (no trailing zeros)."""
    return f"{v:.6f}".rstrip("0").rstrip(".") if v < 1 else f"{v:.0f}"


def log_ticks(lo, hi):
    """Powers of ten covering lo..hi (both > 0)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if a == b:
        b += 1
    return [10.0 ** k for k in range(a, b + 1)]


def lin_ticks(hi):
    step = 10 ** math.floor(math.log10(hi)) if hi > 0 else 1
    for m in (1, 2, 5, 10):
        if hi / (step * m) <= 6:
            step *= m
            break
    n = math.ceil(hi / step)
    return [i * step for i in range(n + 1)]


class Axis:
    """Maps values to pixels on [start, end]; logarithmic when the values span > 10×."""

    def __init__(self, values, start, end, force_log=None):
        values = [v for v in values if v is not None and v > 0]
        lo, hi = min(values), max(values)
        self.log = force_log if force_log is not None else hi / lo > 10
        self.ticks = log_ticks(lo, hi) if self.log else lin_ticks(hi)
        self.start, self.end = start, end

    def __call__(self, v):
        t0, t1 = self.ticks[0], self.ticks[-1]
        if self.log:
            f = (math.log10(max(v, t0)) - math.log10(t0)) / (math.log10(t1) - math.log10(t0))
        else:
            f = (v - t0) / (t1 - t0)
        return self.start + f * (self.end - self.start)


def svg(height, body, title):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{html.escape(title)}" {FONT}>\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="{WIDTH / 2:.0f}" y="22" font-size="15" font-weight="bold" '
            f'text-anchor="middle">{html.escape(title)}</text>\n' + "".join(body) + "</svg>\n")


def note(y, s):
    """A centred note under a chart, wrapped at commas to fit the width."""
    rows, row = [], ""
    for part in s.split(", "):
        if row and len(row) + len(part) > 110:
            rows.append(row + ",")
            row = part
        else:
            row = f"{row}, {part}" if row else part
    rows.append(row)
    return "".join(text(WIDTH / 2, y + 14 * i, r, "middle", 11) for i, r in enumerate(rows)), 14 * len(rows)


def text(x, y, s, anchor="start", size=12, extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{html.escape(s)}</text>\n")


# ---------------------------------------------------------------- the two chart kinds

def bars(title, axis_label, items, note_text=""):
    """Horizontal bars: items are (label, value, low, high) — low/high a whisker or None."""
    left, right, top, row = 250, WIDTH - 90, 44, 26
    height = top + row * len(items) + 62
    values = [v for _, v, lo, hi in items for v in (v, lo, hi) if v]
    x = Axis(values, left, right)
    out = []
    bottom = top + row * len(items)
    for t in x.ticks:
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 4}" x2="{x(t):.1f}" y2="{bottom}" '
                   f'stroke="#bbbbbb" stroke-width="1"/>\n')
        out.append(text(x(t), bottom + 16, tick(t), "middle", 11))
    for i, (label, v, lo, hi) in enumerate(items):
        y = top + i * row
        out.append(text(left - 8, y + 17, label, "end"))
        out.append(f'<rect x="{left}" y="{y + 5}" width="{max(x(v) - left, 1):.1f}" '
                   f'height="{row - 10}" fill="{BAR}"/>\n')
        end = x(v)
        if lo is not None and hi is not None:
            y0 = y + row / 2
            out.append(f'<line x1="{x(lo):.1f}" y1="{y0:.1f}" x2="{x(hi):.1f}" y2="{y0:.1f}" '
                       f'stroke="black" stroke-width="1.5"/>\n')
            for w in (lo, hi):
                out.append(f'<line x1="{x(w):.1f}" y1="{y0 - 6:.1f}" x2="{x(w):.1f}" '
                           f'y2="{y0 + 6:.1f}" stroke="black" stroke-width="1.5"/>\n')
            end = max(end, x(hi))
        out.append(text(end + 6, y + 17, fmt(v)))
    scale = " (logarithmic)" if x.log else ""
    out.append(text((left + right) / 2, bottom + 36, axis_label + scale, "middle"))
    extra = 0
    if note_text:
        lines_svg, extra = note(bottom + 54, note_text)
        out.append(lines_svg)
    return svg(height + extra, out, title)


MARKS = ["circle", "square", "triangle", "diamond", "cross", "plus", "ring", "star"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4", "12 2 2 2"]


def marker(kind, x, y):
    s = 4.5
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s}" fill="black"/>\n'
    if kind == "ring":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s}" fill="white" stroke="black"/>\n'
    if kind == "square":
        return f'<rect x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s}" height="{2 * s}" fill="black"/>\n'
    if kind == "triangle":
        return (f'<polygon points="{x:.1f},{y - s - 1:.1f} {x - s:.1f},{y + s:.1f} '
                f'{x + s:.1f},{y + s:.1f}" fill="black"/>\n')
    if kind == "diamond":
        return (f'<polygon points="{x:.1f},{y - s - 1:.1f} {x + s + 1:.1f},{y:.1f} {x:.1f},'
                f'{y + s + 1:.1f} {x - s - 1:.1f},{y:.1f}" fill="white" stroke="black"/>\n')
    if kind == "star":
        return text(x, y + 5, "*", "middle", 16)
    d = s if kind == "cross" else s + 1
    a, b = ((x - d, y - d, x + d, y + d), (x - d, y + d, x + d, y - d)) if kind == "cross" \
        else ((x - d, y, x + d, y), (x, y - d, x, y + d))
    return "".join(f'<line x1="{p[0]:.1f}" y1="{p[1]:.1f}" x2="{p[2]:.1f}" y2="{p[3]:.1f}" '
                   f'stroke="black" stroke-width="2"/>\n' for p in (a, b))


def size_label(b):
    return f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB"


def lines(title, y_label, series, note_text=""):
    """One line per series over the sizes (log2 x axis); series: (label, [(size, y)])."""
    left, right, top, bottom = 70, WIDTH - 290, 44, 380
    sizes = sorted({s for _, pts in series for s, _ in pts})
    y = Axis([v for _, pts in series for _, v in pts], bottom, top)
    lx = lambda s: left + (math.log2(s) - math.log2(sizes[0])) / \
        max(math.log2(sizes[-1]) - math.log2(sizes[0]), 1) * (right - left)
    out = []
    for t in y.ticks:
        out.append(f'<line x1="{left}" y1="{y(t):.1f}" x2="{right}" y2="{y(t):.1f}" '
                   f'stroke="#bbbbbb" stroke-width="1"/>\n')
        out.append(text(left - 6, y(t) + 4, tick(t), "end", 11))
    for s in sizes:
        out.append(text(lx(s), bottom + 16, size_label(s), "middle", 11))
    ends = []
    for i, (label, pts) in enumerate(series):
        pts = sorted(pts)
        path = " ".join(f"{lx(s):.1f},{y(v):.1f}" for s, v in pts)
        pattern = DASHES[(i + i // len(MARKS)) % len(DASHES)]  # no two series alike
        dash = f' stroke-dasharray="{pattern}"' if pattern else ""
        out.append(f'<polyline points="{path}" fill="none" stroke="black" stroke-width="1.5"{dash}/>\n')
        out.extend(marker(MARKS[i % len(MARKS)], lx(s), y(v)) for s, v in pts)
        ends.append([y(pts[-1][1]), label, pts[-1][1], MARKS[i % len(MARKS)]])
    ends.sort()
    for i in range(1, len(ends)):  # labels at the right end, never overlapping
        ends[i][0] = max(ends[i][0], ends[i - 1][0] + 15)
    if ends and ends[-1][0] > bottom:  # and never below the axis: push the stack up
        ends[-1][0] = bottom
        for i in range(len(ends) - 2, -1, -1):
            ends[i][0] = min(ends[i][0], ends[i + 1][0] - 15)
    for ly, label, v, mark in ends:  # clear of the last size's label under the axis
        out.append(marker(mark, right + 34, ly))
        out.append(text(right + 44, ly + 4, f"{label} ({fmt(v)})", "start", 11))
    scale = " (logarithmic)" if y.log else ""
    out.append(text(18, (top + bottom) / 2, y_label + scale, "middle", 12,
                    f' transform="rotate(-90 18 {(top + bottom) / 2:.0f})"'))
    out.append(text((left + right) / 2, bottom + 36, "array size (each step ×4 or more)", "middle"))
    extra = 0
    if note_text:
        lines_svg, extra = note(bottom + 54, note_text)
        out.append(lines_svg)
    return svg(bottom + 50 + extra, out, title)


# ---------------------------------------------------------------- the book's charts

def floor_label(row):
    """Each program measures its own thread floor: the chart says whose run it is."""
    if row["way"] != "floor":
        return row["label"]
    return f"floor: two threads ({row['program']} run)"


def alternatives_charts(reports):
    """Charts of Alternatives runs (format shmbook-alternatives/1), rows of every file."""
    rows = [dict(r, run=rep["run"]) for rep in reports
            for r in ((rep.get("throughput") or {}).get("rows") or [])]
    charts = {}
    if rows:
        largest = max(r["size"] for r in rows)
        at = [r for r in rows if r["size"] == largest and r.get("ratio")]
        at.sort(key=lambda r: -r["ratio"]["median"])
        charts["alternatives-throughput.svg"] = bars(
            f"Moving {size_label(largest)} to another process: × memcpy of the same round",
            "median of the per-round ratios to memcpy; whiskers: min–max",
            [(r["label"], r["ratio"]["median"], r["ratio"]["min"], r["ratio"]["max"]) for r in at],
            "above 1: faster than one memcpy of the same data; runs: "
            + ", ".join(sorted({r["run"] for r in at})))
        by_way = {}
        for r in rows:
            if r.get("ratio"):
                by_way.setdefault(r["label"], []).append((r["size"], r["ratio"]["median"]))
        series = [(label, pts) for label, pts in sorted(by_way.items()) if len(pts) > 1]
        if series:
            charts["alternatives-sweep.svg"] = lines(
                "Every way over the sweep: median ratio to memcpy", "× memcpy", series,
                "runs: " + ", ".join(sorted({r["run"] for r in rows if r["label"] in dict(series)})))
    lat = [dict(r, run=rep["run"]) for rep in reports
           for r in ((rep.get("latency") or {}).get("rows") or [])]
    if lat:
        lat.sort(key=lambda r: r["p50_ns"])
        charts["alternatives-latency.svg"] = bars(
            "An 8-byte round trip to another process: p50, whisker to p99",
            "microseconds",
            [(floor_label(r), r["p50_ns"] / 1000, r["p50_ns"] / 1000, r["p99_ns"] / 1000)
             for r in lat],
            "runs: " + ", ".join(sorted({r["run"] for r in lat})))
    return charts


def semaphores_chart(data):
    """data/semaphores-counter.json: median seconds over the rounds, 2 processes."""
    per = {}
    for rnd in data["rounds"]:
        for w in rnd["two"]["ways"]:
            per.setdefault(w["variant"], []).append(w["seconds"])
        if "python" in rnd:
            per.setdefault("Python (the seeds')", []).append(rnd["python"]["seconds"])
    items = [(k, statistics.median(v), min(v), max(v)) for k, v in per.items()]
    items.sort(key=lambda i: i[1])
    n = data["rounds"][0]["two"].get("n", 0)
    return {"semaphores-counter.svg": bars(
        f"2 processes × {n:,} additions each: seconds", "seconds; whiskers: min–max over "
        f"{len(data['rounds'])} rounds", items, data.get("date", ""))}


def load(path):
    return json.loads(Path(path).read_text())


def book_charts():
    reports = [load(p) for p in sorted(glob.glob(str(ROOT / "data" / "alternatives" / "*.json")))]
    charts = alternatives_charts([r for r in reports if str(r.get("format", "")).startswith(
        "shmbook-alternatives/")])
    sem = ROOT / "data" / "semaphores-counter.json"
    if sem.exists():
        charts.update(semaphores_chart(load(sem)))
    return charts


# ---------------------------------------------------------------- figures in prose

FIG = re.compile(r"([0-9]{1,3}(?:[ \u2009\u202f][0-9]{3})+|[0-9][0-9.,\u2009\u202f]*)\s*<!--fig (.*?)-->")
FILES = re.compile(r"<!--figures (.*?)-->")
UNIT = re.compile(r"[0-9](?:[0-9.,]*)\s*(?:× |GB/s|µs|ns\b|ms\b)")


def query(doc, q):
    """The value of `doc` at path `q`: `.`-separated keys; `name[k=v,k=v]` picks the one
    element of array `name` whose fields equal those values, `name[3]` by index,
    `name[*]` all of them; `median(...)`, `min(...)`, `max(...)` reduce a `[*]` path, in
    which `name[k=v/w,...]` picks every element whose fields equal one of the values."""
    agg = re.fullmatch(r"(median|min|max)\((.*)\)", q)
    if agg:
        values = select(doc, agg[2], many=True)
        if not values:
            raise ValueError(f"{agg[2]} selects nothing")
        return {"median": statistics.median, "min": min, "max": max}[agg[1]](values)
    values = select(doc, q)
    if len(values) != 1:
        raise ValueError(f"{q} selects {len(values)} values, not one")
    return values[0]


def select(doc, path, many=False):
    nodes = [doc]
    for part in re.findall(r"[^.\[\]]+(?:\[[^\]]*\])?", path):
        m = re.fullmatch(r"([^\[]+)(?:\[([^\]]*)\])?", part)
        key, sel = m[1], m[2]
        nodes = [n[key] for n in nodes if isinstance(n, dict) and key in n]
        if sel is None:
            continue
        picked = []
        for n in nodes:
            if sel == "*":
                picked.extend(n)
            elif sel.isdigit():
                picked.append(n[int(sel)])
            else:
                conds = [c.split("=", 1) for c in sel.split(",")]
                match = [e for e in n
                         if all(any(same(e.get(k), w) for w in v.split("/")) for k, v in conds)]
                if len(match) != 1 and not (many and match):
                    raise ValueError(f"[{sel}] matches {len(match)} elements, not one")
                picked.extend(match)
        nodes = picked
    return nodes


def same(value, word):
    try:
        return float(value) == float(word)
    except (TypeError, ValueError):
        return str(value) == word


def figures():
    """Every `<!--fig QUERY-->` in src/*.md against its data file; every unit-bearing
    number inside a `<!--figures-->` region without one. Returns the problems."""
    problems = []
    for page in sorted((ROOT / "src").glob("*.md")):
        files, default, region, fenced = {}, None, False, False
        for no, line in enumerate(page.read_text().splitlines(), 1):
            where = f"{page.relative_to(ROOT)}:{no}"
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                continue
            for decl in FILES.findall(line):
                for pair in decl.split():
                    key, _, path = pair.partition("=")
                    files[key] = load(ROOT / path)
                    default = default or key
                region = True
            if "<!--/figures-->" in line:
                region = False
            for number, q in FIG.findall(line):
                key, _, rest = q.partition(":") if re.match(r"\w+:", q) else (default, "", q)
                scale = re.search(r"\s*([*/])\s*([0-9.]+)\s*$", rest)
                rest = rest[:scale.start()] if scale else rest
                try:
                    value = query(files[key], rest.strip())
                    if scale:
                        value = value * float(scale[2]) if scale[1] == "*" else value / float(scale[2])
                except (KeyError, ValueError, TypeError, IndexError) as e:
                    problems.append(f"{where}: <!--fig {q}-->: {e}")
                    continue
                quoted = number.rstrip(".,").replace(",", "").replace(" ", "").replace("\u2009", "").replace("\u202f", "")
                decimals = len(quoted.split(".")[1]) if "." in quoted else 0
                if round(float(value), decimals) != float(quoted):
                    problems.append(f"{where}: the page says {quoted}, the data {value!r} "
                                    f"({q})")
            if region and "<!--nofig" not in line:
                bare = FIG.sub("", line)
                bare = re.sub(r"`[^`]*`", "", bare)
                for m in UNIT.finditer(bare):
                    problems.append(f"{where}: '{m[0]}' is not tied to data (<!--fig QUERY-->)")
    return problems


# ---------------------------------------------------------------- command line

def main(args):
    global ROOT, CHARTS
    if args[:1] == ["--check"] and args[1:2] == ["--root"] and len(args) == 3:
        # tests/charts.rs: a copy of the book with one thing changed must fail
        ROOT, CHARTS = Path(args[2]), Path(args[2]) / "src" / "charts"
        args = ["--check"]
    if args == ["--check"]:
        problems = []
        charts = book_charts()
        for name, content in charts.items():
            path = CHARTS / name
            if not path.exists() or path.read_text() != content:
                problems.append(f"src/charts/{name} differs from what data/ gives: "
                                "run scripts/charts.py and commit the result")
        for path in sorted(CHARTS.glob("*.svg")):
            if path.name not in charts:
                problems.append(f"src/charts/{path.name}: no data file gives this chart")
        problems += figures()
        for p in problems:
            print(f"charts.py: {p}", file=sys.stderr)
        print(f"charts.py: {len(charts)} charts and the pages' figures checked, "
              f"{len(problems)} problems")
        return 1 if problems else 0
    if not args:
        CHARTS.mkdir(exist_ok=True)
        for name, content in book_charts().items():
            (CHARTS / name).write_text(content)
            print(f"wrote src/charts/{name}")
        return 0
    out = Path("target/charts")
    if "--out" in args:
        i = args.index("--out")
        if i + 1 >= len(args):
            print(f"charts.py: --out needs a directory; {USAGE}", file=sys.stderr)
            return 2
        out = Path(args[i + 1])
        args = args[:i] + args[i + 2:]
    if not args or any(a.startswith("-") for a in args):
        print(f"charts.py: {' '.join(args)!r} is not understood; {USAGE}", file=sys.stderr)
        return 2
    try:
        docs = [load(a) for a in args]
    except (OSError, ValueError) as e:
        print(f"charts.py: cannot read a run: {e}; {USAGE}", file=sys.stderr)
        return 2
    charts = alternatives_charts([d for d in docs if "throughput" in d or "latency" in d])
    for d in docs:
        if "rounds" in d:
            charts.update(semaphores_chart(d))
    out.mkdir(parents=True, exist_ok=True)
    for name, content in charts.items():
        (out / name).write_text(content)
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
