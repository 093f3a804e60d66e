"""Shrinks a run's figure into a small PNG for experiments/figures/ (a few hundred KB at most).

Downscales with Lanczos and stores a 256-colour palette (no dithering), which keeps labels and
photographs legible at a fraction of the size of a full-colour PNG of noisy reconstructions.

    python experiments/small_png.py runs/x/reconstruction.png experiments/figures/x.png --scale 0.67
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image


def shrink(source: Path, target: Path, scale: float) -> int:
    """Writes the shrunk palette PNG; returns its size in bytes."""
    with Image.open(source) as image:
        image = image.convert("RGB")
        size = (round(image.width * scale), round(image.height * scale))
        small = image.resize(size, Image.Resampling.LANCZOS) if scale != 1 else image
        small.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            target, optimize=True)
    return target.stat().st_size


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    print(f"{args.target}: {shrink(args.source, args.target, args.scale) / 1024:.0f} KB")
