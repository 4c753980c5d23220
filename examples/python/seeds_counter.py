"""The seeds' counter in Python: two processes add 1 to one shared counter N times
each, holding a multiprocessing.Semaphore for the whole loop (the seeds' shape).

Run: python3 examples/python/seeds_counter.py [N]   (the seeds used N = 50000000)
Standard library only: the counter is 8 bytes of a SharedMemory block, read and
written through a memoryview cast to one signed 64-bit integer.
"""

import sys
import time
from multiprocessing import Process, Semaphore, shared_memory


def worker(name: str, n: int, sem) -> None:
    shm = shared_memory.SharedMemory(name=name)
    counter = shm.buf.cast("q")
    sem.acquire()  # held for the whole loop: the other process waits until we finish
    for _ in range(n):
        counter[0] += 1
    sem.release()
    counter.release()
    shm.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    sem = Semaphore(1)
    shm = shared_memory.SharedMemory(create=True, size=8)
    try:
        counter = shm.buf.cast("q")
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
        counter.release()
    finally:
        shm.close()
        shm.unlink()


if __name__ == "__main__":
    main()
