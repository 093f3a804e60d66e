"""DeepDream and style-transfer figures on the reference ImageNet network (experiments/README_transfer.md).

Uses MobileNet alpha=0.25 (`../shared/models/mobilenet_025_imagenet.keras`, 224 px) and the
sample photographs in featviz/configs/images/. Writes to experiments/figures/:

- `deepdream_layers.png`: the astronaut photo, then DeepDream on five layers (LayerActivation,
  root mean square), shallow to deep;
- `deepdream_classes.png`: the photo, then DeepDream on four class logits;
- `deepdream_steps.png`: one layer's dream every 30 steps (the run's animation, as stills);
- `style_grid.png`: the cat repainted with the tissue texture, rows = content layer, columns =
  the style layers used (all layers up to the one named).

The same settings as featviz/configs/deepdream.gin and featviz/configs/style_transfer.gin; about 4 minutes on
2 CPU cores.

    PYTHONPATH=. python experiments/transfer_figures.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

import featviz as fv
from featviz.objectives import Features
from small_png import shrink

ROOT = Path(__file__).resolve().parent.parent
MODEL = "/work/shared/models/mobilenet_025_imagenet.keras"
PHOTO = ROOT / "featviz/configs/images/astronaut.jpg"
CONTENT = ROOT / "featviz/configs/images/chelsea.jpg"
STYLE = ROOT / "featviz/configs/images/immunohistochemistry.jpg"
DREAM_LAYERS = ["conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_7_relu", "conv_pw_11_relu", "conv_pw_13_relu"]
DREAM_CLASSES = ["flamingo", "goldfish", "volcano", "jellyfish"]
CONTENT_LAYERS = ["conv_pw_3_relu", "conv_pw_7_relu", "conv_pw_11_relu"]
STYLE_LAYERS = ["conv1_relu", "conv_pw_1_relu", "conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_11_relu"]
STYLE_DEPTHS = [2, 3, 4, 5]  # use the first 2, 3, 4, 5 style layers
STYLE_WEIGHT = 10.0
TILE = 160  # pixels: figure tiles are shrunk to keep the PNGs small


def short(layer: str) -> str:
    """conv_pw_11_relu -> pw11, conv1_relu -> conv1."""
    return layer.replace("conv_pw_", "pw").replace("_relu", "")


def save_figure(path: Path, images: np.ndarray, labels: list[str], columns: int) -> None:
    tiles = np.stack([np.asarray(Image.fromarray(fv.io.to_uint8(image)).resize(
        (TILE, TILE), Image.Resampling.LANCZOS), np.float32) / 255.0 for image in images])
    fv.save_png(path, fv.grid(tiles, labels, columns=columns))
    print(f"{path}: {shrink(path, path, 1.0) / 1024:.0f} KB")


class Stills(fv.Callback):
    """Keeps image `index` every `every` steps, from the start, and at the end."""

    def __init__(self, index: int, every: int) -> None:
        self.index, self.every, self.frames = index, every, []

    def on_step_begin(self, step: int, logs: dict | None = None) -> None:
        if step % self.every == 0:
            self.frames.append((step, self.visualizer.images().numpy()[self.index]))

    def on_run_end(self, logs: dict | None = None) -> None:
        self.frames.append((logs["render"].steps, logs["images"][self.index]))


def deepdream(model: fv.VisModel, objectives: list[fv.Objective], steps: int,
              callbacks: list[fv.Callback] = ()) -> fv.Render:
    """featviz/configs/deepdream.gin's recipe: Fourier from the photo, SGD on normalised gradients, jitter."""
    return fv.Visualizer(model, objectives, param=fv.Fourier(224, init=str(PHOTO)),
                         transforms=[fv.Jitter(8)], optimizer="sgd", learning_rate=0.012,
                         gradient_transforms=[fv.NormalizeGradient()], steps=steps,
                         callbacks=[*callbacks, fv.ProgressBar()]).run()


