"""The atlas pages: structure, relative links, and names from users shown as text."""

from __future__ import annotations

import re

import numpy as np

import featviz as fv
from featviz.atlas import ExampleCrop, GroupPage, UnitPage, write_atlas

EVIL = "<script>alert(1)</script>"


def _atlas(tmp_path):
    fv.save_png(tmp_path / "renders" / "x" / "0-s0.png", np.full((8, 8, 3), 0.5, np.float32))
    units = [UnitPage(EVIL, 0, 0, f"ClassLogit[{EVIL}]", "renders/x/0-s0.png", final=1.5,
                      losses=[0.0, -1.0, -1.5], examples=[ExampleCrop("renders/x/0-s0.png", f"{EVIL}.png · 2")],
                      gin=[f"Visualizer.objective = '{EVIL}'"]),
             UnitPage(EVIL, 1, 0, "Channel[x:1]", None, message=f"dead unit {EVIL}")]
    return write_atlas(tmp_path, EVIL, [GroupPage(EVIL, 4, units)], config=f"load_model.name = '{EVIL}'")


def test_a_script_in_a_layer_class_or_file_name_is_shown_as_text(tmp_path):
    _atlas(tmp_path)
    pages = sorted(tmp_path.rglob("*.html"))
    assert len(pages) == 4  # index, the layer, two units
    for page in pages:
        html = page.read_text()
        assert "<script" not in html, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, page


def test_pages_link_relatively_to_files_that_exist(tmp_path):
    index = _atlas(tmp_path)
    for page in tmp_path.rglob("*.html"):
        for target in re.findall(r'(?:href|src)="([^"]+)"', page.read_text()):
            assert not target.startswith(("/", "http", "file:")), (page, target)
            assert (page.parent / target).resolve().is_file(), (page, target)
    layer = (tmp_path / "groups").glob("*.html").__next__().read_text()
    assert layer.count('loading="lazy"') == 1 and "failed: dead unit" in layer
    assert "1 of 4 channels" not in layer and "2 of 4 channels" in layer
    assert index.name == "index.html"
