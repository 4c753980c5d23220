"""The Alternatives chapter in Python: move a NumPy array of float64 to another process
by a multiprocessing.Queue, by pickle protocol 5 over a Pipe, and through a
SharedMemory block, each round against a NumPy copy of the same size timed in the
same round (the memcpy baseline).

Run: python3 examples/python/alternatives.py [--size BYTES] [--rounds N] [--json]
(BYTES: 4KiB to 1GiB, a multiple of 8; N: 1 to 1000). Needs NumPy.
The clock runs from the producer's first byte until the consumer answers "I have it";
the consumer's checksum is compared outside the clock. --json prints the figures as
one JSON object instead of the table, in the format of the chapter's recorded runs
(data/alternatives/; scripts/charts.py draws it).
"""

import json
import multiprocessing
import os
import pickle
import platform
import signal
import statistics
import sys
import time
from multiprocessing import shared_memory

USAGE = ("usage: python3 examples/python/alternatives.py [--size BYTES] [--rounds N] "
         "[--json]   (BYTES: 4KiB to 1GiB, a multiple of 8; N: 1 to 1000)")
WAIT = 60  # seconds: every wait on the other process is bounded by this

try:
    import numpy as np
except ImportError:
    np = None


# ANCHOR: ways
def send_queue(array, queue, _conn, _shm):
    queue.put(array)  # pickled by a feeder thread, then written into a pipe


def send_pickle5(array, _queue, conn, _shm):
    buffers = []  # protocol 5: the array's bytes go out of band, not into the pickle
    header = pickle.dumps(array, protocol=5, buffer_callback=buffers.append)
    conn.send_bytes(header)
    conn.send_bytes(buffers[0].raw())  # written from the array itself: no copy first


def send_shm(array, _queue, conn, shm):
    view = np.ndarray(array.shape, array.dtype, buffer=shm.buf)
    view[:] = array  # the one copy, into memory the consumer has mapped
    del view
    conn.send_bytes(b"ready")  # the hand-over: a few bytes, not the array


def receive(way, queue, conn, shm, n):
    if way == "queue":
        return queue.get(timeout=WAIT)
    if way == "pickle5":
        header = wait_bytes(conn)
        data = bytearray(n * 8)
        conn.recv_bytes_into(data)  # the bytes, straight into memory the array will use
        return pickle.loads(header, buffers=[data])
    wait_bytes(conn)  # shared memory: the array is already here, read it in place
    return np.ndarray((n,), np.float64, buffer=shm.buf)
# ANCHOR_END: ways


WAYS = {"queue": ("multiprocessing.Queue", send_queue),
        "pickle5": ("pickle 5 over a Pipe", send_pickle5),
        "shm": ("SharedMemory", send_shm)}


def wait_bytes(conn):
    if not conn.poll(WAIT):
        raise TimeoutError(f"the other process sent nothing for {WAIT} s")
    return conn.recv_bytes()


def consumer(way, n, rounds, queue, conn, name):
    shm = shared_memory.SharedMemory(name=name) if name else None
    conn.send_bytes(b"ready")  # the producer starts no clock before this
    for _ in range(rounds):
        array = receive(way, queue, conn, shm, n)
        conn.send_bytes(b"have it")  # the clock stops here
        conn.send_bytes(float(array.sum()).hex().encode())  # outside the clock
        del array
    if shm:
        shm.close()


def memcpy(array, target):
    start = time.perf_counter()
    target[:] = array
    return time.perf_counter() - start


def measure(way, array, rounds):
    """Per round: a NumPy copy of the same size, then the way. Returns the way's times,
    the copies' times (their ratio above 1: faster than one copy) and the verdict."""
    n = array.size
    shm = shared_memory.SharedMemory(create=True, size=n * 8) if way == "shm" else None
    ctx = multiprocessing.get_context()
    queue, (mine, theirs) = ctx.Queue(), ctx.Pipe()
    target = np.empty_like(array)
    target[:] = 1.0  # touch every page once: the baseline copies into mapped memory
    helper = ctx.Process(target=consumer, args=(way, n, rounds, queue, theirs,
                                                shm.name if shm else None))
    times, baselines, matched, send = [], [], True, WAYS[way][1]
    try:
        helper.start()
        wait_bytes(mine)
        for _ in range(rounds):
            copy = memcpy(array, target)
            start = time.perf_counter()
            send(array, queue, mine, shm)
            wait_bytes(mine)
            took = time.perf_counter() - start
            matched &= wait_bytes(mine) == float(array.sum()).hex().encode()
            times.append(took)
            baselines.append(copy)
        helper.join(timeout=WAIT)
    finally:
        if helper.is_alive():
            helper.terminate()
            helper.join(timeout=5)
        queue.close()
        queue.join_thread()
        if shm:
            shm.close()
            shm.unlink()
    return times, baselines, matched


