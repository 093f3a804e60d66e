"""How featviz's recipe was chosen: one ingredient at a time, on a real ImageNet network.

Each variant renders the same 8 classes (256 steps, seed 0) and is measured as in
`experiments/quality_report.py`: top-1 under the strong held-out perturbations, target
probability under them, power above half-Nyquist, wall time. It writes a markdown table (to
`--runs`) and a figure with a row per variant (`--figure`); `experiments/README_quality.md`
shows both.

    python -m experiments.recipe_ablation --model /work/shared/models/mobilenet_025_imagenet.keras \\
        --preprocess mobilenet

The classes are the first 8 of the report's 16, so the report's other 8 are classes the recipe
was not tuned on.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import featviz as fv
from experiments.quality_report import figure, measure

CLASSES = ["flamingo", "red_fox", "tarantula", "goldfish", "monarch", "peacock", "lemon", "zebra"]
MILD = {"scales": (0.8, 1.25), "degrees": (-15.0, 15.0), "translate": 0.05}
STRONG = {"scales": (0.625, 1.6), "degrees": (-25.0, 25.0), "translate": 0.1}


def variants(size: int) -> dict[str, dict]:
    """Name -> Visualizer arguments; the last is the recipe (the Visualizer's defaults)."""
    def fourier(decay: float) -> fv.Fourier:
        return fv.Fourier(size, decay_power=decay)

    return {
        "Lucid's transforms, 1/f, lr 0.05": dict(
            param=fourier(1.0), transforms=fv.standard_transforms(), learning_rate=0.05),
        "mild random affine, 1/f, lr 0.05": dict(
            param=fourier(1.0), transforms=fv.default_transforms(size, **MILD), learning_rate=0.05),
        "mild random affine, 1/f^1.5, lr 0.05": dict(
            param=fourier(1.5), transforms=fv.default_transforms(size, **MILD), learning_rate=0.05),
        "strong random affine, 1/f^1.25, lr 0.05": dict(
            param=fourier(1.25), transforms=fv.default_transforms(size, **STRONG), learning_rate=0.05),
        "strong random affine, 1/f^1.5, lr 0.05": dict(
            param=fourier(1.5), transforms=fv.default_transforms(size, **STRONG), learning_rate=0.05),
        "recipe: strong random affine, 1/f^1.5, lr 0.03": {},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--preprocess", default=None)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--runs", default="runs/ablation")
    parser.add_argument("--figure", default="experiments/figures/recipe_ablation.png")
    parser.add_argument("--tile", type=int, default=112, help="pixels per tile in the figure")
    args = parser.parse_args(argv)
    model = fv.load_model(args.model, preprocess=args.preprocess, class_names="imagenet")
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    lines = ["| variant | still top-1 after perturbation | crop60 | target probability "
             "| power above half-Nyquist | wall time |", "|---|---|---|---|---|---|"]
    size = (model.input_size or (224, 224))[0]
    shown = {}
    for name, kwargs in variants(size).items():
        start = time.perf_counter()
        render = fv.Visualizer(model, fv.class_objectives(CLASSES), steps=args.steps, **kwargs).run()
        wall = time.perf_counter() - start
        row = measure(model, "classes", CLASSES, render.images, args.repeats)
        print(f"{name}: {json.dumps(row)} wall {wall:.0f} s", flush=True)
        shown[name.replace(", ", "\n", 1)] = render.images
        lines.append(f"| {name} | {row['robust']:.0%} | {row['crop60']:.0%} | {row['probability']:.2f} "
                     f"| {row['high_frequency']:.3f} | {wall:.0f} s |")
    table = "\n".join(lines) + "\n"
    (runs / "ablation.md").write_text(table)
    kilobytes = figure(shown, CLASSES, Path(args.figure), args.tile) / 1024
    print(table + f"figure: {args.figure} ({kilobytes:.0f} KB)")


if __name__ == "__main__":
    main()
