"""The loop: determinism, no retracing, non-finite steps, shape checks, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import featviz as fv


def test_same_seed_same_images_other_seed_other_images(tiny):
    def run(seed):
        return fv.Visualizer(tiny, fv.ClassLogit(1), param=fv.Fourier(32), transforms=[fv.Jitter(2)],
                             steps=5, seed=seed).run().images

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_the_step_is_traced_once(tiny):
    visualizer = fv.Visualizer(tiny, fv.ClassLogit(1), param=fv.Fourier(32),
                               transforms=fv.standard_transforms(jitter=2, pad=2), steps=8)
    original = visualizer._build_step

    def build_and_keep():
        step = original()
        visualizer.compiled = step
        return step

    visualizer._build_step = build_and_keep
    visualizer.run()
    assert visualizer.compiled.experimental_get_tracing_count() == 1


@fv.objective
def explodes(features, layer):
    """An objective that divides by zero from step 3 on."""
    acts = tf.reduce_mean(features[layer], axis=[1, 2, 3])
    return acts / tf.maximum(3.0 - tf.cast(tf.timestamp() * 0, tf.float32) - 3.0, 0.0)


def test_non_finite_loss_stops_with_a_message_and_keeps_finite_images(tiny):
    visualizer = fv.Visualizer(tiny, explodes("conv1"), param=fv.Pixel(32), steps=5)
    with pytest.raises(fv.NonFiniteError, match=r"step 0: objective term\(s\) explodes\[layer='conv1'\] became NaN"):
        visualizer.run()
    assert np.all(np.isfinite(visualizer.images().numpy()))


def test_render_size_differs_from_model_input_is_resized(tiny):
    render = fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Fourier(48), steps=2).run()
    assert render.images.shape == (1, 48, 48, 3)


def test_models_that_are_not_image_models_are_refused():
    import keras

    inputs = keras.Input((10,))
    dense = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match=r"input is \[batch, height, width, 1 or 3\].*input shape \(None, 10\)"):
        fv.load_model(dense)
