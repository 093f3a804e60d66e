"""Callbacks: TensorBoard event contents read back, saved files, schedules, progress output."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator

import featviz as fv


def _events(logdir) -> event_accumulator.EventAccumulator:
    accumulator = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.TENSORS: 0, event_accumulator.IMAGES: 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_writes_losses_images_and_the_operative_config(tiny, tmp_path):
    objective = [fv.ClassLogit("one"), fv.ClassLogit("two") + 0.01 * fv.TotalVariation().at(1)]
    render = fv.Visualizer(tiny, objective, param=fv.Fourier(32), steps=12,
                           metrics=[fv.ClassProbability("one").at(0)],
                           callbacks=[fv.TensorBoard(image_every=5)], logdir=str(tmp_path)).run()
    events = _events(tmp_path)
    # tf.summary in TF2 writes scalars, images and text as tensor summaries.
    assert set(events.Tags()["tensors"]) == {
        "loss/total", "loss/ClassLogit[one]", "loss/ClassLogit[two] + TotalVariation",
        "objective/ClassLogit[one]", "objective/ClassLogit[two]", "objective/TotalVariation",
        "metric/ClassProbability[one]", "images/ClassLogit[one]",
        "images/ClassLogit[two] + TotalVariation", "config/operative_gin",
    }
    totals = events.Tensors("loss/total")
    assert [event.step for event in totals] == list(range(12))
    image_steps = [event.step for event in events.Tensors("images/ClassLogit[one]")]
    assert image_steps == [4, 9, 12]  # every 5 steps, and the final images
    # What TensorBoard's image plugin reads: width, height and a PNG of the image's pixels.
    final = events.Tensors("images/ClassLogit[two] + TotalVariation")[-1].tensor_proto.string_val
    assert final[:2] == [b"32", b"32"]
    pixels = np.asarray(Image.open(io.BytesIO(final[2])))
    np.testing.assert_allclose(pixels, np.round(render.images[1] * 255), atol=1)
    metadata = events.SummaryMetadata("images/ClassLogit[one]")
    assert metadata.plugin_data.plugin_name == "images"


def test_tensorboard_writes_a_second_run_with_the_writers_compiled_for_the_first(tiny, tmp_path):
    board = fv.TensorBoard(image_every=2)
    visualizer = fv.Visualizer(tiny, fv.ClassLogit(1), param=fv.Fourier(32), steps=4,
                               callbacks=[board], logdir=str(tmp_path))
    visualizer.run()
    visualizer.run()
    assert [event.step for event in _events(tmp_path).Tensors("loss/total")] == [0, 1, 2, 3] * 2
    for _, write in (board._scalars, board._images):
        assert write.experimental_get_tracing_count() == 1


class _Asks(fv.Callback):
    """Asks for the images at the steps in `asked` and notes the steps whose logs had them."""

    def __init__(self, asked=()):
        self.asked, self.had_images = set(asked), []

    def wants(self, step):
        return {"images"} if step in self.asked else set()

    def on_step_end(self, step, logs=None):
        if "images" in logs:
            self.had_images.append(step)


def test_the_images_reach_the_callbacks_only_at_the_steps_one_wants_them(tiny):
    asks, silent = _Asks({0, 3, 6}), _Asks()
    fv.Visualizer(tiny, fv.ClassLogit(1), param=fv.Pixel(32), steps=7, callbacks=[asks, silent]).run()
    assert asks.had_images == [0, 3, 6]
    # A callback that asks for nothing sees what the others asked for, and no more.
    assert silent.had_images == [0, 3, 6]
    alone = _Asks()
    fv.Visualizer(tiny, fv.ClassLogit(1), param=fv.Pixel(32), steps=3, callbacks=[alone]).run()
    assert alone.had_images == []


def test_image_saver_history_and_animation_write_files(tiny, tmp_path):
    saver = fv.ImageSaver(scale=2)
    render = fv.Visualizer(tiny, [fv.ClassLogit(0), fv.ClassLogit(1)], param=fv.Pixel(32), steps=6,
                           callbacks=[saver, fv.HistorySaver(), fv.Animation(every=2)],
                           logdir=str(tmp_path)).run()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["00_ClassLogit_0.png", "01_ClassLogit_1.png", "animation.gif", "grid.png", "history.npz"]
    saved = fv.load_image(tmp_path / "00_ClassLogit_0.png")
    np.testing.assert_allclose(saved, render.images[0], atol=1 / 255)
    history = np.load(tmp_path / "history.npz")
    assert history["loss"].shape == (6,) and history["losses"].shape == (6, 2)
    from PIL import Image

    with Image.open(tmp_path / "animation.gif") as gif:
        assert gif.n_frames == 4  # steps 2, 4, 6 and the final images


class _Recorder(fv.Callback):
    def __init__(self):
        self.calls = []

    def on_run_begin(self, logs=None):
        self.calls.append("begin")

    def on_step_end(self, step, logs=None):
        self.calls.append(step)
        if step == 2:
            self.visualizer.stop_training = True

    def on_run_end(self, logs=None):
        self.calls.append(("end", logs["render"].steps))


def test_hooks_order_and_stop_training(tiny):
    recorder = _Recorder()
    render = fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32), steps=10, callbacks=[recorder]).run()
    assert recorder.calls == ["begin", 0, 1, 2, ("end", 3)]
    assert render.steps == 3 and len(render.history["loss"]) == 3


def test_scheduled_blur_smooths_the_images_between_steps(tiny):
    def roughness(render):
        return float(np.abs(np.diff(render.images, axis=1)).mean())

    kwargs = dict(param=fv.Pixel(32, init="uniform"), steps=10, learning_rate=1e-4)
    plain = fv.Visualizer(tiny, fv.ClassLogit(0), **kwargs).run()
    blurred = fv.Visualizer(tiny, fv.ClassLogit(0), between_steps=[
        fv.ScheduledTransform(fv.GaussianBlur(1.0), every=3)], **kwargs).run()
    assert roughness(blurred) < 0.5 * roughness(plain)


def test_restandardize_keeps_raw_values_standardised(tiny):
    visualizer = fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32), steps=5,
                               between_steps=[fv.Restandardize(clip=50, scale=1.5)])
    visualizer.run()
    raw = visualizer.variable.numpy()
    assert raw.std() == pytest.approx(1.5, rel=1e-3) and abs(raw.mean()) < 1e-4


def test_progress_bar_reports_steps_per_second_and_loss(tiny):
    stream = io.StringIO()
    fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32), steps=20,
                  callbacks=[fv.ProgressBar(stream=stream)]).run()
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("[" + "=" * 30 + "] 20/20")
    assert "steps/s" in lines[-1] and "loss" in lines[-1]


class _NotebookStream(io.StringIO):
    """Stands in for ipykernel's stderr: no terminal, but Jupyter honours carriage returns."""


