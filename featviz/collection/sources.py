"""Where an atlas's images come from: a folder of files, or images drawn by `featviz.demo`.

A source is a fixed, ordered sequence of images: `len(source)` of them, `names` for each,
`load(start, stop, size)` reading one contiguous range at a given size, and `describe()`, the
JSON description a resumed collection compares with its manifest. Reading a range returns the
images that could be read and the indices of those that could not, so one bad file never
stops a collection.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import gin
import numpy as np

from featviz import demo
from featviz import io as image_io
from featviz.demo.patterns import LUMA


@dataclasses.dataclass(frozen=True)
class Batch:
    """A contiguous range of a source's images, as read.

    Attributes:
        indices: [n] int64 source indices of the images that were read.
        images: float32 [n, height, width, channels] in [0, 1].
        labels: [n] int64 class index of each image (-1: unknown).
        failures: (source index, reason) of each image in the range that could not be read.
    """

    indices: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    failures: tuple[tuple[int, str], ...] = ()


class ImageSource(Protocol):
    """A fixed, ordered sequence of images (see the module docstring)."""

    names: tuple[str, ...]

    def __len__(self) -> int:
        """The number of images, readable or not."""

    def load(self, start: int, stop: int, size: tuple[int, int], channels: int) -> Batch:
        """Images `start..stop-1` at `size` (height, width) with `channels` (1 or 3)."""

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description that changes whenever the images may."""


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """Every file under a directory (recursively, sorted by path), read with Pillow.

    Files Pillow cannot read (text files, truncated images) are not filtered out by name: they
    are reported as failures when read, so the count of skipped files is honest.

    Attributes:
        directory: the folder.
    """

    directory: str | os.PathLike

    def __post_init__(self) -> None:
        path = Path(self.directory)
        if not path.is_dir():
            raise ValueError(f"image folder {str(path)!r} does not exist or is not a directory")

    @functools.cached_property
    def _paths(self) -> tuple[Path, ...]:
        root = Path(self.directory)
        paths = sorted(p for p in root.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if not paths:
            raise ValueError(f"image folder {str(root)!r} holds no files")
        return tuple(paths)

    @property
    def names(self) -> tuple[str, ...]:
        """Each file's path relative to the folder."""
        return tuple(str(p.relative_to(self.directory)) for p in self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def load(self, start: int, stop: int, size: tuple[int, int], channels: int) -> Batch:
        """Reads files `start..stop-1`, resized to `size` (Lanczos, aspect ratio not kept)."""
        indices, images, failures = [], [], []
        for index in range(start, min(stop, len(self))):
            try:
                images.append(image_io.load_image(self._paths[index], size, channels))
                indices.append(index)
            except (ValueError, FileNotFoundError) as error:
                failures.append((index, str(error)))
        shape = (0, *size, channels)
        return Batch(np.asarray(indices, np.int64),
                     np.stack(images) if images else np.zeros(shape, np.float32),
                     np.full(len(indices), -1, np.int64), tuple(failures))

    def describe(self) -> dict[str, Any]:
        """The folder, its file count and a digest of the file names and sizes."""
        digest = hashlib.sha256()
        for path in self._paths:
            digest.update(f"{path.relative_to(self.directory)}\0{path.stat().st_size}\n".encode())
        return {"kind": "folder", "directory": str(Path(self.directory).resolve()),
                "files": len(self), "digest": digest.hexdigest()}


# Images are drawn in chunks of this many, each from its own seed, so any range can be drawn
# without drawing (and holding) the images before it.
_DEMO_CHUNK = 64


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class DemoImages:
    """Images of the demo dataset's twelve classes (`featviz.demo.generate`), drawn offline.

    Attributes:
        count: the number of images.
        size: their side in pixels, as drawn (then resized to what the collection asks for).
        seed: equal seeds give identical images.
    """

    count: int = 600
    size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"DemoImages.count must be a positive int, got {self.count!r}")

    @property
    def names(self) -> tuple[str, ...]:
        """`demo-<index>` for each image."""
        return tuple(f"demo-{index:05d}" for index in range(self.count))

    def __len__(self) -> int:
        return self.count

    def load(self, start: int, stop: int, size: tuple[int, int], channels: int) -> Batch:
        """Draws images `start..stop-1` with their class labels."""
        indices = np.arange(start, min(stop, self.count), dtype=np.int64)
        chunks = {chunk: demo.generate(_DEMO_CHUNK, self.size, seed=self.seed * 1_000_003 + chunk)
                  for chunk in sorted({int(index) // _DEMO_CHUNK for index in indices})}
        images = [chunks[int(index) // _DEMO_CHUNK][0][index % _DEMO_CHUNK] for index in indices]
        labels = [chunks[int(index) // _DEMO_CHUNK][1][index % _DEMO_CHUNK] for index in indices]
        batch = np.stack(images) if images else np.zeros((0, self.size, self.size, 3), np.float32)
        if tuple(batch.shape[1:3]) != tuple(size):
            batch = _resize(batch, size)
        if channels == 1:
            batch = batch @ LUMA[:, None]
        return Batch(indices, batch.astype(np.float32), np.asarray(labels, np.int64))

    def describe(self) -> dict[str, Any]:
        """The generator's arguments."""
        return {"kind": "demo", "count": self.count, "size": self.size, "seed": self.seed}


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    return np.stack([np.asarray(image_io.to_pil(image).resize((width, height)), np.float32) / 255.0
                     for image in images])


def as_source(images: ImageSource | str | os.PathLike) -> ImageSource:
    """`images` itself, or an `ImageFolder` of the directory it names."""
    if isinstance(images, (str, os.PathLike)):
        return ImageFolder(images)
    if not hasattr(images, "load") or not hasattr(images, "describe"):
        raise TypeError(f"images must be a folder path, ImageFolder(...) or DemoImages(...), got {images!r}")
    return images


def class_names_of(source: ImageSource) -> Sequence[str] | None:
    """The names of the source's image labels (the demo classes), or None when unlabelled."""
    return demo.CLASS_NAMES if isinstance(source, DemoImages) else None
