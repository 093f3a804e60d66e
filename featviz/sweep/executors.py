"""Executors: who renders a sweep's work items, in this process or on a Ray cluster.

An executor's `map(items, config, stop)` yields one `ItemResult` per item as items finish (in
any order) and renders nothing more once `stop` is requested. Every worker is an
`ItemRenderer`: it parses the sweep's gin config (the text of `gin.config_str()`, so remote
workers need no files), loads the model once (`load_model.*` bindings) and renders item after item,
each as one `Visualizer` run with `objective=item.objectives` and `seed=item.seed`.

* `LocalExecutor` renders in the calling process (the default).
* `RayExecutor` runs `workers` Ray actors, each an `ItemRenderer` holding its model, with the
  resources of the `num_cpus`/`num_gpus` bindings (fractional GPUs share one device; workers
  with a GPU turn on TensorFlow's memory growth first so that they can). An actor that dies is
  restarted and its item retried up to `max_retries` times; an item still lost after that is
  reported by `LostItemError` at the end and rendered by the next run, never recorded.

A failure of the item's own is part of its result, not an exception: a NaN or infinite loss
(`NonFiniteError`) fails the item; a unit whose objective never moved from its start (a dead
channel: no gradient reached the image) fails that unit with the value it kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import gin
import numpy as np

from featviz.models import VisModel, load_model
from featviz.render import NonFiniteError, StopToken, Visualizer
from featviz.sweep.items import WorkItem


class LostItemError(RuntimeError):
    """Items whose worker died more often than `max_retries`; a rerun renders them."""


class ItemResult:
    """What rendering one work item gave.

    Attributes:
        item: the item.
        images: float32 [units, height, width, channels] in [0, 1]; None when the item failed.
        curves: float32 [steps, units], each unit's objective value at every step; None when
            the item failed.
        error: why the whole item failed (None when it did not).
        failures: {unit: message} for units that failed on their own (dead channels).
        seconds: wall time of the render.
    """

    def __init__(self, item: WorkItem, images: np.ndarray | None, curves: np.ndarray | None,
                 error: str | None = None, failures: dict[int, str] | None = None,
                 seconds: float = 0.0) -> None:
        self.item = item
        self.images = images
        self.curves = curves
        self.error = error
        self.failures = failures or {}
        self.seconds = seconds


def configured_model() -> VisModel:
    """`load_model()` with the gin config's `load_model.*` bindings.

    `load_model` is gin-registered, not configurable: a direct call would ignore its bindings.
    """
    return gin.get_configurable(load_model)()


def dead_units(item: WorkItem, curves: np.ndarray) -> dict[int, str]:
    """Units whose objective kept its first value at every step: nothing reached their image.

    Args:
        item: the item rendered.
        curves: [steps, units] objective values.
    """
    return {
        unit: (f"dead unit: {item.objectives[i].name} stayed at {float(curves[0, i]):.6g} for all "
               f"{len(curves)} steps (no gradient reached the image)")
        for i, unit in enumerate(item.units) if np.all(curves[:, i] == curves[0, i])
    }


class ItemRenderer:
    """Renders work items in one process with one model, loaded once.

    Args:
        config: the sweep's gin config text; parsed here unless it is already the process's
            config (the local executor's case).
        model: the model; None loads it with `configured_model()` under `config`.
    """

    def __init__(self, config: str, model: VisModel | None = None) -> None:
        self.config = config
        self._current: str | None = None
        self._use(())
        self.model = model if model is not None else configured_model()

    def _use(self, bindings: Sequence[str]) -> None:
        """Makes the process's gin config `config` plus `bindings` (a grid combination)."""
        wanted = self.config + "".join(f"\n{binding}" for binding in bindings)
        if self._current == wanted:
            return
        # The local executor's process already holds the config it was given: not parsed twice.
        if not (self._current is None and gin.config_str() == wanted):
            with gin.unlock_config():
                gin.clear_config()
                gin.parse_config(wanted)
        self._current = wanted

    def render(self, item: WorkItem, stop: StopToken | None = None) -> ItemResult:
        """Renders one item: one `Visualizer` run of its objectives, with no callbacks."""
        start = time.perf_counter()
        self._use(item.bindings)
        try:
            with gin.unlock_config():
                visualizer = Visualizer(model=self.model, objective=list(item.objectives),
                                        seed=item.seed, callbacks=[], logdir=None, stop=stop)
            try:
                render = visualizer.run()
            except NonFiniteError as error:
                return ItemResult(item, None, None, error=str(error),
                                  seconds=time.perf_counter() - start)
        finally:
            if item.bindings:
                self._use(())
        curves = -np.asarray(render.history["losses"], np.float32)  # loss = -objective
        return ItemResult(item, render.images, curves, failures=dead_units(item, curves),
                          seconds=time.perf_counter() - start)


class Executor(Protocol):
    """Renders work items; yields their results as they finish."""

    def map(self, items: Sequence[WorkItem], config: str, stop: StopToken) -> Iterator[ItemResult]:
        """Renders `items` under the gin `config`; stops submitting once `stop` is requested."""


@gin.configurable(module="featviz")
class LocalExecutor:
    """Renders items one after the other in this process.

    Args:
        model: the model to render with; None loads it with `configured_model()`.
    """

    def __init__(self, model: VisModel | None = None) -> None:
        self.model = model

    def map(self, items: Sequence[WorkItem], config: str, stop: StopToken) -> Iterator[ItemResult]:
        """See `Executor.map`; an item is stopped after its current step when `stop` is set."""
        if not items:
            return
        renderer = ItemRenderer(config, self.model)
        for item in items:
            if stop:
                return
            result = renderer.render(item, stop)
            if stop:
                # A run cut short is not a finished item.
                return
            yield result


class _RayWorker:
    """A Ray actor's body: an `ItemRenderer` holding the model for all of the actor's items."""

    def __init__(self, config: str, memory_growth: bool) -> None:
        import tensorflow as tf

        if memory_growth:
            # Before any TF op: lets several workers with fractional GPUs share one device.
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        self.renderer = ItemRenderer(config)

    def render(self, item: WorkItem) -> ItemResult:
        return self.renderer.render(item)


@gin.configurable(module="featviz")
class RayExecutor:
    """Renders items on Ray actors that each load the model once.

    Without `address` (and when Ray is not initialised yet), starts a local Ray instance bound
    to 127.0.0.1 with no dashboard, and shuts it down at the end; with an address, joins that
    cluster (`ray start --head` on one node, `ray start --address HOST:PORT` on the others),
    whose nodes must have featviz installed.

    Args:
        address: "HOST:PORT" of an existing cluster, or None for a local one.
        num_cpus: CPUs per worker.
        num_gpus: GPUs per worker; fractions (0.25) put several workers on one GPU.
        workers: number of actors; None: as many as the cluster's CPUs (or GPUs) allow.
        max_retries: restarts of a dead actor and retries of its item.
        dashboard: start Ray's dashboard with a local instance (it has no authentication).
    """

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0,
                 workers: int | None = None, max_retries: int = 3, dashboard: bool = False) -> None:
        if num_cpus <= 0 and num_gpus <= 0:
            raise ValueError(f"a worker needs resources: num_cpus={num_cpus!r}, num_gpus={num_gpus!r}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive int or None, got {workers!r}")
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.workers = workers
        self.max_retries = max_retries
        self.dashboard = dashboard

    def _start(self) -> bool:
        """Connects to or starts Ray; whether this executor started it (and so shuts it down)."""
        try:
            import ray
        except ImportError:
            raise ImportError("--backend ray needs Ray: pip install \"featviz[ray]\"") from None
        if ray.is_initialized():
            return False
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
            return True
        # Workers import the same featviz as this process, also from a source checkout.
        source = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        ray.init(include_dashboard=self.dashboard, _node_ip_address="127.0.0.1",
                 log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
        return True

    def _count(self) -> int:
        import ray

        if self.workers is not None:
            return self.workers
        resources = ray.cluster_resources()
        counts = [int(resources.get(name, 0) // need)
                  for name, need in (("CPU", self.num_cpus), ("GPU", self.num_gpus)) if need > 0]
        return max(1, min(counts))

    def map(self, items: Sequence[WorkItem], config: str, stop: StopToken) -> Iterator[ItemResult]:
        """See `Executor.map`; items running when `stop` is requested are abandoned.

        Raises:
            LostItemError: at the end, when items were lost with their workers.
        """
        if not items:
            return
        import ray

        started = self._start()
        actor_class = ray.remote(_RayWorker).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus,
            max_restarts=self.max_retries, max_task_retries=self.max_retries)
        actors = [actor_class.remote(config, self.num_gpus > 0)
                  for _ in range(min(self._count(), len(items)))]
        pending = list(reversed(items))
        running: dict[Any, tuple[Any, WorkItem]] = {}
        lost: list[str] = []
        try:
            for actor in actors:
                item = pending.pop()
                running[actor.render.remote(item)] = (actor, item)
            while running and not stop:
                done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
                for future in done:
                    actor, item = running.pop(future)
                    try:
                        result = ray.get(future)
                    except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as error:
                        lost.append(f"{item.group} {list(item.units)}: {type(error).__name__}")
                        continue
                    if pending and not stop:
                        following = pending.pop()
                        running[actor.render.remote(following)] = (actor, following)
                    yield result
            if not stop:
                lost += [f"{item.group} {list(item.units)}: no worker left" for item in pending]
        finally:
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()
        if lost:
            raise LostItemError(
                f"{len(lost)} item(s) lost with their workers after {self.max_retries} retries "
                f"({'; '.join(lost[:5])}); rerun the sweep to render them")
