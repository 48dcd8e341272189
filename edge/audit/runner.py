"""Running an audit on Ray: a pool of `AuditWorker` actors fed batches of frames by this process,
which writes each returned batch to the results folder at once.

Fault tolerance. A worker whose process or node dies is restarted by Ray (`max_restarts`) and the
call it had in hand is retried there (`max_task_retries`). Should a batch still fail, it is handed
to the pool again, and after a second failure each of its frames is tried alone, so one file that
brings a worker down costs only its own row (an `error` row). Rows are written by this process alone,
once per batch it receives, so every frame has exactly one row whatever the workers went through.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import ray
from ray.exceptions import RayActorError, RayError

from edge.audit.rows import rows_table, unjudged_verdict, verdict_row
from edge.audit.sources import Frame
from edge.audit.store import ResultStore
from edge.audit.summary import write_summary
from edge.audit.worker import AuditWorker
from edge.config import Settings
from edge.progress import CheckProgress
from edge.segmentation.base import ModelInfo

log = logging.getLogger(__name__)

# calls each worker holds: one being judged, one waiting, so a worker never idles between batches
CALLS_PER_WORKER = 2
# tries of a batch (after Ray's own retries) before its frames are tried one by one
BATCH_TRIES = 2
WORKER_RESTARTS = 4
WORKER_CALL_RETRIES = 1
# new workers started, per worker slot, once Ray's own restarts of a worker are spent
WORKER_REPLACEMENTS = 4


@dataclass
class AuditRun:
    """What a run did, for the command line and the benchmark."""

    run: str
    listed: int
    skipped: int
    judged: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    workers: int = 0
    nodes: set[str] = field(default_factory=set)
    worker_memory: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Batch:
    frames: list[Frame]
    tries: int = 0


class RayAuditWorker(AuditWorker):
    """The worker as a Ray actor: its rows name the Ray node that judged them."""

    def __init__(self, settings: Settings, run: str) -> None:
        super().__init__(settings, run, node=ray.get_runtime_context().get_node_id())


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def connect(address: str | None, workers: int | None) -> None:
    """Join the cluster at `address` ("auto", "host:port", "ray://host:10001"), or start Ray here."""
    common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(address="local", include_dashboard=False, num_cpus=max(workers or 0, os.cpu_count() or 1),
                 **common)


def default_workers() -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def gpus_per_worker(settings: Settings) -> float:
    """A worker asks for a GPU where its backend runs on one."""
    backend = settings.segmenter.backend
    if backend == "tensorrt":
        return 1.0
    if backend == "auto" and ray.cluster_resources().get("GPU", 0) >= 1:
        return 1.0
    return 0.0


def judge_frames(frames: Sequence[Frame], settings: Settings, store: ResultStore, run: AuditRun, *,
                 workers: int, batch_size: int, progress: CheckProgress,
                 on_batch: Callable[[int], None] | None = None) -> None:
    """Judge `frames` on `workers` actors, writing each batch's rows as it returns."""
    gpus = gpus_per_worker(settings)
    if gpus and ray.cluster_resources().get("GPU", 0) < gpus:
        # a worker asking for a GPU no machine has would wait for one for ever
        raise WorkersFailed(f"segmenter.backend {settings.segmenter.backend} runs on a GPU and the Ray cluster "
                            "has none")
    # actor handles are typed loosely: their methods gain `.remote` at run time
    actor_class: Any = ray.remote(RayAuditWorker).options(
        num_cpus=1, num_gpus=gpus, max_restarts=WORKER_RESTARTS,
        max_task_retries=WORKER_CALL_RETRIES, scheduling_strategy="SPREAD")
    actors: list[Any] = [actor_class.remote(settings, run.run) for _ in range(workers)]
    run.workers = workers
    try:
        model: ModelInfo = ray.get(actors[0].model.remote())
    except RayActorError as exc:
        raise WorkersFailed(f"the workers could not start: {_reason(exc)}") from exc
    queue = deque(Batch(list(frames[i:i + batch_size])) for i in range(0, len(frames), batch_size))
    in_flight: dict[Any, tuple[Batch, int, Any]] = {}
    load = [0] * workers
    replacements = [0] * workers
    seq = 0
    try:
        while queue or in_flight:
            while queue and min(load) < CALLS_PER_WORKER:
                slot = load.index(min(load))
                batch = queue.popleft()
                batch.tries += 1
                in_flight[actors[slot].judge.remote(batch.frames)] = (batch, slot, actors[slot])
                load[slot] += 1
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                batch, slot, actor = in_flight.pop(ref)
                load[slot] -= 1
                try:
                    rows = ray.get(ref)
                except RayError as exc:
                    if isinstance(exc, RayActorError) and actor is actors[slot] and _is_dead(actor):
                        # Ray's restarts of this worker are spent: a new one takes its place
                        if replacements[slot] >= WORKER_REPLACEMENTS:
                            raise WorkersFailed(f"worker {slot + 1} kept dying: {_reason(exc)}") from exc
                        replacements[slot] += 1
                        actors[slot] = actor_class.remote(settings, run.run)
                    rows = retry_or_give_up(batch, exc, queue, settings, model, run.run)
                    if not rows:
                        continue
                seq += 1
                store.write_part(rows_table(rows), run.run, seq)
                run.judged += len(rows)
                for row in rows:
                    run.nodes.add(row["node"])
                    progress.advance(row["verdict"], row["reasons"])
                if on_batch is not None:
                    on_batch(run.judged)
        run.worker_memory = [m for m in ray.get([a.memory.remote() for a in actors])]
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=False)
        for actor in actors:
            ray.kill(actor)


