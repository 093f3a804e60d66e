"""Work items: blocks of channels, their identities, gin lines and grid combinations."""

from __future__ import annotations

import pytest

import featviz as fv
from featviz.sweep import WorkItem, blocks, channel_items, parse_grid


def test_blocks_cut_units_in_order_with_a_short_last_block():
    assert blocks(range(7), 3) == [(0, 1, 2), (3, 4, 5), (6,)]
    assert blocks([5, 9], 16) == [(5, 9)]
    with pytest.raises(ValueError, match="block_size must be a positive int.*got 0"):
        blocks(range(4), 0)


def test_channel_items_cover_every_channel_of_every_layer_once_per_seed_in_model_order(tiny):
    items = channel_items(tiny, ["conv2", "conv1"], block_size=5, seeds=[0, 7])
    assert [item.group for item in items[:1]] == ["conv1"]
    for layer, count in (("conv1", 8), ("conv2", 16)):
        for seed in (0, 7):
            units = [u for item in items if (item.group, item.seed) == (layer, seed) for u in item.units]
            assert units == list(range(count))
    assert max(len(item.units) for item in items) == 5
    assert len({item.id for item in items}) == len(items)
    first = items[0]
    assert [objective.name for objective in first.objectives] == [f"Channel[conv1:{c}]" for c in first.units]


def test_an_items_id_depends_on_its_layer_units_seed_and_bindings_only(tiny):
    one = channel_items(tiny, ["conv1"], 4, block_size=4)[0]
    assert one.id == channel_items(tiny, ["conv1"], 4, block_size=4)[0].id
    assert one.id != channel_items(tiny, ["conv1"], 4, block_size=4, seeds=[1])[0].id
    assert one.id != channel_items(tiny, ["conv1"], 4, block_size=2)[0].id
    gridded = channel_items(tiny, ["conv1"], 4, block_size=4, combinations=[("Pixel.clip=True",)])[0]
    assert gridded.id != one.id and gridded.combination


def test_any_batch_of_objectives_is_an_item():
    directions = [fv.Direction("conv2", [1.0, 0.0, 2.0]), fv.Direction("conv2", [0.0, 1.0, 0.0])]
    item = WorkItem("atlas", (0, 1), seed=3, objectives=directions)
    assert item.units == (0, 1) and len(item.objectives) == 2
    with pytest.raises(ValueError, match="one objective per unit"):
        WorkItem("atlas", (0, 1, 2), seed=3, objectives=directions)
    with pytest.raises(ValueError, match="distinct units"):
        WorkItem("atlas", (1, 1), seed=3, objectives=directions)


def test_channel_gin_lines_name_the_whole_batch_and_the_seed(tiny):
    item = channel_items(tiny, ["conv1"], [2, 5], block_size=2, seeds=[4])[0]
    assert item.gin == ("Visualizer.objective = @channel_objectives()",
                        "channel_objectives.units = [('conv1', 2), ('conv1', 5)]",
                        "Visualizer.seed = 4")


def test_parse_grid_gives_every_combination_of_gin_values():
    combinations = parse_grid(["Fourier.decay_power=[1.0, 1.5]", "Visualizer.param=[@Pixel(), @Fourier()]",
                               "Pad.pixels=[(2, 3)]"])
    assert len(combinations) == 4
    assert combinations[0] == ("Fourier.decay_power=1.0", "Visualizer.param=@Pixel()", "Pad.pixels=(2, 3)")
    assert parse_grid([]) == [()]
    for bad, message in (("Fourier.decay_power=1.0", "must look like"), ("X.y=[]", "lists no values")):
        with pytest.raises(ValueError, match=message):
            parse_grid([bad])
    with pytest.raises(ValueError, match="twice"):
        parse_grid(["A.b=[1]", "A.b=[2]"])
