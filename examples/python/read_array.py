"""Attach to an array segment a Rust example created, and read it with NumPy.

    python3 examples/python/read_array.py NAME [--naive | --close-early]

NAME is the segment's name as Rust writes it ("/shmbook-..."). With --naive the script
attaches the way most tutorials show, and Python's resource tracker removes the
segment when the script exits, although Rust created it. That is the default in every
Python version: 3.13 only added track=False to turn it off; before 3.13 the script
unregisters the segment instead. With --close-early the script closes the segment while
a NumPy array still views it, then reads the array: Python dies of SIGSEGV.
"""
import resource
import struct
import sys

try:
    import numpy as np
except ImportError:
    print("numpy is not installed for this python3 (pip install numpy)", file=sys.stderr)
    sys.exit(3)
from multiprocessing import resource_tracker, shared_memory

MAGIC = int.from_bytes(b"SHMARRAY", "little")
HEADER = struct.Struct("<QIIQQ")  # magic, version, elem, len, data_offset
DTYPES = {1: np.float64, 2: np.uint64}


# ANCHOR: attach
def attach(name, naive):
    """SharedMemory(name=...) without the leading slash: Python adds it itself."""
    bare = name.lstrip("/")
    if naive:
        return shared_memory.SharedMemory(name=bare)
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=bare, track=False)
    shm = shared_memory.SharedMemory(name=bare)
    # Before 3.13 there is no track=False: this attach registered the segment with the
    # resource tracker, which unlinks it when this process exits. It is not ours to
    # remove: unregister it.
    resource_tracker.unregister(shm._name, "shared_memory")
    return shm
# ANCHOR_END: attach


# ANCHOR: read
def read(name, mode):
    shm = attach(name, naive=mode == "--naive")
    fields = HEADER.unpack_from(shm.buf, 0) if shm.size >= 64 else (0, 0, 0, 0, 0)
    magic, version, elem, length, offset = fields
    if magic != MAGIC or version != 1 or elem not in DTYPES or offset + 8 * length > shm.size:
        sys.exit(f"{name} is not an array segment of layout version 1")
    arr = np.ndarray((length,), dtype=DTYPES[elem], buffer=shm.buf, offset=offset)
    print(f"attached: shm.size = {shm.size}; header: {length} {arr.dtype} at offset {offset}")
    print(f"arr[:4] = {np.array2string(arr[:4], precision=4)}")
    diff = np.max(np.abs(arr - np.sin(np.arange(length))))
    print(f"equal to numpy.sin(numpy.arange({length})) within 1e-12: {'yes' if diff < 1e-12 else 'no'}")
    if mode == "--close-early":
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the crash leaves no core file
        shm.close()  # nothing stops this: NumPy holds no buffer export
        print("shm.close() with the array still alive: no error; now reading arr[0]", flush=True)
        print(arr[0])  # the mapping is gone: SIGSEGV
    del arr  # a view into shm.buf: after close() it would point at unmapped memory
    shm.close()
# ANCHOR_END: read


if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["--naive"], ["--close-early"]):
    print("usage: python3 examples/python/read_array.py NAME [--naive | --close-early]",
          file=sys.stderr)
    sys.exit(2)
read(sys.argv[1], "".join(sys.argv[2:]))
