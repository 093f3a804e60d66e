"""Drawing the demo dataset: the class patterns and shapes, and the negatives (no class).

See `featviz.demo` for the dataset's contract and conventions. One module of ~480 lines on
purpose: the twelve classes and the negatives are drawn from the same private primitives
(coordinates, square waves, signed distances, contrasting colours), which splitting would turn
into a cross-module private API.
"""

from collections.abc import Callable

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "vertical_stripes",
    "horizontal_stripes",
    "diagonal_stripes",
    "antidiagonal_stripes",
    "checkerboard",
    "concentric_rings",
    "polka_dots",
    "grid",
    "zigzag",
    "red_squares",
    "green_triangles",
    "blue_crosses",
)
"""Class names of the demo model, in logit order."""

# Angle in degrees in which the lines of each stripe class run (see the module docstring).
_STRIPE_ANGLES = {
    "horizontal_stripes": 0.0,
    "diagonal_stripes": 45.0,
    "vertical_stripes": 90.0,
    "antidiagonal_stripes": 135.0,
}
# Classes 45 degrees apart stay unambiguous with this much random rotation.
_MAX_JITTER_DEGREES = 10.0
# Width in pixels of the anti-aliased transition at every edge; sharper edges alias at small
# periods, softer ones make stripes look like sinusoids.
_EDGE_PX = 1.0
# Minimum difference in luminance between the two colours of a pattern so that it stays visible.
_MIN_CONTRAST = 0.35
# Object colours of the shape classes as (low, high) bounds per RGB channel.
_OBJECT_COLOURS = {
    "red_squares": ((0.75, 0.0, 0.0), (1.0, 0.25, 0.25)),
    "green_triangles": ((0.0, 0.6, 0.0), (0.3, 1.0, 0.3)),
    "blue_crosses": ((0.0, 0.0, 0.7), (0.3, 0.35, 1.0)),
}
# A background this far (Euclidean RGB) from the object colour keeps the hue cue unambiguous.
_MIN_BACKGROUND_DISTANCE = 0.6
_MAX_OBJECTS = 4
# Rec. 601 luma weights of R, G, B.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_Array = np.ndarray
_ClassDrawer = Callable[[np.random.Generator, int, int], _Array]


def _coordinates(size: int) -> tuple[_Array, _Array]:
    """Pixel-centre coordinates with the origin at the image centre and y pointing up.

    Args:
        size: image height and width in pixels.

    Returns:
        ``(x, y)``, each ``[1, size, size]`` float32, broadcastable against ``[n, 1, 1]`` params.
    """
    c = np.arange(size, dtype=np.float32) - (size - 1) / 2.0
    x = np.broadcast_to(c[None, None, :], (1, size, size))
    # Row 0 is the top of the image, so "up" is decreasing row index.
    y = np.broadcast_to(-c[None, :, None], (1, size, size))
    return x, y


def _params(rng: np.random.Generator, n: int, low: float, high: float, log: bool = False) -> _Array:
    """Draws one parameter per image, shaped ``[n, 1, 1]`` to broadcast over pixels."""
    if log:
        values = np.exp(rng.uniform(np.log(low), np.log(high), n))
    else:
        values = rng.uniform(low, high, n)
    return values.astype(np.float32)[:, None, None]


def _rotate(x: _Array, y: _Array, degrees: _Array) -> tuple[_Array, _Array]:
    """Coordinates in a frame rotated counter-clockwise by ``degrees`` ([n, 1, 1])."""
    theta = np.deg2rad(degrees)
    cos, sin = np.cos(theta), np.sin(theta)
    return x * cos + y * sin, -x * sin + y * cos


def _jitter(rng: np.random.Generator, n: int) -> _Array:
    """Random small rotations in degrees, ``[n, 1, 1]``."""
    return _params(rng, n, -_MAX_JITTER_DEGREES, _MAX_JITTER_DEGREES)