def parse(args):
    """(size, rounds, json) from the command line; exit 2 with the usage if bad."""
    size, rounds, as_json, rest = 4 << 20, 3, False, list(args)
    try:
        while rest:
            word = rest.pop(0)
            if word == "--json":
                as_json = True
            elif word == "--size" and rest:
                size = number(rest.pop(0), {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30})
            elif word == "--rounds" and rest:
                rounds = number(rest.pop(0), {})
            else:
                raise ValueError(word)
    except ValueError as bad:
        fail(f"{str(bad)!r} is not understood")
    if not (4096 <= size <= 1 << 30 and size % 8 == 0):
        fail(f"--size {size} is not 4 KiB to 1 GiB (4096 to 1073741824 bytes), a multiple of 8")
    if not 1 <= rounds <= 1000:
        fail(f"--rounds {rounds} is not 1 to 1000")
    return size, rounds, as_json


def number(word, units):
    """An integer, with an optional unit suffix (4MiB); ValueError names the word."""
    for unit, scale in units.items():
        if word.endswith(unit) and word[:-len(unit)].isdigit():
            return int(word[:-len(unit)]) * scale
    if not word.isdigit():
        raise ValueError(word)
    return int(word)


def fail(what):
    print(f"alternatives.py: {what}; {USAGE}", file=sys.stderr)
    sys.exit(2)


def spread(values):
    """Median, quartiles and extremes, interpolated like the Rust programs' records."""
    v = sorted(values)

    def at(q):
        x = q * (len(v) - 1)
        lo, hi = int(x), min(int(x) + 1, len(v) - 1)
        return v[lo] + (v[hi] - v[lo]) * (x - lo)
    return {"median": at(0.5), "q1": at(0.25), "q3": at(0.75), "min": v[0], "max": v[-1]}


def run(size, rounds, as_json):
    array = np.arange(size // 8, dtype=np.float64) * 0.5
    rows, load_before, started = [], list(os.getloadavg()), time.gmtime()
    if not as_json:
        unit = (size >> 20, "MiB") if size >= 1 << 20 else (size >> 10, "KiB")
        print(f"moving {unit[0]} {unit[1]} ({size // 8} float64) to another process, "
              f"{rounds} rounds, each against a NumPy copy in the same round", flush=True)
    for way, (label, _) in WAYS.items():
        times, baselines, matched = measure(way, array, rounds)
        ratio = spread([b / t for b, t in zip(baselines, times)])
        rows.append({"program": "python", "way": way, "label": f"Python, {label}",
                     "size": size, "rounds": rounds, "matched": matched, "faults": None,
                     "time_ns": [round(t * 1e9) for t in times],
                     "baseline_ns": [round(b * 1e9) for b in baselines], "ratio": ratio,
                     "gbps": size / statistics.median(times) / 1e9,
                     "baseline_gbps": size / statistics.median(baselines) / 1e9})
        if not as_json:
            print(f"{label:<24} {'match ' if matched else 'DIFFER'}  "
                  f"{size / min(times) / 1e9:.2f} GB/s  {ratio['median']:.2f} × memcpy "
                  f"({ratio['min']:.2f}–{ratio['max']:.2f})")
    if as_json:
        print(json.dumps(record(size, rows, load_before, started), indent=1))


def record(size, rows, load_before, started):
    """The run in the format of the chapter's recorded runs (shmbook-alternatives/1)."""
    now, host = started, platform.node()  # a run is named and dated by its start
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "unknown") if os.path.exists(
        "/proc/cpuinfo") else "unknown"
    return {"format": "shmbook-alternatives/1",
            "run": time.strftime("%Y-%m-%dT%H%MZ-", now) + host + "-python",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", now),
            "command": "python3 examples/python/alternatives.py " + " ".join(sys.argv[1:]),
            "machine": {"hostname": host, "arch": platform.machine(), "cpu": cpu,
                        "cores": os.cpu_count(), "os": platform.system(),
                        "kernel": platform.release(), "page_size": os.sysconf("SC_PAGE_SIZE"),
                        "load_before": load_before, "load_after": list(os.getloadavg())},
            "tools": {"profile": None, "rustc": None, "redis_server": None,
                      "python": platform.python_version(), "numpy": np.__version__},
            "throughput": {"sizes": [size], "rows": rows}, "latency": None, "fanout": None}


def main():
    size, rounds, as_json = parse(sys.argv[1:])
    if np is None:
        print("alternatives.py: numpy is not installed for this python3 "
              "(pip install numpy)", file=sys.stderr)
        sys.exit(1)

    caught = []

    def interrupt(signum, _frame):
        signal.signal(signum, signal.SIG_DFL)
        if multiprocessing.parent_process() is not None:
            os.kill(os.getpid(), signum)  # a consumer: just die
        caught.append(signum)
        raise KeyboardInterrupt  # the producer: `finally` blocks remove the segment

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupt)
    try:
        run(size, rounds, as_json)
    except KeyboardInterrupt:  # the segment is gone (finally); die by the signal
        signum = caught[0] if caught else signal.SIGINT
        print(f"alternatives.py: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


if __name__ == "__main__":
    main()
