"""Box geometry shared by the local Ground Truth's consolidation and the dataset's worker statistics.

Standard library only.
"""

from __future__ import annotations


def box_iou(first: tuple[float, float, float, float], second: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(left, top, width, height)`` boxes; 0 when they do not overlap."""
    left_a, top_a, width_a, height_a = first
    left_b, top_b, width_b, height_b = second
    width = min(left_a + width_a, left_b + width_b) - max(left_a, left_b)
    height = min(top_a + height_a, top_b + height_b) - max(top_a, top_b)
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    union = width_a * height_a + width_b * height_b - overlap
    return overlap / union if union > 0 else 0.0
