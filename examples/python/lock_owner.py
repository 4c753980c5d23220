"""A multiprocessing.Lock has no owner: another process may release it; an RLock refuses.

    python3 examples/python/lock_owner.py

Standard library only. The child is started with "spawn", the same on every platform
and Python version.
"""
import multiprocessing


def release(lock, kind: str) -> None:
    try:
        lock.release()
        print(f"child:  released the parent's {kind} without taking it: allowed", flush=True)
    except AssertionError as e:
        print(f"child:  released the parent's {kind}: AssertionError: {e}", flush=True)


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    for kind, lock in (("Lock", ctx.Lock()), ("RLock", ctx.RLock())):
        lock.acquire()
        print(f"parent: acquired the {kind}", flush=True)
        child = ctx.Process(target=release, args=(lock, kind))
        child.start()
        child.join(timeout=20)
        if child.is_alive():
            child.kill()
        if child.exitcode != 0:
            raise SystemExit(f"error: the child ended with {child.exitcode}")
        if kind == "Lock":  # (an RLock's owner may always acquire it again)
            free = lock.acquire(block=False)
            print(f"parent: the Lock is free again: {'yes' if free else 'no'}", flush=True)


if __name__ == "__main__":
    main()
