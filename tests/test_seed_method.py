"""The seed method of class visualization: class batches, between-round schedule, logged curves,
display-only outputs, and the shipped configs (on the demo model: images are classified as their
class and stripe classes show stripes of the right orientation)."""

from __future__ import annotations


import gin
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator

import featviz as fv
from featviz.jobs import experiment
from featviz.objectives import LOGITS



# Class batches ------------------------------------------------------------------------------

def test_class_objectives_give_each_image_its_own_class(tiny):
    objectives = fv.class_objectives(["two", 0, "four"])
    assert [(type(o), o.target, o.batch) for o in objectives] == [
        (fv.ClassLogit, "two", 0), (fv.ClassLogit, 0, 1), (fv.ClassLogit, "four", 2)]
    probabilities = fv.class_objectives(["one"], kind="probability")
    assert type(probabilities[0]) is fv.ClassProbability
    metrics = fv.class_metrics(["one", "two"])
    assert [m.name for m in metrics] == ["ClassLogit[one]", "ClassLogit[two]",
                                         "ClassProbability[one]", "ClassProbability[two]"]
    assert [m.batch for m in metrics] == [0, 1, 0, 1]


@pytest.mark.parametrize("classes, kind, error, message", [
    ("ostrich", "logit", TypeError, "classes must be a list"),
    ([], "logit", ValueError, "at least one class"),
    (["one", "two", "one"], "logit", ValueError, "'one' appear more than once"),
    (["one"], "softmax", ValueError, r"kind must be one of \('logit', 'probability'\), got 'softmax'"),
])
def test_class_objectives_refuse_bad_lists(classes, kind, error, message):
    with pytest.raises(error, match=message):
        fv.class_objectives(classes, kind)


def test_a_visualizer_optimizes_a_list_of_classes_as_one_batch(tiny):
    # No transforms: the batch is under test (the recipe's centre window would spend the first
    # of these 20 steps on the middle 0.3 of each side of a 32-pixel image).
    render = fv.Visualizer(tiny, fv.class_objectives(["one", "three"]), param=fv.Pixel(32), steps=20,
                           transforms=[], learning_rate=0.1).run()
    assert render.images.shape == (2, 32, 32, 3)
    assert render.names == ["ClassLogit[one]", "ClassLogit[three]"]
    logits = tiny.extractor([LOGITS])(tf.constant(render.images))[LOGITS].numpy()
    # Each image's own class scores higher on it than on the other image.
    assert logits[0, 1] > logits[1, 1] + 0.3 and logits[1, 3] > logits[0, 3] + 0.3


# Between-round schedule ----------------------------------------------------------------------

class _CountingTransform:
    """An identity transform counting its applications (in a variable: it runs compiled)."""

    def __init__(self):
        self.count = tf.Variable(0)

    def __call__(self, images, seed=None):
        self.count.assign_add(1)
        return images


class _CountRecorder(fv.Callback):
    def __init__(self, counters):
        self.counters = counters
        self.after_step = []

    def on_step_end(self, step, logs=None):
        self.after_step.append([int(counter.count) for counter in self.counters])


def test_zoom_and_blur_are_applied_exactly_between_rounds(tiny):
    zoom, blur = _CountingTransform(), _CountingTransform()
    recorder = _CountRecorder([zoom, blur])
    rounds, steps_per_round = 4, 5
    fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32, init="uniform"),
                  steps=rounds * steps_per_round, between_steps=[
                      fv.Restandardize(), fv.ScheduledTransform(zoom, every=steps_per_round),
                      fv.ScheduledTransform(blur, every=steps_per_round)], callbacks=[recorder]).run()
    applied_after = [step for step in range(1, len(recorder.after_step))
                     if recorder.after_step[step] != recorder.after_step[step - 1]]
    # After the last step of rounds 1..3, never after the final step.
    assert applied_after == [4, 9, 14]
    assert recorder.after_step[-1] == [rounds - 1, rounds - 1]


def test_scheduled_zoom_enlarges_structures_between_rounds(tiny):
    # With a vanishing learning rate only the zoom changes the image: a centred square grows.
    square = np.zeros((32, 32, 3), np.float32) + 0.2
    square[12:20, 12:20] = 0.8
    visualizer = fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32, init=square), steps=6,
                               learning_rate=1e-9, between_steps=[fv.ScheduledTransform(fv.Zoom(1.5), every=2)])
    visualizer.run()
    image = visualizer.images().numpy()[0, :, :, 0]
    # Two zooms by 1.5: the 8-pixel square is now 18 pixels wide.
    assert (image[16] > 0.5).sum() == pytest.approx(18, abs=1)


# Logged curves and display-only outputs ------------------------------------------------------

