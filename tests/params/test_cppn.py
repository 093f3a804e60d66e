"""CPPN: fits a target image, renders at any size, and refuses what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest
import keras
import tensorflow as tf

import featviz as fv


def _target(size: int) -> np.ndarray:
    """A smooth disc on a colour ramp, [1, size, size, 3] in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    disc = 1 / (1 + np.exp(12 * (np.sqrt(x ** 2 + y ** 2) - 0.5)))
    image = np.stack([disc, 0.5 + 0.4 * x, 1 - disc], axis=-1)
    return image[None].astype(np.float32)


def test_cppn_fits_a_target_image():
    param = fv.CPPN(32, hidden=16, layers=4)
    target = tf.constant(_target(32))
    raw = tf.Variable(param.initial(1, seed=0))
    optimizer = keras.optimizers.Adam(0.01)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(param.to_images(raw) - target))
        optimizer.apply([tape.gradient(loss, raw)], [raw])
        return loss

    start = float(tf.reduce_mean(tf.square(param.to_images(raw) - target)))
    for _ in range(300):
        loss = float(step())
    assert loss < 0.1 * start


def test_cppn_renders_the_same_picture_at_any_size():
    param = fv.CPPN(32)
    raw = param.initial(2, seed=3) + tf.random.stateless_normal([2, param.parameters], [1, 2], stddev=0.3)
    small = param.to_images(raw).numpy()
    large = param.render(raw, 128).numpy()
    assert large.shape == (2, 128, 128, 3) and small.shape == (2, 32, 32, 3)
    shrunk = tf.image.resize(large, (32, 32), method="area").numpy()
    assert np.abs(shrunk - small).mean() < 0.02
    assert param.render(raw, (24, 48)).shape == (2, 24, 48, 3)


def test_cppn_starts_flat_near_grey_and_refuses_photographs():
    start = fv.CPPN(16).to_images(fv.CPPN(16).initial(1, 0)).numpy()
    np.testing.assert_allclose(start - start[:, :1, :1], 0.0, atol=1e-6)  # one flat colour,
    np.testing.assert_allclose(start, 0.5, atol=0.1)  # near mid-grey
    with pytest.raises(ValueError, match="init must be 'normal'"):
        fv.CPPN(16, init="uniform")
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        fv.CPPN(16, hidden=0)
    with pytest.raises(TypeError, match="no inverse map"):
        fv.CPPN(16).from_images(tf.zeros([1, 16, 16, 3]))
    with pytest.raises(ValueError, match="parameters per image"):
        fv.CPPN(16).render(tf.zeros([1, 5]), 16)


def test_cppn_runs_in_the_visualizer(tiny):
    render = fv.Visualizer(tiny, fv.Channel("conv2", 0), param=fv.CPPN(32, hidden=8, layers=3),
                           transforms=[], steps=16, learning_rate=0.01).run()
    values = render.history["Channel[conv2:0]"][:, 0]
    assert values[-1] > values[0]
