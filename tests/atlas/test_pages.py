"""One way to write pages: the activation atlas's page escapes names from users like the site's."""

from __future__ import annotations

import jinja2
import pytest

from featviz.atlas import write_page

EVIL = "<script>alert(1)</script>"


def test_the_activation_atlas_page_shows_a_script_in_a_class_or_layer_name_as_text(tmp_path):
    tile = {"i": 0, "j": 1, "count": 3, "classes": [EVIL], "failed": EVIL, "left": 0, "top": 0, "width": 8,
            "icon": f"{EVIL}.png", "examples": [f"{EVIL}.png"]}
    page = write_page(tmp_path / "atlas.html", "activation_atlas.html", title=EVIL, summary=EVIL,
                      side=8, tiles=[tile])
    html = page.read_text()
    # The page's own script is its one <script> element; every name is escaped.
    assert html.count("<script") == 1 and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5


def test_a_missing_value_is_an_error_not_an_empty_string(tmp_path):
    with pytest.raises(jinja2.UndefinedError, match="side"):
        write_page(tmp_path / "atlas.html", "activation_atlas.html", title="t", summary="s", tiles=[])
    assert not (tmp_path / "atlas.html").exists()
