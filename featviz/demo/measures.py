"""Measures of how much an image looks like a demo class: stripe orientation and coherence.

Tests and experiments use them to check that a visualization *looks like* its class (see the
orientation convention in `featviz.demo`).
"""

import numpy as np

from featviz.demo.patterns import LUMA

def _orientation_moment(image: np.ndarray) -> complex:
    """Power-weighted mean of ``exp(2i * line angle)`` over the image's spatial frequencies.

    Doubling the angle makes a line at 0 and 180 degrees the same, so aligned frequencies add up
    and orthogonal ones cancel.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        image = image @ LUMA.astype(np.float64)
    if image.ndim != 2:
        raise ValueError(
            f"image must be [height, width] or [height, width, 3], got shape {np.shape(image)}."
        )
    height, width = image.shape
    # A Hann window removes the spurious horizontal and vertical frequencies that the
    # discontinuity between opposite image borders would otherwise add.
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2((image - image.mean()) * window)) ** 2
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    # The wave vector points across the lines; rows grow downwards, so "up" is -fy. The lines
    # run 90 degrees from the wave vector, which flips the sign of the doubled-angle phasor.
    wave_angle = np.arctan2(-fy, fx)
    total = power.sum()
    if total <= 0.0:
        return 0j
    return complex(-(power * np.exp(2j * wave_angle)).sum() / total)


def stripe_orientation(image: np.ndarray) -> float:
    """Dominant direction of the lines in an image, measured from its 2-D Fourier power spectrum.

    Used to check that a generated image or a visualization of a stripe class shows stripes
    running the right way. Angles follow the module convention: 0 horizontal, 45 "/" (bottom-left
    to top-right), 90 vertical, 135 "\\". The result is meaningless for isotropic images; check
    ``stripe_coherence`` first.

    Args:
        image: ``[height, width, 3]`` RGB (converted to luminance) or ``[height, width]``.

    Returns:
        Angle in degrees in ``[0, 180)``.

    Raises:
        ValueError: if ``image`` has another rank.
    """
    angle = np.degrees(np.angle(_orientation_moment(image))) / 2.0
    return float(angle % 180.0)


def stripe_coherence(image: np.ndarray) -> float:
    """How strongly one orientation dominates an image's Fourier power spectrum.

    Args:
        image: ``[height, width, 3]`` RGB (converted to luminance) or ``[height, width]``.

    Returns:
        A value in ``[0, 1]``: near 1 for straight stripes, near 0 for isotropic images
        (noise, rings, dots, flat colour) and for images with two orthogonal line sets
        (checkerboard, grid).

    Raises:
        ValueError: if ``image`` has another rank.
    """
    return float(abs(_orientation_moment(image)))
