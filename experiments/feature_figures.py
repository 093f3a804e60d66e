"""Figures of channels across layers, single neurons with their receptive fields, and activation maps.

Runs featviz's Python API on the bundled demo model and on the reference ImageNet network
(`../shared/models/mobilenet_025_imagenet.keras`, Keras MobileNet alpha=0.25; never committed),
and writes small PNGs to experiments/figures/ (palette-quantized so that each stays a few
hundred KB). Short runs, sized for 2 shared CPU cores:

    python experiments/feature_figures.py                      # everything, ~10 minutes
    python experiments/feature_figures.py --only neurons --model mobilenet
    python experiments/feature_figures.py --steps 64           # quicker, rougher

Prints the receptive-field tables and timings it measured.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from small_png import shrink

import featviz as fv
from featviz.jobs.neurons import format_table

FIGURES = Path(__file__).resolve().parent / "figures"
# The reference network sits in shared/models/ beside the checkout (or beside the directory of
# git worktrees); the first parent directory that has it wins.
MOBILENET = next(
    (parent / "shared" / "models" / "mobilenet_025_imagenet.keras" for parent in Path(__file__).resolve().parents
     if (parent / "shared" / "models" / "mobilenet_025_imagenet.keras").is_file()),
    Path("../shared/models/mobilenet_025_imagenet.keras"),
)

# Per model: the layers of each figure, the render size, the Fourier start's noise and the
# transforms of channel sweeps (Lucid's robustness set, scaled to the image size).
SETUPS = {
    "demo": {
        "channel_layers": ["conv1", "conv2", "conv3", "conv4", "conv5"],
        "neuron_layers": ["conv1", "conv2", "conv3", "conv4", "conv5"],
        "activation_layers": ["conv1", "conv3"],
        "size": 64,
        "init_std": 0.01,
        "transforms": lambda: [fv.Pad(4), fv.Jitter(4), fv.RandomScale((0.9, 0.95, 1.0, 1.05, 1.1)),
                               fv.RandomRotate((-10, -5, 0, 5, 10))],
    },
    "mobilenet": {
        "channel_layers": ["conv_pw_1_relu", "conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_7_relu",
                           "conv_pw_10_relu", "conv_pw_13_relu"],
        "neuron_layers": ["conv_pw_1_bn", "conv_pw_3_bn", "conv_pw_5_bn", "conv_pw_7_bn",
                          "conv_pw_9_bn", "conv_pw_11_bn"],
        "activation_layers": ["conv_pw_1_relu", "conv_pw_3_relu", "conv_pw_13_relu"],
        # A pink-noise start: from flat grey, 3 of the 6 conv_pw_13_relu channels got no
        # gradient (their ReLU is off on grey) and stayed at 0; from this start none did.
        "size": 224,
        "init_std": 1.0,
        "transforms": fv.standard_transforms,
    },
}


def load(name: str) -> fv.VisModel:
    if name == "demo":
        return fv.load_model("demo")
    if not MOBILENET.is_file():
        raise SystemExit("the reference network shared/models/mobilenet_025_imagenet.keras is not "
                         "beside this checkout; use --model demo")
    return fv.load_model(str(MOBILENET), preprocess="mobilenet", class_names="imagenet")


def save_small(path: Path, image: np.ndarray, width: int | None = None) -> None:
    """Writes a figure as a 256-colour PNG (`small_png.shrink`), downscaled to `width` pixels."""
    scale = 1.0 if width is None else min(1.0, width / image.shape[1])
    with tempfile.TemporaryDirectory() as tmp:
        full = fv.save_png(Path(tmp) / "full.png", image)
        path.parent.mkdir(parents=True, exist_ok=True)
        size = shrink(full, path, scale)
    print(f"wrote {path} ({size // 1024} KB)")


def channels(name: str, model: fv.VisModel, steps: int) -> None:
    setup = SETUPS[name]
    count = 8 if name == "demo" else 6
    start = time.perf_counter()
    results = fv.visualize_channels(
        model, setup["channel_layers"], channels=count,
        param=fv.Fourier(setup["size"], init_std=setup["init_std"]), transforms=setup["transforms"](),
        steps=steps, learning_rate=0.05)
    print(f"{name}: channel sweep, {len(results)} layers x {count} channels x {steps} steps: "
          f"{time.perf_counter() - start:.0f} s")
    for result in results:
        final = [float(result.render.history[n][-1][i]) for i, n in enumerate(result.render.names)]
        print(f"  {result.layer}: final mean activations {np.round(final, 2).tolist()}")
    if name == "mobilenet":
        # 224-pixel tiles, shown at 96 pixels: the figure stays small.
        results = [fv.LayerRender(r.layer, r.channels, fv.Render(
            tf.image.resize(r.render.images, (96, 96), antialias=True).numpy(), r.render.names,
            r.render.history, r.render.steps)) for r in results]
    save_small(FIGURES / f"{name}_channels.png", fv.layers_figure(results, scale=2 if name == "demo" else 1))


def directions(model: fv.VisModel, steps: int) -> None:
    """Two demo channels alone and the directions between them (Olah et al.'s interpolation)."""
    layer, a, b = "conv3", 1, 4
    count = model.channels(layer)
    vectors = [np.eye(count)[a] * (1 - t) + np.eye(count)[b] * t for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    objectives = [fv.Direction(layer, v) for v in vectors]
    render = fv.Visualizer(model, objectives, param=fv.Fourier(64),
                           transforms=SETUPS["demo"]["transforms"](), steps=steps).run()
    labels = [f"{1 - t:.2g}*c{a}+{t:.2g}*c{b}" for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    save_small(FIGURES / "demo_directions.png",
               fv.rows_figure([render.images], [layer], [labels], scale=2))


def neurons(name: str, model: fv.VisModel, steps: int) -> None:
    setup = SETUPS[name]
    start = time.perf_counter()
    fields = fv.visualize_neurons(model, setup["neuron_layers"], param=fv.Pixel(setup["size"]),
                                  steps=steps, learning_rate=0.05)
    print(f"{name}: neurons, {len(fields)} layers x {steps} steps: {time.perf_counter() - start:.0f} s")
    print(format_table(fields))
    initial = fv.Pixel(setup["size"]).initial(len(fields), 0)
    initial = fv.Pixel(setup["size"]).to_images(initial).numpy()
    for i, field in enumerate(fields):
        top, left, bottom, right = field.region
        outside = np.ones(field.image.shape[:2], bool)
        outside[top:bottom, left:right] = False
        moved = int(np.any(field.image[outside] != initial[i][outside], axis=-1).sum())
        print(f"  {field.layer}: pixels changed outside the theoretical field: {moved}")
    figure = fv.neurons_figure(fields, scale=2 if name == "demo" else 1)
    save_small(FIGURES / f"{name}_neurons.png", figure, width=None if name == "demo" else 560)


def activations(name: str, model: fv.VisModel) -> None:
    from skimage import data

    photo = data.astronaut().astype(np.float32) / 255.0
    result = fv.activation_maps(model, photo, SETUPS[name]["activation_layers"])
    for layer, maps in result.maps.items():
        dead = int(np.sum(maps.max(axis=(0, 1)) <= 0))
        print(f"{name}: {layer} {maps.shape}, channels silent on the photo: {dead}")
        height = maps.shape[0]
        scale = max(1, 48 // height)  # small maps are enlarged to at least 48 pixels
        save_small(FIGURES / f"{name}_astronaut_{layer}.png",
                   fv.activation_grid(maps, scale=scale), width=640)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SETUPS), action="append")
    parser.add_argument("--only", choices=["channels", "directions", "neurons", "activations"], action="append")
    parser.add_argument("--steps", type=int, default=128)
    args = parser.parse_args()
    for name in args.model or sorted(SETUPS):
        model = load(name)
        for part in args.only or ["channels", "directions", "neurons", "activations"]:
            if part == "channels":
                channels(name, model, args.steps)
            elif part == "directions" and name == "demo":
                directions(model, args.steps)
            elif part == "neurons":
                neurons(name, model, 2 * args.steps)
            elif part == "activations":
                activations(name, model)


if __name__ == "__main__":
    main()
