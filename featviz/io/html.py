"""Static HTML pages from the Jinja2 templates in `featviz/io/templates/`, autoescaped.

Every value a template shows (layer names, file names, class names from a user's model) is
escaped, so a name like `<b>` is shown, never interpreted. Jinja2 ships with the `atlas` extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from featviz.io.images import atomic_write


def render_page(template: str, **context: Any) -> str:
    """Renders `templates/<template>` with `context`; every value is HTML-escaped.

    Raises:
        ImportError: Jinja2 is not installed (`pip install "featviz[atlas]"`).
    """
    try:
        import jinja2
    except ImportError as error:
        raise ImportError(f"HTML pages need Jinja2 ({error}); install it with pip install \"featviz[atlas]\"") from None
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template(template).render(**context)


def write_page(path: str | os.PathLike, template: str, **context: Any) -> Path:
    """`render_page(template, **context)` written atomically to `path`."""
    text = render_page(template, **context)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
