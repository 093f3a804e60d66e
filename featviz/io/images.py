"""Image files in and out: one loader for every input image, and atomic writes.

Arrays in featviz are float images in [0, 1], [height, width, channels] or
[batch, height, width, channels], channels 1 (grayscale) or 3 (RGB).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def looks_like_path(value: object) -> bool:
    """Whether a string names an image file (by its suffix or by existing)."""
    return isinstance(value, (str, os.PathLike)) and (
        str(value).lower().endswith(_IMAGE_SUFFIXES) or os.path.exists(value)
    )


def load_image(path: str | os.PathLike, size: tuple[int, int] | None = None, channels: int = 3) -> np.ndarray:
    """Reads any image Pillow can read as float32 [height, width, channels] in [0, 1].

    Grayscale, palette and RGBA files are converted explicitly (alpha is composited on white, so
    transparent regions do not turn black); `size` (height, width) resizes with Lanczos.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not an image Pillow can read, or `channels` is not 1 or 3.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            image = image.convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(
            f"{str(path)!r} is not an image file Pillow can read ({error}); "
            f"use a PNG, JPEG, BMP, GIF, TIFF or WebP file"
        ) from None
    if size is not None:
        height, width = size
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array[..., None] if channels == 1 else array


def as_image_batch(
    source: str | os.PathLike | np.ndarray,
    size: tuple[int, int] | None,
    channels: int,
    batch: int,
    what: str = "image",
) -> np.ndarray:
    """A file path or an array as float32 [batch, height, width, channels] in [0, 1].

    Every image featviz reads (initial images, target images) comes through here. A string or
    path is always a file, read by `load_image`. Arrays are [height, width], [height, width,
    channels] or [batch, height, width, channels], float in [0, 1] or uint8 in [0, 255] (what
    scikit-image and Pillow give; divided by 255); 2- and 4-channel arrays (gray or RGB with
    alpha) are composited on white, as files are. Grayscale becomes RGB by repetition and RGB
    becomes grayscale by averaging when `channels` asks for it. A single image is repeated
    `batch` times; an array batch must already have `batch` images.

    Args:
        source: a file path, or an array as above.
        size: (height, width) to resize to (Lanczos for files, antialiased bilinear for
            arrays), or None to keep the image's own size.
        channels: 1 or 3, the channels of the result.
        batch: the number of images of the result.
        what: how error messages name the image ("initial image", "target image").

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: an unreadable file, a bad shape, or values outside [0, 1].
        TypeError: an array of a dtype other than float or uint8.
    """
    if isinstance(source, (str, os.PathLike)):
        array = load_image(source, size, channels)
    else:
        array = _float_array(source, what)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim == 3:
        array = np.repeat(array[None], batch, axis=0)
    if array.ndim != 4 or array.shape[0] != batch or array.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(
            f"an {what} must be [height, width], [height, width, 1|2|3|4] or [{batch}, height, "
            f"width, 1|2|3|4]; got shape {array.shape}"
        )
    if array.shape[-1] in (2, 4):
        # Alpha composited on white, as `load_image` does for files.
        alpha = array[..., -1:]
        array = array[..., :-1] * alpha + (1.0 - alpha)
    if array.shape[-1] != channels:
        array = array.mean(-1, keepdims=True) if channels == 1 else np.repeat(array, 3, axis=-1)
    if size is not None and array.shape[1:3] != tuple(size):
        import tensorflow as tf  # only needed for resizing arrays

        array = tf.image.resize(array, size, method="bilinear", antialias=True).numpy()
    return array.astype(np.float32)


def _float_array(source: object, what: str) -> np.ndarray:
    """An array-like image as float32 in [0, 1]: uint8 is divided by 255, floats are checked."""
    array = np.asarray(source)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"an {what} must be a file path, a float array in [0, 1] or a uint8 array in "
            f"[0, 255]; got {type(source).__name__} of dtype {array.dtype}"
        )
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} values must be finite; the array has NaN or infinite values")
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if low < 0 or high > 1:
        raise ValueError(
            f"{what} values must be in [0, 1], got [{low:g}, {high:g}] (for 0-255 pixel values, "
            f"pass a uint8 array or divide by 255)"
        )
    return array


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats to uint8, rounding (values outside [0, 1] are clipped)."""
    return np.round(np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def to_pil(image: np.ndarray) -> Image.Image:
    """One [height, width, 1|2|3|4] float image as a Pillow image (L, LA, RGB or RGBA).

    A last channel beyond 1 or 3 is opacity (`featviz.params.Transparent`), kept as alpha.
    """
    array = to_uint8(image)
    if array.ndim != 3 or array.shape[-1] not in _MODES:
        raise ValueError(f"an image is [height, width, 1|2|3|4], got shape {array.shape}")
    mode = _MODES[array.shape[-1]]
    return Image.fromarray(array[..., 0] if mode == "L" else array, mode)


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Calls `write(tmp_path)` then renames onto `path`, so a crash never leaves half a file.

    The temporary file is created beside `path` with mode 0o666, which the process's umask
    narrows as for any new file (`tempfile.mkstemp` would make it readable by its owner only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return path


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Writes one [height, width, 1|2|3|4] float image in [0, 1] as a PNG (alpha kept), atomically."""
    pil = to_pil(image)
    return atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"))


def slug(name: str) -> str:
    """A file-name-safe version of an objective name (at most 100 characters)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:100] or "image"
