"""Pictures for humans (ROS-free): hypotheses overlaid on an image, examples with their masks."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np


def palette(count: int) -> list[tuple[int, int, int]]:
    """Distinct RGB colours, stable for a given count."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.85, 1.0)) for i in range(count)]


def overlay_hypotheses(image: np.ndarray, hypotheses, alpha: float = 0.45, chosen: int | None = None) -> np.ndarray:
    """RGB image with each hypothesis mask tinted, its outline, grasp point, yaw and score.

    ``hypotheses``: objects with ``mask``, ``score``, ``grasp_u``, ``grasp_v``, ``grasp_yaw``.
    ``chosen``: index drawn with a thick white outline (the one the robot tested).
    """
    out = image.astype(np.float32).copy()
    colours = palette(len(hypotheses))
    for hypothesis, colour in zip(hypotheses, colours):
        mask = np.asarray(hypothesis.mask, dtype=bool)
        out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(colour, np.float32)
    out = out.clip(0, 255).astype(np.uint8)
    for index, (hypothesis, colour) in enumerate(zip(hypotheses, colours)):
        mask = np.asarray(hypothesis.mask, dtype=np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        thick = index == chosen
        cv2.drawContours(out, contours, -1, (255, 255, 255) if thick else colour, 3 if thick else 1)
        u, v = int(round(hypothesis.grasp_u)), int(round(hypothesis.grasp_v))
        length = 18
        du, dv = length * np.cos(hypothesis.grasp_yaw), length * np.sin(hypothesis.grasp_yaw)
        cv2.line(out, (int(u - du), int(v - dv)), (int(u + du), int(v + dv)), colour, 2)
        cv2.circle(out, (u, v), 4, (255, 255, 255), -1)
        cv2.putText(
            out,
            f"{hypothesis.score:.2f}",
            (u + 6, v - 6),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out


def overlay_mask(
    image: np.ndarray, mask: np.ndarray | None, point: tuple[float, float], positive: bool, alpha: float = 0.5
) -> np.ndarray:
    """A training example: green mask for positives, a red cross at the point for negatives."""
    out = image.copy()
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        out[m] = ((1 - alpha) * out[m] + alpha * np.array([40, 220, 40])).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (40, 255, 40), 1)
    u, v = int(round(point[0])), int(round(point[1]))
    colour = (40, 255, 40) if positive else (255, 40, 40)
    cv2.drawMarker(out, (u, v), colour, cv2.MARKER_CROSS if not positive else cv2.MARKER_TILTED_CROSS, 14, 2)
    return out
