"""Redirected ReLU gradients: exact maths on small tensors, and dead starts that come alive."""

from __future__ import annotations


import keras
import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz.models.gradients import redirected_relu, redirected_relu6


def _gradient(fn, inputs, upstream, active=True):
    inputs = tf.constant(inputs, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs, active)
    gradient = tape.gradient(outputs, inputs, output_gradients=tf.constant(upstream, tf.float32))
    return outputs.numpy(), gradient.numpy()


@pytest.mark.parametrize("fn, reference", [(redirected_relu, tf.nn.relu), (redirected_relu6, tf.nn.relu6)])
def test_values_never_change_and_live_images_get_the_ordinary_gradient(fn, reference):
    rng = np.random.default_rng(0)
    inputs = rng.normal(scale=5.0, size=(3, 4, 4, 2))
    upstream = rng.normal(size=(3, 4, 4, 2))
    outputs, gradient = _gradient(fn, inputs, upstream)
    expected_inputs = tf.constant(inputs, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(expected_inputs)
        expected = reference(expected_inputs)
    ordinary = tape.gradient(expected, expected_inputs, output_gradients=tf.constant(upstream, tf.float32))
    np.testing.assert_array_equal(outputs, expected.numpy())
    np.testing.assert_array_equal(gradient, ordinary.numpy())


def test_a_dead_image_gets_only_the_gradient_that_raises_its_inputs():
    # Image 0: every input negative (dead); image 1: alive. The loss is minimised, so an
    # upstream gradient < 0 raises the input.
    inputs = np.array([[-1.0, -2.0, -3.0, -4.0], [1.0, -2.0, 3.0, -4.0]])
    upstream = np.array([[-1.0, 2.0, -3.0, 4.0], [-1.0, -2.0, -3.0, -4.0]])
    _, gradient = _gradient(redirected_relu, inputs, upstream)
    np.testing.assert_array_equal(gradient, [[-1.0, 0.0, -3.0, 0.0], [-1.0, 0.0, -3.0, 0.0]])
    _, ordinary = _gradient(redirected_relu, inputs, upstream, active=False)
    np.testing.assert_array_equal(ordinary, [[0.0, 0.0, 0.0, 0.0], [-1.0, 0.0, -3.0, 0.0]])


def test_an_input_exactly_at_the_edge_counts_as_outside_the_active_range():
    # The gradient is read off the output, as TensorFlow's own: 0 (or 6) could be an input just
    # at the edge, from which lowering (raising) it keeps the unit dead, so that part is blocked.
    _, gradient = _gradient(redirected_relu, np.array([[0.0, 0.0, -1.0]]), np.array([[-1.0, 1.0, 1.0]]))
    np.testing.assert_array_equal(gradient, [[-1.0, 0.0, 0.0]])
    _, gradient = _gradient(redirected_relu6, np.array([[6.0, 6.0, 9.0]]), np.array([[1.0, -1.0, 1.0]]))
    np.testing.assert_array_equal(gradient, [[1.0, 0.0, 1.0]])


def test_relu6_also_lets_saturated_inputs_come_down():
    inputs = np.array([[-1.0, 7.0, 8.0, -3.0]])
    upstream = np.array([[-1.0, 1.0, -1.0, 1.0]])
    _, gradient = _gradient(redirected_relu6, inputs, upstream)
    # -1 is raised (passes), 7 is lowered (passes), 8 pushed higher and -3 pushed lower (blocked).
    np.testing.assert_array_equal(gradient, [[-1.0, 1.0, 0.0, 0.0]])


def test_the_graph_runner_redirects_the_models_relus_and_touches_nothing_else():
    inputs = keras.Input((2, 2, 1))
    dense = keras.layers.Dense(4, activation="relu", kernel_initializer="ones")
    outputs = keras.layers.ReLU(6.0, name="relu6")(dense(keras.layers.Flatten()(inputs)))
    model = fv.load_model(keras.Model(inputs, outputs))
    relu, relu6, activation = tf.nn.relu, tf.nn.relu6, dense.activation
    x = tf.constant(-np.ones((2, 2, 2, 1)), tf.float32)
    extract = model.extractor(["relu6"])
    for redirect, expected in ((None, 0.0), (tf.constant(True), 8.0)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = -tf.reduce_sum(extract(x, redirect)["relu6"])
        gradient = tape.gradient(loss, x)
        assert gradient is not None and float(tf.reduce_sum(tf.cast(gradient != 0, tf.float32))) == expected
    # Nothing process-wide and nothing of the model was swapped, not even for the duration.
    assert tf.nn.relu is relu and tf.nn.relu6 is relu6 and dense.activation is activation


def _dead_model() -> keras.Model:
    """A channel that is negative on every near-grey image, and positive on bright ones.

    Kernel 0.2 everywhere, bias -3: grey (0.5) gives 27 * 0.1 - 3 = -0.3 at every position
    (valid padding: no borders that see zeros), white gives 27 * 0.2 - 3 = 2.4.
    """
    image = keras.Input((24, 24, 3))
    conv = keras.layers.Conv2D(2, 3, activation="relu", name="conv")
    x = conv(image)
    conv.set_weights([np.full((3, 3, 3, 2), 0.2), np.full(2, -3.0)])
    return keras.Model(image, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)), name="dead")


def test_a_dead_start_stays_flat_grey_without_redirection_and_comes_alive_with_the_default():
    model = _dead_model()

    def render(**kwargs):
        # The recipe's transforms and learning rate are pinned: the test is about the redirect.
        return fv.Visualizer(model, fv.Channel("conv", 0), param=fv.Fourier(24), transforms=[],
                             learning_rate=0.05, steps=30, **kwargs).run()

    dead = render(redirect_relu_steps=0)
    assert np.all(dead.history["Channel[conv:0]"] == 0.0) and dead.images.std() < 0.02
    alive = render()
    assert fv.Visualizer(model, fv.Channel("conv", 0)).redirect_relu_steps > 0
    assert alive.history["Channel[conv:0]"][-1, 0] > 0.1 and alive.images.std() > 0.02
