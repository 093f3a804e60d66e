"""Ablation of the seed method's two tricks: progressive zoom x between-round blur.

Runs the seed-method config four times per seed, with and without the zoom and the blur
callbacks (everything else equal), and measures for each variant:

- top-1: the fraction of images the model classifies as their class, and the mean target
  probability;
- robustness: the same after the image is downscaled by 2 and blurred (sigma 1 pixel), a
  measure of global structure (`featviz.evaluate.downscale_blur`), and after the harsher
  downscale by 4 + blur;
- high-frequency power: the share of spectral power above half the Nyquist frequency
  (`featviz.evaluate.high_frequency_power`; white noise: 0.80).

On the demo model (`featviz/configs/demo_classes.gin`, every demo class), the demo dataset's own images
(`featviz.demo.make_image`) are measured the same way, as a reference for natural images of
these classes. Other models run `featviz/configs/vgg16_classes.gin` (the 8 classes).

    python -m experiments.seed_ablation --seeds 0 1 2 --figures experiments/figures
    python -m experiments.seed_ablation --model /work/shared/models/mobilenet_025_imagenet.keras \
        --preprocess mobilenet --size 224 --rounds 25 --seeds 0 --figures experiments/figures \
        --figure-tile 80

Prints a Markdown table; writes `runs/seed_ablation/<model>/results.json` and, with `--figures`,
`seed_ablation_<model>.png`: the first seed's images as optimized (no display adjustment), rows
zoom+blur, zoom only, blur only, neither. Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

import featviz as fv
from experiments.seed_method import model_arguments
from featviz.jobs import experiment
from featviz.analysis.evaluate import default_perturbations, downscale_blur, high_frequency_power, perturbation_robustness

VARIANTS = {  # name -> (zoom, blur)
    "zoom+blur": (True, True),
    "zoom only": (True, False),
    "blur only": (False, True),
    "neither": (False, False),
}
PERTURBATIONS = {**default_perturbations(), "downscale4_blur1": downscale_blur(4.0, 1.0)}
# At most this many classes per row of the figure (keeps the PNG a few hundred KB).
FIGURE_COLUMNS = 5


def render_variant(config: str, bindings: list[str], zoom: bool, blur: bool, seed: int,
                   rounds: int | None, logdir: Path) -> tuple[np.ndarray, list[str]]:
    """Runs the config with or without the zoom and blur operations; returns images and classes."""
    between = ["@Restandardize()"] + ["@zoom/ScheduledTransform()"] * zoom
    between += ["@blur/ScheduledTransform()"] * blur
    bindings = bindings + [f"Visualizer.between_steps = [{', '.join(between)}]",
                           "Visualizer.callbacks = [@ImageSaver()]", f"Visualizer.seed = {seed}"]
    gin.clear_config()
    fv.configs.parse([config], bindings)
    classes = list(gin.query_parameter("CLASSES/macro.value"))
    with gin.unlock_config():
        if rounds is not None:
            steps_per_round = gin.query_parameter("STEPS_PER_ROUND/macro.value")
            gin.bind_parameter("Visualizer.steps", rounds * steps_per_round)
        return experiment(str(logdir)).images, classes


def measure(model: fv.VisModel, images: np.ndarray, targets: list[str]) -> dict:
    """Top-1 and target probability under each perturbation, and high-frequency power."""
    robustness = perturbation_robustness(model, images, targets, PERTURBATIONS)
    high = high_frequency_power(images)
    row = {"images": len(images), "high_frequency_power": float(high.mean()),
           "high_frequency_power_std": float(high.std())}
    for name, result in robustness.items():
        row[f"top1_{name}"] = result.accuracy
        row[f"p_target_{name}"] = result.target_probability
    return row


def _print_table(rows: dict[str, dict]) -> None:
    print("| variant | images | top-1 | p(target) | top-1 after downscale 2 + blur | p(target) after "
          "| top-1 after downscale 4 + blur | high-freq. power share |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['images']} | {row['top1_none']:.2f} | {row['p_target_none']:.3f} | "
              f"{row['top1_downscale2_blur1']:.2f} | {row['p_target_downscale2_blur1']:.3f} | "
              f"{row['top1_downscale4_blur1']:.2f} | "
              f"{row['high_frequency_power']:.3f} ± {row['high_frequency_power_std']:.3f} |")


def write_figure(images: dict[str, np.ndarray], classes: list[str], tile: int | None, path: Path) -> None:
    """One row per variant, one column per class (at most FIGURE_COLUMNS), as optimized."""
    shown = min(FIGURE_COLUMNS, len(classes))
    tiles = np.concatenate([batch[:shown] for batch in images.values()])
    if tile is not None:
        tiles = tf.image.resize(tiles, (tile, tile), method="area").numpy()
    labels = [f"{name}: {c}" for name in images for c in classes[:shown]]
    fv.save_png(path, fv.grid(tiles, labels, columns=shown, scale=2 if tiles.shape[1] <= 64 else 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo", help="'demo', a keras.applications name or a model file")
    parser.add_argument("--weights", help="weights file for keras.applications models (offline)")
    parser.add_argument("--preprocess", help="preprocessing family for model files, e.g. 'mobilenet'")
    parser.add_argument("--size", type=int, help="render size in pixels (default: the config's)")
    parser.add_argument("--rounds", type=int, help="rounds per run (default: the config's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="runs/seed_ablation")
    parser.add_argument("--figures", help="write seed_ablation_<model>.png here")
    parser.add_argument("--figure-tile", type=int, help="resize the figure's tiles to this many pixels")
    args = parser.parse_args()
    tag = Path(args.model).stem if Path(args.model).suffix else args.model
    model_kwargs = model_arguments(args)
    if args.model == "demo":
        config, bindings = "demo_classes", []
    else:
        config = "vgg16_classes"
        bindings = [f"load_model.{key} = {value!r}" for key, value in model_kwargs.items()]
    bindings += [f"SIZE = {args.size}"] if args.size else []
    model = fv.load_model(**model_kwargs)
    rows, first_seed = {}, {}
    for name, (zoom, blur) in VARIANTS.items():
        images = []
        for seed in args.seeds:
            logdir = Path(args.out) / tag / name.replace(" ", "_").replace("+", "_") / f"seed{seed}"
            batch, classes = render_variant(config, bindings, zoom, blur, seed, args.rounds, logdir)
            np.save(logdir / "images.npy", batch)  # as optimized, for later measures
            images.append(batch)
        first_seed[name] = images[0]
        rows[name] = measure(model, np.concatenate(images), classes * len(args.seeds))
    if args.model == "demo":
        from featviz.demo import make_image

        samples = np.stack([make_image(c, 64, seed) for seed in range(3) for c in classes])
        rows["demo dataset images"] = measure(model, samples, classes * 3)
    _print_table(rows)
    (Path(args.out) / tag / "results.json").write_text(
        json.dumps({"seeds": args.seeds, "rounds": args.rounds, "rows": rows}, indent=1))
    if args.figures is not None:
        write_figure(first_seed, classes, args.figure_tile, Path(args.figures) / f"seed_ablation_{tag}.png")

if __name__ == "__main__":
    main()
