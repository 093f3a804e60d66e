"""Work items: one batch of objectives, rendered by one `Visualizer` run, done or not as a whole.

A `WorkItem` names a group (for channel sweeps, the layer), the units of the group it renders
(channel indices), the seed, the gin bindings of its grid combination, and the objectives
themselves, one image each. Its `id` is a digest of everything but the objectives, which the
group, units, seed and bindings determine within one sweep (one model and one config, checked
by the manifest). `channel_items` splits the channels of layers into blocks; any other batch of
objectives (directions of an activation atlas, classes) is an item built the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Callable, Sequence

from featviz.jobs.channels import layers_in_order, select_channels
from featviz.models import VisModel
from featviz.objectives import Channel, Objective

ChannelObjective = Callable[[str, int], Objective]


@dataclasses.dataclass(frozen=True)
class WorkItem:
    """One batch of objectives, one image each, rendered in one compiled run.

    Attributes:
        group: what the units belong to: the layer for channel sweeps; the atlas groups its
            pages by it.
        units: one integer per image naming it inside the group (channel indices); unique.
        seed: the `Visualizer.seed` of the run.
        objectives: one objective per unit, image i maximising `objectives[i]`.
        bindings: gin bindings ("Fourier.decay_power=1.5") of the item's grid combination,
            applied over the sweep's config for this item only; () for none.
        gin: gin lines that select these objectives in a `featviz run` of the same config
            (shown in the atlas so that a render can be reproduced); () when not expressible.
    """

    group: str
    units: tuple[int, ...]
    seed: int
    objectives: tuple[Objective, ...] = dataclasses.field(compare=False, repr=False)
    bindings: tuple[str, ...] = ()
    gin: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", tuple(int(u) for u in self.units))
        object.__setattr__(self, "objectives", tuple(self.objectives))
        if not self.units or len(set(self.units)) != len(self.units):
            raise ValueError(f"a work item needs distinct units, got {self.units!r}")
        if len(self.objectives) != len(self.units):
            raise ValueError(f"a work item needs one objective per unit; got {len(self.units)} "
                             f"units and {len(self.objectives)} objectives")

    @property
    def key(self) -> str:
        """The item's identity as canonical JSON: group, units, seed and bindings."""
        return json.dumps([self.group, list(self.units), self.seed, list(self.bindings)])

    @property
    def id(self) -> str:
        """A short digest of `key`: manifest key and file-name stem."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    @property
    def combination(self) -> str:
        """A short digest of `bindings` naming the grid combination ("" without a grid)."""
        if not self.bindings:
            return ""
        return hashlib.sha256(json.dumps(self.bindings).encode()).hexdigest()[:8]


def blocks(units: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """`units` cut into consecutive blocks of `size` (the last one may be shorter).

    Raises:
        ValueError: `size` is not a positive int.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"block_size must be a positive int (images per batch), got {size!r}")
    units = tuple(units)
    return [units[start:start + size] for start in range(0, len(units), size)]


def channel_gin(layer: str, channels: Sequence[int], seed: int) -> tuple[str, ...]:
    """The gin lines that render the same batch with `featviz run` and the same config."""
    units = ", ".join(f"({layer!r}, {c})" for c in channels)
    return ("Visualizer.objective = @channel_objectives()",
            f"channel_objectives.units = [{units}]",
            f"Visualizer.seed = {seed}")


def channel_items(
    model: VisModel,
    layers: Sequence[str],
    channels: Sequence[int] | int | None = None,
    block_size: int = 16,
    seeds: Sequence[int] = (0,),
    combinations: Sequence[tuple[str, ...]] = ((),),
    objective: ChannelObjective = Channel,
) -> list[WorkItem]:
    """Work items rendering the chosen channels of `layers`, `block_size` channels per batch.

    Args:
        model: the model (for layer order and channel counts).
        layers: layer names, in any order; items follow the model's order.
        channels: per layer: None (every channel), an int n (the first n) or a list of indices.
        block_size: channels per item (one batch of one compiled step).
        seeds: one item per block and seed.
        combinations: grid combinations, each a tuple of gin bindings; one item per block,
            seed and combination. `((),)` is no grid.
        objective: `objective(layer, channel) -> Objective`, by default `Channel`.

    Returns:
        Items ordered by layer, combination, seed, then block.

    Raises:
        ValueError: an unknown or repeated layer, bad channels, a bad block size or no seeds.
    """
    seeds = tuple(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    items = []
    for layer in layers_in_order(model, layers):
        chosen = select_channels(model, layer, channels)
        for combination, seed, block in itertools.product(combinations, seeds, blocks(chosen, block_size)):
            gin_lines = channel_gin(layer, block, seed) + tuple(combination)
            items.append(WorkItem(layer, block, seed, tuple(objective(layer, c) for c in block),
                                  tuple(combination), gin_lines))
    return items


def _split_values(text: str) -> list[str]:
    """Top-level comma-separated values of a gin list literal's inside (brackets and quotes kept)."""
    values, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return [value for value in values if value]


def parse_grid(specs: Sequence[str]) -> list[tuple[str, ...]]:
    """Grid combinations from `--grid` specs such as `"Fourier.decay_power=[1.0,1.5,2.0]"`.

    Args:
        specs: one `selector=[value, value, ...]` per binding to sweep; the values are gin
            values (numbers, strings, `@references()`).

    Returns:
        Every combination (the Cartesian product, in the order given) as a tuple of gin
        bindings `"selector=value"`; `[()]` when `specs` is empty.

    Raises:
        ValueError: a spec is not `selector=[values]`, has no values, or repeats a selector.
    """
    axes, selectors = [], []
    for spec in specs:
        selector, equals, values = spec.partition("=")
        selector, values = selector.strip(), values.strip()
        if not equals or not selector or not (values.startswith("[") and values.endswith("]")):
            raise ValueError(f"--grid {spec!r} must look like \"Selector.param=[value1, value2]\"")
        parsed = _split_values(values[1:-1])
        if not parsed:
            raise ValueError(f"--grid {spec!r} lists no values")
        if selector in selectors:
            raise ValueError(f"--grid sweeps {selector!r} twice; give each binding once")
        selectors.append(selector)
        axes.append([f"{selector}={value}" for value in parsed])
    return [tuple(combination) for combination in itertools.product(*axes)]
