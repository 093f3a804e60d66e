"""How often does a channel's render stay flat grey, with and without redirected ReLU gradients?

Renders channels of several layers of the reference ImageNet network
(`/work/shared/models/mobilenet_025_imagenet.keras`, MobileNet alpha 0.25, ReLU6 everywhere)
with featviz's default recipe (Fourier, Adam 0.05, no transforms) and with Lucid's standard
transforms, each for `--steps` steps, once with `redirect_relu_steps=0` (ordinary gradients)
and once with each of the `--redirect` values. A render is *flat* when the standard deviation
of its pixels (all channels, values in [0, 1]) is below `--flat` (0.02: about 5 grey levels
of 255). Also reported: the mean objective (channel mean activation) at the end.

    python experiments/dead_starts.py                 # about 10 minutes on 2 CPU cores
    python experiments/dead_starts.py --steps 32 --per_layer 4   # a quick look

Writes `runs/dead_starts/results.json` and one grid per setting (`grid_<recipe>_<n>.png`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import featviz as fv

REFERENCE = Path("/work/shared/models/mobilenet_025_imagenet.keras")
LAYERS = ("conv_pw_2_relu", "conv_pw_5_relu", "conv_pw_9_relu", "conv_pw_13_relu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--per_layer", type=int, default=12, help="channels per layer")
    parser.add_argument("--size", type=int, default=128, help="render size (resized to 224)")
    parser.add_argument("--redirect", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--flat", type=float, default=0.02, help="pixel std below which a render is flat")
    parser.add_argument("--out", default="runs/dead_starts")
    args = parser.parse_args()
    if not REFERENCE.is_file():
        raise SystemExit(f"the reference network {REFERENCE} is not on this machine")
    model = fv.load_model(str(REFERENCE), preprocess="mobilenet", class_names="imagenet")
    objectives = []
    for layer in LAYERS:
        count = model.channels(layer)
        # Evenly spread channels, so that each layer's sample is not just its first units.
        objectives += [fv.Channel(layer, int(c)) for c in np.linspace(0, count - 1, args.per_layer).round()]
    recipes = {"plain": [], "standard": fv.standard_transforms(jitter=4, pad=6)}
    out = Path(args.out)
    results = []
    for recipe, transforms in recipes.items():
        for redirect in [0, *args.redirect]:
            visualizer = fv.Visualizer(model, objectives, param=fv.Fourier(args.size),
                                       transforms=transforms, steps=args.steps,
                                       redirect_relu_steps=redirect)
            start = time.perf_counter()
            render = visualizer.run()
            seconds = time.perf_counter() - start
            std = render.images.reshape(len(objectives), -1).std(axis=1)
            flat = std < args.flat
            final = np.array([render.history[o.name][-1, i] for i, o in enumerate(objectives)])
            by_layer = {layer: int(sum(f for f, o in zip(flat, objectives) if o.layer == layer))
                        for layer in LAYERS}
            row = {"recipe": recipe, "redirect_relu_steps": redirect, "flat": int(flat.sum()),
                   "channels": len(objectives), "flat_by_layer": by_layer,
                   "median_pixel_std": float(np.median(std)), "mean_final_objective": float(final.mean()),
                   "seconds": round(seconds, 1)}
            results.append(row)
            print(json.dumps(row), flush=True)
            labels = [f"{o.layer.split('_')[2]}:{o.channel} {s:.3f}" for o, s in zip(objectives, std)]
            fv.save_png(out / f"grid_{recipe}_{redirect}.png",
                        fv.grid(render.images, labels, columns=args.per_layer))
    (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
