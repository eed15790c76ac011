"""A catalogue scan on Ray Data: stream every file through actors that load the detector once.

The driver lists the files, reads which of them the output already holds (under the
same profile), and builds one Ray Data pipeline: ``from_items`` (small blocks, so work
spreads evenly and results flow back as they finish) → ``map_batches(ScanWorker)`` on an
actor pool (each actor loads the classifier, the CLAP encoder and the thresholds once;
Ray restarts a killed actor and retries its files) → rows back to the driver, which writes
each batch as a Parquet part right away (:class:`~detector.jobs.scan.output.ScanOutput`).
At the end the run's parts are merged into a few larger files.

Without ``address`` (and no ``RAY_ADDRESS``), ``ray.init`` starts an embedded local
cluster with this machine's cores; with one, the scan runs on that cluster, and every
worker must see the files at the same paths (shared storage).
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DetectorError
from .output import ScanOutput, read_scan
from .sources import ScanItem
from .worker import SKIPPED, ScanConfig, ScanWorker, load_detector

MAX_FILES_PER_BLOCK = 16
"""At most this many files per Ray block: a block's rows reach the driver when the block is done."""


class ScanError(DetectorError, RuntimeError):
    """The scan could not run (no cluster, an unusable model, ...). ``str(err)`` is written for the user."""


@dataclass
class ScanProgress:
    """Where a scan stands: counts, throughput and the failures by reason."""

    total: int
    analysed: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    elapsed: float = 0.0
    first: float | None = None
    """Seconds from the start to the first file analysed or failed: starting the workers and loading their models."""
    worked: int = 0
    """Files analysed or failed after the first one, over ``elapsed - first``: the steady rate."""

    @property
    def done(self) -> int:
        return self.analysed + self.skipped + self.failed

    @property
    def files_per_second(self) -> float:
        """Files analysed or failed (not skipped) per wall-clock second."""
        return (self.analysed + self.failed) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def audio_hours_per_hour(self) -> float:
        """Hours of audio analysed per hour of wall clock."""
        return self.audio_seconds / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def steady_files_per_second(self) -> float:
        """Files per second once the workers are up (after the first file): what a long scan runs at."""
        span = self.elapsed - (self.first or 0.0)
        return self.worked / span if self.first is not None and span > 0 else 0.0

    def add(self, row: dict) -> None:
        status = row.get("status")
        now = time.perf_counter() - self.started
        if status != SKIPPED:
            if self.first is None:
                self.first = now
            else:
                self.worked += 1
        if status == SKIPPED:
            self.skipped += 1
        elif status == "ok":
            self.analysed += 1
            self.audio_seconds += float(row.get("duration") or 0.0)
        else:
            self.failed += 1
            self.reasons[str(row.get("reason"))] += 1
        self.elapsed = now

    def line(self) -> str:
        """One line for a terminal: ``37/120 files: 30 analysed, 5 skipped, 2 failed; 1.9 files/s, 310 audio h/h``."""
        eta = ""
        rate = self.files_per_second
        if rate > 0 and self.done < self.total:
            eta = f", about {_duration((self.total - self.done) / rate)} left"
        return (f"{self.done}/{self.total} files: {self.analysed} analysed, {self.skipped} already done, "
                f"{self.failed} failed; {rate:.2f} files/s, {self.audio_hours_per_hour:.0f} audio h/h{eta}")


@dataclass
class ScanSummary:
    """What a scan did."""

    out: Path
    progress: ScanProgress
    profile: str
    workers: int
    cluster: str
    rows: int
    unreadable_parts: list[str]
    warnings: tuple[str, ...]

    def lines(self) -> list[str]:
        p = self.progress
        out = [f"Scanned {p.total} file(s) in {_duration(p.elapsed)} on {self.workers} worker(s) ({self.cluster}): "
               f"{p.analysed} analysed, {p.skipped} already in {self.out}, {p.failed} failed.",
               f"Throughput: {p.files_per_second:.2f} files/s ({60 * p.files_per_second:.0f} tracks/min), "
               f"{p.audio_hours_per_hour:.0f} hours of audio per hour"
               + (f"; {p.steady_files_per_second:.2f} files/s after the first file ({p.first:.0f} s to start the "
                  "workers and analyse it)." if p.worked >= 2 * self.workers else "."),
               f"Profile {self.profile}. {self.rows} row(s) in {self.out}."]
        if p.reasons:
            out.append("Failures by reason: " + ", ".join(f"{reason} {n}" for reason, n in p.reasons.most_common()))
        out += [f"warning: unreadable part {u} (its files were analysed again)" for u in self.unreadable_parts]
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _RayScanWorker(ScanWorker):
    """:class:`ScanWorker` in a Ray actor: the output's done set comes from the object store, and CLAP
    gets the CPUs Ray assigned to the actor."""

    def __init__(self, config: ScanConfig, done_ref) -> None:
        import ray

        done = ray.get(done_ref[0]) if done_ref else frozenset()
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
        super().__init__(config, done, threads=max(1, int(cpus)))


