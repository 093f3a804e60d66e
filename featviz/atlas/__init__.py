"""The atlas: a static, self-contained site of a sweep's renders, opened from disk.

`write_atlas(directory, title, groups, config)` writes `index.html` (the groups, e.g. layers,
with their unit counts), one page per group (a grid of lazily loaded thumbnails, failed units
shown with their message) and one page per unit (the image at full size, its dataset examples,
the loss curve, the final objective value, the seed and the gin lines that reproduce it). Every
link is relative and every image lies under `directory`, so the folder can be copied or zipped.
Pages come from Jinja2 templates with autoescaping on: names come from the user's model and
files, and a layer named `<script>` shows as text.
"""

from featviz.atlas.site import ExampleCrop, GroupPage, UnitPage, write_atlas

__all__ = ["ExampleCrop", "GroupPage", "UnitPage", "write_atlas"]
