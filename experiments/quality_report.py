"""Side by side on a real ImageNet network: the seed method, featviz's default, xplique, tf-keras-vis.

For a list of classes (and optionally of channels), renders one image per target with each
method, then writes one labelled PNG (a row per method, a column per target) and a table of
measures per method: how many images keep their class (channels: stay their layer's most
active channel, and how much activation they keep) under strong held-out perturbations
(`featviz.evaluate.strong_perturbations`: rescale 0.5-1.5x, rotation +-20 degrees, a 60% crop,
Gaussian blur, each drawn `--repeats` times per image), the mean target probability under them,
the share of spectral power above half-Nyquist, and the wall time.

Methods, each at its own defaults:
- `seed`: `featviz/configs/vgg16_classes.gin` as shipped (sigmoid pixels re-standardised every step,
  normalised gradient, Adam 0.1, 50 rounds of 20 steps with zoom 1.01 and blur 1 between them),
  only the model bound to `--model`; channels replace its objective.
- `featviz`: `Visualizer(model, objectives, steps=STEPS)` and nothing else (the recipe of
  `featviz.recipes`, as in `featviz/configs/imagenet_classes.gin`).
- `xplique`: `features_visualizations.optimize(objective, nb_steps=STEPS)` (Fourier, 512x512
  render, its standard transformations), where xplique is installed.
- `tf-keras-vis`: `ActivationMaximization(model)(score, seed_input=uniform noise, steps=STEPS)`
  (pixels, RMSprop, jitter and rotation, total variation and norm regularizers), where installed.
The peers get the model with featviz's preprocessing in front, so that they feed it their own
input range ([0, 1] for xplique, [0, 255] for tf-keras-vis), and the logits as a named output.

    python -m experiments.quality_report --model /work/shared/models/mobilenet_025_imagenet.keras \\
        --preprocess mobilenet --classes flamingo red_fox tarantula ... \\
        --channels conv_pw_3_relu:0 conv_pw_7_relu:25 ... --figures experiments/figures

Renders are cached in `--runs` (images and wall time per method; `--reuse` skips methods already
rendered), tables are written there as `quality_<kind>.md` and `.json`. Run from the repository
root; keep the machine otherwise idle for comparable wall times.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import gin
import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

import featviz as fv
from featviz.analysis.evaluate import (channel_robustness, high_frequency_power, perturbation_robustness,
                              strong_perturbations)

SEED_CONFIG = "vgg16_classes"
METHODS = ("seed", "featviz", "xplique", "tf-keras-vis")
LABELS = {"seed": "seed method", "featviz": "featviz default", "xplique": "xplique default",
          "tf-keras-vis": "tf-keras-vis default"}
# scikit-image sample photographs: the reference for the high-frequency measure.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera")

Unit = tuple[str, int]
Target = str | Unit


class Unavailable(RuntimeError):
    """A peer library is not installed or does not run here; the message says why."""


# Methods: each renders [n, height, width, 3] images in [0, 1], one per target ------------------

def run_seed(model_args: dict, kind: str, targets: Sequence[Target], steps: int | None) -> np.ndarray:
    """The seed method from its shipped config, with only the model (and targets) rebound."""
    bindings = [f"load_model.{key} = {value!r}" for key, value in model_args.items()]
    bindings += ["Visualizer.callbacks = []", "Visualizer.metrics = []"]
    if steps is not None:
        bindings.append(f"Visualizer.steps = {steps}")
    if kind == "classes":
        bindings.append(f"CLASSES = {list(targets)!r}")
    else:
        bindings += ["Visualizer.objective = @channel_objectives()",
                     f"channel_objectives.units = {[tuple(t) for t in targets]!r}"]
    gin.clear_config()
    fv.configs.parse([SEED_CONFIG], bindings)
    with gin.unlock_config():
        images = fv.Visualizer().run().images
    gin.clear_config()
    return images


def _objectives(kind: str, targets: Sequence[Target]) -> list[fv.Objective]:
    if kind == "classes":
        return fv.class_objectives(targets)
    return fv.channel_objectives(targets)


def run_featviz(model: fv.VisModel, kind: str, targets: Sequence[Target], steps: int) -> np.ndarray:
    """featviz with no configuration beyond the objectives and the step budget."""
    return fv.Visualizer(model, _objectives(kind, targets), steps=steps).run().images


def _wrapped(model: fv.VisModel, keys: Sequence[str], scale: float) -> keras.Model:
    """The model with featviz's preprocessing in front, for inputs in [0, scale].

    Outputs the activations of `keys` (layer names or `fv.LOGITS`), each through an identity
    layer named after it ("logits" for the logits), so that the peers find them by name.
    """
    inputs = keras.Input(model.input_shape[1:])
    preprocessed = keras.layers.Lambda(lambda x: model.preprocess(x / scale), name="preprocess")(inputs)
    activations = model.extractor(keys)(preprocessed)
    outputs = [keras.layers.Identity(name=_output_name(key))(activations[key]) for key in keys]
    return keras.Model(inputs, outputs)


def _output_name(key: str) -> str:
    return "logits" if key == fv.LOGITS else f"{key}_output"


def _groups(kind: str, model: fv.VisModel, targets: Sequence[Target]) -> list[tuple[str, list[int], list[int]]]:
    """(layer key, target indices in that layer, their positions in `targets`) per layer."""
    if kind == "classes":
        return [(fv.LOGITS, [model.class_index(t) for t in targets], list(range(len(targets))))]
    groups: dict[str, tuple[list[int], list[int]]] = {}
    for position, (layer, channel) in enumerate(targets):
        groups.setdefault(layer, ([], []))
        groups[layer][0].append(channel)
        groups[layer][1].append(position)
    return [(layer, channels, positions) for layer, (channels, positions) in groups.items()]


def run_xplique(model: fv.VisModel, kind: str, targets: Sequence[Target], steps: int) -> np.ndarray:
    """xplique's `optimize` at its defaults: one call per layer (its `+` combines objectives)."""
    try:
        from xplique.features_visualizations import Objective, optimize
    except ImportError as error:
        raise Unavailable(f"xplique is not importable: {error}") from None
    images = [None] * len(targets)
    for key, indices, positions in _groups(kind, model, targets):
        wrapped = _wrapped(model, [key], scale=1.0)  # xplique's default values_range is (0, 1)
        make = Objective.neuron if kind == "classes" else Objective.channel
        rendered, _ = optimize(make(wrapped, _output_name(key), indices), nb_steps=steps)
        for position, image in zip(positions, np.asarray(rendered[-1])):
            images[position] = image
    return _resized(images, model)


