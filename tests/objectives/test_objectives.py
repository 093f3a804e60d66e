"""Objectives: arithmetic, batch targeting, gradients, ascent, and errors for bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz.objectives import LOGITS, Features


def _features(model: fv.VisModel, objective: fv.Objective, images: tf.Tensor) -> Features:
    extract = model.extractor(objective.layers)
    return Features(extract(model.preprocess(images)), images, model)


def test_operators_build_new_flat_sums_with_readable_names():
    a, b = fv.ClassLogit("one"), fv.Channel("conv2", 5)
    combined = a - 0.1 * b + 1e-3 * fv.TotalVariation()
    assert combined.name == "ClassLogit[one] - 0.1*Channel[conv2:5] + 0.001*TotalVariation"
    assert [w for w, _ in combined.terms()] == pytest.approx([1.0, -0.1, 1e-3])
    assert (-a).terms()[0][0] == -1.0
    assert (a / 4).terms()[0][0] == 0.25
    assert sum([a, b]).terms() == (a + b).terms()
    # Operands are unchanged: each operator returns a new objective.
    assert a.terms() == ((1.0, a),) and a.batch is None
    assert combined.layers == (LOGITS, "conv2")


def test_arithmetic_gives_the_gradients_of_the_hand_written_sum(tiny):
    images = tf.Variable(tf.random.stateless_uniform([2, 32, 32, 3], seed=[1, 2]))
    objective = 2.0 * fv.ClassLogit("one") - 0.5 * fv.Channel("conv2", 3) + 0.1 * fv.TotalVariation()
    with tf.GradientTape(persistent=True) as tape:
        features = _features(tiny, objective, images)
        combined = tf.reduce_sum(objective(features))
        logits = features[LOGITS][:, 1]
        channel = tf.reduce_mean(features["conv2"][..., 3], axis=[1, 2])
        dy = tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1]), axis=[1, 2, 3])
        dx = tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1]), axis=[1, 2, 3])
        by_hand = tf.reduce_sum(2.0 * logits - 0.5 * channel - 0.1 * (dx + dy))
    np.testing.assert_allclose(combined.numpy(), by_hand.numpy(), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(combined, images).numpy(),
                               tape.gradient(by_hand, images).numpy(), rtol=1e-4, atol=1e-7)


def test_at_and_stack_target_single_images(tiny):
    images = tf.random.stateless_uniform([3, 32, 32, 3], seed=[0, 1])
    stacked = fv.stack([fv.ClassLogit(i) for i in range(3)])
    assert stacked.batch_size == 3
    values = stacked(_features(tiny, stacked, images)).numpy()
    raw = tiny.extractor([LOGITS])(images)[LOGITS].numpy()
    np.testing.assert_allclose(values, [raw[0, 0], raw[1, 1], raw[2, 2]], rtol=1e-5)
    assert fv.objectives.image_names(stacked, 3) == ["ClassLogit[0]", "ClassLogit[1]", "ClassLogit[2]"]


def test_class_probability_is_the_softmax_output(tiny):
    images = tf.random.stateless_uniform([2, 32, 32, 3], seed=[3, 4])
    objective = fv.ClassProbability("two")
    value = objective(_features(tiny, objective, images)).numpy()
    np.testing.assert_allclose(value, tiny.model(images).numpy()[:, 2], rtol=1e-5)


def test_neuron_reads_one_position(tiny):
    images = tf.random.stateless_uniform([1, 32, 32, 3], seed=[5, 6])
    centre = fv.Neuron("conv1", 2)
    corner = fv.Neuron("conv1", 2, position=(0, 31))
    acts = tiny.extractor(["conv1"])(images)["conv1"].numpy()
    assert centre(_features(tiny, centre, images)).numpy()[0] == pytest.approx(acts[0, 16, 16, 2])
    assert corner(_features(tiny, corner, images)).numpy()[0] == pytest.approx(acts[0, 0, 31, 2])


@pytest.mark.parametrize("objective", [
    fv.ClassLogit("three"), fv.ClassProbability("three"), fv.Channel("conv2", 7),
    fv.Neuron("conv2", 1), fv.Channel("conv1", 0) + fv.Channel("conv2", 0),
    fv.Direction("conv2", [1.0, -0.5] + [0.25] * 14), fv.Direction("conv1", [1.0] * 8, cosine_power=2),
], ids=lambda o: o.name)
def test_a_few_ascent_steps_raise_each_objective(tiny, objective):
    render = fv.Visualizer(tiny, objective, param=fv.Pixel(32, init="uniform"), steps=30,
                           learning_rate=0.1).run()
    values = -render.history["loss"]
    assert values[-1] > values[0] + 1e-4


@fv.objective
def channel_contrast(features, layer, a, b):
    """Channel a's mean minus channel b's: a custom objective written as a function."""
    acts = features[layer]
    return tf.reduce_mean(acts[..., a] - acts[..., b], axis=[1, 2])


def test_function_objectives_declare_their_layers_and_compose(tiny):
    objective = channel_contrast("conv2", a=1, b=2)
    assert objective.layers == ("conv2",)
    assert objective.name == "channel_contrast[layer='conv2', a=1, b=2]"
    images = tf.random.stateless_uniform([1, 32, 32, 3], seed=[7, 8])
    acts = tiny.extractor(["conv2"])(images)["conv2"].numpy()
    expected = (acts[..., 1] - acts[..., 2]).mean()
    assert objective(_features(tiny, objective, images)).numpy()[0] == pytest.approx(expected, rel=1e-5)
    assert (objective + fv.ClassLogit(0)).layers == ("conv2", LOGITS)


def test_unknown_layer_lists_valid_layers(tiny):
    with pytest.raises(ValueError, match=r"no layer 'conv3'.*Closest: 'conv2', 'conv1'.*Valid layer names: image, conv1, pool1"):
        fv.Channel("conv3", 0).check(tiny)


def test_channel_out_of_range_names_the_channel_count(tiny):
    with pytest.raises(ValueError, match=r"channel 16 is out of range for layer 'conv2', which has 16 channels \(valid: 0..15\)"):
        fv.Channel("conv2", 16).check(tiny)
    with pytest.raises(ValueError, match="which has 8 channels"):
        fv.Neuron("conv1", -1).check(tiny)


def test_neuron_position_outside_the_grid(tiny):
    with pytest.raises(ValueError, match=r"position \(40, 0\) is outside the 32x32 grid of layer 'conv1' \(valid rows 0..31"):
        fv.Neuron("conv1", 0, position=(40, 0)).check(tiny)
    with pytest.raises(ValueError, match="spatial grid"):
        fv.Neuron("gap", 0).check(tiny)


@pytest.mark.parametrize("vector", [np.eye(16)[5], 3.0 * np.eye(16)[5]], ids=["one-hot", "scaled"])
def test_direction_along_one_channel_is_that_channel(tiny, vector):
    images = tf.Variable(tf.random.stateless_uniform([2, 32, 32, 3], seed=[9, 1]))
    direction, channel = fv.Direction("conv2", vector), fv.Channel("conv2", 5)
    with tf.GradientTape(persistent=True) as tape:
        along = direction(_features(tiny, direction, images))
        reference = channel(_features(tiny, channel, images))
    np.testing.assert_allclose(along.numpy(), reference.numpy(), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(along, images).numpy(),
                               tape.gradient(reference, images).numpy(), rtol=1e-5, atol=1e-9)


def test_direction_is_the_mean_dot_product_and_the_cosine_weighting_rewards_alignment(tiny):
    images = tf.random.stateless_uniform([2, 32, 32, 3], seed=[2, 9])
    vector = np.linspace(-1.0, 2.0, 8)
    unit = vector / np.linalg.norm(vector)
    acts = tiny.extractor(["conv1"])(images)["conv1"].numpy()
    dots = acts @ unit  # [batch, height, width]
    plain = fv.Direction("conv1", vector)
    np.testing.assert_allclose(plain(_features(tiny, plain, images)).numpy(), dots.mean(axis=(1, 2)), rtol=1e-5)
    cosine = np.maximum(dots / (np.linalg.norm(acts, axis=-1) + 1e-4), 0.1)
    weighted = fv.Direction("conv1", vector, cosine_power=2.0)
    np.testing.assert_allclose(weighted(_features(tiny, weighted, images)).numpy(),
                               (dots * cosine ** 2).mean(axis=(1, 2)), rtol=1e-5)


def test_direction_vector_must_have_one_component_per_channel(tiny):
    with pytest.raises(ValueError, match=r"Direction vector has 8 components but layer 'conv2' has 16 channels"):
        fv.Direction("conv2", [1.0] * 8).check(tiny)
    with pytest.raises(ValueError, match="not all zero"):
        fv.Direction("conv2", [0.0] * 16)
    with pytest.raises(ValueError, match="1-D sequence"):
        fv.Direction("conv2", np.ones((4, 4)))
    with pytest.raises(ValueError, match="cosine_power must be a number >= 0"):
        fv.Direction("conv2", [1.0] * 16, cosine_power=-1)
    # gin passes lists; the objective stores an immutable tuple. The name shows the largest
    # components of the unit vector (3-4-5 triangle: 0.6 and -0.8).
    direction = fv.Direction("conv2", [0, 3, 0, -4] + [0] * 12)
    assert direction.vector == (0.0, 3.0, 0.0, -4.0) + (0.0,) * 12
    assert direction.name == "Direction[conv2:-0.8*c3+0.6*c1]"
    assert fv.Direction("conv2", [1.0] * 16, cosine_power=2).name.endswith("+...,cos^2]")


def test_unknown_class_name_suggests_close_names(tiny):
    with pytest.raises(ValueError, match="thre"):
        fv.ClassLogit("thre").check(tiny)


def test_bad_operands_and_batch_indices():
    with pytest.raises(TypeError):
        fv.ClassLogit(0) + 1.0
    with pytest.raises(ZeroDivisionError):
        fv.ClassLogit(0) / 0
    with pytest.raises(ValueError, match="non-negative int"):
        fv.ClassLogit(0).at(-1)
    with pytest.raises(TypeError, match="element 1"):
        fv.stack([fv.ClassLogit(0), "flamingo"])
    with pytest.raises(ValueError, match="one weight per term"):
        fv.weighted_sum([fv.ClassLogit(0)], [1.0, 2.0])


def _head_model(head: str) -> keras.Model:
    """conv -> global pool -> the logits as MobileNet (1x1 conv, reshape) or VGG16 (Dense) make them."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    if head == "conv1x1_reshape":
        x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = keras.layers.Conv2D(4, 1, name="conv_preds")(x)
        x = keras.layers.Reshape((4,))(x)
        outputs = keras.layers.Activation("softmax", name="predictions")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D()(x)
        outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("head", ["conv1x1_reshape", "dense_fused_softmax"])
