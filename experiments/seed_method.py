"""Reproduces the seed method's figures (part 1: visualizing classes) with featviz's configs.

Runs `featviz/configs/vgg16_classes.gin` (the 8-class grid and the per-round animation) and the same
config with bird classes (the bird grid) on any ImageNet model, or `featviz/configs/demo_classes.gin` on
the bundled demo model, then measures each image: its target probability, whether it keeps its
class after downscaling by 2 and blurring, and its share of high-frequency power.

    # VGG16, as published (Keras downloads the weights, or pass the file):
    python -m experiments.seed_method --model vgg16 [--weights /path/to/vgg16_weights.h5]
    # Any Keras ImageNet model file, with its family's preprocessing:
    python -m experiments.seed_method --model /work/shared/models/mobilenet_025_imagenet.keras \
        --preprocess mobilenet --size 224 --rounds 25 --figures experiments/figures --figure-tile 112
    # The demo model (offline, about a minute):
    python -m experiments.seed_method --model demo --figures experiments/figures

Outputs go to `runs/seed_method/<model>/<classes|birds>/` (grid.png, animation.gif and .mp4
where ffmpeg exists, one PNG per class, history.npz, TensorBoard events, operative_config.gin,
results.json, images.npy); with `--figures`, the grids are copied there as `seed_<model>_<run>.png`.
Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import gin
import numpy as np

import featviz as fv
from featviz.jobs import experiment, save_operative_config
from featviz.analysis.evaluate import high_frequency_power, perturbation_robustness


# The bird grid: featviz/configs/vgg16_classes.gin with these classes.
BIRDS = ["ostrich", "goldfinch", "bald_eagle", "great_grey_owl", "peacock", "macaw", "toucan",
         "hummingbird", "flamingo", "king_penguin"]


def _runs(model: str) -> dict[str, tuple[str, list[str]]]:
    """Run name -> (shipped config, extra bindings) for this model."""
    if model == "demo":
        return {"classes": ("demo_classes", [])}
    return {"classes": ("vgg16_classes", []),
            "birds": ("vgg16_classes", [f"CLASSES = {BIRDS!r}"])}


def model_arguments(args: argparse.Namespace) -> dict:
    """`load_model` arguments for the chosen model (given to gin, and reused to evaluate)."""
    kwargs = {"name": args.model, "weights": args.weights or "imagenet"}
    if args.preprocess is not None:
        kwargs["preprocess"] = args.preprocess
    if Path(args.model).suffix in (".keras", ".h5"):
        kwargs["class_names"] = "imagenet"
    return kwargs


def run_one(config: str, model_kwargs: dict, bindings: list[str], rounds: int | None,
            logdir: Path) -> dict:
    """Runs one config and measures its images; returns the results written to results.json."""
    gin.clear_config()
    bindings = [f"load_model.{key} = {value!r}" for key, value in model_kwargs.items()] + bindings
    fv.configs.parse([config], bindings)
    classes = list(gin.query_parameter("CLASSES/macro.value"))
    logdir.mkdir(parents=True, exist_ok=True)
    with gin.unlock_config():
        if rounds is not None:
            steps_per_round = gin.query_parameter("STEPS_PER_ROUND/macro.value")
            gin.bind_parameter("Visualizer.steps", rounds * steps_per_round)
        render = experiment(str(logdir))
    save_operative_config(logdir)
    model = fv.load_model(**model_kwargs)
    robustness = perturbation_robustness(model, render.images, classes)
    high = high_frequency_power(render.images)
    results = {
        "config": config, "bindings": bindings, "steps": render.steps, "classes": classes,
        "target_probability": robustness["none"].probabilities.round(4).tolist(),
        "top1": [model.class_names[i] for i in robustness["none"].predicted],
        "accuracy": robustness["none"].accuracy,
        "accuracy_downscale2_blur1": robustness["downscale2_blur1"].accuracy,
        "target_probability_downscale2_blur1":
            robustness["downscale2_blur1"].probabilities.round(4).tolist(),
        "high_frequency_power": high.round(4).tolist(),
    }
    (logdir / "results.json").write_text(json.dumps(results, indent=1))
    np.save(logdir / "images.npy", render.images)  # as optimized, before the display adjustment
    return results


def write_figure(logdir: Path, classes: list[str], tile: int | None, path: Path) -> None:
    """The run's grid, or, with `tile`, a grid of its saved PNGs resized to tile x tile pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if tile is None:
        shutil.copy(logdir / "grid.png", path)
        return
    files = sorted(logdir.glob("[0-9][0-9]_*.png"))
    images = np.stack([fv.load_image(file, size=(tile, tile)) for file in files])
    fv.save_png(path, fv.grid(images, classes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16", help="'demo', a keras.applications name or a model file")
    parser.add_argument("--weights", help="weights file for keras.applications models (offline)")
    parser.add_argument("--preprocess", help="preprocessing family for model files, e.g. 'mobilenet'")
    parser.add_argument("--size", type=int, help="render size in pixels (default: the config's)")
    parser.add_argument("--rounds", type=int, help="rounds of STEPS_PER_ROUND steps (default: the config's)")
    parser.add_argument("--only", choices=["classes", "birds"], help="run only one of the figures")
    parser.add_argument("--gin_param", action="append", default=[], help="more gin bindings")
    parser.add_argument("--out", default="runs/seed_method", help="output root")
    parser.add_argument("--figures", help="copy the grids here (e.g. experiments/figures)")
    parser.add_argument("--figure-tile", type=int, help="resize the figure's tiles to this many pixels")
    args = parser.parse_args()
    tag = Path(args.model).stem if Path(args.model).suffix else args.model
    for name, (config, run_bindings) in _runs(args.model).items():
        if args.only is not None and name != args.only:
            continue
        logdir = Path(args.out) / tag / name
        if logdir.exists():
            shutil.rmtree(logdir)
        bindings = run_bindings + ([f"SIZE = {args.size}"] if args.size else []) + list(args.gin_param)
        results = run_one(config, model_arguments(args), bindings, args.rounds, logdir)
        print(f"\n{tag} {name}: {results['steps']} steps")
        for i, target in enumerate(results["classes"]):
            print(f"  {target:>22}: p={results['target_probability'][i]:.3f} top1={results['top1'][i]:<22} "
                  f"p(downscale2+blur)={results['target_probability_downscale2_blur1'][i]:.3f} "
                  f"high-freq={results['high_frequency_power'][i]:.3f}")
        print(f"  top-1 = target: {results['accuracy']:.2f}; after downscale2+blur1: "
              f"{results['accuracy_downscale2_blur1']:.2f}; mean high-freq power "
              f"{np.mean(results['high_frequency_power']):.3f}")
        if args.figures is not None:
            write_figure(logdir, results["classes"], args.figure_tile,
                         Path(args.figures) / f"seed_{tag}_{name}.png")


if __name__ == "__main__":
    main()
