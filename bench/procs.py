"""Process-tree figures read straight from /proc: RSS and CPU of a process and its descendants."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """The root and every live descendant, found by parent ids (no /proc/*/children here)."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def rss_bytes(pid: int) -> int:
    """Resident set size of one process, 0 once it has gone."""
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages split between the processes that share them."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    """Summed RSS of a process tree (shared pages count once per process, as `top` shows them)."""
    return sum(rss_bytes(pid) for pid in tree_pids(root))


def tree_cpu_seconds(root: int) -> float:
    """CPU time of a live tree, including children it has already waited for."""
    total = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # utime, stime, cutime, cstime are fields 14-17 of stat; fields[0] is field 3.
            total += sum(int(v) for v in fields[11:15])
    return total / TICKS


def mem_total_bytes() -> int:
    """Physical memory of the machine, from /proc/meminfo."""
    for line in (PROC / "meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minute load averages: how busy other work kept the machine."""
    one, five, fifteen = (PROC / "loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


class PeakSampler:
    """Background thread that keeps the peak RSS of a process tree while a measurement runs."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        self.root = root
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int:
        """Read the tree's RSS now, keep it if it is the highest yet, and return it."""
        return sum(self.sample_each().values())

    def sample_each(self) -> dict[int, int]:
        """RSS of every process of the tree now (keeping the peaks), to show which one grows."""
        pids = tree_pids(self.root)
        each = {pid: rss_bytes(pid) for pid in pids}
        now = sum(each.values())
        self.peak = max(self.peak, now)
        # What the tree really costs the machine: fork's shared pages are counted once.
        self.peak_pss = max(self.peak_pss, sum(pss_bytes(pid) for pid in pids))
        return each

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
