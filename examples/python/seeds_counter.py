"""The seeds' counter in Python: two processes add 1 to one shared counter N times
each, holding a multiprocessing.Semaphore for the whole loop (the seeds' shape).

Run: python3 examples/python/seeds_counter.py [N]   (the seeds used N = 50000000)
Standard library only: the counter is 8 bytes of a SharedMemory block, read and
written through a memoryview cast to one signed 64-bit integer.
"""

import multiprocessing
import os
import signal
import sys
import time
from multiprocessing import Process, Semaphore, shared_memory

USAGE = "usage: python3 examples/python/seeds_counter.py [N]   (N: 1 to 1000000000)"


# ANCHOR: counter
def worker(name: str, n: int, sem) -> None:
    shm = shared_memory.SharedMemory(name=name)
    counter = shm.buf.cast("q")
    sem.acquire()  # held for the whole loop: the other process waits until we finish
    for _ in range(n):
        counter[0] += 1
    sem.release()
    counter.release()
    shm.close()


def count(n: int) -> None:
    sem = Semaphore(1)
    shm = shared_memory.SharedMemory(create=True, size=8)
    counter = shm.buf.cast("q")
    try:
        counter[0] = 0
        workers = [Process(target=worker, args=(shm.name, n, sem)) for _ in range(2)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=600)  # bounded, like every wait in the book
        took = time.perf_counter() - start
        right = "right" if counter[0] == 2 * n else "WRONG"
        print(f"Python, semaphore held for the loop: count {counter[0]} ({right}), {took:.2f} s")
    finally:
        counter.release()  # the view first: a block with a view on it cannot close
        shm.close()
        shm.unlink()
# ANCHOR_END: counter


def parse_n(args: list) -> int:
    """N from the command line (default 1000000); exit 2 with the usage if it is bad."""
    try:
        n = int(args[0]) if args else 1_000_000
    except ValueError:
        n = 0
    if len(args) > 1 or not 1 <= n <= 1_000_000_000:
        print(f"seeds_counter.py: {' '.join(args)!r} is not a number from 1 to 1000000000; {USAGE}",
              file=sys.stderr)
        sys.exit(2)
    return n


def main() -> None:
    """Runs count(N). On Ctrl-C, SIGTERM or SIGHUP: count's `finally` removes the
    segment, the workers are stopped, and the process dies by the signal."""
    n = parse_n(sys.argv[1:])
    parent, caught = os.getpid(), []

    def interrupt(signum, _frame):
        if os.getpid() != parent:  # a worker (forked with this handler): just die
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        caught.append(signum)
        raise KeyboardInterrupt

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupt)
    try:
        count(n)
    except KeyboardInterrupt:
        workers = multiprocessing.active_children()
        for w in workers:
            w.terminate()
        for w in workers:
            w.join(timeout=5)
        signum = caught[0] if caught else signal.SIGINT
        print(f"seeds_counter.py: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


if __name__ == "__main__":
    main()