def run_tf_keras_vis(model: fv.VisModel, kind: str, targets: Sequence[Target], steps: int) -> np.ndarray:
    """tf-keras-vis's `ActivationMaximization` at its defaults, from uniform noise in [0, 255]."""
    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
    except ImportError as error:
        raise Unavailable(f"tf-keras-vis is not importable: {error}") from None
    images = [None] * len(targets)
    tf.random.set_seed(0)
    for key, indices, positions in _groups(kind, model, targets):
        wrapped = _wrapped(model, [key], scale=255.0)  # tf-keras-vis's default input_range

        def score(output: tf.Tensor, indices: list[int] = indices) -> tf.Tensor:
            # One value per image: its class's logit, or its channel's mean activation.
            values = [output[i, ..., index] for i, index in enumerate(indices)]
            return tf.stack([tf.reduce_mean(v) for v in values])

        noise = tf.random.uniform((len(indices), *model.input_shape[1:]), 0.0, 255.0)
        rendered = ActivationMaximization(wrapped)(score, seed_input=noise, steps=steps)
        for position, image in zip(positions, np.asarray(rendered) / 255.0):
            images[position] = image
    return _resized(images, model)


def _resized(images: list[np.ndarray], model: fv.VisModel) -> np.ndarray:
    """The peers' images in [0, 1] at the model's input size (xplique renders 512 pixels)."""
    batch = np.clip(np.stack(images).astype(np.float32), 0.0, 1.0)
    size = model.input_size or batch.shape[1:3]
    if batch.shape[1:3] != tuple(size):
        batch = tf.image.resize(batch, size, method="area").numpy()
    return batch


# Measures ---------------------------------------------------------------------------------------

def measure(model: fv.VisModel, kind: str, targets: Sequence[Target], images: np.ndarray,
            repeats: int) -> dict[str, float]:
    """The table's numbers for one method's images."""
    perturbations = {"none": fv.compose([]), **strong_perturbations()}
    strong = [name for name in perturbations if name != "none"]
    row: dict[str, float] = {"high_frequency": float(high_frequency_power(images).mean())}
    if kind == "classes":
        results = perturbation_robustness(model, images, targets, perturbations, repeats=repeats)
        row["clean"] = results["none"].accuracy
        row["clean_probability"] = results["none"].target_probability
        row["probability"] = float(np.mean([results[name].target_probability for name in strong]))
    else:
        results = channel_robustness(model, images, [tuple(t) for t in targets], perturbations,
                                     repeats=repeats)
        row["clean"] = results["none"].accuracy
        row["retained"] = float(np.mean([results[name].retained for name in strong]))
    row.update({name: results[name].accuracy for name in strong})
    row["robust"] = float(np.mean([results[name].accuracy for name in strong]))
    return row