class WorkersFailed(RuntimeError):
    """No worker could be kept running: the job cannot go on."""


def _reason(exc: BaseException) -> str:
    """The last line of Ray's report: the worker's own exception, after its traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _is_dead(actor: Any) -> bool:
    """Has Ray given up on this worker (as opposed to restarting it)?"""
    try:
        ray.get(actor.model.remote(), timeout=30)
    except RayActorError:
        return True
    except ray.exceptions.GetTimeoutError:
        return False
    return False


def retry_or_give_up(batch: Batch, exc: RayError, queue: deque[Batch], settings: Settings, model: ModelInfo,
                     run: str) -> list[dict[str, Any]]:
    """A batch whose call failed: tried again, then frame by frame; a frame that fails alone as often
    gets an `error` row. Returns the rows to write now."""
    log.warning("a batch of %d frame(s) failed on its worker (%s): %s", len(batch.frames), type(exc).__name__,
                _reason(exc))
    if batch.tries < BATCH_TRIES:
        queue.appendleft(batch)
        return []
    if len(batch.frames) > 1:
        queue.extendleft(Batch([frame], tries=BATCH_TRIES - 1) for frame in reversed(batch.frames))
        return []
    frame = batch.frames[0]
    verdict = unjudged_verdict(settings, model, Path(frame.path),
                               f"could not be judged: its worker stopped each time ({type(exc).__name__})")
    return [verdict_row(frame, verdict, node="", worker="", run=run)]


def run_audit(frames: Sequence[Frame], settings: Settings, out: Path, *, address: str | None = None,
              workers: int | None = None, resume: bool = False, batch_size: int = 16,
              show_progress: bool = False, stream: TextIO = sys.stderr,
              on_batch: Callable[[int], None] | None = None) -> AuditRun:
    """Judge the frames not judged yet into `out`, then write the summary. Ctrl-C stops it cleanly:
    what was judged stays, and `resume` judges the rest."""
    store = ResultStore(out)
    out.mkdir(parents=True, exist_ok=True)
    done = store.judged() if resume else set()
    todo = [f for f in frames if f.identity not in done]
    run = AuditRun(new_run_id(), listed=len(frames), skipped=len(frames) - len(todo))
    print(f"specimen-edge audit: {len(frames)} frames listed, {run.skipped} already judged, "
          f"{len(todo)} to judge", file=stream)
    progress = CheckProgress(len(todo), stream, enabled=show_progress)
    started = time.monotonic()
    try:
        if todo:
            connect(address, workers)
            try:
                count = workers or default_workers()
                with progress:
                    judge_frames(todo, settings, store, run, workers=count, batch_size=batch_size,
                                 progress=progress, on_batch=on_batch)
            except KeyboardInterrupt:
                run.interrupted = True
            finally:
                ray.shutdown()
    finally:
        run.elapsed_s = time.monotonic() - started
        store.merge_parts(run.run)
    progress.finish()
    if not run.interrupted:
        write_summary(store, out)
    return run
