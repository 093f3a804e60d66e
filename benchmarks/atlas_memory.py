"""Peak memory of an atlas collection against the folder's size: it must not grow with it.

Writes `count` demo images (64x64 PNGs) into a folder, collects conv5 of the demo model over it
(4 positions per image, attributions on) and prints the process's peak resident memory and the
time. Run for two sizes in fresh processes, e.g.

    python benchmarks/atlas_memory.py 1000 && python benchmarks/atlas_memory.py 10000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import featviz as fv
from featviz import demo


def main(count: int) -> None:
    """Writes the folder, collects over it and prints peak RSS and timings."""
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "images"
        folder.mkdir()
        for start in range(0, count, 500):
            images, _ = demo.generate(min(500, count - start), seed=start)
            for k, image in enumerate(images):
                fv.save_png(folder / f"{start + k:06d}.png", image)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        began = time.perf_counter()
        collection = fv.collect_activations(fv.load_model("demo"), fv.ImageFolder(folder), "conv5",
                                            Path(root) / "collection", positions_per_image=4, batch_size=50)
        seconds = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{count} images: {len(collection.images)} activations in {seconds:.0f} s; peak RSS "
              f"{peak:.0f} MiB (before collecting: {before:.0f} MiB; the collected arrays: "
              f"{(collection.activations.nbytes + collection.attributions.nbytes) / 2**20:.1f} MiB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    main(parser.parse_args().count)
