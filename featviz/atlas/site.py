"""Writing the atlas pages from plain data with Jinja2 templates (see `featviz.atlas`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import jinja2

from featviz.atlas.pages import page_environment, write_page
from featviz.io import slug

# Size of the loss-curve plot in SVG user units.
_CURVE_WIDTH, _CURVE_HEIGHT = 400, 120


@dataclasses.dataclass(frozen=True)
class ExampleCrop:
    """One dataset example beside a unit's render.

    Attributes:
        image: the crop's PNG, relative to the atlas directory.
        caption: what to show under it (file name and activation).
    """

    image: str
    caption: str


@dataclasses.dataclass(frozen=True)
class UnitPage:
    """One rendered unit (a channel, for channel sweeps) and its page.

    Attributes:
        group: its group's name (the layer).
        unit: its index in the group (the channel).
        seed: the render's seed.
        name: the objective's name.
        image: the render's PNG relative to the atlas directory; None when it failed.
        message: why it failed; None when it did not.
        final: the objective's final value; None when it failed.
        losses: the loss (-objective) at every step; empty when it failed.
        examples: dataset examples, highest activation first.
        gin: gin lines that reproduce the render with the sweep's config.
        combination: the grid bindings it was rendered with ("" for none).
    """

    group: str
    unit: int
    seed: int
    name: str
    image: str | None
    message: str | None = None
    final: float | None = None
    losses: Sequence[float] = ()
    examples: Sequence[ExampleCrop] = ()
    gin: Sequence[str] = ()
    combination: str = ""

    @property
    def page(self) -> str:
        """The unit page's path relative to the atlas directory."""
        combination = f"-{slug(self.combination)}" if self.combination else ""
        return f"units/{slug(self.group)}/{self.unit}-s{self.seed}{combination}.html"

    @property
    def failed(self) -> bool:
        """Whether the unit failed (a NaN, a dead channel)."""
        return self.message is not None


@dataclasses.dataclass(frozen=True)
class GroupPage:
    """One group of units (a layer) and its page.

    Attributes:
        name: the group's name.
        size: how many units the group has (the layer's channel count).
        units: its rendered or failed units, in display order.
    """

    name: str
    size: int
    units: Sequence[UnitPage]

    @property
    def page(self) -> str:
        """The group page's path relative to the atlas directory."""
        return f"groups/{slug(self.name)}.html"


def _curve_points(losses: Sequence[float]) -> str:
    """SVG polyline points of `losses` scaled into the plot box (step right, loss up)."""
    if len(losses) < 2:
        return ""
    low, high = min(losses), max(losses)
    span = (high - low) or 1.0
    last = len(losses) - 1
    return " ".join(f"{_CURVE_WIDTH * i / last:.1f},{_CURVE_HEIGHT * (high - v) / span:.1f}"
                    for i, v in enumerate(losses))


def _environment() -> jinja2.Environment:
    """The pages' environment with the loss-curve helpers the unit pages use."""
    environment = page_environment()
    environment.globals.update(curve_points=_curve_points, curve_width=_CURVE_WIDTH,
                               curve_height=_CURVE_HEIGHT)
    return environment


def write_atlas(directory: str | os.PathLike, title: str, groups: Sequence[GroupPage],
                config: str = "") -> Path:
    """Writes the atlas pages into `directory` (the images must already be there).

    Args:
        directory: the atlas directory; image paths of the pages are relative to it.
        title: the site's title (the model's name).
        groups: the groups (layers) in display order.
        config: the sweep's gin config, shown on the index and used with each unit's gin
            lines to reproduce it.

    Returns:
        The path of `index.html`.
    """
    directory = Path(directory)
    environment = _environment()
    index = write_page(directory / "index.html", "index.html", environment, title=title,
                       groups=groups, config=config, root="")
    for group in groups:
        write_page(directory / group.page, "group.html", environment, title=title, group=group,
                   root="../")
        for unit in group.units:
            write_page(directory / unit.page, "unit.html", environment, title=title, group=group,
                       unit=unit, config=config, root="../../")
    return index