_NotebookStream.__module__ = "ipykernel.iostream"


def test_progress_bar_in_a_notebook_redraws_one_line(tiny):
    stream = _NotebookStream()
    fv.Visualizer(tiny, fv.ClassLogit("one"), param=fv.Fourier(32), steps=20,
                  callbacks=[fv.ProgressBar(stream=stream, refresh=1e6)]).run()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.split("\r")[-1].startswith("[" + "=" * 30 + "] 20/20")
    assert text.count("\r") == 20 and "] 1/20" in text  # one redraw per step, on one line


def test_callbacks_must_be_instances(tiny):
    with pytest.raises(TypeError, match="callback 0 is .*with parentheses"):
        fv.Visualizer(tiny, fv.ClassLogit(0), callbacks=[fv.ImageSaver])
    with pytest.raises(ValueError, match="no output directory"):
        fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32), steps=1, callbacks=[fv.ImageSaver()]).run()


def test_tensorboard_writes_buffered_scalars_each_at_its_step_also_when_a_run_stops_early(tiny, tmp_path):
    board = fv.TensorBoard(write_every=4)

    class StopAtSix(fv.Callback):
        def on_step_end(self, step, logs=None):
            if step == 5:
                self.visualizer.stop_training = True

    fv.Visualizer(tiny, fv.ClassLogit(1), param=fv.Fourier(32), steps=20, callbacks=[board, StopAtSix()],
                  logdir=str(tmp_path)).run()
    losses = _events(tmp_path).Tensors("loss/total")
    # Steps 0-3 in one call, 4-5 when the run ended: every step once, in order.
    assert [event.step for event in losses] == list(range(6))
    assert board._scalars[1].experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="write_every must be an int of at least 1, got 0"):
        fv.TensorBoard(write_every=0)
