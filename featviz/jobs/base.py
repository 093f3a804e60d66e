"""The pattern every job follows: a `Run` in, renders out through one `Outputs` writer.

A job is a function `job(run, **settings)`: `run` says where the job writes (`run.logdir`)
and carries the stop request (`run.stop`, a `StopToken` the CLI's signal handler sets); the
settings come from Python arguments or gin bindings (`channel_sweep.layers = [...]`). A job
loads its model with `load_model`, builds its renders with `Visualizer`s that share
`run.stop`, skips what is left once a stop is requested, and writes every file through
`run.outputs`, the one writer of PNGs, grids, JSON, CSV, Markdown and text tables and
TensorBoard summaries, each file written atomically.

`experiment(logdir)` is the root of every `featviz run`: gin chooses the job
(`experiment.job = @channel_sweep`); the default job, `visualize`, is one `Visualizer` run.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gin
import numpy as np
import tensorflow as tf

from featviz import io as image_io
from featviz.callbacks import HistorySaver
from featviz.render import StopToken, Visualizer


@dataclasses.dataclass(frozen=True)
class Run:
    """What a job is given: its output directory and the stop request it obeys.

    Attributes:
        logdir: the run directory; jobs write into it (and into sub-directories per render).
        stop: set by whoever may interrupt the job (the CLI's signal handler); every
            `Visualizer` of the job shares it.
    """

    logdir: Path
    stop: StopToken = dataclasses.field(default_factory=StopToken)

    def __post_init__(self) -> None:
        object.__setattr__(self, "logdir", Path(self.logdir))

    @functools.cached_property
    def outputs(self) -> Outputs:
        """The writer of this run's files and TensorBoard summaries."""
        return Outputs(self.logdir)

    def subdirectory(self, name: str) -> str:
        """`logdir/<name as a file-name-safe slug>`, for the callbacks of one of the job's renders."""
        return str(self.logdir / image_io.slug(name))


RunLike = Run | str | os.PathLike


def as_run(run: RunLike) -> Run:
    """`run` itself, or a `Run` writing to the directory `run` names (no stop token set)."""
    return run if isinstance(run, Run) else Run(Path(run))


class Outputs:
    """Writes a job's results into one directory: files atomically, summaries to TensorBoard.

    Every method takes a file name relative to the directory (sub-directories are created)
    and returns the path written. TensorBoard summaries go to one event writer, created at
    the first summary and closed by `close()` (or at the end of a `with` block).

    Args:
        directory: the run directory.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._writer: tf.summary.SummaryWriter | None = None

    def png(self, name: str, image: np.ndarray) -> Path:
        """One [height, width, 1|3] float image in [0, 1] as a PNG."""
        return image_io.save_png(self.directory / name, image)

    def grid(self, name: str, images: np.ndarray, labels: Sequence[str] | None = None,
             scale: int = 1, columns: int | None = None) -> Path:
        """[batch, height, width, channels] images tiled with their labels, as one PNG."""
        return self.png(name, image_io.grid(images, labels, columns=columns, scale=scale))

    def text(self, name: str, text: str) -> Path:
        """A text file (Markdown tables, reports)."""
        return image_io.atomic_write(self.directory / name, lambda tmp: Path(tmp).write_text(text))

    def json(self, name: str, value: Any) -> Path:
        """A JSON file (indented, keys in the order given)."""
        return self.text(name, json.dumps(value, indent=2))

    def csv(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
        """A CSV file: a header of `columns`, then one line per row."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return self.text(name, buffer.getvalue())

    def _summaries(self) -> tf.summary.SummaryWriter:
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.directory))
        return self._writer

    def summary_image(self, tag: str, image: np.ndarray, step: int = 0) -> None:
        """A TensorBoard image: one [height, width, channels] image in [0, 1]."""
        with self._summaries().as_default():
            tf.summary.image(tag, np.asarray(image)[None], step=step)

    def summary_scalar(self, tag: str, value: float, step: int = 0) -> None:
        """A TensorBoard scalar."""
        with self._summaries().as_default():
            tf.summary.scalar(tag, value, step=step)

    def summary_text(self, tag: str, text: str, step: int = 0) -> None:
        """A TensorBoard text summary (rendered as Markdown)."""
        with self._summaries().as_default():
            tf.summary.text(tag, text, step=step)

    def summary_hparams(self, hparams: dict[str, bool | int | float | str],
                        metrics: dict[str, float]) -> None:
        """One TensorBoard HParams session: `hparams` with `metrics` as scalars at step 0."""
        from tensorboard.plugins.hparams import api as hp

        with self._summaries().as_default():
            hp.hparams(hparams)
            for tag, value in metrics.items():
                tf.summary.scalar(tag, value, step=0)

    def close(self) -> None:
        """Flushes and closes the TensorBoard writer, if one was opened."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table of already formatted cells."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save_operative_config(directory: str | os.PathLike) -> Path:
    """Writes gin's operative config (every value the run used) to `operative_config.gin`."""
    return Outputs(directory).text("operative_config.gin", gin.operative_config_str())


@gin.register(module="featviz")
def visualize(run: RunLike) -> Any:
    """The default job: one `Visualizer` run, configured entirely by gin, writing to `run`."""
    run = as_run(run)
    visualizer = Visualizer(logdir=str(run.logdir), stop=run.stop)
    visualizer.callbacks.callbacks.append(HistorySaver())
    return visualizer.run()


Job = Callable[[Run], Any]


@gin.configurable(module="featviz", denylist=["logdir", "stop"])
def experiment(logdir: str | os.PathLike, job: Job = visualize, stop: StopToken | None = None) -> Any:
    """The root of every `featviz run`: calls `job(Run(logdir, stop))` (gin: `experiment.job = @name`)."""
    return job(Run(Path(logdir), stop if stop is not None else StopToken()))
