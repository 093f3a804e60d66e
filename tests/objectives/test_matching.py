"""Transfer objectives: reconstruction, style and DeepDream behaviour, target loading, errors."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import skimage.data
import tensorflow as tf
from PIL import Image

import featviz as fv
from featviz.objectives import matching as transfer
from featviz.objectives import LOGITS, Features

SIZE = 32


@pytest.fixture(scope="session")
def photo(tmp_path_factory) -> str:
    """The astronaut photograph as a 64x64 PNG file (the loader resizes it to 32)."""
    image = Image.fromarray(skimage.data.astronaut()).resize((64, 64), Image.Resampling.LANCZOS)
    path = tmp_path_factory.mktemp("images") / "astronaut.png"
    image.save(path)
    return str(path)


@pytest.fixture(scope="session")
def style(tmp_path_factory) -> str:
    """A stained-tissue texture (strong, uniform colours and blobs) as a PNG file."""
    image = Image.fromarray(skimage.data.immunohistochemistry()).resize((64, 64), Image.Resampling.LANCZOS)
    path = tmp_path_factory.mktemp("images") / "tissue.png"
    image.save(path)
    return str(path)


def _features(model: fv.VisModel, keys, images) -> Features:
    images = tf.constant(images, tf.float32)
    return Features(model.extractor(keys)(model.preprocess(images)), images, model)


def _loaded(path: str) -> np.ndarray:
    return fv.load_image(path, (SIZE, SIZE))


def test_activation_match_is_the_normalised_squared_error(tiny, photo):
    images = tf.random.stateless_uniform([2, SIZE, SIZE, 3], seed=[0, 1]).numpy()
    features = _features(tiny, ["conv2"], images)
    target = tiny.extractor(["conv2"])(_loaded(photo)[None])["conv2"].numpy()
    acts = features["conv2"].numpy()
    squared = ((acts - target) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(fv.ActivationMatch("conv2", photo)(features).numpy(),
                               -squared / (target ** 2).sum(), rtol=1e-5)
    np.testing.assert_allclose(fv.ActivationMatch("conv2", photo, normalize=False)(features).numpy(),
                               -squared / target.size, rtol=1e-5)
    # The target itself is matched exactly, also through an array of the same image.
    itself = _features(tiny, ["conv2"], _loaded(photo)[None])
    assert float(fv.ActivationMatch("conv2", _loaded(photo))(itself)[0]) == pytest.approx(0.0, abs=1e-10)


def test_reconstruction_error_falls_steadily_to_a_small_fraction(tiny, photo):
    objective = fv.ActivationMatch("conv2", photo)
    render = fv.Visualizer(tiny, objective, param=fv.Pixel(SIZE), transforms=[], steps=80,
                           learning_rate=0.05).run()
    errors = -render.history[objective.name][:, 0]  # ||a - t||^2 / ||t||^2 per step
    windows = errors.reshape(8, 10).mean(axis=1)
    # Monotone up to noise: every 10-step window is lower than the one before.
    assert np.all(np.diff(windows) < 0), windows
    # Measured: 0.22 at the start, 0.006 after 80 steps.
    assert errors[-1] < 0.1 * errors[0]


def _step_graph_ops(model, objective) -> collections.Counter:
    visualizer = fv.Visualizer(model, objective, param=fv.Pixel(SIZE), steps=2)
    visualizer.run()
    graph = visualizer._compiled.step.get_concrete_function().graph
    return collections.Counter(op.type for op in graph.get_operations())


def test_the_target_is_computed_once_per_run_outside_the_compiled_step(tiny, photo, monkeypatch):
    calls = []
    original = transfer.target_activations
    monkeypatch.setattr(transfer, "target_activations", lambda *a, **k: calls.append(1) or original(*a, **k))
    fv.Visualizer(tiny, fv.ActivationMatch("conv2", photo), param=fv.Pixel(SIZE), steps=6).run()
    assert len(calls) == 1
    # The compiled step convolves only the image being optimized: as many convolutions as an
    # objective with no target, so no second forward pass hides in the step.
    matched = _step_graph_ops(tiny, fv.ActivationMatch("conv2", photo))
    plain = _step_graph_ops(tiny, fv.LayerActivation("conv2"))
    assert matched["Conv2D"] == plain["Conv2D"] == 2


def test_gram_matrix_and_moments_by_hand():
    acts = tf.random.stateless_normal([2, 3, 4, 5], seed=[2, 3])
    flat = acts.numpy().reshape(2, 12, 5)
    np.testing.assert_allclose(fv.gram_matrix(acts).numpy(), np.einsum("bpc,bpd->bcd", flat, flat) / 12,
                               rtol=1e-5, atol=1e-6)
    moments = fv.channel_moments(acts).numpy()
    np.testing.assert_allclose(moments[:, 0], flat.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(moments[:, 1], flat.std(axis=1), rtol=1e-4)


@pytest.mark.parametrize("kind", ["gram", "moments"])
def test_style_distance_falls_by_a_large_factor(tiny, photo, style, kind):
    objective = fv.StyleMatch(["conv1", "conv2"], style, kind=kind)
    render = fv.Visualizer(tiny, objective, param=fv.Pixel(SIZE, init=photo), transforms=[], steps=60,
                           learning_rate=0.05).run()
    distances = -render.history[objective.name][:, 0]
    # Measured: gram 0.25 -> 0.0016, moments 0.089 -> 0.0003 (relative squared distances).
    assert distances[-1] < 0.05 * distances[0]


def test_style_ignores_where_things_are_and_content_does_not(tiny, style):
    texture = _loaded(style)
    shifted = np.roll(texture, 16, axis=1)  # the same texture, half the image further right
    features = _features(tiny, ["conv1", "conv2"], shifted[None])
    style_distance = -float(fv.StyleMatch(["conv1", "conv2"], texture)(features)[0])
    content_distance = -float(fv.ActivationMatch("conv2", texture)(features)[0])
    assert style_distance < 0.05 * content_distance


def test_content_plus_style_by_objective_arithmetic(tiny, photo, style):
    content = fv.ActivationMatch("conv2", photo)
    style_term = fv.StyleMatch(["conv1", "conv2"], style)
    objective = content + 5.0 * style_term
    assert objective.layers == ("conv2", "conv1")
    render = fv.Visualizer(tiny, objective, param=fv.Pixel(SIZE, init=photo), transforms=[], steps=40,
                           learning_rate=0.03).run()
    content_error = -render.history[content.name][:, 0]
    style_distance = -render.history[style_term.name][:, 0]
    # From the content image: the content error starts at 0 and stays small while the style
    # distance falls. Measured: content 0 -> 0.05, style 0.25 -> 0.02.
    assert content_error[0] == pytest.approx(0.0, abs=1e-3)
    assert content_error[-1] < 0.5 * style_distance[0]
    assert style_distance[-1] < 0.3 * style_distance[0]


@pytest.mark.parametrize("param_type", [fv.Pixel, fv.Fourier])
def test_deepdream_starts_at_the_photo_raises_the_layer_and_stays_close(tiny, photo, param_type):
    first = []

    class FirstImages(fv.Callback):
        def wants(self, step):
            return {"images"} if step == 0 else set()

        def on_step_end(self, step, logs=None):
            if step == 0:
                first.append(np.array(logs["images"]))

    objective = fv.LayerActivation("conv2", "l2")
    render = fv.Visualizer(tiny, objective, param=param_type(SIZE, init=photo), transforms=[], steps=30,
                           learning_rate=0.03, callbacks=[FirstImages()]).run()
    original = _loaded(photo)
    # The run starts exactly at the photograph (up to the sigmoid's clipping at 1e-4).
    np.testing.assert_allclose(first[0][0], original, atol=2e-4)
    values = render.history[objective.name][:, 0]
    noise = tf.random.stateless_uniform(original.shape, seed=[0, 0]).numpy()
    distance = np.mean((render.images[0] - original) ** 2)
    # Measured: the RMS activation rises 0.167 -> 0.253 (Pixel), 0.221 (Fourier); the image's
    # MSE from the photo is 0.019 (Pixel), 0.017 (Fourier), against 0.17 for uniform noise.
    assert values[-1] > 1.2 * values[0]
    assert distance < 0.25 * np.mean((noise - original) ** 2)


def test_layer_activation_statistics(tiny):
    images = tf.random.stateless_uniform([2, SIZE, SIZE, 3], seed=[4, 5]).numpy()
    features = _features(tiny, ["conv1"], images)
    acts = features["conv1"].numpy()
    np.testing.assert_allclose(fv.LayerActivation("conv1")(features).numpy(), acts.mean(axis=(1, 2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(fv.LayerActivation("conv1", "l2")(features).numpy(),
                               np.sqrt((acts ** 2).mean(axis=(1, 2, 3))), rtol=1e-5)


def test_names_and_layers():
    assert fv.ActivationMatch("conv2", "dir/cat.jpg").name == "ActivationMatch[conv2~cat]"
    assert fv.StyleMatch(["conv1", "conv2"], np.zeros((8, 8, 3), np.float32), "moments").name == (
        "StyleMatch[moments:conv1,conv2~array8x8]")
    assert fv.StyleMatch(["conv1"], "s.png").at(2).batch == 2
    assert (fv.ActivationMatch(LOGITS, "a.png") + fv.LayerActivation("conv1")).layers == (LOGITS, "conv1")


@pytest.mark.parametrize("make, error, message", [
    (lambda: fv.StyleMatch([], "s.png"), ValueError, r"StyleMatch needs a list of layer names, got \[\]"),
    (lambda: fv.StyleMatch("conv1", "s.png"), ValueError, "needs a list of layer names, got 'conv1'"),
    (lambda: fv.StyleMatch(["conv1"]), TypeError, "StyleMatch needs a target image"),
    (lambda: fv.StyleMatch(["conv1"], "s.png", kind="texture"), ValueError, "kind must be one of"),
    (lambda: fv.ActivationMatch("conv1", 3), TypeError, "a file path or an array"),
    (lambda: fv.LayerActivation("conv1", "max"), ValueError, r"statistic must be one of \('mean', 'l2'\)"),
])
def test_bad_declarations_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_check_refuses_unknown_layers_flat_layers_and_missing_files(tiny, photo, tmp_path):
    with pytest.raises(ValueError, match="no layer 'conv3'"):
        fv.ActivationMatch("conv3", photo).check(tiny)
    with pytest.raises(ValueError, match=r"spatial output.*'gap' has output shape \(None, 16\)"):
        fv.StyleMatch(["conv1", "gap"], photo).check(tiny)
    with pytest.raises(FileNotFoundError, match="missing.png' does not exist"):
        fv.Visualizer(tiny, fv.ActivationMatch("conv1", str(tmp_path / "missing.png")))
    fv.StyleMatch(["conv1", "conv2"], photo).check(tiny)


def test_size_changing_transforms_on_a_free_size_model_are_explained(photo):
    import keras

    inputs = keras.Input((None, None, 3))
    free = fv.load_model(keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv")(inputs)))
    objective = fv.ActivationMatch("conv", photo)
    fv.Visualizer(free, objective, param=fv.Pixel(SIZE), transforms=[], steps=1).run()
    # A size change known while tracing fails then, a random one at the first step.
    with pytest.raises(ValueError, match=r"compares position by position.*\(34, 34, 4\) for the rendered"):
        fv.Visualizer(free, objective, param=fv.Pixel(SIZE), transforms=[fv.Pad(2)], steps=1).run()
    with pytest.raises(tf.errors.InvalidArgumentError, match="compares position by position"):
        fv.Visualizer(free, objective, param=fv.Pixel(SIZE), transforms=[fv.RandomScale((0.75, 0.8))],
                      steps=1).run()
    with pytest.raises(ValueError, match="takes any input size; pass the size"):
        fv.target_activations(free, photo, ["conv"])


def test_unreadable_files_are_refused_clearly(tiny, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match=r"notes.png' is not an image file Pillow can read"):
        fv.ActivationMatch("conv1", str(text)).check(tiny)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fv.target_activations(tiny, str(tmp_path / "nothing"), ["conv1"])


def test_a_grayscale_target_file_feeds_an_rgb_model(tiny, tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((8, 8), 100, np.uint8), "L").save(gray)
    targets = fv.target_activations(tiny, str(gray), ["conv1"])
    expected = tiny.extractor(["conv1"])(np.full((1, SIZE, SIZE, 3), 100 / 255, np.float32))["conv1"]
    np.testing.assert_allclose(targets["conv1"].numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)


def test_arrays_uint8_grayscale_and_rgba_are_converted_explicitly():
    from featviz.io import as_image_batch

    uint8 = np.full((4, 4, 3), 255, np.uint8)
    np.testing.assert_allclose(as_image_batch(uint8, None, 3, 1), np.ones((1, 4, 4, 3)))
    gray = np.full((4, 4), 0.25, np.float32)
    assert as_image_batch(gray, (8, 8), 3, 2).shape == (2, 8, 8, 3)
    rgba = np.concatenate([np.zeros((4, 4, 3)), np.full((4, 4, 1), 0.5)], axis=-1)
    np.testing.assert_allclose(as_image_batch(rgba, None, 3, 1), np.full((1, 4, 4, 3), 0.5))
    with pytest.raises(ValueError, match=r"target image values must be in \[0, 1\], got \[255, 255\].*uint8"):
        as_image_batch(np.full((4, 4, 3), 255.0), None, 3, 1, what="target image")
    with pytest.raises(TypeError, match="dtype int64"):
        as_image_batch(np.zeros((4, 4, 3), np.int64), None, 3, 1)
    with pytest.raises(ValueError, match=r"got shape \(1, 4, 4, 5\)"):
        as_image_batch(np.zeros((4, 4, 5), np.float32), None, 3, 1)