def test_tensorboard_has_logit_and_probability_curves_per_class(tiny, tmp_path):
    classes = ["one", "three", "four"]
    param = fv.Pixel(32, init="uniform")
    fv.Visualizer(tiny, fv.class_objectives(classes), param=param, transforms=[], steps=5,
                  metrics=fv.class_metrics(classes), callbacks=[fv.TensorBoard()],
                  logdir=str(tmp_path), seed=7).run()
    events = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={event_accumulator.TENSORS: 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    for name in classes:
        for kind in ("ClassLogit", "ClassProbability"):
            assert [e.step for e in events.Tensors(f"metric/{kind}[{name}]")] == list(range(5))
        assert f"images/ClassLogit[{name}]" in tags
    # The first point of each curve is the class's logit / probability on the initial image.
    initial = param.to_images(param.initial(3, 7))
    logits = tiny.extractor([LOGITS])(initial)[LOGITS].numpy()
    probabilities = tf.nn.softmax(logits).numpy()
    for i, name in enumerate(classes):
        index = tiny.class_index(name)
        first_logit = tf.make_ndarray(events.Tensors(f"metric/ClassLogit[{name}]")[0].tensor_proto)
        first_prob = tf.make_ndarray(events.Tensors(f"metric/ClassProbability[{name}]")[0].tensor_proto)
        assert float(first_logit) == pytest.approx(logits[i, index], rel=1e-4)
        assert float(first_prob) == pytest.approx(probabilities[i, index], rel=1e-4)


def test_display_adjustment_and_labels_change_the_files_only(tiny, tmp_path):
    display = fv.HSVAdjust(saturation=0.0)  # grey: easy to recognise in the files
    kwargs = dict(param=fv.Pixel(32, init="uniform"), steps=4, seed=1)
    plain = fv.Visualizer(tiny, fv.class_objectives(["one", "two"]), **kwargs).run()
    shown = fv.Visualizer(tiny, fv.class_objectives(["one", "two"]), logdir=str(tmp_path), callbacks=[
        fv.ImageSaver(labels=["one", "two"], display=display),
        fv.Animation(every=2, labels=["one", "two"], display=display)], **kwargs).run()
    np.testing.assert_array_equal(plain.images, shown.images)
    saved = fv.load_image(tmp_path / "00_ClassLogit_one.png")
    np.testing.assert_allclose(saved, display(shown.images)[0], atol=1 / 255)
    assert np.ptp(saved, axis=-1).max() == 0  # every pixel grey
    with Image.open(tmp_path / "animation.gif") as gif:
        frame = np.asarray(gif.convert("RGB"), np.int16)
    assert np.abs(frame[2:34, 2:34] - frame[2:34, 2:34, :1]).max() <= 2
    with pytest.raises(ValueError, match=r"ImageSaver got 1 labels for 2 images"):
        fv.Visualizer(tiny, fv.class_objectives(["one", "two"]), logdir=str(tmp_path),
                      callbacks=[fv.ImageSaver(labels=["one"])], **kwargs).run()


# Shipped configs -----------------------------------------------------------------------------

@pytest.mark.slow
def test_vgg16_config_binds_every_number_and_runs_on_random_weights(tmp_path):
    fv.configs.parse(["vgg16_classes"], [
        "load_model.weights = None", "Visualizer.steps = 1", "CLASSES = ['ostrich', 'flamingo']",
        "class_objectives.kind = 'probability'"])
    visualizer = fv.Visualizer(logdir=str(tmp_path))
    render = visualizer.run()
    assert render.images.shape == (2, 244, 244, 3)
    assert visualizer.model.name == "vgg16" and visualizer.model.input_size == (224, 224)
    assert (visualizer.learning_rate, visualizer.optimizer) == (0.1, "adam")
    param = visualizer.param
    assert (type(param), param.size, param.activation, param.init) == (fv.Pixel, 244, "sigmoid", "uniform")
    assert [type(t) for t in visualizer.gradient_transforms] == [fv.NormalizeGradient]
    assert [type(o) for _, o in visualizer.objective.terms()] == [fv.ClassProbability] * 2
    restandardize, zoom, blur = visualizer.between_steps
    assert (restandardize.clip, restandardize.scale, restandardize.every) == (50.0, 1.5, 1)
    assert (zoom.transform, zoom.every) == (fv.Zoom(1.01), 20)
    assert (blur.transform, blur.every) == (fv.GaussianBlur(1.0), 20)
    assert {p.name for p in tmp_path.iterdir()} >= {"grid.png", "animation.gif"}
    assert render.history["metric/ClassProbability[flamingo]"].shape == (1, 2)


STRIPES = {"horizontal_stripes": 0.0, "diagonal_stripes": 45.0, "vertical_stripes": 90.0,
           "antidiagonal_stripes": 135.0}


@pytest.mark.slow
def test_demo_config_images_are_classified_as_their_class_and_show_their_stripes(demo, tmp_path):
    from featviz.demo import stripe_coherence, stripe_orientation

    fv.configs.parse(["demo_classes"], ["Visualizer.steps = 60"])  # 3 rounds instead of 15
    classes = list(gin.query_parameter("CLASSES/macro.value"))
    with gin.unlock_config():
        render = experiment(str(tmp_path))
    targets = [demo.class_index(name) for name in classes]
    param = fv.Pixel(64, init="uniform")  # the config's start: uniform noise, seed 0
    start = param.to_images(param.initial(len(classes), 0)).numpy()
    before = demo.model.predict(start, verbose=0)[np.arange(len(classes)), targets]
    after = demo.model.predict(render.images, verbose=0)[np.arange(len(classes)), targets]
    assert np.all(before < 0.5), dict(zip(classes, before.round(3)))
    assert np.all(after > 0.9), dict(zip(classes, after.round(3)))
    for name, expected in STRIPES.items():
        image = render.images[classes.index(name)]
        error = abs((stripe_orientation(image) - expected + 90.0) % 180.0 - 90.0)
        assert error < 20 and stripe_coherence(image) > 0.5, (name, stripe_orientation(image))
    assert {"grid.png", "animation.gif", "history.npz"} <= {p.name for p in tmp_path.iterdir()}
