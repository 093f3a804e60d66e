"""Writes scikit-image's sample photographs to featviz/configs/images/ as small JPEG files.

The transfer configs (`configs/*reconstruct.gin`, `featviz/configs/deepdream.gin`,
`featviz/configs/style_transfer.gin`) read image *files*, as a user's own photos would be. These ship
offline with scikit-image, without copyright restrictions (public-domain NASA and SpaceX
photographs; CC0 photographs by scikit-image contributors); the committed files in
featviz/configs/images/ are this script's output (longer side 320 pixels, JPEG quality 90).

    python experiments/sample_images.py            # -> featviz/configs/images/<name>.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import skimage.data
from PIL import Image

from featviz.io import atomic_write

NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")
DIRECTORY = Path(__file__).resolve().parent.parent / "featviz" / "configs" / "images"
LONGER_SIDE = 320  # pixels: above the 224-pixel input of ImageNet models


def write_samples(directory: Path = DIRECTORY, names: tuple[str, ...] = NAMES) -> list[Path]:
    """Writes each named sample as `<directory>/<name>.jpg`; returns the paths."""
    paths = []
    for name in names:
        image = Image.fromarray(getattr(skimage.data, name)())
        scale = LONGER_SIDE / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             Image.Resampling.LANCZOS)
        path = directory / f"{name}.jpg"
        paths.append(atomic_write(path, lambda tmp: image.save(tmp, format="JPEG", quality=90)))
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", type=Path, default=DIRECTORY)
    for written in write_samples(parser.parse_args().directory):
        print(written)
