"""Issue 13 on EfficientNet-Lite1: does a random blur inside the step (or zoomed-in crops) make
class images survive blur and scale, i.e. draw object shape instead of fine texture?

xplique 1.3.3's standard transformations (`features_visualizations/transformations.py`,
`generate_standard_transformations`) end with `random_blur(sigma_range=(1.0, 1.1))` and view
a 512-px canvas through crops of about a third of its side, resized to the network's input;
its images stay recognizable on Lite1 where featviz's recipe draws fragmented fine texture.
Each variant here changes one thing on top of the recipe before the blur ("before: no
blur") or, for the start's scale, on top of the recipe with the blur. Each renders the
tuning classes (lion, goldfinch, toucan, tree frog: disjoint from the report's) and is
measured as in `experiments/quality_report.py` (`measure`: strong perturbations, target
probability, top-5 by the other network, saturation, high-frequency share), with wall time
and the machine's load.

    python -m experiments.recipe_blur --model ../shared/models/efficientnet_lite1_imagenet.keras \\
        --preprocess 127/128 --judge ../shared/models/mobilenet_025_imagenet.keras \\
        --judge-preprocess mobilenet --variants "before: no blur" "blur 0-0.018, start 0.01"
    python -m experiments.recipe_blur ... --report   # table and figure from every cached variant

Renders are cached per network and variant in `--runs` (`.npz`: images, wall time, load), so
variants can be run one command at a time on a shared machine; `--report` writes
`<runs>/blur.md` and `experiments/figures/recipe_blur_<network>.png`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorflow as tf

import featviz as fv
from experiments.quality_report import (before_window as before, figure, load_network, lucid_start,
                                       measure, run_xplique)
from featviz import recipes
from featviz.params.maco import SCENE_PHOTOGRAPHS
from featviz.transforms import blur_each

CLASSES = ["lion", "goldfinch", "toucan", "tree_frog"]
# The reference: xplique 1.3.3 at its defaults (`quality_report.run_xplique`).
XPLIQUE = "xplique default"


def _blur(size: tuple[int, int], low: float, high: float) -> fv.RandomBlur:
    """A `RandomBlur` whose sigmas are fractions of the image's shorter side."""
    side = min(size)
    return fv.RandomBlur((low * side, high * side))


@dataclasses.dataclass(frozen=True)
class _CoarseToFine:
    """A per-image random blur whose largest sigma falls from `first` to `last` pixels
    (geometrically) over the first `ramp` of the run: coarse layout first, detail later."""

    first: float
    last: float
    ramp: float = 0.5
    uses_progress: ClassVar[bool] = True

    def __call__(self, images: tf.Tensor, seed: tf.Tensor, progress: tf.Tensor) -> tf.Tensor:
        t = tf.minimum(tf.cast(progress, tf.float32) / self.ramp, 1.0)
        high = self.first * (self.last / self.first) ** t
        sigma = high * tf.random.stateless_uniform([tf.shape(images)[0]], seed)
        return blur_each(images, sigma, self.first)


def _cache(runs: Path, name: str) -> Path:
    return runs / (name.replace("/", "_") + ".npz")


