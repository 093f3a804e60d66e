"""Image files in and out: one loader for every input image, atomic PNG writing, labelled grids.

Arrays in featviz are float images in [0, 1], [height, width, channels] or
[batch, height, width, channels], channels 1 (grayscale) or 3 (RGB).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import gin
import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

# mkstemp creates files readable by their owner only; outputs get the usual umask-based mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK

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


def adjust_hsv(images: np.ndarray, saturation: float = 1.0, value: float = 1.0) -> np.ndarray:
    """Scales the HSV saturation and value of RGB images, keeping their hue; for display.

    Uses the HSV model of `colorsys`/scikit-image (value = max channel, saturation = chroma /
    value) without converting: every channel is `value' * (1 - saturation' * (max - c) / chroma)`,
    where (max - c) / chroma depends on the hue alone. Scaled values and saturations are clipped
    to [0, 1]. Grayscale images have no saturation: only `value` applies.

    Args:
        images: [..., channels] floats in [0, 1], channels 1 or 3.
        saturation: factor on the saturation (1: unchanged, 0: grey).
        value: factor on the value (brightness of the brightest channel).

    Returns:
        float32 array of the same shape, in [0, 1].
    """
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    brightest = images.max(axis=-1, keepdims=True)
    chroma = brightest - images.min(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        old_saturation = np.where(brightest > 0, chroma / brightest, 0.0)
        position = np.where(chroma > 0, (brightest - images) / chroma, 0.0)
    new_value = np.clip(brightest * value, 0.0, 1.0)
    new_saturation = np.clip(old_saturation * saturation, 0.0, 1.0)
    return (new_value * (1.0 - new_saturation * position)).astype(np.float32)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class HSVAdjust:
    """A display adjustment: `adjust_hsv` with fixed factors, for `ImageSaver`/`Animation`.

    It changes only what is written to files; the optimized images (and `Render.images`) are
    untouched. Example (gin): `ImageSaver.display = @HSVAdjust()`, `HSVAdjust.saturation = 1.3`.

    Attributes:
        saturation: factor on the HSV saturation.
        value: factor on the HSV value.
    """

    saturation: float = 1.0
    value: float = 1.0

    def __post_init__(self) -> None:
        for name in ("saturation", "value"):
            factor = getattr(self, name)
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
                raise ValueError(f"HSVAdjust.{name} must be a number >= 0, got {factor!r}")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """images [batch, height, width, channels] in [0, 1] -> adjusted, same shape."""
        return adjust_hsv(images, self.saturation, self.value)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats to uint8, rounding (values outside [0, 1] are clipped)."""
    return np.round(np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def to_pil(image: np.ndarray) -> Image.Image:
    """One [height, width, 1|3] float image as a Pillow image (grayscale stays grayscale)."""
    array = to_uint8(image)
    return Image.fromarray(array[..., 0], "L") if array.shape[-1] == 1 else Image.fromarray(array, "RGB")


def atomic_write(path: str | os.PathLike, write: callable) -> Path:
    """Calls `write(tmp_path)` then renames onto `path`, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Writes one [height, width, 1|3] float image in [0, 1] as a PNG, atomically."""
    pil = to_pil(image)
    return atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"))


def grid(images: np.ndarray, labels: Sequence[str] | None = None, columns: int | None = None,
         scale: int = 1, pad: int = 2) -> np.ndarray:
    """Tiles [batch, height, width, channels] images into one image, each with its label below.

    Returns:
        float32 [grid height, grid width, 3] in [0, 1] (grayscale tiles are shown as RGB).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    batch, height, width, _ = images.shape
    columns = columns or int(np.ceil(np.sqrt(batch)))
    rows = int(np.ceil(batch / columns))
    tile_h, tile_w = height * scale, width * scale
    label_h = 12 if labels else 0
    canvas = Image.new("RGB", (columns * (tile_w + pad) + pad, rows * (tile_h + label_h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for i in range(batch):
        row, col = divmod(i, columns)
        x, y = pad + col * (tile_w + pad), pad + row * (tile_h + label_h + pad)
        tile = to_pil(images[i]).resize((tile_w, tile_h), Image.Resampling.NEAREST)
        canvas.paste(tile, (x, y))
        if labels:
            text = _fit(draw, font, str(labels[i]), tile_w)
            draw.text((x, y + tile_h), text, fill="black", font=font)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _fit(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, text: str, width: int) -> str:
    """Shortens `text` with an ellipsis until it fits in `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def rows_figure(rows: Sequence[np.ndarray], row_labels: Sequence[str],
                tile_labels: Sequence[Sequence[str]] | None = None, scale: int = 1,
                pad: int = 2) -> np.ndarray:
    """One labelled line of tiles per row: a row label on the left, then the row's images.

    Rows may hold different numbers and sizes of tiles (the tiles of one row share a size).

    Args:
        rows: one [tiles, height, width, channels] array in [0, 1] per row, top to bottom.
        row_labels: one label per row, written left of it.
        tile_labels: per row, one label per tile written below it; None for no tile labels.
        scale: integer upscaling of the tiles (nearest neighbour).
        pad: pixels of white between tiles and rows.

    Returns:
        float32 [figure height, figure width, 3] in [0, 1].
    """
    rows = [np.asarray(row, dtype=np.float32) for row in rows]
    if not rows or len(row_labels) != len(rows) or any(row.ndim != 4 for row in rows):
        raise ValueError(
            f"rows_figure needs at least one [tiles, height, width, channels] row and one label "
            f"per row; got {len(rows)} rows of shapes {[row.shape for row in rows]} and "
            f"{len(row_labels)} labels"
        )
    if tile_labels is not None and [len(t) for t in tile_labels] != [len(row) for row in rows]:
        raise ValueError("tile_labels must hold one label per tile of each row")
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = int(max(measure.textlength(str(label), font=font) for label in row_labels)) + 2 * pad
    caption_h = 12 if tile_labels is not None else 0
    heights = [max(row.shape[1] * scale, 12) + caption_h for row in rows]
    widths = [len(row) * (row.shape[2] * scale + pad) for row in rows]
    canvas = Image.new("RGB", (label_w + max(widths) + pad, sum(heights) + pad * (len(rows) + 1)), "white")
    draw = ImageDraw.Draw(canvas)
    y = pad
    for r, (row, label, height) in enumerate(zip(rows, row_labels, heights)):
        tile_h, tile_w = row.shape[1] * scale, row.shape[2] * scale
        draw.text((pad, y + (tile_h - 10) // 2), str(label), fill="black", font=font)
        for i, image in enumerate(row):
            x = label_w + i * (tile_w + pad)
            canvas.paste(to_pil(image).convert("RGB").resize((tile_w, tile_h), Image.Resampling.NEAREST), (x, y))
            if tile_labels is not None:
                text = _fit(draw, font, str(tile_labels[r][i]), tile_w)
                draw.text((x, y + tile_h), text, fill="black", font=font)
        y += height + pad
    return np.asarray(canvas, dtype=np.float32) / 255.0


def outline(image: np.ndarray, box: tuple[int, int, int, int], color: tuple[float, float, float],
            width: int = 1) -> np.ndarray:
    """A copy of an image with a rectangle drawn along the inside of `box`.

    Args:
        image: [height, width, 1|3] in [0, 1] (grayscale is returned as RGB).
        box: (top, left, bottom, right), bottom and right exclusive, as
            `ReceptiveField.region` returns it.
        color: RGB in [0, 1].
        width: line width in pixels.

    Returns:
        float32 [height, width, 3] in [0, 1].
    """
    pil = to_pil(image).convert("RGB")
    top, left, bottom, right = box
    fill = tuple(int(round(255 * c)) for c in color)
    ImageDraw.Draw(pil).rectangle((left, top, right - 1, bottom - 1), outline=fill, width=width)
    return np.asarray(pil, dtype=np.float32) / 255.0


# Anchors of matplotlib's viridis colormap (perceptually uniform, readable in grayscale),
# interpolated linearly: featviz does not depend on matplotlib.
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                    dtype=np.float32) / 255.0
_COLORMAPS = ("viridis", "gray")


def colorize(values: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Maps values in [0, 1] to colours.

    Args:
        values: [...] floats in [0, 1] (clipped).
        cmap: "viridis" or "gray".

    Returns:
        float32 [..., 3] in [0, 1].
    """
    if cmap not in _COLORMAPS:
        raise ValueError(f"cmap must be one of {_COLORMAPS}, got {cmap!r}")
    values = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    if cmap == "gray":
        return np.repeat(values[..., None], 3, axis=-1)
    position = values * (len(_VIRIDIS) - 1)
    low = np.minimum(np.floor(position).astype(int), len(_VIRIDIS) - 2)
    fraction = (position - low)[..., None]
    return (1 - fraction) * _VIRIDIS[low] + fraction * _VIRIDIS[low + 1]
