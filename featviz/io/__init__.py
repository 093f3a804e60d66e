"""Input and output at the bottom of featviz: image files, atomic writes and figures.

`images` reads every image featviz takes (initial and target images, photo folders) and writes
files atomically (a crash never leaves half a PNG, CSV or config); `figures` builds the
labelled grids, rows, boxes and colour maps that jobs and callbacks save. Nothing here knows
about models, objectives or the loop.
"""

from featviz.io.figures import (HSVAdjust, adjust_hsv, colorize, grid, outline, over_checkerboard,
                               rows_figure)
from featviz.io.images import (as_image_batch, atomic_write, load_image, looks_like_path,
                               save_png, slug, to_pil, to_uint8)

__all__ = [
    "HSVAdjust", "adjust_hsv", "as_image_batch", "atomic_write", "colorize", "grid",
    "load_image", "looks_like_path", "outline", "over_checkerboard", "rows_figure", "save_png", "slug", "to_pil", "to_uint8",
]
