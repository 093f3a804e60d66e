"""The `sweep` job: every chosen channel of chosen layers, resumable, into an atlas.

`render_items(run, items, executor, manifest)` is the engine any batch of objectives can use:
it renders the items the manifest lacks with the executor, writes each item's images and loss
curves under `<run>/atlas/renders/` (each file atomically) and then records it in the manifest,
advancing one progress bar. `sweep(run, ...)` builds channel items, adds dataset examples,
renders, logs one TensorBoard grid per layer (and, with a grid of bindings, one HParams session
per combination) and writes the atlas (`featviz.atlas`) from everything the manifest holds.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gin
import numpy as np

from featviz import io as image_io
from featviz.analysis import evaluate
from featviz.atlas import ExampleCrop, GroupPage, UnitPage, write_atlas
from featviz.jobs import Outputs, Run
from featviz.jobs.base import RunLike, as_run
from featviz.models import VisModel
from featviz.objectives import Channel
from featviz.sweep.examples import crop, top_examples
from featviz.sweep.executors import Executor, ItemResult, LocalExecutor, configured_model
from featviz.sweep.items import ChannelObjective, WorkItem, channel_items, parse_grid
from featviz.sweep.manifest import Manifest
from featviz.sweep.progress import SweepProgress

ATLAS = "atlas"
CONFIG_FILE = "sweep_config.gin"


def _render_file(item: WorkItem, stem: str) -> str:
    """`renders/<group>/<stem>`, relative to the atlas directory."""
    return f"renders/{image_io.slug(item.group)}/{stem}"


def write_result(outputs: Outputs, result: ItemResult) -> dict[str, Any]:
    """Writes an item's images and curves (each file atomically); returns its manifest entry.

    Paths in the entry are relative to the atlas directory `<run>/atlas`.
    """
    item = result.item
    entry: dict[str, Any] = {
        "group": item.group, "units": list(item.units), "seed": item.seed,
        "bindings": list(item.bindings), "combination": item.combination,
        "names": [objective.name for objective in item.objectives], "gin": list(item.gin),
        "error": result.error, "failures": {str(u): m for u, m in result.failures.items()},
        "images": None, "curves": None, "final": None, "high_frequency_power": None,
        "seconds": round(result.seconds, 3),
    }
    if result.images is None:
        return entry
    combination = f"-{item.combination}" if item.combination else ""
    entry["images"] = [_render_file(item, f"{unit}-s{item.seed}{combination}.png") for unit in item.units]
    for name, image in zip(entry["images"], result.images):
        outputs.png(f"{ATLAS}/{name}", image)
    entry["curves"] = _render_file(item, f"{item.id}.json")
    outputs.json(f"{ATLAS}/{entry['curves']}", {"units": list(item.units),
                                                "objective": result.curves.T.tolist()})
    entry["final"] = [float(v) for v in result.curves[-1]]
    entry["high_frequency_power"] = [float(v) for v in evaluate.high_frequency_power(result.images)]
    return entry


def render_items(run: Run, items: Sequence[WorkItem], executor: Executor, manifest: Manifest,
                 config: str) -> int:
    """Renders the items `manifest` lacks and records each as it finishes.

    Args:
        run: where to write, and the stop request.
        items: the sweep's items (finished ones are skipped).
        executor: who renders.
        manifest: the directory's manifest, opened for the sweep's model and config.
        config: the gin config text the workers parse.

    Returns:
        The number of items rendered by this call.
    """
    todo = [item for item in items if item.id not in manifest]
    progress = SweepProgress(len(items), len(items) - len(todo))
    rendered = 0
    try:
        for result in executor.map(todo, config, run.stop):
            manifest.record(result.item.id, write_result(run.outputs, result))
            rendered += 1
            progress.advance()
    finally:
        progress.close()
    return rendered


def _examples(run: Run, model: VisModel, layers: Sequence[str], folder: str, k: int,
              batch_size: int, manifest: Manifest) -> None:
    """Finds and crops the dataset examples of the layers the manifest has none for."""
    index = manifest.extra("examples", {})
    missing = [layer for layer in layers if layer not in index]
    if not missing:
        return
    found = top_examples(model, missing, folder, k, batch_size)
    for layer, channels in found.items():
        index[layer] = []
        for channel, examples in enumerate(channels):
            rows = []
            for rank, example in enumerate(examples):
                name = f"{ATLAS}/examples/{image_io.slug(layer)}/{channel}-{rank}.png"
                run.outputs.png(name, crop(example, model))
                rows.append({"crop": name[len(ATLAS) + 1:], "file": Path(example.file).name,
                             "value": example.value, "position": list(example.position),
                             "region": list(example.region)})
            index[layer].append(rows)
    manifest.set_extra("examples", index)


def _curves(directory: Path, entry: dict[str, Any]) -> list[list[float]]:
    if not entry["curves"]:
        return []
    return json.loads((directory / entry["curves"]).read_text())["objective"]


def atlas_groups(directory: Path, model: VisModel, manifest: Manifest) -> list[GroupPage]:
    """The atlas's groups (layers, in model order) from every item the manifest holds."""
    units: dict[str, list[UnitPage]] = {}
    examples = manifest.extra("examples", {})
    for entry in manifest.items.values():
        curves = _curves(directory, entry)
        for i, unit in enumerate(entry["units"]):
            message = entry["error"] or entry["failures"].get(str(unit))
            crops = [ExampleCrop(row["crop"], f"{row['file']} · {row['value']:.3g}")
                     for row in (examples.get(entry["group"]) or [[]] * (unit + 1))[unit]]
            units.setdefault(entry["group"], []).append(UnitPage(
                group=entry["group"], unit=unit, seed=entry["seed"], name=entry["names"][i],
                image=entry["images"][i] if entry["images"] else None,
                message=message, final=entry["final"][i] if entry["final"] else None,
                losses=[-v for v in curves[i]] if curves else (), examples=crops,
                gin=entry["gin"], combination=", ".join(entry["bindings"])))
    order = {name: i for i, name in enumerate(model.layer_names)}
    groups = []
    for name in sorted(units, key=lambda n: order.get(n, len(order))):
        size = model.channels(name) if name in order else len(units[name])
        groups.append(GroupPage(name, size, sorted(units[name], key=lambda u: (u.combination, u.seed, u.unit))))
    return groups


