"""What Python reports as a segment's size, and what a size of zero does.

    python3 examples/python/sizes.py
"""
# ANCHOR: sizes
import mmap
from multiprocessing import shared_memory

print(f"page size: {mmap.PAGESIZE} bytes")
for requested in (1, 4096, 4097, 20000):
    shm = shared_memory.SharedMemory(create=True, size=requested)
    print(f"SharedMemory(create=True, size={requested}): .size = {shm.size}, len(.buf) = {len(shm.buf)}")
    shm.close()
    shm.unlink()
try:
    shared_memory.SharedMemory(create=True)
except ValueError as e:
    print(f"SharedMemory(create=True) with no size: ValueError: {e}")
# ANCHOR_END: sizes
