"""experiments/blind_judging.py: unlabelled sheets whose key maps every tile back, and scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from experiments import blind_judging

CLASSES = ["ostrich", "flamingo", "goldfish", "zebra", "koala"]


def _runs(tmp_path, network: str, methods: list[str]):
    run = tmp_path / network
    run.mkdir()
    (run / "quality_classes.json").write_text(json.dumps({"targets": CLASSES}))
    for m, method in enumerate(methods):
        # Image i is flat with grey level i / 10 (+ a method offset): its tile is recognisable.
        levels = np.arange(len(CLASSES)) / 10 + m / 100
        images = np.broadcast_to(levels[:, None, None, None], (len(CLASSES), 48, 48, 3))
        np.savez_compressed(run / f"classes_{method}.npz", images=images.astype(np.float32))
    return run


def test_the_sheets_hide_the_method_and_the_key_maps_each_tile_back(tmp_path):
    runs = [_runs(tmp_path, "net_a", ["featviz", "xplique"]), _runs(tmp_path, "net_b", ["featviz"])]
    with pytest.raises(FileNotFoundError, match="classes_xplique.npz does not exist"):
        blind_judging.make_sheets(runs, ["featviz", "xplique"], tmp_path / "out", tile=32, seed=1)
    key = blind_judging.make_sheets(runs[:1], ["featviz", "xplique"], tmp_path / "out", tile=32, seed=1)
    assert sorted(key) == ["A", "B"] and json.loads((tmp_path / "out" / "key.json").read_text()) == key
    assert {entry["method"] for entry in key.values()} == {"featviz", "xplique"}
    for letter, entry in key.items():
        assert sorted(entry["classes"]) == sorted(CLASSES)
        picture = np.asarray(Image.open(tmp_path / "out" / f"sheet_{letter}.png").convert("L"))
        # Tile t (numbered from 1, four per row, 32 px + 6 px gaps) shows the image of its class.
        offset = 0.0 if entry["method"] == "featviz" else 0.01
        for t, name in enumerate(entry["classes"]):
            x, y = 6 + t % 4 * 38, 6 + t // 4 * 38
            level = picture[y + 24, x + 24] / 255
            assert level == pytest.approx(CLASSES.index(name) / 10 + offset, abs=0.01)
    assert [entry["classes"] for entry in key.values()] != [CLASSES, CLASSES]  # shuffled


def test_scores_count_tiles_named_as_their_class_and_refuse_unknown_answers(tmp_path):
    key = blind_judging.make_sheets([_runs(tmp_path, "net", ["featviz"])], ["featviz"],
                                    tmp_path / "out", tile=32, seed=0)
    truth = key["A"]["classes"]
    answers = {"A": {str(t + 1): name for t, name in enumerate(truth)}}
    answers["A"]["1"], answers["A"]["2"] = "none", truth[0]
    (row,) = blind_judging.score(key, answers)
    assert (row["network"], row["method"], row["correct"], row["of"]) == ("net", "featviz", 3, 5)
    assert row["misses"] == [f"{truth[0]} as none", f"{truth[1]} as {truth[0]}"]
    with pytest.raises(ValueError, match="'lion' is not a class of the sheets"):
        blind_judging.score(key, {"A": {"1": "lion"}})
    with pytest.raises(ValueError, match="tile '9' is not one of 1-5"):
        blind_judging.score(key, {"A": {"9": "none"}})
    with pytest.raises(ValueError, match=r"sheet 'Z'; the sheets are \['A'\]"):
        blind_judging.score(key, {"Z": {}})
