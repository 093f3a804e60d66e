"""Figures: labelled grids and rows of images, boxes, colour maps and display adjustments.

Everything here takes and returns float images in [0, 1] ([height, width, channels] or
[batch, height, width, channels]); nothing is written to disk (see `featviz.io.images`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import gin
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from featviz.io.images import to_pil


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


def over_checkerboard(images: np.ndarray, square: int = 8) -> np.ndarray:
    """Images with opacity last, [..., height, width, 2|4], composited over a grey checkerboard.

    The usual way to show transparency: what is see-through shows the squares.
    """
    images = np.asarray(images, dtype=np.float32)
    height, width = images.shape[-3:-1]
    rows, cols = np.indices((height, width)) // square
    board = np.where((rows + cols) % 2 == 0, 0.8, 0.6).astype(np.float32)[..., None]
    color, alpha = images[..., :-1], images[..., -1:]
    return color * alpha + board * (1.0 - alpha)


def grid(images: np.ndarray, labels: Sequence[str] | None = None, columns: int | None = None,
         scale: int = 1, pad: int = 2) -> np.ndarray:
    """Tiles [batch, height, width, channels] images into one image, each with its label below.

    Returns:
        float32 [grid height, grid width, 3] in [0, 1] (grayscale tiles are shown as RGB,
        tiles with opacity over a checkerboard).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.shape[-1] in (2, 4):
        images = over_checkerboard(images)
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