def _bound(config: ScanConfig, done_ref: list) -> type:
    """:class:`_RayScanWorker` with its arguments bound: Ray Data ships the class itself, so the actors take no
    constructor arguments from the object store (which Ray warns could not be restored after a restart)."""

    class ScanActor(_RayScanWorker):
        def __init__(self) -> None:
            super().__init__(config, done_ref)

    return ScanActor


def start_ray(address: str | None = None, *, num_cpus: int | None = None) -> tuple[bool, str]:
    """Connect to ``address`` (or ``$RAY_ADDRESS``), or start an embedded local cluster.

    Returns whether this call started Ray (and so should shut it down) and a description of the cluster.
    A Ray already initialised in this process is used as it is.
    """
    import ray

    if ray.is_initialized():
        return False, _describe(ray)
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, logging_level="ERROR",
                     log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise ScanError(f"Could not connect to {where}: {exc}") from None
    return True, _describe(ray)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a ``host:port`` that nothing answers at, at once: Ray itself retries a dead address for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return  # "auto" and other forms: Ray resolves them
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ScanError(f"Nothing answers at {address} ({exc.strerror or exc}). Start the cluster's head there with "
                        f"`ray start --head`, or leave out --address to use a local cluster.") from None


def _describe(ray) -> str:
    resources = ray.cluster_resources()
    nodes = len([n for n in ray.nodes() if n.get("Alive")])
    gpus = f", {resources['GPU']:.0f} GPU" if resources.get("GPU") else ""
    return f"{nodes} node{'s' if nodes != 1 else ''}, {resources.get('CPU', 0):.0f} CPU{gpus}"


def run_scan(
    items: Sequence[ScanItem],
    out: str | os.PathLike,
    config: ScanConfig,
    *,
    workers: int | None = None,
    address: str | None = None,
    progress: Callable[[ScanProgress], None] | None = None,
) -> ScanSummary:
    """Analyse every item on Ray and write one row per file to the Parquet dataset ``out``.

    Parameters
    ----------
    items
        From :func:`~detector.jobs.scan.sources.scan_items`.
    out
        The output folder; rows of earlier runs there are kept, and files they cover under the
        same profile are skipped (resume).
    config
        The profile, models and limits (:class:`ScanConfig`).
    workers
        Actors, one CPU each. Default: every CPU of the cluster.
    address
        A Ray cluster to run on; default ``$RAY_ADDRESS``, else an embedded local cluster.
    progress
        Called after each batch of rows is written.

    Raises
    ------
    ScanError, OutputError
        When the scan cannot start; a file that cannot be analysed is a row, never an error here.
    ModelError, ClapUnavailable, ProfileError
        When the configured classifier, checkpoint or thresholds cannot be used (checked before any file).
    """
    import ray
    import ray.data

    preflight = load_detector(config)  # fails here, with the user's message, before any worker starts
    profile, warnings = preflight.profile, preflight.warnings
    del preflight
    with ScanOutput(out) as output:
        done, unreadable = output.done(profile, stability=config.stability)
        started, cluster = start_ray(address)
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            n_workers = max(1, min(workers or cpus, cpus))
            state = ScanProgress(total=len(items))
            if items:
                _stream(ray, items, config, done, n_workers, output, state, progress)
            output.compact()
        finally:
            if started:
                ray.shutdown()
    table = read_scan(out, reports=False)
    return ScanSummary(Path(out), state, profile, n_workers, cluster, len(table.rows), unreadable, warnings)


def _stream(ray, items: Sequence[ScanItem], config: ScanConfig, done: frozenset[str], workers: int,
            output: ScanOutput, state: ScanProgress, progress: Callable[[ScanProgress], None] | None) -> None:
    from ray.data import ActorPoolStrategy, DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # our progress line replaces its plan, timing and progress-bar notes
    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = False
    per_block = max(1, min(MAX_FILES_PER_BLOCK, len(items) // (workers * 8)))
    records = [{"path": item.path, "label": item.label} for item in items]
    done_ref = [ray.put(done)] if done else []  # in a list, so that Ray hands the reference itself to the actors
    ds = ray.data.from_items(records, override_num_blocks=math.ceil(len(records) / per_block))
    ds = ds.map_batches(_bound(config, done_ref), batch_size=1,
                        compute=ActorPoolStrategy(size=workers), num_cpus=1, batch_format="numpy")
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0):
            rows = [json.loads(text) for text in batch["row"]]
            for row in rows:
                state.add(row)
            output.write(r for r in rows if r.get("status") != SKIPPED)
            if progress is not None:
                progress(state)
    except ray.exceptions.RayError as exc:
        raise ScanError(f"The scan stopped: {_root_cause(exc)}. Every row written so far is kept in {output.root}; "
                        "run the same command again to finish the rest.") from None


def _root_cause(exc: BaseException) -> str:
    """The innermost message of a Ray error, without its traceback."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    if isinstance(cause, DetectorError):
        return str(cause)
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


__all__ = ["MAX_FILES_PER_BLOCK", "ScanError", "ScanProgress", "ScanSummary", "run_scan", "start_ray"]
