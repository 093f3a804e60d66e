"""Every HTML page featviz writes: one Jinja2 environment over `templates/`, pages written atomically.

The sweep's site (`featviz.atlas.site`) and the `activation_atlas` job's page both render
through `page_environment()`: autoescaping is on for every template, because the
values shown (layer, class and file names) come from users' models and files and a layer named
`<script>` must show as text; undefined names are errors, so a template and its caller cannot
drift apart silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jinja2

from featviz.io import atomic_write


def page_environment() -> jinja2.Environment:
    """A new environment loading the templates of `featviz/atlas/templates/`, autoescaped."""
    return jinja2.Environment(loader=jinja2.PackageLoader("featviz.atlas", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def write_page(path: str | os.PathLike, template: str, environment: jinja2.Environment | None = None,
               **context: Any) -> Path:
    """Renders `template` with `context` and writes it to `path` atomically.

    Args:
        path: the page's file.
        template: a template name under `featviz/atlas/templates/`.
        environment: the environment to render with; default a new `page_environment()`
            (a writer of many pages passes one, so that each template is compiled once).
        **context: the template's values, each HTML-escaped where it is shown.

    Returns:
        `path`.
    """
    environment = environment if environment is not None else page_environment()
    html = environment.get_template(template).render(**context)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))
