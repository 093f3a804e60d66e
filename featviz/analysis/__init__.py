"""Analysis: measuring models and renders, never optimizing them.

- `receptive_field`: theoretical receptive fields read from the graph (sharing the graph
  runner's traversal) and effective ones from the input gradient;
- `evaluate`: how well renders hold up (perturbation robustness, high-frequency power).

Analysis sits above models, objectives and transforms, and below the loop and the jobs.
"""

from featviz.analysis import evaluate, receptive_field

__all__ = ["evaluate", "receptive_field"]