def variants(size: tuple[int, int], input_size: tuple[int, int]) -> dict[str, dict]:
    """Name -> Visualizer arguments for renders of `size` on a network fed `input_size`.

    "before" is the recipe before the blur; the blur and object-size variants add one thing
    to it, from Lucid's start (raw standard deviation 0.01) as they were measured. "blur
    0-0.018, start 0.01" is the recipe with the blur; the "start" variants change only its
    start, and "recipe: start 0.3" the recipe before the centre window. Every variant but the
    centre ones pins the transforms it was measured with (`before`:
    `quality_report.before_window`); "recipe: centre first ..." is `featviz.recipes` as it now is.
    """
    def unblurred(canvas: tuple[int, int], **kwargs) -> list:
        return before(canvas, blur=(0.0, 0.0), **kwargs)[1:]

    def start(canvas: tuple[int, int], init_std: float = 0.01, **changes) -> fv.Fourier:
        return lucid_start(canvas, init_std=init_std, **changes)

    def exact(canvas: tuple[int, int]) -> list:
        return [dataclasses.replace(t, exact_gradient=True) if isinstance(t, fv.RandomAffine) else t
                for t in before(canvas)]

    def scenes(canvas: tuple[int, int]) -> fv.Maco:
        return fv.Maco(canvas, spectrum_images=SCENE_PHOTOGRAPHS)

    large = (2 * size[0], 2 * size[1])
    mid = (3 * size[0] // 2, 3 * size[1] // 2)
    return {
        XPLIQUE: {},
        "before: no blur": dict(param=start(size), transforms=unblurred(size)),
        # xplique's sigma 1.0-1.1 px sits on its 512-px canvas, seen through ~176-px crops
        # resized to 224: about 1.3 px at the network's input, 0.006 of its side. Drawn per
        # image from 0.0045-0.009 of the side (1-2 px at 224), before the zoom.
        "blur 0.0045-0.009": dict(param=start(size),
                                  transforms=[_blur(size, 0.0045, 0.009), *unblurred(size)]),
        "blur 0.009-0.018": dict(param=start(size),
                                 transforms=[_blur(size, 0.009, 0.018), *unblurred(size)]),
        # Strong blur only (2-4 px) drew shapes but the unblurred images lost their class:
        # draw from no blur to strong, per image.
        "blur 0.0045-0.018": dict(param=start(size),
                                  transforms=[_blur(size, 0.0045, 0.018), *unblurred(size)]),
        "blur 0-0.018, start 0.01": dict(param=start(size), transforms=before(size)),
        # A flatter spectrum drew more, smaller objects on Lite1 but with 2.5-10x the fine grain
        # (README_quality); does the blur inside the step take the gradient off the finest detail?
        "blur 0.0045-0.009, 1/f": dict(
            param=start(size, decay_power=1.0),
            transforms=[_blur(size, 0.0045, 0.009), *unblurred(size)]),
        # Zoomed-in views only: the network sees 40-100% of the image, as xplique's crops.
        "blur 0.0045-0.009, crops": dict(param=start(size), transforms=[
            _blur(size, 0.0045, 0.009), *unblurred(size, scales=(1.0, 2.5))]),
        # A canvas twice the input, seen through crops of 31-80% of it resized to the input
        # (xplique: ~34%), blurred at the network's input resolution, after the resize.
        "448 canvas, crops, blur 0.0045-0.009": dict(
            param=start(large),
            transforms=[*unblurred(large, scales=(1.25, 3.2)), fv.Resize(input_size),
                        _blur(input_size, 0.0045, 0.009)]),
        # Whole views and zoomed-in crops mixed, per image: the zoom range of the recipe
        # extended to xplique's crops (up to 2.5x: 40% of the image).
        "recipe, zoom 0.625-2.5": dict(param=start(size),
                                       transforms=before(size, scales=(0.625, 2.5))),
        # A stronger blur at the top of the range (0-6 px at 224).
        "recipe, blur 0-0.027": dict(param=start(size),
                                     transforms=before(size, blur=(0.0, 0.027))),
        # The network sees the image smaller (the zooms of the 448 canvas resized to the input,
        # at 224; reflected copies fill the rest), or between that and the recipe.
        "recipe, zoom 0.3125-0.8": dict(param=start(size), transforms=before(
            size, scales=(0.3125, 0.8))),
        "recipe, zoom 0.4-1.25": dict(param=start(size), transforms=before(
            size, scales=(0.4, 1.25))),
        # The recipe as it is on a canvas twice the input (a free-size network sees all of it).
        "448 canvas, recipe": dict(param=start(large), transforms=before(large)),
        # ... and seen at the input size (`Visualizer.input_size`: resized after the
        # transforms): the network sees the whole canvas, each object at half the size; and a
        # canvas 1.5x the input (2.25x the pixels instead of 4x).
        "336 canvas, recipe, resized to the input": dict(param=start(mid), transforms=before(mid),
                                                         input_size=input_size),
        "448 canvas, recipe, resized to the input": dict(param=start(large), transforms=before(large),
                                                         input_size=input_size),
        # The start's scale, in learning rates (0.03): with fixed contrast only the ratio of
        # the raw variable's norm to Adam's step matters; Lucid's 0.01 is a third of a step.
        "start 0.15 (5 learning rates)": dict(param=start(size, 0.15), transforms=before(size)),
        "recipe: start 0.3 (10 learning rates)": dict(transforms=before(size)),
        "start 0.6 (20 learning rates)": dict(param=start(size, 0.6), transforms=before(size)),
        "start 1.0 (33 learning rates)": dict(param=start(size, 1.0), transforms=before(size)),
        "start 1.0, learning rate 0.1 (10)": dict(param=start(size, 1.0), learning_rate=0.1,
                                                  transforms=before(size)),
        # TensorFlow's gradient of the fused resample is the inverse resample, not its
        # transpose (`fv.Resampling.exact_gradient`): the recipe with the transpose.
        "recipe, exact resample gradient": dict(transforms=exact(size)),
        "448 canvas, exact resample gradient, resized to the input": dict(
            param=recipes.default_param(large), transforms=exact(large), input_size=input_size),
        # MACO (featviz's `Maco`: phases only, the photographs' magnitude spectrum) for the
        # recipe's Fourier, Adam on phases in radians as `maco.gin` (0.2); then with the four
        # scenes' spectrum (no star field, no micrograph: `SCENE_PHOTOGRAPHS`), at 0.2 or 0.05,
        # with MACO's own transforms (`maco.gin`: crops from 90% to 40% of the image), and on a
        # canvas twice the input seen whole.
        "Maco, recipe transforms": dict(param=fv.Maco(size), learning_rate=0.2, transforms=before(size)),
        "Maco (scenes), recipe transforms": dict(param=scenes(size), learning_rate=0.2,
                                                  transforms=before(size)),
        "Maco (scenes), recipe transforms, Adam 0.05": dict(param=scenes(size), learning_rate=0.05,
                                                             transforms=before(size)),
        "Maco (scenes), decaying crops (maco.gin)": dict(
            param=scenes(size), transforms=[fv.RandomCrop(sizes=(0.9, 0.4))], learning_rate=0.2),
        "Maco (scenes), 448 canvas, recipe transforms, resized to the input": dict(
            param=scenes(large), learning_rate=0.2, transforms=before(large), input_size=input_size),
        # Several differently transformed views of every image in each step, their objective
        # averaged (`Visualizer.views`, MACO's many crops): at the same steps, then at a quarter
        # of the steps (the same images through the model), then with the zoom extended to
        # xplique's crops, and the 448 canvas seen whole. Four views cost 2.2-3.3x a step of
        # one (batching), so "recipe, twice the steps" is the single view nearest in wall time
        # to four views.
        "recipe, twice the steps": dict(steps_factor=2, transforms=before(size)),
        "recipe, 4 views": dict(views=4, transforms=before(size)),
        "recipe, 4 views, same compute (a quarter of the steps)": dict(views=4, steps_factor=0.25,
                                                                       transforms=before(size)),
        "recipe, 4 views, zoom 0.625-2.5": dict(
            views=4, transforms=before(size, scales=(0.625, 2.5))),
        "448 canvas, 4 views, resized to the input": dict(
            param=recipes.default_param(large), views=4, transforms=before(large),
            input_size=input_size),
        # Why the 448 canvas seen whole helps, and whether it can be had for less. The recipe's
        # start on the canvas seen whole (quality_report's featviz-448); the same with the blur
        # moved after the resize (at the input's resolution: a quarter of the pixels, half the
        # kernel); and the canvas box-averaged to the input before the recipe's transforms (the
        # network never sees detail finer than its input: only the parameterization differs).
        "448 canvas seen whole (start 0.3)": dict(
            param=recipes.default_param(large), transforms=before(large), input_size=input_size),
        "448 canvas seen whole, blur after the resize": dict(
            param=recipes.default_param(large),
            transforms=[*before(large)[1:], fv.Resize(input_size),
                        before(input_size)[0]]),
        "coarse to fine: blur 0-0.1 to 0-0.018 over half the run": dict(transforms=[
            _CoarseToFine(0.1 * min(size), 0.018 * min(size), 0.5),
            *before(size)[1:]]),
        "coarse to fine: blur 0-0.1 to 0-0.018 over the run": dict(transforms=[
            _CoarseToFine(0.1 * min(size), 0.018 * min(size), 1.0),
            *before(size)[1:]]),
        # Centre first (`fv.CentreWindow`: mid-grey outside a centred window that grows to the
        # whole image): the window's side at the start and the share of the run it grows over.
        # The recipe is now 0.3 of the side over half the run.
        "centre first: half the side to all of it over half the run": dict(
            transforms=[fv.CentreWindow(0.5, 0.5), *before(size)]),
        "recipe: centre first, 0.3 of the side to all over half the run": {},
        "centre first: 0.5 of the side to all over 3/4 of the run": dict(
            transforms=[fv.CentreWindow(0.5, 0.75), *before(size)]),
        "centre first: 0.3 of the side to all over 3/4 of the run": dict(
            transforms=[fv.CentreWindow(0.3, 0.75), *before(size)]),
        "centre first: 0.2 of the side to all over half the run": dict(
            transforms=[fv.CentreWindow(0.2, 0.5), *before(size)]),
        "centre first: 0.3 of the side to all over a quarter of the run": dict(
            transforms=[fv.CentreWindow(0.3, 0.25), *before(size)]),
        "448 canvas averaged to the input first": dict(
            param=recipes.default_param(large),
            transforms=[fv.Resize(input_size), *before(input_size)]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Renders the given variants (cached), or writes the table and figure (`--report`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--preprocess", default=None)
    parser.add_argument("--judge", required=True)
    parser.add_argument("--judge-preprocess", default=None)
    parser.add_argument("--size", type=int, default=224, help="render size for free-size networks")
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", nargs="*", default=[])
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--runs", default=None, help="default: runs/blur/NAME")
    parser.add_argument("--tile", type=int, default=96, help="pixels per tile in the figure")
    parser.add_argument("--figure", default=None,
                        help="the --report figure (default: experiments/figures/recipe_blur_NAME.png)")
    args = parser.parse_args(argv)
    network = load_network(args.model, args.preprocess, None, args.size)
    judge = load_network(args.judge, args.judge_preprocess, None, args.size).model
    runs = Path(args.runs or f"runs/blur/{network.name}")
    runs.mkdir(parents=True, exist_ok=True)
    table = variants(network.size, network.size)
    for name in args.variants:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        settings = {"steps": args.steps, **table[name]}
        settings["steps"] = round(settings["steps"] * settings.pop("steps_factor", 1))
        if name == XPLIQUE:
            images = run_xplique(network, "classes", CLASSES, settings["steps"])
        else:
            images = fv.Visualizer(network.model, fv.class_objectives(CLASSES),
                                   **settings).run().images
        wall = time.perf_counter() - start
        if images.shape[1:3] != tuple(network.size):  # shown and measured at the input size
            images = tf.image.resize(images, network.size, method="area").numpy()
        row = measure(network.model, "classes", CLASSES, images, args.repeats, judge)
        row.update(wall_s=wall, load=(load + os.getloadavg()[0]) / 2, steps=settings["steps"])
        np.savez(_cache(runs, name), images=images, row=json.dumps(row))
        print(f"{name}: {json.dumps(row)}", flush=True)
    if args.report:
        lines = ["| variant | steps | still top-1 after perturbation | rescale | rotate | crop60 "
                 "| blur | target probability | other network's top-5 | mean saturation "
                 "| saturation > 0.8 | power above half-Nyquist | wall time (load) |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        shown = {}
        for name in table:
            path = _cache(runs, name)
            if not path.exists():
                continue
            cached = np.load(path)
            row = json.loads(str(cached["row"]))
            shown[name.replace(", ", ",\n", 1)] = cached["images"]
            lines.append(
                f"| {name} | {row['steps']} | {row['robust']:.0%} | {row['rescale']:.0%} "
                f"| {row['rotate']:.0%} | {row['crop60']:.0%} | {row['blur']:.0%} "
                f"| {row['probability']:.2f} | {row['judge_top5']:.0%} | {row['saturation']:.2f} "
                f"| {row['saturated']:.3f} | {row['high_frequency']:.3f} "
                f"| {row['wall_s']:.0f} s ({row['load']:.1f}) |")
        text = "\n".join(lines) + "\n"
        (runs / "blur.md").write_text(text)
        path = Path(args.figure or f"experiments/figures/recipe_blur_{network.name}.png")
        kilobytes = figure(shown, CLASSES, path, args.tile, per_row=len(CLASSES)) / 1024
        print(text + f"figure: {path} ({kilobytes:.0f} KB)")


if __name__ == "__main__":
    main()