def _square_wave(u: _Array, duty: _Array | float, period: _Array | float) -> _Array:
    """Anti-aliased periodic bands: 1 on a fraction ``duty`` of each period, 0 elsewhere.

    Args:
        u: position in periods (any shape); bands are centred on half-integers of ``u``.
        duty: fraction of the period covered by a band, broadcastable to ``u``.
        period: period in pixels, broadcastable to ``u``; sets the edge width to ``_EDGE_PX``.

    Returns:
        Mask in ``[0, 1]`` with the shape of ``u``.
    """
    # Triangle wave: +1 at band centres, -1 halfway between, slope 4 per period, so
    # (tri - threshold) * period / 4 is the signed distance in pixels to the band edge.
    tri = 1.0 - 4.0 * np.abs(u - np.floor(u) - 0.5)
    signed_px = (tri - (1.0 - 2.0 * duty)) * period / 4.0
    return np.clip(0.5 + signed_px / _EDGE_PX, 0.0, 1.0)


def _inside(signed_distance_px: _Array) -> _Array:
    """Anti-aliased mask of the region where a signed distance (pixels, negative inside) < 0."""
    return np.clip(0.5 - signed_distance_px / _EDGE_PX, 0.0, 1.0)


def _stripes(angle: float) -> _ClassDrawer:
    """Returns a drawer of straight stripes whose lines run at ``angle`` degrees."""

    def draw(rng: np.random.Generator, n: int, size: int) -> _Array:
        x, y = _coordinates(size)
        period = _params(rng, n, 5.0, 18.0, log=True)
        duty = _params(rng, n, 0.3, 0.65)
        # The coordinate across the lines is the second one of a frame rotated to the lines.
        _, across = _rotate(x, y, angle + _jitter(rng, n))
        return _square_wave(across / period + _params(rng, n, 0.0, 1.0), duty, period)

    return draw


def _checkerboard(rng: np.random.Generator, n: int, size: int) -> _Array:
    """Checkerboard masks ``[n, size, size]`` with squares of 4 to 13 pixels."""
    x, y = _coordinates(size)
    period = _params(rng, n, 8.0, 26.0, log=True)
    u, v = _rotate(x, y, _jitter(rng, n))
    bands_u = 2.0 * _square_wave(u / period + _params(rng, n, 0.0, 1.0), 0.5, period) - 1.0
    bands_v = 2.0 * _square_wave(v / period + _params(rng, n, 0.0, 1.0), 0.5, period) - 1.0
    return 0.5 + 0.5 * bands_u * bands_v


def _concentric_rings(rng: np.random.Generator, n: int, size: int) -> _Array:
    """Ring masks ``[n, size, size]`` around a centre in the middle half of the image."""
    x, y = _coordinates(size)
    period = _params(rng, n, 5.0, 16.0, log=True)
    # The centre stays inside the middle half so that the rings' curvature is visible.
    cx = _params(rng, n, -size / 4, size / 4)
    cy = _params(rng, n, -size / 4, size / 4)
    radius = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
    u = radius / period + _params(rng, n, 0.0, 1.0)
    return _square_wave(u, _params(rng, n, 0.3, 0.6), period)


def _polka_dots(rng: np.random.Generator, n: int, size: int) -> _Array:
    """Masks ``[n, size, size]`` of dots on a square or staggered lattice."""
    x, y = _coordinates(size)
    period = _params(rng, n, 9.0, 20.0, log=True)
    radius = period * _params(rng, n, 0.18, 0.33)
    u, v = _rotate(x, y, _jitter(rng, n))
    u = u / period + _params(rng, n, 0.0, 1.0)
    v = v / period + _params(rng, n, 0.0, 1.0)
    # Half of the images use a hexagonal-like lattice: every other row shifted by half a period.
    staggered = (rng.random(n) < 0.5).astype(np.float32)[:, None, None]
    u = u + 0.5 * staggered * (np.floor(v) % 2.0)
    du = (u - np.floor(u) - 0.5) * period
    dv = (v - np.floor(v) - 0.5) * period
    return _inside(np.sqrt(du**2 + dv**2) - radius)