def photo_high_frequency(size: tuple[int, int]) -> dict[str, float]:
    """The high-frequency share of scikit-image's sample photographs at the model's size."""
    import skimage.data

    shares = {}
    for name in PHOTOS:
        photo = fv.io.as_image_batch(getattr(skimage.data, name)(), size, 3, 1)
        shares[name] = float(high_frequency_power(photo)[0])
    return shares


def markdown_table(kind: str, rows: dict[str, dict[str, float]], steps: dict[str, int]) -> str:
    """The measures as a markdown table, one row per method."""
    if kind == "classes":
        head = ("| method | steps | still top-1 after perturbation | rescale | rotate | crop60 | blur "
                "| target probability | unperturbed top-1 | power above half-Nyquist | wall time |")
    else:
        head = ("| method | steps | still top channel after perturbation | rescale | rotate | crop60 "
                "| blur | activation kept | unperturbed top channel | power above half-Nyquist "
                "| wall time |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for method, row in rows.items():
        middle = (f"{row['probability']:.2f}" if kind == "classes" else f"{row['retained']:.2f}")
        lines.append(
            f"| {LABELS[method]} | {steps[method]} | {row['robust']:.0%} | {row['rescale']:.0%} "
            f"| {row['rotate']:.0%} | {row['crop60']:.0%} | {row['blur']:.0%} | {middle} "
            f"| {row['clean']:.0%} | {row['high_frequency']:.3f} | {row['wall_s']:.0f} s |")
    return "\n".join(lines) + "\n"


# The figure ---------------------------------------------------------------------------------------

def figure(rows: dict[str, np.ndarray], labels: Sequence[str], path: Path, tile: int,
           per_row: int = 8) -> int:
    """A palette PNG of rows of images (keyed by their label) in blocks of `per_row` columns.

    Args:
        rows: row label (may have two lines) -> [n, height, width, 3] images in [0, 1].
        labels: n column labels.
        path: the PNG to write.
        tile: pixels per tile side.
        per_row: columns per block; the blocks are stacked.

    Returns:
        The file's size in bytes.
    """
    font = ImageFont.load_default()
    measuring = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = 8 + max(measuring.multiline_textbbox((0, 0), label, font=font)[2] for label in rows)
    pad, top = 3, 14
    blocks = [range(i, min(i + per_row, len(labels))) for i in range(0, len(labels), per_row)]
    width = left + per_row * (tile + pad)
    block_height = top + len(rows) * (tile + pad)
    canvas = Image.new("RGB", (width, len(blocks) * block_height + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for b, block in enumerate(blocks):
        y0 = b * block_height
        for c, index in enumerate(block):
            draw.text((left + c * (tile + pad), y0 + 1), _fit(draw, font, labels[index], tile),
                      fill="black", font=font)
        for r, (label, images) in enumerate(rows.items()):
            y = y0 + top + r * (tile + pad)
            draw.multiline_text((4, y + tile // 2 - 12), label, fill="black", font=font)
            for c, index in enumerate(block):
                tile_image = Image.fromarray(fv.io.to_uint8(images[index]))
                tile_image = tile_image.resize((tile, tile), Image.Resampling.LANCZOS)
                canvas.paste(tile_image, (left + c * (tile + pad), y))
    # A 256-colour palette (no dithering) keeps the file small and the textures legible.
    palette = canvas.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    fv.io.atomic_write(path, lambda tmp: palette.save(tmp, format="PNG", optimize=True))
    return path.stat().st_size


def _fit(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, text: str, width: int) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-1]
    return text


# Driver ---------------------------------------------------------------------------------------

def _render(method: str, args: argparse.Namespace, model: fv.VisModel, kind: str,
            targets: Sequence[Target]) -> tuple[np.ndarray, float, int]:
    """(images, wall seconds, steps) of one method."""
    runners: dict[str, Callable[[], np.ndarray]] = {
        "seed": lambda: run_seed(_model_args(args), kind, targets, args.seed_steps),
        "featviz": lambda: run_featviz(model, kind, targets, args.steps),
        "xplique": lambda: run_xplique(model, kind, targets, args.steps),
        "tf-keras-vis": lambda: run_tf_keras_vis(model, kind, targets, args.steps),
    }
    start = time.perf_counter()
    images = runners[method]()
    wall = time.perf_counter() - start
    steps = args.steps if method != "seed" else (args.seed_steps or _config_steps())
    return images, wall, steps


def _config_steps() -> int:
    gin.clear_config()
    fv.configs.parse([SEED_CONFIG])
    steps = gin.query_parameter("Visualizer.steps")
    gin.clear_config()
    return steps


def _model_args(args: argparse.Namespace) -> dict:
    return {"name": args.model, "preprocess": args.preprocess, "class_names": "imagenet"}


def report(args: argparse.Namespace, model: fv.VisModel, kind: str, targets: Sequence[Target]) -> None:
    """Renders (or reuses), measures and writes the figure and tables of one kind of target."""
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    columns, rows, steps, skipped = {}, {}, {}, {}
    for method in args.methods:
        cache = runs / f"{kind}_{method}.npz"
        if args.reuse and cache.exists():
            saved = np.load(cache)
            images, wall, count = saved["images"], float(saved["wall_s"]), int(saved["steps"])
        else:
            print(f"{kind}: rendering {len(targets)} images with {method}", flush=True)
            try:
                images, wall, count = _render(method, args, model, kind, targets)
            except Unavailable as error:
                skipped[method] = str(error)
                print(f"{kind}: {method} skipped: {error}", flush=True)
                continue
            np.savez_compressed(cache, images=images, wall_s=wall, steps=count)
        columns[method], steps[method] = images, count
        rows[method] = {**measure(model, kind, targets, images, args.repeats), "wall_s": wall}
        print(f"{kind}: {method}: {json.dumps(rows[method])}", flush=True)
    labels = [t if isinstance(t, str) else f"{t[0]}:{t[1]}" for t in targets]
    shown = {f"{LABELS[method]}\n{steps[method]} steps": images for method, images in columns.items()}
    size = figure(shown, labels, Path(args.figures) / f"quality_{kind}.png", args.tile)
    table = markdown_table(kind, rows, steps)
    (runs / f"quality_{kind}.md").write_text(table)
    (runs / f"quality_{kind}.json").write_text(json.dumps(
        {"targets": labels, "rows": rows, "steps": steps, "skipped": skipped}, indent=1))
    print(table + f"figure: {Path(args.figures) / f'quality_{kind}.png'} ({size / 1024:.0f} KB)")


def _unit(text: str) -> Unit:
    layer, _, channel = text.rpartition(":")
    if not layer or not channel.isdigit():
        raise argparse.ArgumentTypeError(f"a channel is LAYER:INDEX, got {text!r}")
    return layer, int(channel)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a .keras file or a keras.applications name")
    parser.add_argument("--preprocess", default=None, help="family whose preprocessing the model needs")
    parser.add_argument("--classes", nargs="+", required=True)
    parser.add_argument("--channels", nargs="*", type=_unit, default=[], help="LAYER:INDEX ...")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--steps", type=int, default=256, help="step budget of featviz and the peers")
    parser.add_argument("--seed-steps", type=int, default=None,
                        help="the seed method's steps (default: its config's, as published)")
    parser.add_argument("--repeats", type=int, default=4, help="draws of each random perturbation")
    parser.add_argument("--tile", type=int, default=144, help="pixels per tile in the figure")
    parser.add_argument("--figures", default="experiments/figures")
    parser.add_argument("--runs", default="runs/quality")
    parser.add_argument("--reuse", action="store_true", help="reuse cached renders in --runs")
    args = parser.parse_args(argv)
    model = fv.load_model(args.model, preprocess=args.preprocess, class_names="imagenet")
    shares = photo_high_frequency(model.input_size or (224, 224))
    print("power above half-Nyquist, scikit-image photographs: "
          + ", ".join(f"{name} {share:.3f}" for name, share in shares.items()))
    Path(args.runs).mkdir(parents=True, exist_ok=True)
    (Path(args.runs) / "photos.json").write_text(json.dumps(shares, indent=1))
    report(args, model, "classes", args.classes)
    if args.channels:
        report(args, model, "channels", args.channels)


if __name__ == "__main__":
    main()
