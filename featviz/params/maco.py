"""MACO: the phase of the spectrum is optimized, its magnitude fixed to natural images'.

Fel et al., "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
Optimization" (NeurIPS 2023). `Fourier` lets the optimizer set every frequency's amplitude, and
on deep networks it fills the spectrum's high end with noise; `Maco` fixes each frequency's
amplitude to the average of natural photographs and optimizes only the phases, so every render
has a natural image's power spectrum, whatever the network.

The magnitude spectrum is computed by featviz from the photographs it ships
(`featviz/configs/images/*.jpg`, six scikit-image samples; `spectrum_images` takes any folder
or list of files). Two of the six are not scenes: the Hubble deep field (a star field, 0.174
of its power above half-Nyquist against 0.019-0.037 for the others) and a micrograph. With all
six a random-phase render has 0.042 of its power above half-Nyquist, more than scikit-image's
photographs at 224 px (0.011-0.026); with the four scenes (`SCENE_PHOTOGRAPHS`) 0.024. The
scenes' spectrum was measured and not made the default: on EfficientNet-Lite1 its 16 class
renders were softer and fewer were recognizable by eye (2 of 16 against 4), and under
`maco.gin`'s crops on MobileNet the target probabilities fell (experiments/README_quality.md,
"MACO").

How the spectrum is computed: every 128x128 window of each photograph at a stride of 64
pixels, minus its mean, in the decorrelated colour space the image is built in, multiplied by
a Hann window (so that the window's edges do not add a cross of spurious power along the
axes), then the absolute 2-D FFT of each colour channel, averaged over the windows. That
128-pixel spectrum is resampled (bilinear, DC at the centre) to the render's frequency grid;
frequencies are in cycles per pixel, so the spectrum's shape is the same at any size. MACO pairs this parameterization with random crops of decaying size
(`featviz.transforms.RandomCrop`) and an attribution map, the accumulated image gradient
(`featviz.callbacks.GradientMagnitude`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

from featviz import configs
from featviz import io as image_io
from featviz.params.base import _COLOR_MIX, Parameterization, _logit, _mix_planes

# The photographs featviz ships (package data, `featviz/configs/images`).
SPECTRUM_IMAGES = str(configs.IMAGES)
# The scenes among them, without the star field and the micrograph (the module docstring).
SCENE_PHOTOGRAPHS = tuple(str(configs.IMAGES / f"{name}.jpg")
                          for name in ("astronaut", "chelsea", "coffee", "rocket"))
_WINDOW = 128  # pixels: small enough that every shipped photograph holds several windows
_STRIDE = 64
# Keeps the standardisation finite for a constant image.
_EPS = 1e-5


def _photographs(images: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[str, ...]:
    """The image files `images` names: a folder's *.jpg files, or the files themselves."""
    if isinstance(images, (str, os.PathLike)) and Path(images).is_dir():
        paths = tuple(str(path) for path in sorted(Path(images).glob("*.jpg")))
        if not paths:
            raise ValueError(f"Maco computes its magnitude spectrum from *.jpg photographs; "
                             f"the folder {str(images)!r} holds none")
        return paths
    paths = (str(images),) if isinstance(images, (str, os.PathLike)) else tuple(map(str, images))
    missing = [path for path in paths if not Path(path).is_file()]
    if not paths or missing:
        raise ValueError(f"Maco's spectrum_images must be a folder of *.jpg photographs or "
                         f"a list of image files; {missing or list(paths)!r} "
                         f"{'do not exist' if missing else 'is empty'}")
    return paths


