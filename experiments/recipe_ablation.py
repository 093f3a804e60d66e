"""How featviz's recipe was chosen: one ingredient at a time, on a real ImageNet network.

Each variant renders the same tuning classes (256 steps, seed 0) and is measured as in
`experiments/quality_report.py`: top-1 under the strong held-out perturbations, target
probability under them, colour (mean HSV saturation, share of pixels above 0.8), power above
half-Nyquist, wall time. It writes a markdown table (to `--runs`) and a figure with a row per
variant (`--figure`); `experiments/README_quality.md` shows both.

    python -m experiments.recipe_ablation --model /work/shared/models/mobilenet_025_imagenet.keras \\
        --preprocess mobilenet
    python -m experiments.recipe_ablation --model /work/shared/models/efficientnet_lite1_imagenet.keras \\
        --preprocess 127/128

The tuning classes are disjoint from the classes the report shows.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import featviz as fv
from experiments.quality_report import figure, load_network, measure, previous_recipe
from featviz import recipes

CLASSES = ["lion", "goldfinch", "toucan", "tree_frog"]
# decorrelated_contrast of the six configs/images photographs at 224 px: median and mean.
MEDIAN_PHOTO = (1.5, 1.6, 1.1)


def variants(size: tuple[int, int]) -> dict[str, dict]:
    """Name -> Visualizer arguments, from the previous default to the recipe and around it."""
    def fourier(decay: float, contrast: tuple[float, float, float] | None) -> fv.Fourier:
        return fv.Fourier(size, decay_power=decay, contrast=contrast)

    return {
        "previous default: free contrast, 1/f^1.5": previous_recipe(size),
        "contrast of the median photograph, 1/f^1.5": dict(param=fourier(1.5, MEDIAN_PHOTO)),
        "recipe: contrast of the mean photograph, 1/f^1.5": {},
        "mean photograph's contrast, 1/f^1.25": dict(param=fourier(1.25, recipes.CONTRAST)),
        "mean photograph's contrast, 1/f (Lucid)": dict(param=fourier(1.0, recipes.CONTRAST)),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the ablation from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--preprocess", default=None)
    parser.add_argument("--size", type=int, default=224, help="render size for free-size networks")
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--runs", default=None, help="default: runs/ablation/NAME")
    parser.add_argument("--figure", default=None,
                        help="default: experiments/figures/recipe_ablation_NAME.png")
    parser.add_argument("--tile", type=int, default=112, help="pixels per tile in the figure")
    args = parser.parse_args(argv)
    network = load_network(args.model, args.preprocess, None, args.size)
    runs = Path(args.runs or f"runs/ablation/{network.name}")
    runs.mkdir(parents=True, exist_ok=True)
    lines = ["| variant | still top-1 after perturbation | crop60 | target probability "
             "| mean saturation | saturation > 0.8 | power above half-Nyquist | wall time |",
             "|---|---|---|---|---|---|---|---|"]
    shown = {}
    for name, kwargs in variants(network.size).items():
        start = time.perf_counter()
        render = fv.Visualizer(network.model, fv.class_objectives(CLASSES), steps=args.steps,
                               **kwargs).run()
        wall = time.perf_counter() - start
        row = measure(network.model, "classes", CLASSES, render.images, args.repeats)
        print(f"{name}: {json.dumps(row)} wall {wall:.0f} s", flush=True)
        shown[name.replace(", ", "\n", 1)] = render.images
        lines.append(f"| {name} | {row['robust']:.0%} | {row['crop60']:.0%} | {row['probability']:.2f} "
                     f"| {row['saturation']:.2f} | {row['saturated']:.3f} "
                     f"| {row['high_frequency']:.3f} | {wall:.0f} s |")
    table = "\n".join(lines) + "\n"
    (runs / "ablation.md").write_text(table)
    path = Path(args.figure or f"experiments/figures/recipe_ablation_{network.name}.png")
    kilobytes = figure(shown, CLASSES, path, args.tile) / 1024
    print(table + f"figure: {path} ({kilobytes:.0f} KB)")


if __name__ == "__main__":
    main()
