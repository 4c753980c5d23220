"""What Python's resource tracker does to a segment. Standard library only.

    python3 examples/python/tracker.py attach NAME   a child attaches to NAME, close()s it, exits
    python3 examples/python/tracker.py killed NAME   a child creates NAME and is SIGKILLed

Either way the parent (which never touches NAME itself) then waits, for at most 10 s,
for the child's resource tracker, and says whether NAME still exists. NAME is spelled
as Rust spells it, with its slash (/shmbook-...). Linux only: it looks in /dev/shm.
"""
import os
import signal
import subprocess
import sys
import time
from multiprocessing import shared_memory

USAGE = "usage: python3 examples/python/tracker.py attach|killed /NAME"


def attach(name: str) -> None:
    shm = shared_memory.SharedMemory(name=name.lstrip("/"))  # Python adds the slash
    print(f"child:  attached to {name}: {shm.size} bytes", flush=True)
    shm.close()
    print("child:  called close() only, never unlink(); exiting", flush=True)


def create_and_die(name: str) -> None:
    shared_memory.SharedMemory(name=name.lstrip("/"), create=True, size=4096)
    print(f"child:  created {name}; killing itself with SIGKILL", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def run_child(role: str, name: str) -> None:
    """Runs this script again as ROLE; then reports, once the child's tracker is done."""
    status = subprocess.run([sys.executable, __file__, role, name], timeout=20).returncode
    if status > 0:
        sys.exit(status)  # the child said why
    path, deadline = "/dev/shm" + name, time.monotonic() + 10
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)  # the child's tracker acts once the child is gone
    ended = f"by signal {-status}" if status < 0 else f"with exit status {status}"
    print(f"parent: the child ended {ended}")
    print(f"parent: {name} exists: {'yes' if os.path.exists(path) else 'no'}")


def main() -> None:
    roles = {
        "attach": lambda name: run_child("_attach", name),
        "killed": lambda name: run_child("_killed", name),
        "_attach": attach,
        "_killed": create_and_die,
    }
    if len(sys.argv) != 3 or sys.argv[1] not in roles or not sys.argv[2].startswith("/"):
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    try:
        roles[sys.argv[1]](sys.argv[2])
    except FileNotFoundError:
        print(f"error: no segment is called {sys.argv[2]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
