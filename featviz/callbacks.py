"""Callbacks: Keras-style hooks around the optimization loop.

A callback overrides any of `on_run_begin(logs)`, `on_step_begin(step, logs)`,
`on_step_end(step, logs)` and `on_run_end(logs)`; the `Visualizer` is given once through
`set_visualizer`, and `logs` is the only data channel:

- step logs: "loss" (float, total), "losses" ([batch] per image), "objectives" ({term name:
  [batch]}), "metrics" ({"metric/name": [batch]}, when metrics are set), and "images" (the
  step's images, a [batch, height, width, channels] tensor in [0, 1]) and "image_gradient" (the
  loss's gradient with respect to them, the same shape) only at the steps some callback
  `wants(step)` them: the loop hands over (and a callback copies to the host) only what is
  needed;
- run-begin logs: "names" (one name per image); run-end logs: "images" (final, numpy),
  "render" (the `Render`), "error" (the exception that ended the run, or None).

Callbacks observe: they log (`TensorBoard`), save (`ImageSaver`, `Animation`, `HistorySaver`) and
show progress (`ProgressBar`), accumulate (`GradientMagnitude`: MACO's attribution map), and
may end a run early (`visualizer.stop_training = True`), but
never change the images; operations that do (scheduled blur and zoom, re-standardisation) are
parts of the loop, in `featviz.operations`. Every frequency argument counts steps, and 0 turns
that output off.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import gin
import numpy as np
import tensorflow as tf
from PIL import Image
from tensorboard.plugins.image import metadata as image_metadata

from featviz import io as image_io

Logs = dict[str, Any]
# What a callback can ask of a step's logs beyond the losses (`Callback.wants`).
IMAGES = "images"
IMAGE_GRADIENT = "image_gradient"
_NOTHING: frozenset[str] = frozenset()


class Visualizer(Protocol):
    """What callbacks read of the run they observe (`featviz.render.Visualizer` provides it)."""

    names: list[str]
    steps: int
    logdir: str | None
    stop_training: bool


class Callback:
    """Base class: no-op hooks, and the `Visualizer` they observe."""

    visualizer: Visualizer | None = None

    def set_visualizer(self, visualizer: Visualizer) -> None:
        """Called once before `on_run_begin`."""
        self.visualizer = visualizer

    def on_run_begin(self, logs: Logs | None = None) -> None:
        """Called before the first step."""

    def on_step_begin(self, step: int, logs: Logs | None = None) -> None:
        """Called before each step (0-based)."""

    def wants(self, step: int) -> frozenset[str]:
        """What this callback needs in step `step`'s logs beyond the losses (asked before that
        step's `on_step_end`): `{IMAGES}` for the step's images, `{IMAGE_GRADIENT}` for the
        loss's gradient with respect to them; by default nothing."""
        return _NOTHING

    def on_step_end(self, step: int, logs: Logs | None = None) -> None:
        """Called after each step with that step's logs."""

    def on_run_end(self, logs: Logs | None = None) -> None:
        """Called once at the end, also when the run was stopped or failed."""

    def output_dir(self, own: str | None) -> Path:
        """`own` if given, else the visualizer's run directory."""
        directory = own if own is not None else getattr(self.visualizer, "logdir", None)
        if directory is None:
            raise ValueError(
                f"{type(self).__name__} has no output directory: pass one, or set "
                f"Visualizer.logdir (the CLI sets it to the run directory)"
            )
        return Path(directory)