def _grid(rng: np.random.Generator, n: int, size: int) -> _Array:
    """Masks ``[n, size, size]`` of thin (1.5 to 3.5 pixel) lines in both directions."""
    x, y = _coordinates(size)
    period = _params(rng, n, 8.0, 20.0, log=True)
    duty = _params(rng, n, 1.5, 3.5) / period
    u, v = _rotate(x, y, _jitter(rng, n))
    lines_u = _square_wave(u / period + _params(rng, n, 0.0, 1.0), duty, period)
    lines_v = _square_wave(v / period + _params(rng, n, 0.0, 1.0), duty, period)
    return np.maximum(lines_u, lines_v)


def _zigzag(rng: np.random.Generator, n: int, size: int) -> _Array:
    """Masks ``[n, size, size]`` of horizontal zigzag bands."""
    x, y = _coordinates(size)
    wavelength = _params(rng, n, 10.0, 22.0, log=True)
    amplitude = wavelength * _params(rng, n, 0.2, 0.4)
    period = _params(rng, n, 8.0, 18.0, log=True)
    u, v = _rotate(x, y, _jitter(rng, n))
    phase = u / wavelength + _params(rng, n, 0.0, 1.0)
    # Shifting horizontal bands by a triangle wave of x bends them into zigzags.
    bent = v + amplitude * (1.0 - 4.0 * np.abs(phase - np.floor(phase) - 0.5))
    return _square_wave(bent / period + _params(rng, n, 0.0, 1.0), _params(rng, n, 0.3, 0.55), period)


def _square_distance(lx: _Array, ly: _Array, half: _Array) -> _Array:
    """Signed distance in pixels to a square of half-side ``half`` at the origin."""
    return np.maximum(np.abs(lx), np.abs(ly)) - half


def _triangle_distance(lx: _Array, ly: _Array, half: _Array) -> _Array:
    """Approximate signed distance to an upright triangle of circumradius ``half``."""
    # Upright equilateral triangle around its centroid: edge normals point down, up-right and
    # up-left; the inradius is half the circumradius, which is ``half``.
    normals = np.deg2rad(np.array([-90.0, 30.0, 150.0], dtype=np.float32))
    distances = [lx * np.cos(a) + ly * np.sin(a) for a in normals]
    return np.maximum.reduce(distances) - 0.5 * half


def _cross_distance(lx: _Array, ly: _Array, half: _Array) -> _Array:
    """Approximate signed distance to a plus sign with arms reaching ``half`` from the centre."""
    arm = 0.22 * half
    horizontal = np.maximum(np.abs(lx) - half, np.abs(ly) - arm)
    vertical = np.maximum(np.abs(lx) - arm, np.abs(ly) - half)
    return np.minimum(horizontal, vertical)


def _disc_distance(lx: _Array, ly: _Array, half: _Array) -> _Array:
    """Signed distance to a disc of radius ``half``."""
    return np.sqrt(lx**2 + ly**2) - half


_Distance = Callable[[_Array, _Array, _Array], _Array]
# The shape of each shape class; discs only appear in negatives (see ``generate_negatives``).
_CLASS_SHAPES: dict[str, _Distance] = {
    "red_squares": _square_distance,
    "green_triangles": _triangle_distance,
    "blue_crosses": _cross_distance,
}
_NEGATIVE_SHAPES: tuple[_Distance, ...] = (*_CLASS_SHAPES.values(), _disc_distance)


