"""A blind by-eye count of recognizable class images, so that "recognizable by eye" is a number
another viewer can reproduce.

`sheets` takes `quality_report`'s cached class renders (`<runs>/classes_<method>.npz`, one
directory per network) and writes one sheet per (network, method): that method's images in a
random order, as numbered tiles, with nothing that names the method, the network or the
classes. Sheets are named by letters in a random order, and `key.json` (not to be shown to the
viewer) maps each letter back. The viewer gets the sheets and the list of class names. For
every tile they give the class it plainly shows, or "none". `score` then counts, per network and
method, the tiles named as their own class.

    python -m experiments.blind_judging sheets --runs runs/quality/lite1 runs/quality/mobilenet \\
        --methods featviz no-centre featviz-448 xplique --out runs/blind
    python -m experiments.blind_judging score --out runs/blind --answers runs/blind/answers.json

`answers.json` is {"<sheet letter>": {"<tile number>": "<class name or none>", ...}, ...}.
"""

from __future__ import annotations

import argparse
import json
import string
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import featviz as fv

NONE = "none"


def _tiles(images: np.ndarray, tile: int) -> list[Image.Image]:
    """[n, h, w, 3] images in [0, 1] -> n PIL tiles of `tile` pixels (area-resampled)."""
    pixels = np.clip(np.round(images * 255), 0, 255).astype(np.uint8)
    return [Image.fromarray(p).resize((tile, tile), Image.Resampling.BOX) for p in pixels]


def sheet(images: np.ndarray, order: Sequence[int], tile: int, per_row: int = 4) -> Image.Image:
    """The images in `order` as a grid of tiles numbered from 1, with no other text."""
    tiles = _tiles(images[list(order)], tile)
    rows = -(-len(tiles) // per_row)
    pad = 6
    canvas = Image.new("RGB", (per_row * (tile + pad) + pad, rows * (tile + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=16)
    for number, picture in enumerate(tiles, start=1):
        x = pad + (number - 1) % per_row * (tile + pad)
        y = pad + (number - 1) // per_row * (tile + pad)
        canvas.paste(picture, (x, y))
        draw.rectangle((x, y, x + 26, y + 20), fill="white")
        draw.text((x + 3, y + 1), str(number), fill="black", font=font)
    return canvas


def make_sheets(runs: Sequence[Path], methods: Sequence[str], out: Path, tile: int, seed: int) -> dict:
    """Writes `out`/sheet_<letter>.png for every (network, method) and `out`/key.json.

    Returns:
        The key: letter -> {"network", "method", "classes": the class of each tile, in order}.
    """
    rng = np.random.default_rng(seed)
    jobs = []
    for run in runs:
        targets = json.loads((run / "quality_classes.json").read_text())["targets"]
        for method in methods:
            cache = run / f"classes_{method}.npz"
            if not cache.exists():
                raise FileNotFoundError(f"{cache} does not exist: render it with "
                                        f"quality_report --methods {method} --runs {run}")
            jobs.append((run.name, method, targets, np.load(cache)["images"]))
    if len(jobs) > len(string.ascii_uppercase):
        raise ValueError(f"{len(jobs)} sheets, at most {len(string.ascii_uppercase)} letters")
    letters = rng.permutation(len(jobs))
    out.mkdir(parents=True, exist_ok=True)
    key = {}
    for (network, method, targets, images), index in zip(jobs, letters):
        letter = string.ascii_uppercase[index]
        order = rng.permutation(len(targets))
        picture = sheet(images, order, tile)
        fv.io.atomic_write(out / f"sheet_{letter}.png", lambda tmp: picture.save(tmp, format="PNG"))
        key[letter] = {"network": network, "method": method,
                       "classes": [targets[i] for i in order]}
    (out / "key.json").write_text(json.dumps(dict(sorted(key.items())), indent=1))
    (out / "classes.txt").write_text("\n".join(sorted({c for k in key.values() for c in k["classes"]})) + "\n")
    return key


def score(key: dict, answers: dict) -> list[dict]:
    """Per sheet: {"network", "method", "correct": tiles named as their class, "of", "misses"}.

    Raises:
        ValueError: an answer names a sheet or tile that does not exist, or a class that is not
            one of the sheets' classes (nor "none").
    """
    names = {c for entry in key.values() for c in entry["classes"]} | {NONE}
    rows = []
    for letter, given in answers.items():
        if letter not in key:
            raise ValueError(f"answers name sheet {letter!r}; the sheets are {sorted(key)}")
        truth = key[letter]["classes"]
        correct, misses = 0, []
        for tile, answer in given.items():
            if not str(tile).isdigit() or not 1 <= int(tile) <= len(truth):
                raise ValueError(f"sheet {letter}: tile {tile!r} is not one of 1-{len(truth)}")
            if answer not in names:
                raise ValueError(f"sheet {letter}, tile {tile}: {answer!r} is not a class of the "
                                 f"sheets nor {NONE!r}")
            if answer == truth[int(tile) - 1]:
                correct += 1
            else:
                misses.append(f"{truth[int(tile) - 1]} as {answer}")
        rows.append({"sheet": letter, "network": key[letter]["network"],
                     "method": key[letter]["method"], "correct": correct, "of": len(truth),
                     "misses": misses})
    return sorted(rows, key=lambda row: (row["network"], row["method"]))


def main(argv: Sequence[str] | None = None) -> None:
    """`sheets` or `score` (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("sheets")
    make.add_argument("--runs", nargs="+", type=Path, required=True,
                      help="quality_report --runs directories, one per network")
    make.add_argument("--methods", nargs="+", required=True)
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--tile", type=int, default=224)
    make.add_argument("--seed", type=int, default=0)
    marks = commands.add_parser("score")
    marks.add_argument("--out", type=Path, required=True, help="the sheets' directory (key.json)")
    marks.add_argument("--answers", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "sheets":
        key = make_sheets(args.runs, args.methods, args.out, args.tile, args.seed)
        print(f"{len(key)} sheets in {args.out} (key.json is the answer key: keep it from the viewer)")
        return
    rows = score(json.loads((args.out / "key.json").read_text()), json.loads(args.answers.read_text()))
    lines = ["| network | method | named as their class | misses |", "|---|---|---|---|"]
    lines += [f"| {r['network']} | {r['method']} | {r['correct']} of {r['of']} "
              f"| {', '.join(r['misses'])} |" for r in rows]
    text = "\n".join(lines) + "\n"
    (args.out / "scores.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
