"""Quality measures on hand-made inputs: spectra with known answers, perturbed classification."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz.analysis.evaluate import (channel_robustness, downscale_blur, high_frequency_power,
                              perturbation_robustness, strong_perturbations)
from featviz.objectives import LOGITS


def _sinusoid(fx: float, fy: float, size: int = 128) -> np.ndarray:
    """A grey sinusoid of frequency (fx, fy) cycles per pixel, [1, size, size, 3] in [0, 1]."""
    y, x = np.mgrid[:size, :size]
    wave = 0.5 + 0.4 * np.sin(2 * np.pi * (fx * x + fy * y))
    return np.repeat(wave[None, :, :, None], 3, axis=-1)


def test_constant_and_black_images_have_no_high_frequency_power():
    images = np.stack([np.full((64, 64, 3), 0.3), np.zeros((64, 64, 3)), np.ones((64, 64, 3))])
    np.testing.assert_array_equal(high_frequency_power(images), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("fx, fy, expected", [
    (0.1, 0.0, 0.0),    # well below half-Nyquist (0.25 cycles/pixel)
    (0.4, 0.0, 1.0),    # well above
    (0.0, 0.4, 1.0),
    (0.2, 0.2, 1.0),    # radius 0.28: above, although each axis alone is below 0.25
    (0.16, 0.16, 0.0),  # radius 0.23: below
])
def test_sinusoids_fall_on_the_side_of_the_cutoff_given_by_their_radial_frequency(fx, fy, expected):
    assert high_frequency_power(_sinusoid(fx, fy))[0] == pytest.approx(expected, abs=0.01)


def test_white_noise_puts_one_minus_pi_over_16_of_its_power_above_half_nyquist():
    # A flat spectrum: the share is the area of [-0.5, 0.5)^2 outside the disc of radius 0.25.
    noise = np.random.default_rng(0).uniform(size=(4, 128, 128, 3))
    shares = high_frequency_power(noise)
    assert shares.shape == (4,)
    assert shares.mean() == pytest.approx(1 - np.pi / 16, abs=0.01)


def test_blurring_lowers_high_frequency_power():
    noise = np.random.default_rng(1).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    blurred = fv.GaussianBlur(1.0)(tf.constant(noise)).numpy()
    # A sigma-1 Gaussian passes at most exp(-4 pi^2 0.25^2) = 8.5% of the power above 0.25.
    assert np.all(high_frequency_power(blurred) < 0.15 * high_frequency_power(noise))


def test_high_frequency_power_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"\[batch, height, width, 1 or 3\].*\(64, 64\)"):
        high_frequency_power(np.zeros((64, 64)))


def test_downscale_keeps_coarse_structure_and_removes_fine_detail():
    coarse, fine = _sinusoid(0.05, 0.0, 64), _sinusoid(0.45, 0.0, 64)
    perturb = downscale_blur(2.0, 1.0)
    seed = tf.constant([0, 0], tf.int64)
    kept = perturb(tf.constant(coarse, tf.float32), seed).numpy()
    removed = perturb(tf.constant(fine, tf.float32), seed).numpy()
    assert kept.shape == coarse.shape
    assert np.std(kept[:, 16:48, 16:48]) > 0.7 * np.std(coarse)
    # Area averaging passes cos(0.45 pi) = 16% of the amplitude (aliased to a coarser wave).
    assert np.std(removed[:, 16:48, 16:48]) < 0.2 * np.std(fine)
    with pytest.raises(ValueError, match="Downscale factor must be a number >= 1, got 0.5"):
        fv.Downscale(0.5)


def test_perturbation_robustness_classifies_each_perturbed_batch(tiny):
    images = np.random.default_rng(2).uniform(size=(5, 32, 32, 3)).astype(np.float32)
    logits = tiny.extractor([LOGITS])(tiny.preprocess(tf.constant(images)))[LOGITS]
    probabilities = tf.nn.softmax(logits).numpy()
    own = probabilities.argmax(-1)
    grey = np.full_like(images, 0.5)
    grey_logits = tiny.extractor([LOGITS])(tf.constant(grey))[LOGITS]
    grey_class = int(tf.argmax(grey_logits[0]))

    results = perturbation_robustness(
        tiny, images, list(own), batch_size=2,
        perturbations={"none": fv.compose([]), "grey": lambda batch, seed: batch * 0 + 0.5})
    assert list(results) == ["none", "grey"]
    assert results["none"].accuracy == 1.0
    np.testing.assert_allclose(results["none"].probabilities, probabilities.max(-1), rtol=1e-5)
    assert results["none"].target_probability == pytest.approx(probabilities.max(-1).mean(), rel=1e-5)
    # Every grey image is classified as the grey image's class.
    np.testing.assert_array_equal(results["grey"].predicted, [grey_class] * 5)
    assert results["grey"].accuracy == pytest.approx(np.mean(own == grey_class))


def test_perturbation_robustness_resolves_names_resizes_and_checks_targets(tiny):
    images = np.random.default_rng(3).uniform(size=(2, 48, 48, 3)).astype(np.float32)
    results = perturbation_robustness(tiny, images, ["one", "zero"])
    assert set(results) == {"none", "downscale2_blur1"}
    assert results["none"].predicted.shape == (2,)
    with pytest.raises(ValueError, match="got 1 targets for 2 images"):
        perturbation_robustness(tiny, images, ["one"])
    with pytest.raises(ValueError, match="unknown class 'onee'"):
        perturbation_robustness(tiny, images, ["onee", "one"])


# Strong perturbations, repeated draws and channel robustness ----------------------------------

def test_strong_perturbations_keep_the_size_and_do_what_their_names_say():
    ramp = np.tile(np.linspace(0.0, 1.0, 65, dtype=np.float32)[None, :, None], (65, 1, 3))[None]
    ramp = np.repeat(ramp, 8, axis=0)
    perturbations = strong_perturbations()
    assert list(perturbations) == ["rescale", "rotate", "crop60", "blur"]
    seed = tf.constant([0, 1], tf.int64)
    out = {name: p(tf.constant(ramp), seed).numpy() for name, p in perturbations.items()}
    assert all(o.shape == ramp.shape for o in out.values())
    # A 60% crop enlarged to the full width spans 60% of the ramp's range, at per-image offsets.
    spans = out["crop60"][:, 32, -1, 0] - out["crop60"][:, 32, 0, 0]
    np.testing.assert_allclose(spans, 0.6, atol=0.02)
    assert len(np.unique(np.round(out["crop60"][:, 32, 0, 0], 3))) == 8
    # Rescaling: zoomed out images show the grey surround at the border, zoomed in ones do not.
    widths = out["rescale"][:, 32, -1, 0] - out["rescale"][:, 32, 0, 0]
    grey = np.isclose(out["rescale"][:, 32, 0, 0], 0.5)
    assert grey.any() and (~grey).any()
    assert np.all(widths[~grey] > 0.6)  # (1/1.5 of the range is the least a zoom-in shows)
    np.testing.assert_allclose(out["blur"][:, 32, 20:45], ramp[:, 32, 20:45], atol=1e-4)  # linear: kept


def test_repeats_give_every_draw_its_own_seed_and_pool_the_results(tiny):
    images = np.random.default_rng(4).uniform(size=(3, 32, 32, 3)).astype(np.float32)
    own = tiny.extractor([LOGITS])(tf.constant(images))[LOGITS].numpy().argmax(-1)
    seeds = []

    def recording(batch, seed):
        seeds.append(tuple(seed.numpy()))
        return batch

    results = perturbation_robustness(tiny, images, list(own), {"same": recording}, batch_size=2,
                                      seed=5, repeats=3)
    assert len(seeds) == 6 and len(set(seeds)) == 6  # 2 chunks x 3 draws
    np.testing.assert_array_equal(results["same"].predicted, np.tile(own, 3))
    assert results["same"].accuracy == 1.0
    with pytest.raises(ValueError, match="repeats must be a positive int, got 0"):
        perturbation_robustness(tiny, images, list(own), repeats=0)


def test_channel_robustness_finds_the_top_channel_and_the_kept_activation(tiny):
    images = np.random.default_rng(5).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    conv1, conv2 = (tiny.extractor([layer])(tf.constant(images))[layer].numpy().mean(axis=(1, 2))
                    for layer in ("conv1", "conv2"))
    units = [("conv1", int(conv1[0].argmax())), ("conv1", int(conv1[1].argmin())),
             ("conv2", int(conv2[2].argmax())), ("conv2", 3)]
    darker = {"none": fv.compose([]), "half": lambda batch, seed: batch * 0.5}
    results = channel_robustness(tiny, images, units, darker, batch_size=3, repeats=2)
    expected_top = [conv1[0].argmax(), conv1[1].argmax(), conv2[2].argmax(), conv2[3].argmax()]
    np.testing.assert_array_equal(results["none"].top_channels, np.tile(expected_top, 2))
    assert results["none"].accuracy == pytest.approx(np.mean([1, 0, 1, expected_top[3] == 3]))
    assert results["none"].retained == pytest.approx(1.0)
    targets = [conv1[0, units[0][1]], conv1[1, units[1][1]], conv2[2, units[2][1]], conv2[3, 3]]
    np.testing.assert_allclose(results["none"].activations[:4], targets, rtol=1e-5)
    half = {"conv1": None, "conv2": None}
    for layer in half:
        half[layer] = tiny.extractor([layer])(tf.constant(images * 0.5))[layer].numpy().mean(axis=(1, 2))
    halved = np.array([half["conv1"][0, units[0][1]], half["conv1"][1, units[1][1]],
                       half["conv2"][2, units[2][1]], half["conv2"][3, 3]])
    kept = [h / t for h, t in zip(halved, targets) if t > 0]
    assert results["half"].retained == pytest.approx(np.mean(kept), rel=1e-5)
    with pytest.raises(ValueError, match="channel 8 is out of range for layer 'conv1'"):
        channel_robustness(tiny, images, [("conv1", 8)] * 4)
    with pytest.raises(ValueError, match="got 1 units for 4 images"):
        channel_robustness(tiny, images, [("conv1", 0)])
