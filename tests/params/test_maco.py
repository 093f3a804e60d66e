"""MACO: a fixed natural magnitude spectrum, phases optimized, decaying crops, an attribution map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz.params.base import _COLOR_MIX, _logit


def test_natural_spectrum_falls_with_frequency():
    spectrum = fv.natural_spectrum((64, 64))
    assert spectrum.shape == (3, 64, 33)
    low, high = spectrum[:, 1:4, 1:4].mean(), spectrum[:, 28:36, 28:].mean()
    assert low > 10 * high  # natural images: roughly 1/f amplitudes


def test_maco_changes_phases_but_keeps_the_magnitude():
    param = fv.Maco(32)
    images = [param.to_images(param.initial(1, seed)) for seed in (0, 1)]
    assert np.abs(images[0].numpy() - images[1].numpy()).mean() > 0.05  # different pictures

    def amplitudes(image):
        linear = tf.einsum("bhwc,cd->bhwd", _logit(image), np.linalg.inv(_COLOR_MIX.T).astype(np.float32))
        return np.abs(np.fft.rfft2(np.moveaxis(linear.numpy()[0], -1, 0)))

    a, b = amplitudes(images[0]), amplitudes(images[1])
    # Column 0 and the Nyquist column are made Hermitian by the inverse FFT: left out.
    ratio = a[:, 1:, 1:-1] / b[:, 1:, 1:-1]
    np.testing.assert_allclose(np.median(ratio), 1.0, atol=0.05)  # the same spectrum...
    assert np.corrcoef(np.log(a[:, 1:, 1:-1].ravel()), np.log(b[:, 1:, 1:-1].ravel()))[0, 1] > 0.99


def test_random_crop_shrinks_over_the_run():
    ramp = tf.tile(tf.linspace(0.0, 1.0, 64)[None, None, :, None], [8, 64, 1, 3])
    crop = fv.RandomCrop(sizes=(0.9, 0.2))
    early = crop(ramp, tf.constant([0, 1]), tf.constant(0.0)).numpy()
    late = crop(ramp, tf.constant([0, 1]), tf.constant(0.99)).numpy()
    assert early.shape == late.shape == (8, 64, 64, 3)
    spans = [np.ptp(x[..., 0], axis=(1, 2)).mean() for x in (early, late)]
    np.testing.assert_allclose(spans, [0.9, 0.2], atol=0.06)
    with pytest.raises(ValueError, match="needs its progress"):
        fv.compose([crop])(ramp, tf.constant([0, 1]))
    with pytest.raises(ValueError, match="fractions"):
        fv.RandomCrop(sizes=(0.5, 0.0))


def test_maco_raises_a_neuron_and_returns_its_attribution_map(tiny):
    attribution = fv.GradientMagnitude(save=False)
    render = fv.Visualizer(tiny, fv.Neuron("conv2", 0), param=fv.Maco(32),
                           transforms=[], steps=24, learning_rate=0.1,
                           callbacks=[attribution]).run()
    values = render.history["Neuron[conv2:0]"][:, 0]
    assert values[-8:].mean() > values[:3].mean()
    maps = attribution.maps
    assert maps.shape == (1, 32, 32) and maps.max() == pytest.approx(1.0)
    # Without crops, pixels outside the centre neuron's 8x8 field never get a gradient.
    assert maps[0, 12:20, 12:20].mean() > 0.1
    assert maps[0, :8].max() == 0.0 and maps[0, :, -8:].max() == 0.0


def test_the_scenes_spectrum_keeps_renders_as_fine_as_photographs_the_default_does_not():
    from featviz.analysis.evaluate import high_frequency_power

    assert sorted(Path(p).stem for p in fv.params.maco.SCENE_PHOTOGRAPHS) == [
        "astronaut", "chelsea", "coffee", "rocket"]

    def grain(param):
        return high_frequency_power(param.to_images(param.initial(2, 0)).numpy()).mean()

    # scikit-image's photographs at 224 px have 0.011-0.026 of their power above
    # half-Nyquist; the whole folder, with the star field and the micrograph, about 0.04.
    scenes = fv.params.maco.SCENE_PHOTOGRAPHS
    assert 0.011 < grain(fv.Maco(224, spectrum_images=scenes)) < 0.026
    assert grain(fv.Maco(224)) > 0.035


def test_spectrum_images_takes_a_folder_or_files_and_names_a_bad_path(tmp_path):
    files = list(fv.params.maco.SCENE_PHOTOGRAPHS[:2])
    assert fv.Maco(16, spectrum_images=files).spectrum_images == tuple(files)  # gin's lists
    assert fv.Maco(16, spectrum_images=files).magnitude().shape == (3, 16, 9)
    with pytest.raises(ValueError, match=r"\['/no/such\.jpg'\] do not exist"):
        fv.Maco(16, spectrum_images=["/no/such.jpg"])
    with pytest.raises(ValueError, match="holds none"):
        fv.Maco(16, spectrum_images=str(tmp_path))
