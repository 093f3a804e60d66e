"""Writes a folder of photographs for the MobileNet atlas: the shipped photos plus scikit-image's.

The six photos in featviz/configs/images/ are too few for an atlas; scikit-image ships more colour and
grayscale photographs offline. Each is written as a JPEG (longer side 320 pixels), and the
folder keeps featviz/configs/images/README.md, which the atlas skips as a file Pillow cannot read.

    python experiments/atlas_photos.py /tmp/photos
    featviz atlas imagenet_atlas --images /tmp/photos \
        --gin_param="load_model.name='../shared/models/mobilenet_025_imagenet.keras'" \
        --gin_param="load_model.preprocess='mobilenet'"
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import skimage.data
from PIL import Image

from featviz.configs import IMAGES
from featviz.io import atomic_write

# scikit-image's photographs that ship inside its wheel (others need the pooch downloader),
# beside the shipped ones.
EXTRA = ("cat", "coins", "camera", "grass", "gravel", "brick", "retina", "text", "moon", "clock",
         "page", "horse", "motorcycle")
LONGER_SIDE = 320


def write_photos(directory: Path) -> list[Path]:
    """Copies the shipped photos (featviz/configs/images/) into `directory` and adds the scikit-image photographs."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [Path(shutil.copy(path, directory)) for path in sorted(IMAGES.iterdir())]
    for name in EXTRA:
        loader = getattr(skimage.data, "stereo_motorcycle" if name == "motorcycle" else name)
        array = loader()
        array = array[0] if name == "motorcycle" else array
        image = Image.fromarray(array if array.dtype != bool else array.astype("uint8") * 255)
        image.thumbnail((LONGER_SIDE, LONGER_SIDE), Image.Resampling.LANCZOS)
        path = directory / f"{name}.jpg"
        atomic_write(path, lambda tmp, image=image: image.convert("RGB").save(tmp, format="JPEG", quality=90))
        paths.append(path)
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    print(f"{len(write_photos(parser.parse_args().directory))} files")
