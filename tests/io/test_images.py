"""Display adjustment: HSV saturation/value scaling checked against scikit-image's HSV model."""

from __future__ import annotations

import numpy as np
import pytest

import featviz as fv


def test_identity_factors_leave_images_unchanged():
    images = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(fv.adjust_hsv(images), images, atol=1e-6)


@pytest.mark.parametrize("saturation, value", [(0.5, 1.0), (1.0, 0.7), (1.6, 1.3), (0.0, 1.0)])
def test_scaling_matches_a_round_trip_through_hsv(saturation, value):
    color = pytest.importorskip("skimage.color")
    images = np.random.default_rng(1).uniform(size=(4, 6, 6, 3)).astype(np.float32)
    hsv = color.rgb2hsv(images)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * value, 0, 1)
    np.testing.assert_allclose(fv.adjust_hsv(images, saturation, value), color.hsv2rgb(hsv), atol=1e-5)


def test_grayscale_images_only_change_brightness():
    gray = np.linspace(0, 1, 16, dtype=np.float32).reshape(1, 4, 4, 1)
    np.testing.assert_allclose(fv.adjust_hsv(gray, saturation=3.0, value=0.5), gray * 0.5, atol=1e-6)


def test_hsv_adjust_is_a_validated_callable():
    images = np.full((1, 2, 2, 3), [0.8, 0.4, 0.4], np.float32)
    np.testing.assert_allclose(fv.HSVAdjust(saturation=0.0)(images)[0, 0, 0], [0.8, 0.8, 0.8], atol=1e-6)
    with pytest.raises(ValueError, match="HSVAdjust.value must be a number >= 0, got -1"):
        fv.HSVAdjust(value=-1)