def style_grid(model: fv.VisModel, steps: int) -> tuple[np.ndarray, list[str], list[tuple]]:
    """featviz/configs/style_transfer.gin's recipe for every (content layer, style depth) pair."""
    pairs = [(content, depth) for content in CONTENT_LAYERS for depth in STYLE_DEPTHS]
    contents = [fv.ActivationMatch(content, str(CONTENT)) for content, _ in pairs]
    styles = [fv.StyleMatch(STYLE_LAYERS[:depth], str(STYLE)) for _, depth in pairs]
    objective = [c + STYLE_WEIGHT * s for c, s in zip(contents, styles)]
    render = fv.Visualizer(model, objective, param=fv.Fourier(224, init=str(CONTENT)), transforms=[],
                           steps=steps, learning_rate=0.05, callbacks=[fv.ProgressBar()]).run()
    # The per-image distances, for the content photo and the final images (the history's keys
    # repeat across images, so it cannot tell them apart).
    keys = sorted({key for o in objective for key in o.layers})
    extract = model.extractor(keys)

    def features(images: np.ndarray) -> Features:
        images = tf.constant(images, tf.float32)
        return Features(extract(model.preprocess(images)), images, model)

    start = features(np.repeat(fv.load_image(CONTENT, (224, 224))[None], len(pairs), axis=0))
    end = features(render.images)
    rows = []
    for i, ((content, depth), c, s) in enumerate(zip(pairs, contents, styles)):
        rows.append((short(content), short(STYLE_LAYERS[depth - 1]), -float(c(end)[i]),
                     -float(s(start)[i]), -float(s(end)[i])))
    labels = [f"c {short(c)} | s..{short(STYLE_LAYERS[d - 1])}" for c, d in pairs]
    return render.images, labels, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "figures")
    parser.add_argument("--dream_steps", type=int, default=120)
    parser.add_argument("--style_steps", type=int, default=300)
    args = parser.parse_args()
    model = fv.load_model(args.model, preprocess="mobilenet", class_names="imagenet")
    photo = fv.load_image(PHOTO, (224, 224))

    stills = Stills(DREAM_LAYERS.index("conv_pw_11_relu"), every=30)
    layers = [fv.LayerActivation(layer, "l2") for layer in DREAM_LAYERS]
    render = deepdream(model, layers, args.dream_steps, [stills])
    save_figure(args.out / "deepdream_layers.png", np.concatenate([photo[None], render.images]),
                ["photo"] + [short(layer) for layer in DREAM_LAYERS], columns=6)
    print("| layer | RMS activation: photo | after DeepDream | pixel MSE from photo |")
    for i, (layer, objective) in enumerate(zip(DREAM_LAYERS, layers)):
        values = render.history[objective.name][:, i]
        mse = float(np.mean((render.images[i] - photo) ** 2))
        print(f"| {layer} | {values[0]:.3g} | {values[-1]:.3g} | {mse:.3g} |")
    save_figure(args.out / "deepdream_steps.png", np.stack([frame for _, frame in stills.frames]),
                [f"pw11 step {step}" for step, _ in stills.frames], columns=len(stills.frames))

    classes = [fv.ClassLogit(name) for name in DREAM_CLASSES]
    render = deepdream(model, classes, args.dream_steps)
    save_figure(args.out / "deepdream_classes.png", np.concatenate([photo[None], render.images]),
                ["photo"] + DREAM_CLASSES, columns=5)
    probabilities = tf.nn.softmax(model.extractor([fv.LOGITS])(model.preprocess(
        tf.constant(render.images)))[fv.LOGITS]).numpy()
    print("| class | logit: photo | after DeepDream | probability after | pixel MSE from photo |")
    for i, (name, objective) in enumerate(zip(DREAM_CLASSES, classes)):
        values = render.history[objective.name][:, i]
        mse = float(np.mean((render.images[i] - photo) ** 2))
        index = model.class_index(name)
        print(f"| {name} | {values[0]:.3g} | {values[-1]:.3g} | {probabilities[i, index]:.3f} | {mse:.3g} |")

    images, labels, rows = style_grid(model, args.style_steps)
    save_figure(args.out / "style_grid.png", images, labels, columns=len(STYLE_DEPTHS))
    print("| content layer | style layers up to | content error | style distance: photo | after |")
    for content, deepest, content_error, style_start, style_end in rows:
        print(f"| {content} | {deepest} | {content_error:.3g} | {style_start:.3g} | {style_end:.3g} |")


if __name__ == "__main__":
    main()
