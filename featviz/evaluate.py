"""Quality measures for visualizations: do they survive perturbations, how much fine detail.

- `perturbation_robustness`: for each named perturbation, the fraction of images the model
  still classifies as their target class, and the mean target probability. A visualization with
  global structure keeps its class when it is downscaled and blurred; one made of
  high-frequency adversarial texture does not.
- `high_frequency_power`: per image, the share of spectral power above half the Nyquist
  frequency (above 0.25 cycles per pixel, measured radially).

Both take images as produced by `Visualizer.run` (`Render.images`): float [batch, height,
width, channels] in [0, 1].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import gin
import numpy as np
import tensorflow as tf

from featviz.models import VisModel, load_model
from featviz.objectives import LOGITS
from featviz.transforms import Downscale, GaussianBlur, Transform, compose


@dataclasses.dataclass(frozen=True)
class Robustness:
    """How a batch of images fares under one perturbation.

    Attributes:
        accuracy: fraction of images whose top-1 class is their target, in [0, 1].
        target_probability: mean over images of the softmax probability of the target.
        predicted: [batch] int, the top-1 class of each perturbed image.
        probabilities: [batch] float, each image's target probability.
    """

    accuracy: float
    target_probability: float
    predicted: np.ndarray
    probabilities: np.ndarray


@gin.register(module="featviz")
def downscale_blur(factor: float = 2.0, sigma: float = 1.0) -> Transform:
    """The "global structure" perturbation: `Downscale(factor)`, then `GaussianBlur(sigma)`.

    Returns:
        A transform: images [batch, height, width, channels] -> the same shape.
    """
    return compose([Downscale(factor), GaussianBlur(sigma)])


def default_perturbations() -> dict[str, Transform]:
    """{"none": the images as they are, "downscale2_blur1": `downscale_blur(2, 1.0)`}."""
    return {"none": compose([]), "downscale2_blur1": downscale_blur(2.0, 1.0)}


def _image_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must be [batch, height, width, 1 or 3] in [0, 1], got shape {images.shape}"
        )
    return images


def perturbation_robustness(
    model: VisModel | str,
    images: np.ndarray,
    targets: Sequence[int | str],
    perturbations: Mapping[str, Transform] | None = None,
    batch_size: int = 32,
    seed: int = 0,
) -> dict[str, Robustness]:
    """Classifies perturbed images and measures how many keep their target class.

    Each perturbed batch is resized to the model's input (bilinear, as in the optimization
    step), preprocessed the model's way, and classified from its logits.

    Args:
        model: a `VisModel` or anything `load_model` accepts.
        images: [batch, height, width, channels] in [0, 1].
        targets: one class index or name per image.
        perturbations: name -> transform (`transform(images, seed) -> images`, any featviz
            transform); default `default_perturbations()`.
        batch_size: images classified at once.
        seed: seeds random perturbations (deterministic ones ignore it).

    Returns:
        {name: Robustness}, in the order of `perturbations`.
    """
    model = load_model(model)
    images = _image_batch(images)
    targets = list(targets)
    if len(targets) != len(images):
        raise ValueError(f"got {len(targets)} targets for {len(images)} images; give one per image")
    indices = np.array([model.class_index(target) for target in targets], dtype=np.int64)
    perturbations = default_perturbations() if perturbations is None else dict(perturbations)
    extract = model.extractor([LOGITS])
    seed_tensor = tf.constant([seed, 0], tf.int64)
    results = {}
    for name, perturb in perturbations.items():
        probabilities = []
        for start in range(0, len(images), batch_size):
            chunk = perturb(tf.constant(images[start:start + batch_size]), seed_tensor)
            chunk = tf.clip_by_value(chunk, 0.0, 1.0)
            if model.input_size is not None:
                chunk = tf.image.resize(chunk, model.input_size, method="bilinear")
            logits = extract(model.preprocess(chunk))[LOGITS]
            probabilities.append(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1).numpy())
        all_probabilities = np.concatenate(probabilities)
        predicted = all_probabilities.argmax(axis=-1)
        target_probabilities = all_probabilities[np.arange(len(indices)), indices]
        results[name] = Robustness(
            accuracy=float(np.mean(predicted == indices)),
            target_probability=float(np.mean(target_probabilities)),
            predicted=predicted,
            probabilities=target_probabilities,
        )
    return results


def high_frequency_power(images: np.ndarray, cutoff: float = 0.5) -> np.ndarray:
    """The share of each image's spectral power above `cutoff` times the Nyquist frequency.

    Per channel, the image minus its (window-weighted) mean is multiplied by a 2-D Hann window
    (so that the jump between opposite borders adds no spurious high frequencies) and
    Fourier-transformed; the power of all channels is summed. The share is the power at radial
    frequencies sqrt(fx^2 + fy^2) above `cutoff * 0.5` cycles per pixel, over all power (the
    mean, i.e. the zero frequency, is excluded by construction). A constant image has no power
    and gets 0. White noise has a flat spectrum, so its expected share is the fraction of the
    frequency square [-0.5, 0.5)^2 outside the disc of radius 0.25: 1 - pi/16, about 0.804, for
    the default cutoff. Natural photographs are far lower (their power falls as 1/f^2).

    Args:
        images: [batch, height, width, channels] in [0, 1].
        cutoff: the threshold as a fraction of the Nyquist frequency (0.5 cycles per pixel).

    Returns:
        [batch] float64 shares in [0, 1].
    """
    images = _image_batch(images).astype(np.float64)
    if not 0 < cutoff < np.sqrt(2):
        raise ValueError(f"cutoff must be in (0, sqrt(2)) times Nyquist, got {cutoff!r}")
    _, height, width, _ = images.shape
    window = np.outer(np.hanning(height), np.hanning(width))[None, :, :, None]
    # Subtracting the window-weighted mean makes the windowed image's zero frequency exactly 0.
    mean = (images * window).sum(axis=(1, 2), keepdims=True) / window.sum()
    spectrum = np.fft.fft2((images - mean) * window, axes=(1, 2))
    power = (np.abs(spectrum) ** 2).sum(axis=-1)  # [batch, height, width]
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    high = np.sqrt(fx ** 2 + fy ** 2) > cutoff * 0.5
    total = power.sum(axis=(1, 2))
    high_power = (power * high).sum(axis=(1, 2))
    return np.divide(high_power, total, out=np.zeros_like(total), where=total > 1e-12 * height * width)
