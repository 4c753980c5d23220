"""Create an array segment with NumPy for a Rust example to read.

    python3 examples/python/make_array.py NAME N

Creates NAME (without the leading slash) holding N uint64 values i*i behind the
book's 64-byte header, prints one line, waits for a line on standard input (or its
end), then closes and unlinks the segment: the creator removes what it created.
"""
import signal
import struct
import sys

try:
    import numpy as np
except ImportError:
    print("numpy is not installed for this python3 (pip install numpy)", file=sys.stderr)
    sys.exit(3)
from multiprocessing import resource_tracker, shared_memory

MAGIC = int.from_bytes(b"SHMARRAY", "little")
HEADER_SIZE = 64


# ANCHOR: make
def main():
    if len(sys.argv) != 3 or not sys.argv[2].isdigit() or int(sys.argv[2]) < 1:
        print("usage: python3 examples/python/make_array.py NAME N", file=sys.stderr)
        sys.exit(2)
    name, n = sys.argv[1], int(sys.argv[2])
    # Create and enter the `try` as one step: a signal meanwhile would skip the unlink.
    # (The tracker is started first: starting it unblocks these signals again.)
    resource_tracker.ensure_running()
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    shm = shared_memory.SharedMemory(name=name, create=True, size=HEADER_SIZE + 8 * n)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop)  # from here, `finally` unlinks
        # Everything but the magic number first ...
        struct.pack_into("<IIQQ", shm.buf, 8, 1, 2, n, HEADER_SIZE)  # version, u64, len, offset
        arr = np.ndarray((n,), dtype=np.uint64, buffer=shm.buf, offset=HEADER_SIZE)
        arr[:] = np.arange(n, dtype=np.uint64) ** 2
        # ... and the magic number last: an opener checks it before anything else.
        struct.pack_into("<Q", shm.buf, 0, MAGIC)
        print(f"created the segment: shm.size = {shm.size}, {n} uint64 (i*i)", flush=True)
        sys.stdin.readline()  # until Rust says it is done, or goes away
        del arr
    finally:
        shm.close()
        shm.unlink()
    print("closed and unlinked it")
# ANCHOR_END: make


# SIGTERM (the Rust parent's cleanup on Ctrl-C sends it) ends the script like Ctrl-C
# does: through the `finally` above, which unlinks the segment.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
main()
