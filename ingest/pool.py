"""Extraction processes: an ordered map over a process pool in which the caller is one worker."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from multiprocessing.context import BaseContext
from typing import TypeVar

from ingest.records import SourceItem
from ingest.workers import warm_worker

T = TypeVar("T")
R = TypeVar("R")


def worker_count(configured: int) -> int:
    """Processes for extraction: all cores unless TRADEWIRE_WORKERS says otherwise."""
    return configured if configured > 0 else (os.cpu_count() or 1)


# Pages per pool task: small enough that cores finish a run together, large enough that
# pickling and scheduling stay a rounding error next to ~0.06 s of extraction per page.
TASK_SIZE = 8
# Tasks in flight per pool worker: keeps it busy while this process lands a batch (~0.6 s
# against ~2 s of queued work), and caps how many pages are held at once.
LOOKAHEAD_PER_WORKER = 4
# Tasks this process may finish ahead of a pool task still running: it keeps extracting
# instead of waiting, within a bound on results held back to keep the output in order.
LOCAL_AHEAD = 8
# Below this many documents a pool costs more to start than it saves.
MIN_POOL_ITEMS = 4
# How pool workers start. "spawn": a fresh interpreter that imports only ingest.workers (no
# duckdb, pyarrow or Airflow), used by `tradewire run`. "fork": for callers, such as an Airflow
# task, whose main module is costly to import again in every worker; the models this process
# loaded are then shared copy-on-write.
START_METHOD = "spawn"


def pool_context(start_method: str = START_METHOD) -> BaseContext:
    """The multiprocessing context for extraction workers; the platform's default otherwise."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context(start_method if start_method in methods else None)


def map_in_workers(
    fn: Callable[[Sequence[SourceItem]], list[R]],
    items: Iterable[SourceItem],
    workers: int,
    task_size: int = TASK_SIZE,
    start_method: str = START_METHOD,
    initializer: Callable[[], None] = warm_worker,
) -> Iterator[R]:
    """Ordered results of fn over chunks of items, using `workers` processes in all.

    The caller is one of them: while the oldest pool task is still running it takes the next
    task itself, so a pool of workers - 1 keeps every core busy without a third process's
    memory (each extraction process holds 100-200 MB of models, libraries and parse heap).
    Unlike Executor.map, which submits every task at once, inputs are read lazily and only a
    few tasks are in flight, so pages and results are never all in memory together.
    """
    tasks = batched(items, task_size)
    if workers <= 1:
        for task in tasks:
            yield from fn(task)
        return
    context = pool_context(start_method)
    forked = context.get_start_method() == "fork"
    if forked:
        # Loaded before forking, the models are shared copy-on-write instead of built per worker.
        warm_worker()
    in_workers_limit = (workers - 1) * LOOKAHEAD_PER_WORKER
    pending: deque[Future[list[R]] | list[R]] = deque()
    in_workers = 0
    exhausted = False
    pool = ProcessPoolExecutor(workers - 1, mp_context=context, initializer=initializer)
    try:
        if not forked:
            warm_worker()  # while the spawned workers start and warm up in parallel
        while True:
            while not exhausted and in_workers < in_workers_limit:
                task = next(tasks, [])  # batched never yields an empty list
                if not task:
                    exhausted = True
                else:
                    pending.append(pool.submit(fn, task))
                    in_workers += 1
            if not pending:
                return
            head = pending[0]
            busy = isinstance(head, Future) and not head.done()
            if busy and not exhausted and len(pending) - in_workers < LOCAL_AHEAD:
                task = next(tasks, [])
                if not task:
                    exhausted = True
                else:
                    pending.append(fn(task))  # results stay in input order
                continue
            pending.popleft()
            if isinstance(head, Future):
                in_workers -= 1
                yield from head.result()
            else:
                yield from head
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter), read lazily."""
    it = iter(items)
    while piece := list(islice(it, size)):
        yield piece