@functools.lru_cache(maxsize=4)
def _window_spectrum(paths: tuple[str, ...]) -> np.ndarray:
    """The mean magnitude spectrum of the photographs' windows, [3, 128, 65], DC at [:, 0, 0].

    Cached: a pure function of the files, read once per process instead of once per trace.
    """
    decorrelate = np.linalg.inv(_COLOR_MIX.T).astype(np.float64)
    hann = np.outer(np.hanning(_WINDOW), np.hanning(_WINDOW))[..., None]
    total, count = np.zeros((3, _WINDOW, _WINDOW // 2 + 1)), 0
    for path in paths:
        image = image_io.load_image(path).astype(np.float64) @ decorrelate
        height, width = image.shape[:2]
        for top in range(0, height - _WINDOW + 1, _STRIDE):
            for left in range(0, width - _WINDOW + 1, _STRIDE):
                window = image[top:top + _WINDOW, left:left + _WINDOW]
                window = (window - window.mean(axis=(0, 1))) * hann
                total += np.abs(np.fft.rfft2(np.moveaxis(window, -1, 0)))
                count += 1
    if count == 0:
        raise ValueError(f"the photographs {list(paths)!r} are smaller than {_WINDOW} pixels")
    return (total / count).astype(np.float32)


def natural_spectrum(size: tuple[int, int],
                     images: str | os.PathLike | Sequence[str | os.PathLike] = SPECTRUM_IMAGES
                     ) -> np.ndarray:
    """The photographs' mean magnitude spectrum at an image size (see the module docstring).

    Args:
        size: (height, width) of the images.
        images: a folder of *.jpg photographs, or a list of image files.

    Returns:
        float32 [3, height, width // 2 + 1], in the layout of `tf.signal.rfft2d`.
    """
    height, width = size
    spectrum = _window_spectrum(_photographs(images))
    # Resample with the DC term at the centre of the (wrapped) vertical axis, so that
    # interpolation runs across zero frequency rather than across the wrap at Nyquist.
    centred = np.fft.fftshift(spectrum, axes=1).transpose(1, 2, 0)  # [128, 65, 3]
    with tf.init_scope():  # eager even while a step is traced: the result is a constant
        resized = tf.image.resize(centred, (height, width // 2 + 1), method="bilinear").numpy()
    return np.fft.ifftshift(resized.transpose(2, 0, 1), axes=1).astype(np.float32)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Maco(Parameterization):
    """Phase-only Fourier parameterization with a natural images' magnitude spectrum (MACO).

    The raw variable is the phase, [batch, 3, height, width // 2 + 1] in radians. The image is
    the inverse FFT of magnitude * exp(i phase) in the decorrelated colour space, standardised
    per image (zero mean, unit variance, as in xplique's implementation), recorrelated and
    squashed by a sigmoid. Images map back (`from_images`) to the phase of their spectrum, so
    between-step operations and a photograph as `init` work, but the magnitude stays fixed:
    a photograph comes back with natural-image amplitudes, not its own.

    Attributes:
        spectrum_images: the photographs whose magnitude spectrum is used: a folder of *.jpg
            files (default: the shipped six, `SPECTRUM_IMAGES`), or a tuple of image files
            (`SCENE_PHOTOGRAPHS`: the four scenes among them).
        init: "normal" draws phases uniformly in [-pi, pi) (a random-phase natural-spectrum
            image; `init_std` is not used), "uniform" or an image as for every
            parameterization.
    """

    spectrum_images: str | tuple[str, ...] = SPECTRUM_IMAGES

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.depth != 3:
            raise ValueError(f"Maco makes colour images (channels=3), got channels={self.channels!r}")
        if not isinstance(self.spectrum_images, (str, os.PathLike)):  # gin gives lists: hashable
            object.__setattr__(self, "spectrum_images", tuple(map(str, self.spectrum_images)))
        _photographs(self.spectrum_images)  # a bad path fails here, not inside the first trace

    def magnitude(self) -> np.ndarray:
        """The fixed magnitude spectrum, [3, height, width // 2 + 1]."""
        return natural_spectrum(self.shape, self.spectrum_images)

    def _normal_init(self, batch: int, seed: int) -> tf.Tensor:
        height, width = self.shape
        return tf.random.stateless_uniform([batch, 3, height, width // 2 + 1], seed=[seed, 0],
                                           minval=-np.pi, maxval=np.pi)

    def to_images(self, raw: tf.Tensor) -> tf.Tensor:
        height, width = self.shape
        magnitude = tf.constant(self.magnitude())
        spectrum = tf.complex(magnitude * tf.cos(raw), magnitude * tf.sin(raw))
        planes = tf.signal.irfft2d(spectrum, fft_length=[height, width])  # [b, 3, h, w]
        mean, variance = tf.nn.moments(planes, axes=[1, 2, 3], keepdims=True)
        planes = _mix_planes((planes - mean) / (tf.sqrt(variance) + _EPS))
        return tf.transpose(tf.sigmoid(planes), [0, 2, 3, 1])

    def from_images(self, images: tf.Tensor) -> tf.Tensor:
        height, width = self.shape
        linear = tf.einsum("bhwc,cd->bhwd", _logit(tf.cast(images, tf.float32)),
                           tf.constant(np.linalg.inv(_COLOR_MIX.T).astype(np.float32)))
        spectrum = tf.signal.rfft2d(tf.transpose(linear, [0, 3, 1, 2]), fft_length=[height, width])
        return tf.math.angle(spectrum)