def _shapes(distance: _Distance) -> _ClassDrawer:
    """Returns a drawer of 1 to ``_MAX_OBJECTS`` shapes given by a signed ``distance`` function."""

    def draw(rng: np.random.Generator, n: int, size: int) -> _Array:
        x, y = _coordinates(size)
        count = rng.integers(1, _MAX_OBJECTS + 1, n)
        mask = np.zeros((n, size, size), dtype=np.float32)
        for k in range(_MAX_OBJECTS):
            half = _params(rng, n, 0.1 * size, 0.22 * size)
            # Centres keep at least half of each shape inside the image.
            cx = _params(rng, n, -size / 2 + 4, size / 2 - 4)
            cy = _params(rng, n, -size / 2 + 4, size / 2 - 4)
            lx, ly = _rotate(x - cx, y - cy, _jitter(rng, n))
            present = (k < count).astype(np.float32)[:, None, None]
            mask = np.maximum(mask, present * _inside(distance(lx, ly, half)))
        return mask

    return draw


_DRAWERS: dict[str, _ClassDrawer] = {
    **{name: _stripes(angle) for name, angle in _STRIPE_ANGLES.items()},
    "checkerboard": _checkerboard,
    "concentric_rings": _concentric_rings,
    "polka_dots": _polka_dots,
    "grid": _grid,
    "zigzag": _zigzag,
    **{name: _shapes(distance) for name, distance in _CLASS_SHAPES.items()},
}


def _contrasting_pairs(rng: np.random.Generator, n: int) -> tuple[_Array, _Array]:
    """Random colour pairs whose luminance differs by at least ``_MIN_CONTRAST``.

    Returns:
        Two ``[n, 3]`` float32 arrays in ``[0, 1]``.
    """
    first = rng.random((n, 3), dtype=np.float32)
    second = rng.random((n, 3), dtype=np.float32)
    # Rejection sampling: about a third of the pairs are redrawn per round.
    while True:
        bad = np.abs((first - second) @ LUMA) < _MIN_CONTRAST
        if not bad.any():
            return first, second
        first[bad] = rng.random((int(bad.sum()), 3), dtype=np.float32)
        second[bad] = rng.random((int(bad.sum()), 3), dtype=np.float32)


def _class_colours(rng: np.random.Generator, n: int, class_name: str) -> _Array:
    """Object colours of a shape class, ``[n, 3]``."""
    low, high = (np.array(b, dtype=np.float32) for b in _OBJECT_COLOURS[class_name])
    return rng.uniform(low, high, (n, 3)).astype(np.float32)


def _far_colours(rng: np.random.Generator, avoid: _Array) -> _Array:
    """Random colours at least ``_MIN_BACKGROUND_DISTANCE`` from every colour in ``avoid``.

    Args:
        rng: random generator.
        avoid: ``[n, k, 3]``: ``k`` colours to keep away from, per image.

    Returns:
        ``[n, 3]`` float32 in ``[0, 1]``.
    """
    colours = rng.random((avoid.shape[0], 3), dtype=np.float32)
    while True:
        distance = np.linalg.norm(colours[:, None, :] - avoid, axis=-1).min(axis=1)
        bad = distance < _MIN_BACKGROUND_DISTANCE
        if not bad.any():
            return colours
        colours[bad] = rng.random((int(bad.sum()), 3), dtype=np.float32)


def _blur(masks: _Array) -> _Array:
    """Separable [1, 2, 1] / 4 blur of ``[n, h, w]`` masks with edge padding."""
    padded = np.pad(masks, ((0, 0), (1, 1), (0, 0)), mode="edge")
    masks = 0.25 * padded[:, :-2] + 0.5 * padded[:, 1:-1] + 0.25 * padded[:, 2:]
    padded = np.pad(masks, ((0, 0), (0, 0), (1, 1)), mode="edge")
    return 0.25 * padded[:, :, :-2] + 0.5 * padded[:, :, 1:-1] + 0.25 * padded[:, :, 2:]


