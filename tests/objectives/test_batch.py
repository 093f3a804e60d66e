"""Batch objectives: diversity spreads a batch apart, interpolation moves A -> B, alignment holds frames together."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz.objectives import Features

SIZE = 32


def _render(model, objective, param, steps=48):
    return fv.Visualizer(model, objective, param=param, transforms=[], steps=steps,
                         learning_rate=0.05, redirect_relu_steps=0).run()


def _similarity(model, images, layer):
    """Mean off-diagonal Gram cosine similarity of a batch at `layer`."""
    acts = model.activations(images, [layer])[layer]
    similarity = fv.gram_similarity(acts).numpy()
    batch = len(similarity)
    return (similarity.sum() - np.trace(similarity)) / (batch * (batch - 1))


def _channel(model, images, layer, channel):
    acts = model.activations(images, [layer])[layer]
    return acts[..., channel].numpy().mean(axis=(1, 2))


def test_diversity_lowers_gram_similarity_and_each_image_still_raises_the_channel(tiny):
    channel = fv.Channel("conv2", 0)
    param = fv.Fourier(SIZE, batch=4, init_std=0.5)
    plain = _render(tiny, channel, param)
    diverse = _render(tiny, channel + 2.0 * fv.Diversity("conv1"), param)
    start = fv.Fourier(SIZE, batch=4, init_std=0.5).to_images(param.initial(4, 0)).numpy()
    # ReLU Grams are all positive, so similarities sit near 1: compare the distance from 1.
    spread = 1.0 - _similarity(tiny, diverse.images, "conv1")
    assert spread > 5 * (1.0 - _similarity(tiny, plain.images, "conv1"))
    assert np.all(_channel(tiny, diverse.images, "conv2", 0) > _channel(tiny, start, "conv2", 0) + 0.1)


def test_diversity_value_is_minus_lucids_sum_split_over_images(tiny):
    images = np.random.default_rng(0).uniform(size=(3, SIZE, SIZE, 3)).astype(np.float32)
    features = Features(tiny.activations(images, ["conv1"]),
                        tf.constant(images), tiny)
    values = fv.Diversity("conv1")(features).numpy()
    similarity = fv.gram_similarity(features["conv1"]).numpy()
    lucid = sum(similarity[i, j] for i in range(3) for j in range(3) if i != j) / 3
    assert values.shape == (3,)
    np.testing.assert_allclose(values.sum(), -lucid, rtol=1e-5)


def test_interpolation_weights_move_monotonically_from_a_to_b(tiny):
    weights = fv.ChannelInterpolate.weights(6).numpy()
    np.testing.assert_allclose(weights, np.linspace(0, 1, 6), atol=1e-6)
    assert np.all(np.diff(weights) > 0)
    render = _render(tiny, fv.ChannelInterpolate("conv2", 0, "conv2", 2),
                     fv.Fourier(SIZE, batch=4), steps=64)
    a = _channel(tiny, render.images, "conv2", 0)
    b = _channel(tiny, render.images, "conv2", 2)
    assert a[0] - b[0] > a[-1] - b[-1]


def test_alignment_lowers_the_frame_to_frame_distance(tiny):
    interpolate = fv.ChannelInterpolate("conv2", 0, "conv2", 2)
    param = fv.SharedLowRes(SIZE, batch=5, shared=((1, 2), (2, 4), (1, 8)))
    loose = _render(tiny, interpolate, param, steps=64)
    aligned = _render(tiny, interpolate + 50.0 * fv.Alignment("conv1", decay_ratio=2.0), param, steps=64)
    assert fv.frame_distances(aligned.images).mean() < 0.8 * fv.frame_distances(loose.images).mean()


def test_batch_objective_errors_name_the_bad_value(tiny):
    with pytest.raises(ValueError, match="decay_ratio"):
        fv.Alignment("conv1", decay_ratio=0)
    with pytest.raises(ValueError, match="spatial output"):
        fv.Diversity("logits").check(tiny)
    with pytest.raises(ValueError, match="out of range"):
        fv.ChannelInterpolate("conv2", 3, "conv2", 99).check(tiny)
