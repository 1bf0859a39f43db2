"""A load a benchmark starts and stops itself: N processes, each one thread spinning on the CPU.

    with BusyLoad(2) as load:
        ...timed runs...
    load.summary()  # {"processes", "command", "wall_s", "cpu_s", "cpu_share"}

Each spinner is `python -c <loop>`; it exits by itself once its parent is gone (it polls getppid), so a benchmark
killed with SIGKILL leaves no spinning orphans. The context manager stops them on every exit, Ctrl-C included;
`stop_on_sigterm()` turns SIGTERM into the same exit path.
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

# Spins in pure Python (one thread); every million iterations checks that its parent (argv[1], given rather than
# read at start, which a parent already gone would defeat) still is its parent.
SPIN = ("import os, sys\nparent = int(sys.argv[1])\nwhile os.getppid() == parent:\n"
        "    for _ in range(1000000):\n        pass\n")


def stop_on_sigterm():
    """SIGTERM raises SystemExit, so finally blocks (and BusyLoad's exit) run as on Ctrl-C."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def cpu_seconds(pid):
    """utime + stime of a live process from /proc (Linux), or None where it cannot be read."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After "pid (comm)": field 3 is the state, so utime and stime (fields 14, 15) are at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BusyLoad:
    def __init__(self, processes):
        if processes < 0:
            raise ValueError(f"--busy takes a count >= 0, got {processes}")
        self.processes = processes
        self.command = [sys.executable, "-c", SPIN, str(os.getpid())]
        self.children = []
        self.started = None
        self.stopped = None
        self.cpu = []

    def __enter__(self):
        self.started = time.monotonic()
        try:
            for _ in range(self.processes):
                # In a session of its own, as a job started elsewhere would be: under autogroup scheduling a
                # spinner then competes as its own group, not inside the group of whatever shares the benchmark's.
                self.children.append(subprocess.Popen(self.command, stdin=subprocess.DEVNULL, start_new_session=True))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        if self.stopped is not None:
            return
        self.stopped = time.monotonic()
        self.cpu = [cpu_seconds(child.pid) for child in self.children]
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def alive(self):
        return sum(child.poll() is None for child in self.children)

    def summary(self):
        """What the load was, for the results: its CPU share shows whether the spinners really competed."""
        wall = (self.stopped or time.monotonic()) - self.started if self.started else 0.0
        return {"processes": self.processes, "command": "python -c <spin loop, one thread>",
                "wall_s": round(wall, 1), "cpu_s": [None if c is None else round(c, 1) for c in self.cpu],
                "cpu_share": [None if c is None or wall == 0 else round(c / wall, 3) for c in self.cpu]}