def _colour(rng: np.random.Generator, mask: _Array, foreground: _Array, background: _Array) -> _Array:
    """Paints masks with per-image colours, then adds slight blur and noise.

    Args:
        rng: random generator.
        mask: ``[n, size, size]`` in ``[0, 1]``; 1 is foreground.
        foreground: ``[n, 3]`` colours in ``[0, 1]``.
        background: ``[n, 3]`` colours in ``[0, 1]``.

    Returns:
        ``[n, size, size, 3]`` float32 in ``[0, 1]``.
    """
    n = mask.shape[0]
    # Slight, random blur so that the model does not rely on perfectly sharp edges. Colouring is
    # affine in the mask, so blurring the mask equals blurring the image at a third of the cost.
    blur = rng.uniform(0.0, 1.0, n).astype(np.float32)[:, None, None]
    mask = ((1.0 - blur) * mask + blur * _blur(mask))[..., None]
    images = background[:, None, None, :] + mask * (foreground - background)[:, None, None, :]
    noise = rng.uniform(0.0, 0.05, n).astype(np.float32)[:, None, None, None]
    images = images + noise * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(images, 0.0, 1.0).astype(np.float32)


def _render(rng: np.random.Generator, class_name: str, n: int, size: int) -> _Array:
    """Draws ``n`` images of one class, ``[n, size, size, 3]`` float32 in ``[0, 1]``."""
    mask = _DRAWERS[class_name](rng, n, size)
    if class_name in _OBJECT_COLOURS:
        foreground = _class_colours(rng, n, class_name)
        background = _far_colours(rng, foreground[:, None, :])
    else:
        foreground, background = _contrasting_pairs(rng, n)
    return _colour(rng, mask, foreground, background)


def _check_size(size: int) -> None:
    """Rejects images too small for the patterns' periods."""
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size!r}.")


def generate(n: int, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generates a shuffled, class-balanced batch of demo images.

    Args:
        n: number of images; class counts differ by at most one.
        size: image height and width in pixels (at least 16; the demo model uses 64).
        seed: seed of the random generator; equal arguments give identical outputs.

    Returns:
        ``(images, labels)``: images ``[n, size, size, 3]`` float32 in ``[0, 1]``; labels ``[n]``
        int64 indices into ``CLASS_NAMES``.

    Raises:
        ValueError: if ``n`` is negative or ``size`` is below 16.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n!r}.")
    _check_size(size)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASS_NAMES))
    images = np.empty((n, size, size, 3), dtype=np.float32)
    for index, name in enumerate(CLASS_NAMES):
        where = np.flatnonzero(labels == index)
        if where.size:
            images[where] = _render(rng, name, where.size, size)
    return images, labels.astype(np.int64)


def _interpolation_matrix(size: int, cells: int) -> _Array:
    """Bilinear upsampling weights ``[size, cells]`` with pixel-centre alignment."""
    position = np.clip((np.arange(size) + 0.5) * cells / size - 0.5, 0.0, cells - 1.0)
    low = np.minimum(np.floor(position).astype(int), cells - 2)
    weight = (position - low).astype(np.float32)
    matrix = np.zeros((size, cells), dtype=np.float32)
    matrix[np.arange(size), low] = 1.0 - weight
    matrix[np.arange(size), low + 1] = weight
    return matrix


def _smooth_noise(rng: np.random.Generator, n: int, size: int) -> _Array:
    """Random colour fields on coarse grids of 2 to 16 cells, bilinearly upsampled."""
    images = np.empty((n, size, size, 3), dtype=np.float32)
    for share, cells in enumerate((2, 4, 8, 16)):
        where = np.arange(share, n, 4)
        coarse = rng.random((where.size, cells, cells, 3), dtype=np.float32)
        matrix = _interpolation_matrix(size, cells)
        rows = np.einsum("yi,nijc->nyjc", matrix, coarse)
        images[where] = np.einsum("xj,nyjc->nyxc", matrix, rows)
    return images


