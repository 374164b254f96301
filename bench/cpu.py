"""CPU time per part of a benchmark's stack, counted by process id (from /proc; Linux only).

A part is a set of processes found by id, never by name, so other jobs on a shared machine do not count:

- ``ProcessTree``: processes the benchmark started and all their descendants (uvicorn, a Celery worker
  and its pool children), found through ``/proc/<pid>/task/<tid>/children``;
- ``PostgresBackends``: the PostgreSQL backends connected to one database, found among the postmaster's
  children by their process title (``postgres: <cluster>: <user> <database> <host>(<port>) <state>``);
- ``ThisProcess``: the load generator itself, less the meter's own sampling thread.

``CpuMeter`` samples every part every ``interval`` seconds on a thread of its own while a run goes on,
so a backend or child that starts during the run is counted from its start and one that ends during the
run keeps what it used until its last sample (what it used after that, at most one interval's worth, is
lost, as is a process that starts and ends between two samples: PostgreSQL's shared background
processes, the WAL writer and the checkpointer, are not counted either). Each process is keyed by its id
and start time, so a reused id is a new process. A process's counters only grow, so no part is ever
negative.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    ppid: int
    start: int  # clock ticks after boot
    ticks: int  # user + system time, all threads, in clock ticks


def read_stat(pid: int) -> Stat | None:
    """``/proc/<pid>/stat``'s parent, start time and CPU time; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return Stat(ppid=int(fields[1]), start=int(fields[19]), ticks=int(fields[11]) + int(fields[12]))


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (forked by any of its threads)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                found.extend(int(child) for child in file.read().split())
        except OSError:
            continue
    return found


def uptime_ticks() -> int:
    with open("/proc/uptime") as file:
        return int(float(file.read().split()[0]) * TICK)


class Watch:
    """A set of processes whose CPU time is one part of the stack."""

    def pids(self) -> Iterable[int]:
        raise NotImplementedError


@dataclass
class ProcessTree(Watch):
    """The processes ``roots`` and every descendant of theirs."""

    roots: tuple[int, ...]

    def pids(self) -> Iterable[int]:
        seen: set[int] = set()
        pending = list(self.roots)
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            pending.extend(children(pid))
        return seen


@dataclass
class PostgresBackends(Watch):
    """The backends of ``postmaster`` connected to ``database`` (its process title names it)."""

    postmaster: int
    database: str
    _titles: dict[int, bool] = field(default_factory=dict)

    def pids(self) -> Iterable[int]:
        found = []
        current = children(self.postmaster)
        for gone in self._titles.keys() - set(current):  # an id seen again later is another backend
            del self._titles[gone]
        for pid in current:
            ours = self._titles.get(pid)
            if ours is None:
                ours = self._titles[pid] = backend_database(pid) == self.database
            if ours:
                found.append(pid)
        return found


def backend_database(pid: int) -> str | None:
    """The database a backend's process title names: the word before ``host(port)`` or ``[local]``."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            words = file.read().replace(b"\0", b" ").decode(errors="replace").split()
    except OSError:
        return None
    for before, word in zip(words, words[1:], strict=False):
        if word == "[local]" or (word.endswith(")") and "(" in word):
            return before
    return None


def postmaster_of(database_url: str) -> int | None:
    """The PostgreSQL server's main process id, if it runs on this machine (None otherwise)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        stat = read_stat(row[0]) if row else None  # while the backend lives: it ends with the connection
    return stat.ppid if stat else None


class ThisProcess(Watch):
    def pids(self) -> Iterable[int]:
        return (os.getpid(),)


@dataclass
class CpuReport:
    """CPU seconds per part over ``seconds`` of wall time; ``processes`` counted per part."""

    seconds: float
    used: dict[str, float]
    processes: dict[str, int]
    machine_busy: float  # fraction of all cores busy over the run, whoever used them

    def per_event_ms(self, events: int) -> dict[str, float]:
        return {name: used * 1000 / max(events, 1) for name, used in self.used.items()}

    def line(self, events: int) -> str:
        """``CPU ms per event: uvicorn 0.61, ...``, the total, and how busy the machine was."""
        per_event = self.per_event_ms(events)
        parts = []
        for name, ms in per_event.items():
            note = f" ({self.processes[name]} backends)" if name == "postgres" else ""
            parts.append(f"{name} {ms:.2f}{note}")
        stack = sum(ms for name, ms in per_event.items() if name != "load generator")
        generator = self.used.get("load generator", 0.0) / max(self.seconds, 1e-9) * 100
        return (
            f"  CPU ms per event: {', '.join(parts)}; the stack {stack:.2f} in all; load generator "
            f"{generator:.0f}% of a core; the machine {self.machine_busy * 100:.0f}% busy on "
            f"{os.cpu_count()} cores"
        )


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot (/proc/stat)."""
    with open("/proc/stat") as file:
        values = [int(v) for v in file.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


class CpuMeter:
    """Samples ``parts`` every ``interval`` seconds between ``start`` and ``stop`` (or as a context manager)."""

    def __init__(self, parts: dict[str, Watch], interval: float = 0.1) -> None:
        self.parts = parts
        self.interval = interval
        self._first: dict[tuple[int, int], int] = {}
        self._last: dict[tuple[int, int], int] = {}
        self._part: dict[tuple[int, int], str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_ticks = 0
        self._started = 0.0
        self._machine = (0, 0)
        self._own_thread_cpu = 0.0

    def start(self) -> CpuMeter:
        self._started_ticks = uptime_ticks()
        self._started = time.perf_counter()
        self._machine = _machine_ticks()
        self._sample(first=True)
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> CpuReport:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample(first=False)
        seconds = time.perf_counter() - self._started
        busy, total = _machine_ticks()
        machine = (busy - self._machine[0]) / max(total - self._machine[1], 1)
        used = dict.fromkeys(self.parts, 0.0)
        processes = dict.fromkeys(self.parts, 0)
        for key, part in self._part.items():
            used[part] += max(0, self._last[key] - self._first[key]) / TICK
            processes[part] += 1
        if "load generator" in used:  # the sampling thread is the meter's, not the load generator's
            used["load generator"] = max(0.0, used["load generator"] - self._own_thread_cpu)
        return CpuReport(seconds=seconds, used=used, processes=processes, machine_busy=machine)

    def __enter__(self) -> CpuMeter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if not self._stop.is_set():
            self.stop()

    def _run(self) -> None:
        began = time.thread_time()
        while not self._stop.wait(self.interval):
            self._sample(first=False)
        self._own_thread_cpu = time.thread_time() - began

    def _sample(self, *, first: bool) -> None:
        for name, watch in self.parts.items():
            for pid in watch.pids():
                stat = read_stat(pid)
                if stat is None:
                    continue
                key = (pid, stat.start)
                if key not in self._first:
                    # Seen for the first time: counted from zero if it started during the run, else from now.
                    born_during_run = not first and stat.start >= self._started_ticks
                    self._first[key] = 0 if born_during_run else stat.ticks
                    self._part[key] = name
                self._last[key] = stat.ticks
