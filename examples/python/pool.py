"""The fourth seed post, both ways: results pickled back from a process pool, or
written by the workers into shared memory.

    python3 examples/python/pool.py [--n N] [--workers W]

Fills an array of N float64 with sin(i) (default 1000003) using W worker processes
of a ProcessPoolExecutor (default 4): first each worker returns its part, which the
pool pickles back to the parent; then each worker writes its part into a segment the
parent created. Prints how the N items are split, the time each way took, and whether
the two arrays are equal. The segment is unlinked on every way out but SIGKILL.
"""
import argparse
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor

try:
    import numpy as np
except ImportError:
    print("numpy is not installed for this python3 (pip install numpy)", file=sys.stderr)
    sys.exit(3)
from multiprocessing import resource_tracker, shared_memory


# ANCHOR: split
def split(n, w):
    """Worker k's range is k*n//w .. (k+1)*n//w: every index once, sizes within one."""
    return [(k * n // w, (k + 1) * n // w) for k in range(w)]
# ANCHOR_END: split


# ANCHOR: pool
def sin_part(start, end):
    """Runs in a worker; what it returns is pickled and sent back to the parent."""
    return start, np.sin(np.arange(start, end, dtype=np.float64))


def by_pool(n, w):
    out = np.empty(n)
    starts, ends = zip(*split(n, w))
    with ProcessPoolExecutor(w) as pool:
        for start, part in pool.map(sin_part, starts, ends):
            out[start:start + len(part)] = part  # unpickled, then copied again
    return out
# ANCHOR_END: pool


# ANCHOR: shared
def sin_into(name, n, start, end):
    """Runs in a worker: attaches to the segment `name` and writes its own range."""
    shm = shared_memory.SharedMemory(name=name)
    try:
        arr = np.ndarray((n,), dtype=np.float64, buffer=shm.buf)
        arr[start:end] = np.sin(np.arange(start, end, dtype=np.float64))
        del arr  # no view of shm.buf may outlive close()
    finally:
        shm.close()


def in_shared_memory(n, w, name):
    with ProcessPoolExecutor(w) as pool:
        jobs = [pool.submit(sin_into, name, n, s, e) for s, e in split(n, w)]
        for job in jobs:
            job.result()  # None, or the worker's exception raised here
# ANCHOR_END: shared


def timed(work):
    """Runs work(); returns its result, the wall-clock time and this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def seconds(t):
    return f"{t * 1000:.0f} ms" if t < 1 else f"{t:.2f} s"


def count(low, high):
    def parse(word):
        if not word.isdigit() or not low <= int(word) <= high:
            raise argparse.ArgumentTypeError(f"{word!r} is not a whole number from {low} to {high}")
        return int(word)
    return parse


def main():
    parser = argparse.ArgumentParser(prog="python3 examples/python/pool.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=count(1, 100_000_000), default=1_000_003)
    parser.add_argument("--workers", type=count(1, 64), default=4)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that `finally` unlinks
    n, w = args.n, args.workers
    print(f"{n} float64 by {w} worker processes (ProcessPoolExecutor):")
    sizes = ", ".join(str(e - s) for s, e in split(n, w))
    numpy_sizes = ", ".join(str(len(a)) for a in np.array_split(np.arange(n), w))
    print(f"  split k*n//w: {sizes}")
    print(f"  np.array_split: {numpy_sizes}")
    print(f"  the seed's n//w: {n // w} each; {n - n // w * w} never written")
    if sys.platform == "linux":
        room = os.statvfs("/dev/shm")
        if room.f_bavail * room.f_frsize < 8 * n:
            sys.exit(f"error: /dev/shm has no room for {8 * n} bytes; try a smaller --n")
    pooled, wall, cpu = timed(lambda: by_pool(n, w))
    print(f"  results pickled back: {pooled.nbytes:>9} bytes sent; {seconds(wall)}, "
          f"parent CPU {seconds(cpu)}")
    # Create and enter the `try` as one step (as make_array.py does, and for its reason).
    resource_tracker.ensure_running()
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    shm = shared_memory.SharedMemory(create=True, size=8 * n)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop)
        _, wall, cpu = timed(lambda: in_shared_memory(n, w, shm.name))
        print(f"  written in shared memory: {0:>5} bytes sent; {seconds(wall)}, "
              f"parent CPU {seconds(cpu)}")
        arr = np.ndarray((n,), dtype=np.float64, buffer=shm.buf)
        print(f"  same results: {'yes' if np.array_equal(arr, pooled) else 'no'}")
        del arr
    finally:
        shm.close()
        shm.unlink()


if __name__ == "__main__":
    main()