def _mismatched_shapes(rng: np.random.Generator, n: int, size: int) -> _Array:
    """Shapes in a colour that makes them no class: a green square, a red disc, a grey cross."""
    shape = rng.integers(0, len(_NEGATIVE_SHAPES), n)
    hues = tuple(_OBJECT_COLOURS)
    # Colour sources 0..2 are the shape classes' hues, 3 is "none of them". A class shape takes
    # any source but its own; discs belong to no class, so they take any source.
    source = np.where(
        shape < len(hues), (shape + 1 + rng.integers(0, len(hues), n)) % 4, rng.integers(0, 4, n)
    )
    centres = np.array([np.mean(_OBJECT_COLOURS[h], axis=0) for h in hues], dtype=np.float32)
    foreground = _far_colours(rng, np.broadcast_to(centres, (n, *centres.shape)))
    for index, hue in enumerate(hues):
        where = np.flatnonzero(source == index)
        foreground[where] = _class_colours(rng, where.size, hue)
    background = _far_colours(rng, foreground[:, None, :])
    mask = np.empty((n, size, size), dtype=np.float32)
    for index, distance in enumerate(_NEGATIVE_SHAPES):
        where = np.flatnonzero(shape == index)
        mask[where] = _shapes(distance)(rng, where.size, size)
    return _colour(rng, mask, foreground, background)


def generate_negatives(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Generates images that belong to no class, for teaching a classifier to be unsure.

    Half of them mimic the usual starting points of feature visualization, in equal shares: flat
    colours (a sigmoid of small noise is nearly flat grey), per-pixel uniform noise, Gaussian noise
    around a random colour, and smooth noise (what low-frequency Fourier parameterizations start
    from). The other half are shapes in the wrong colour (a green square, a red disc, a grey
    cross), which forces the shape classes to depend on shape *and* hue.

    Args:
        n: number of images.
        size: image height and width in pixels (at least 16).
        seed: seed of the random generator; equal arguments give identical outputs.

    Returns:
        ``[n, size, size, 3]`` float32 in ``[0, 1]``, shuffled.

    Raises:
        ValueError: if ``n`` is negative or ``size`` is below 16.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n!r}.")
    _check_size(size)
    rng = np.random.default_rng(seed)
    kind = rng.permutation(np.arange(n) % 8)
    means = rng.random((n, 1, 1, 3), dtype=np.float32)
    spread = rng.uniform(0.0, 0.3, (n, 1, 1, 1)).astype(np.float32)
    # Kinds 0 and 2: flat colours get at most faint noise, the Gaussian kind up to strong noise.
    spread[kind == 0] *= 0.05
    images = means + spread * rng.standard_normal((n, size, size, 3), dtype=np.float32)
    uniform = np.flatnonzero(kind == 1)
    images[uniform] = rng.random((uniform.size, size, size, 3), dtype=np.float32)
    smooth = np.flatnonzero(kind == 3)
    images[smooth] = _smooth_noise(rng, smooth.size, size)
    shapes = np.flatnonzero(kind >= 4)
    images[shapes] = _mismatched_shapes(rng, shapes.size, size)
    return np.clip(images, 0.0, 1.0)


def make_image(class_name: str, size: int = 64, seed: int = 0) -> np.ndarray:
    """Draws one image of a named class, e.g. a stripes photo-like input for an experiment.

    Args:
        class_name: one of ``CLASS_NAMES``.
        size: image height and width in pixels (at least 16).
        seed: seed of the random generator; equal arguments give identical images.

    Returns:
        ``[size, size, 3]`` float32 in ``[0, 1]``.

    Raises:
        ValueError: if ``class_name`` is unknown or ``size`` is below 16.
    """
    if class_name not in _DRAWERS:
        raise ValueError(f"Unknown class_name {class_name!r}; expected one of {CLASS_NAMES}.")
    _check_size(size)
    return _render(np.random.default_rng(seed), class_name, 1, size)[0]
