"""Static HTML pages: the atlas site of a sweep's renders, and the one way featviz writes pages.

`write_atlas(directory, title, groups, config)` writes `index.html` (the groups, e.g. layers,
with their unit counts), one page per group (a grid of lazily loaded thumbnails, failed units
shown with their message) and one page per unit (the image at full size, its dataset examples,
the loss curve, the final objective value, the seed and the gin lines that reproduce it). Every
link is relative and every image lies under `directory`, so the folder can be copied or zipped.
Every page, these and the activation atlas's `activation_atlas.html`, comes from a Jinja2
template in `templates/` through `featviz.atlas.pages` (`write_page`), with autoescaping on:
names come from the user's model and files, and a layer named `<script>` shows as text.
"""

from featviz.atlas.pages import write_page
from featviz.atlas.site import ExampleCrop, GroupPage, UnitPage, write_atlas

__all__ = ["ExampleCrop", "GroupPage", "UnitPage", "write_atlas", "write_page"]