def test_class_logits_and_channels_without_naming_the_logits_layer(head):
    model = fv.load_model(_head_model(head))
    images = tf.random.stateless_uniform([2, 16, 16, 3], seed=[0, 1])
    pooled = tf.reduce_mean(model.model.get_layer("conv")(images), axis=[1, 2])  # [2, 6]
    dense = model.model.get_layer("conv_preds" if head == "conv1x1_reshape" else "predictions")
    kernel, bias = (w.numpy() for w in dense.weights)
    logits = pooled.numpy() @ kernel.reshape(6, 4) + bias  # the pre-softmax values, by hand
    features = fv.Features(model.extractor([fv.LOGITS, "conv"])(images), images, model)
    np.testing.assert_allclose(fv.ClassLogit(2)(features).numpy(), logits[:, 2], rtol=1e-5)
    np.testing.assert_allclose(fv.Channel("conv", 5)(features).numpy(), pooled[:, 5], rtol=1e-5)
    render = fv.Visualizer(model, fv.ClassLogit(2), param=fv.Fourier(16), steps=8).run()
    assert render.history["ClassLogit[2]"][-1, 0] > render.history["ClassLogit[2]"][0, 0]


def test_channel_objectives_give_one_channel_per_image(tiny):
    units = [("conv1", 3), ["conv2", 7]]
    objectives = fv.channel_objectives(units)
    assert [(type(o), o.layer, o.channel, o.batch) for o in objectives] == [
        (fv.Channel, "conv1", 3, 0), (fv.Channel, "conv2", 7, 1)]
    with pytest.raises(ValueError, match=r"units \('conv1', 3\) appear more than once"):
        fv.channel_objectives([("conv1", 3), ("conv1", 3)])
    with pytest.raises(ValueError, match="non-empty list of \\(layer, channel\\) pairs"):
        fv.channel_objectives([("conv1", 3, 1)])
    with pytest.raises(TypeError, match="units must be a list"):
        fv.channel_objectives("conv1")