class CallbackList(Callback):
    """Calls each callback in order; itself a callback."""

    def __init__(self, callbacks: Sequence[Callback] = ()) -> None:
        self.callbacks = list(callbacks)
        for i, callback in enumerate(self.callbacks):
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callback {i} is {callback!r}, not a featviz Callback instance (in gin, "
                    f"write @Name() with parentheses)"
                )

    def set_visualizer(self, visualizer: Visualizer) -> None:
        for callback in self.callbacks:
            callback.set_visualizer(visualizer)

    def on_run_begin(self, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_run_begin(logs)

    def on_step_begin(self, step: int, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_step_begin(step, logs)

    def wants(self, step: int) -> frozenset[str]:
        """Everything any of the callbacks wants at step `step`."""
        return _NOTHING.union(*(callback.wants(step) for callback in self.callbacks))

    def on_step_end(self, step: int, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_step_end(step, logs)

    def on_run_end(self, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_run_end(logs)


def _due(step: int, every: int) -> bool:
    return every > 0 and (step + 1) % every == 0


@gin.register(module="featviz")
class TensorBoard(Callback):
    """Logs losses, objective values, images and the operative gin config to TensorBoard.

    Tags: `loss/total`, `loss/<image name>`, `objective/<term>` (summed over the batch),
    `metric/<metric>`, `images/<image name>`, and the text `config/operative_gin` (written after
    the first step, when gin knows every value the run used). Scalars are kept for
    `write_every` steps and then written, each at its own step, by one compiled call; a step's
    images by one compiled call too. Eager summary ops cost about a millisecond each, and one
    compiled call of a few scalar summaries about 5 ms on a 2-core CPU (4 % of a MobileNet
    step, `benchmarks/RESULTS.md`): one call per ten steps keeps the logging near free. The
    event writer flushes every two minutes anyway, so TensorBoard shows the same curves as live.
    The event writer is flushed at the end of every run and stays open for the next run into the
    same directory (closed when the directory changes or the callback is discarded), so that the
    compiled writers are traced once, not once per run.

    Args:
        logdir: event directory; default: the visualizer's run directory.
        scalar_every: log scalars every N steps.
        image_every: write images every N steps (and always after the last step).
        write_every: write the logged scalars every N steps (and at the end of the run).
    """

    def __init__(self, logdir: str | None = None, scalar_every: int = 1, image_every: int = 10,
                 write_every: int = 10) -> None:
        for name, value, least in (("scalar_every", scalar_every, 0), ("image_every", image_every, 0),
                                   ("write_every", write_every, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"TensorBoard's {name} must be an int of at least {least}, got {value!r}"
                                 + (" (0 turns them off)" if least == 0 else ""))
        self.logdir = logdir
        self.scalar_every = scalar_every
        self.image_every = image_every
        self.write_every = write_every
        self._writer: tf.summary.SummaryWriter | None = None
        self._directory: str | None = None
        self._names: list[str] = []
        # Scalars logged and not yet written: their tags, and (step, values) per logged step.
        self._tags: tuple[str, ...] = ()
        self._pending: list[tuple[int, np.ndarray]] = []
        # Compiled writers into the open writer, with the tags (image names) they were traced for.
        self._scalars: tuple[tuple[str, ...], Callable[[np.ndarray, np.ndarray], None]] | None = None
        self._images: tuple[tuple[str, ...], Callable[[tf.Tensor, tf.Tensor | np.ndarray], None]] | None = None

    def _get_writer(self) -> tf.summary.SummaryWriter:
        directory = str(self.output_dir(self.logdir))
        if self._writer is None or directory != self._directory:
            if self._writer is not None:
                self._writer.close()
            self._writer = tf.summary.create_file_writer(directory)
            self._directory, self._scalars, self._images = directory, None, None
        return self._writer

    def on_run_begin(self, logs: Logs | None = None) -> None:
        self._names = list((logs or {}).get("names", []))

    def wants(self, step: int) -> frozenset[str]:
        """The step's images when they are due."""
        return frozenset({IMAGES}) if _due(step, self.image_every) else _NOTHING

    def on_step_end(self, step: int, logs: Logs | None = None) -> None:
        if _due(step, self.scalar_every):
            self._log_scalars(step, logs)
        if len(self._pending) >= self.write_every:
            self._write_scalars()
        if _due(step, self.image_every):
            self._write_images(step, logs["images"])
        if step == 0:
            with self._get_writer().as_default(step=step):
                tf.summary.text("config/operative_gin", _markdown_code(gin.operative_config_str()))

    def _log_scalars(self, step: int, logs: Logs) -> None:
        tags, values = ["loss/total"], [logs["loss"]]
        if len(self._names) > 1:
            tags += [f"loss/{name}" for name in self._names]
            values += list(logs["losses"])
        for name, per_image in {**logs["objectives"], **logs.get("metrics", {})}.items():
            tags.append(name if name.startswith("metric/") else f"objective/{name}")
            values.append(np.sum(per_image))
        if tuple(tags) != self._tags:
            self._write_scalars()
            self._tags = tuple(tags)
        self._pending.append((step, np.asarray(values, np.float32)))

    def _write_scalars(self) -> None:
        """Writes the pending scalars, each at its step, in one compiled call."""
        if not self._pending:
            return
        writer, tags = self._get_writer(), self._tags  # first: a new writer drops the compiled writers
        if self._scalars is None or self._scalars[0] != tags:

            # Any number of steps in one trace: the loop over them runs in the graph.
            @tf.function(input_signature=(tf.TensorSpec([None], tf.int64),
                                          tf.TensorSpec([None, len(tags)], tf.float32)))
            def write(steps: tf.Tensor, values: tf.Tensor) -> None:
                with writer.as_default():
                    for i in tf.range(tf.shape(steps)[0]):
                        # The root scope: the loop's own would prefix every tag with "while/".
                        with tf.name_scope(""):
                            for j, tag in enumerate(tags):
                                tf.summary.scalar(tag, values[i, j], step=steps[i])

            self._scalars = (tags, write)
        steps = np.asarray([step for step, _ in self._pending], np.int64)
        self._scalars[1](steps, np.stack([values for _, values in self._pending]))
        self._pending = []

    def _write_images(self, step: int, images: tf.Tensor | np.ndarray) -> None:
        writer, names = self._get_writer(), tuple(self._names)
        if self._images is None or self._images[0] != names:
            self._images = (names, self._compiled_writer(
                writer, lambda images: [_image_summary(f"images/{name}", images[i])
                                        for i, name in enumerate(names)]))
        self._images[1](tf.constant(step, tf.int64), images)

    @staticmethod
    def _compiled_writer(writer: tf.summary.SummaryWriter, summaries: Callable[[tf.Tensor], object]
                         ) -> Callable[[tf.Tensor, tf.Tensor | np.ndarray], None]:
        """`fn(step, values)` running `summaries(values)` into `writer`, compiled.

        The step is a tensor argument, so one trace serves every step.
        """

        @tf.function
        def write(step: tf.Tensor, values: tf.Tensor) -> None:
            with writer.as_default(step=step):
                summaries(values)

        return write

    def on_run_end(self, logs: Logs | None = None) -> None:
        self._write_scalars()  # creates the writer if this run wrote nothing yet
        if self._writer is None:
            return
        render = (logs or {}).get("render")
        if render is not None and render.steps:
            self._write_images(render.steps, render.images)
        self._writer.flush()


# zlib level of the PNGs in TensorBoard image summaries: level 1 encodes a 224-px render in
# 3.8 ms against 7.9 ms at tf.summary.image's default (6), for a 5% larger file; at the default
# the image steps cost a MobileNet-0.25 run about 3% (benchmarks/bench_step.py's profile).
PNG_COMPRESSION = 1


def _image_summary(tag: str, image: tf.Tensor) -> tf.Tensor:
    """`tf.summary.image(tag, image[None])` with the PNG encoded at `PNG_COMPRESSION`.

    The same summary as TensorBoard's image plugin writes (its metadata; width, height, PNG).
    """
    pixels = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
    shape = tf.shape(pixels)
    tensor = tf.stack([tf.as_string(shape[1]), tf.as_string(shape[0]),
                       tf.image.encode_png(pixels, compression=PNG_COMPRESSION)])
    metadata = image_metadata.create_summary_metadata(display_name=None, description=None)
    return tf.summary.write(tag, tensor, metadata=metadata)


def _markdown_code(text: str) -> str:
    # TensorBoard renders text as Markdown; indenting keeps gin's layout and comments intact.
    return "\n".join("    " + line for line in text.splitlines())


Display = Callable[[np.ndarray], np.ndarray]


def _labels(callback: Callback, labels: Sequence[str] | None) -> list[str]:
    """`labels` checked against the batch, or the visualizer's image names."""
    names = list(callback.visualizer.names)
    if labels is None:
        return names
    labels = [str(label) for label in labels]
    if len(labels) != len(names):
        raise ValueError(
            f"{type(callback).__name__} got {len(labels)} labels for {len(names)} images "
            f"({', '.join(names)}); give one label per image, or none to use these names"
        )
    return labels


def _shown(images: np.ndarray | tf.Tensor, display: Display | None) -> np.ndarray:
    images = np.asarray(images)
    return images if display is None else np.asarray(display(images))


@gin.register(module="featviz")
class ImageSaver(Callback):
    """Writes the final images as PNGs: one per image (named after its objective) and a grid.

    Args:
        directory: where to write; default: the visualizer's run directory.
        grid: also write `grid.png`, the images tiled with their labels.
        scale: integer upscaling of the grid's tiles (nearest neighbour), for small images.
        labels: one grid label per image (e.g. class names); default: the image names.
        display: maps images [batch, height, width, channels] in [0, 1] to what is written
            (e.g. `HSVAdjust`); the optimized images are unchanged.
    """

    def __init__(self, directory: str | None = None, grid: bool = True, scale: int = 1,
                 labels: Sequence[str] | None = None, display: Display | None = None) -> None:
        self.directory = directory
        self.grid = grid
        self.scale = scale
        self.labels = labels
        self.display = display
        self.written: list[Path] = []

    def on_run_begin(self, logs: Logs | None = None) -> None:
        # Checked now rather than after a long run.
        self._run_labels = _labels(self, self.labels)

    def on_run_end(self, logs: Logs | None = None) -> None:
        directory = self.output_dir(self.directory)
        images = _shown(logs["images"], self.display)
        names = self.visualizer.names
        self.written = [
            image_io.save_png(directory / f"{i:02d}_{image_io.slug(name)}.png", image)
            for i, (name, image) in enumerate(zip(names, images))
        ]
        if self.grid:
            tiled = image_io.grid(images, self._run_labels, scale=self.scale)
            self.written.append(image_io.save_png(directory / "grid.png", tiled))


@gin.register(module="featviz")
class HistorySaver(Callback):
    """Writes the loss history (`Render.history`) to `history.npz` at the end of the run."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory

    def on_run_end(self, logs: Logs | None = None) -> None:
        history = logs["render"].history
        path = self.output_dir(self.directory) / "history.npz"
        arrays = {image_io.slug(key): value for key, value in history.items()}
        image_io.atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


@gin.register(module="featviz")
class Animation(Callback):
    """Records the labelled image grid every N steps and writes an animated GIF (and MP4).

    Args:
        every: record a frame every N steps (the final images are always the last frame).
        directory: where to write; default: the visualizer's run directory.
        filename: GIF file name; the MP4 (written when `ffmpeg` is on PATH) shares its stem.
        fps: frames per second.
        scale: integer upscaling of the tiles.
        labels: one label per image (e.g. class names), shown with the step number; default:
            the image names.
        display: maps images [batch, height, width, channels] in [0, 1] to what is shown
            (e.g. `HSVAdjust`); the optimized images are unchanged.
    """

    def __init__(self, every: int = 20, directory: str | None = None, filename: str = "animation.gif",
                 fps: int = 10, scale: int = 1, labels: Sequence[str] | None = None,
                 display: Display | None = None) -> None:
        self.every = every
        self.directory = directory
        self.filename = filename
        self.fps = fps
        self.scale = scale
        self.labels = labels
        self.display = display
        self.frames: list[np.ndarray] = []

    def _frame(self, images: np.ndarray | tf.Tensor, step: int) -> np.ndarray:
        labels = [f"{label} ({step})" for label in self._run_labels]
        return image_io.to_uint8(image_io.grid(_shown(images, self.display), labels, scale=self.scale))

    def on_run_begin(self, logs: Logs | None = None) -> None:
        self._run_labels = _labels(self, self.labels)
        self.frames = []

    def wants(self, step: int) -> frozenset[str]:
        """The step's images when a frame is due."""
        return frozenset({IMAGES}) if _due(step, self.every) else _NOTHING

    def on_step_end(self, step: int, logs: Logs | None = None) -> None:
        if _due(step, self.every):
            self.frames.append(self._frame(logs["images"], step + 1))

    def on_run_end(self, logs: Logs | None = None) -> None:
        render = logs["render"]
        self.frames.append(self._frame(render.images, render.steps))
        path = self.output_dir(self.directory) / self.filename
        pil_frames = [Image.fromarray(frame) for frame in self.frames]
        image_io.atomic_write(path, lambda tmp: pil_frames[0].save(
            tmp, format="GIF", save_all=True, append_images=pil_frames[1:],
            duration=int(1000 / self.fps), loop=0))
        if shutil.which("ffmpeg"):
            image_io.atomic_write(path.with_suffix(".mp4"), lambda tmp: _write_mp4(tmp, self.frames, self.fps))


def _write_mp4(path: str, frames: list[np.ndarray], fps: int) -> None:
    height, width = frames[0].shape[:2]
    # yuv420p (what players expect) needs even sizes: pad by one pixel where odd.
    pad = "pad=ceil(iw/2)*2:ceil(ih/2)*2"
    command = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-vf", pad,
               "-pix_fmt", "yuv420p", "-f", "mp4", path]
    subprocess.run(command, input=b"".join(f.tobytes() for f in frames), check=True)


@gin.register(module="featviz")
class ProgressBar(Callback):
    """A one-line progress bar on stderr with steps/s and the loss.

    On a terminal or in a Jupyter notebook it redraws one line at most `refresh` times a second;
    otherwise (logs, CI) it prints a line at every 10% of the run.
    """

    def __init__(self, width: int = 30, refresh: float = 10.0, stream: Any = None) -> None:
        self.width = width
        self.refresh = refresh
        self.stream = stream

    def on_run_begin(self, logs: Logs | None = None) -> None:
        self._out = self.stream or sys.stderr
        # A notebook's stderr is no terminal, but Jupyter moves back to the line start at "\r", so
        # redrawing keeps one updating line there too.
        notebook = type(self._out).__module__.startswith("ipykernel.")
        self._tty = notebook or (hasattr(self._out, "isatty") and self._out.isatty())
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._total = self.visualizer.steps
        self._printed_tenth = 0

    def on_step_end(self, step: int, logs: Logs | None = None) -> None:
        done = step + 1
        now = time.perf_counter()
        if self._tty:
            if now - self._last_draw >= 1.0 / self.refresh or done == self._total:
                self._last_draw = now
                self._out.write("\r" + self._line(done, logs["loss"], now))
                self._out.flush()
        else:
            tenth = done * 10 // self._total
            if tenth > self._printed_tenth:
                self._printed_tenth = tenth
                self._out.write(self._line(done, logs["loss"], now) + "\n")

    def _line(self, done: int, loss: float, now: float) -> str:
        filled = int(self.width * done / self._total)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * (self.width - filled - 1)
        rate = done / max(now - self._start, 1e-9)
        return f"[{bar}] {done}/{self._total}  {rate:.1f} steps/s  loss {loss:.4g}"

    def on_run_end(self, logs: Logs | None = None) -> None:
        if self._tty:
            self._out.write("\n")
        error = (logs or {}).get("error")
        if error is not None:
            self._out.write(f"stopped: {error}\n")
        self._out.flush()


@gin.register(module="featviz")
class GradientMagnitude(Callback):
    """Accumulates |d loss / d image| over the run: where the objective's evidence is (MACO).

    Fel et al., "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
    Optimization" (NeurIPS 2023) show the sum over all steps of the absolute image gradient as
    the visualization's transparency map: pixels the objective never depends on stay at zero.
    After the run `maps` holds it, [batch, height, width] (summed over colour channels, each
    image scaled to a maximum of 1), and `save` writes one grayscale PNG per image
    (`attribution_<i>.png`) and the raw sums (`attribution.npy`).

    Args:
        directory: where to write; default: the visualizer's run directory.
        save: write the files (False: only keep `maps`).
    """

    def __init__(self, directory: str | None = None, save: bool = True) -> None:
        self.directory = directory
        self.save = save
        self.maps: np.ndarray | None = None
        self._sum: tf.Tensor | None = None

    def on_run_begin(self, logs: Logs | None = None) -> None:
        self._sum = None
        self.maps = None

    def wants(self, step: int) -> frozenset[str]:
        """The image gradient of every step."""
        return frozenset({IMAGE_GRADIENT})

    def on_step_end(self, step: int, logs: Logs | None = None) -> None:
        magnitude = tf.reduce_sum(tf.abs(logs["image_gradient"]), axis=-1)  # [batch, h, w]
        self._sum = magnitude if self._sum is None else self._sum + magnitude

    def on_run_end(self, logs: Logs | None = None) -> None:
        if self._sum is None:
            return
        total = self._sum.numpy()
        peak = total.reshape(len(total), -1).max(axis=1)[:, None, None]
        self.maps = total / np.maximum(peak, 1e-30)
        if self.save:
            directory = self.output_dir(self.directory)
            image_io.atomic_write(directory / "attribution.npy", lambda tmp: np.save(tmp, total))
            for i, attribution in enumerate(self.maps):
                image_io.save_png(directory / f"attribution_{i:02d}.png", attribution[..., None])