def _summaries(run: Run, groups: Sequence[GroupPage], manifest: Manifest) -> None:
    """One TensorBoard grid per layer, and one HParams session per grid combination."""
    directory = run.logdir / ATLAS
    for group in groups:
        shown = [unit for unit in group.units if unit.image and not unit.combination]
        shown = shown or [unit for unit in group.units if unit.image]
        if shown:
            images = np.stack([image_io.load_image(directory / unit.image) for unit in shown])
            run.outputs.summary_image(f"sweep/{group.name}", image_io.grid(images, [str(u.unit) for u in shown]))
    combinations: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest.items.values():
        if entry["bindings"]:
            combinations.setdefault(entry["combination"], []).append(entry)
    for combination, entries in combinations.items():
        hparams = {}
        for binding in entries[0]["bindings"]:
            selector, _, value = binding.partition("=")
            try:
                hparams[selector] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                hparams[selector] = value  # a gin reference such as @Pixel()
        finals = [v for e in entries if e["final"] for v in e["final"]]
        powers = [v for e in entries if e["high_frequency_power"] for v in e["high_frequency_power"]]
        with Outputs(run.logdir / "hparams" / combination) as outputs:
            outputs.summary_hparams(hparams, {
                "sweep/final_objective": float(np.mean(finals)) if finals else float("nan"),
                "sweep/high_frequency_power": float(np.mean(powers)) if powers else float("nan"),
                "sweep/failed_items": float(sum(e["error"] is not None for e in entries))})


def check_grid(config: str, combinations: Sequence[tuple[str, ...]]) -> None:
    """Parses every grid combination over `config` once, so a bad binding fails before rendering.

    Raises:
        ValueError: a binding gin refuses; the message names it.
    """
    if combinations == [()]:
        return
    try:
        for combination in combinations:
            with gin.unlock_config():
                gin.clear_config()
                try:
                    gin.parse_config(config + "".join(f"\n{b}" for b in combination))
                except (ValueError, TypeError, NameError, SyntaxError) as error:
                    raise ValueError(f"--grid combination {list(combination)} is not valid gin: {error}") from None
    finally:
        with gin.unlock_config():
            gin.clear_config()
            gin.parse_config(config)


@gin.configurable(module="featviz", denylist=["run", "executor", "config"])
def sweep(
    run: RunLike,
    layers: Sequence[str] = gin.REQUIRED,
    channels: Sequence[int] | int | None = None,
    block_size: int = 16,
    seeds: Sequence[int] = (0,),
    objective: ChannelObjective = Channel,
    grid: Sequence[str] = (),
    examples: str | None = None,
    examples_k: int = 6,
    examples_batch: int = 32,
    executor: Executor | None = None,
    config: str | None = None,
) -> Manifest:
    """Job: renders every chosen channel of `layers` into `<run>/atlas/`, resumably.

    Args:
        run: the sweep directory (a rerun into it renders only what is missing) and the stop
            request.
        layers: layer names.
        channels: per layer: None (every channel), an int n (the first n) or a list.
        block_size: channels per work item, one batch of one compiled step.
        seeds: seeds to render every block with.
        objective: `objective(layer, channel)`, by default `Channel`.
        grid: `"Selector.param=[v1, v2]"` specs; every combination is rendered.
        examples: a folder of images for dataset examples, or None.
        examples_k: dataset examples per channel.
        examples_batch: images per forward pass over the folder.
        executor: `LocalExecutor()` (default) or `RayExecutor()`.
        config: the gin config text the workers use; default the process's `gin.config_str()`.

    Returns:
        The directory's manifest.

    Raises:
        ConfigMismatchError: the directory holds another model's or config's sweep.
    """
    run = as_run(run)
    config = gin.config_str() if config is None else config
    model = configured_model()
    combinations = parse_grid(grid)
    check_grid(config, combinations)
    items = channel_items(model, layers, channels, block_size, seeds, combinations, objective)
    manifest = Manifest(run.logdir, model.name, config)
    run.outputs.text(CONFIG_FILE, config)
    if examples is not None:
        layer_list = list(dict.fromkeys(item.group for item in items))
        _examples(run, model, layer_list, examples, examples_k, examples_batch, manifest)
    executor = executor if executor is not None else LocalExecutor(model)
    render_items(run, items, executor, manifest, config)
    groups = atlas_groups(run.logdir / ATLAS, model, manifest)
    _summaries(run, groups, manifest)
    run.outputs.close()
    write_atlas(run.logdir / ATLAS, model.name, groups, config)
    return manifest
