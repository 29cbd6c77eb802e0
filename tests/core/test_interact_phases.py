"""The phases of Interact's feedback: every phase the grasp planner (or a test server standing in
for it) sends is one Interact.action documents, and every documented phase is sent."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO

ACTION = REPO / "src" / "interseg_interfaces" / "action" / "Interact.action"
GRASP_PLANNER = REPO / "src" / "interseg" / "interseg" / "nodes" / "grasp_planner.py"


def documented_phases() -> list[str]:
    feedback = ACTION.read_text().split("\n---\n")[2]
    comment = " ".join(line.lstrip("# ") for line in feedback.splitlines() if line.startswith("#"))
    return [phase for phase in re.findall(r'"([a-z_]+)"', comment) if phase != "hold"]  # "hold": the arm's phase


def phases_sent(source: str) -> set[str]:
    """String literals passed to a feedback publisher: phase("x"), phase("x" if ... else "y"),
    Interact.Feedback(phase="x")."""
    sent = set()
    for call in re.findall(r'\bphase\(([^()]*)\)', source):  # the value, or both branches of "x" if ... else "y"
        for first, other in re.findall(r'^\s*"([a-z_]+)"|\belse\s+"([a-z_]+)"', call):
            sent.add(first or other)
    sent.update(re.findall(r'Interact\.Feedback\(phase="([a-z_]+)"\)', source))
    return sent


def test_the_documented_phases_are_in_order_and_unique():
    assert documented_phases() == [
        "capturing_before",
        "planning",
        "picking",
        "capturing_lifted",
        "placing",
        "capturing_after",
        "done",
    ]


def test_the_grasp_planner_sends_exactly_the_documented_phases():
    documented = set(documented_phases())
    sent = phases_sent(GRASP_PLANNER.read_text())
    assert sent == documented, (
        f"sent but not documented: {sorted(sent - documented)}; documented but never sent: {sorted(documented - sent)}"
    )


def test_test_servers_send_only_documented_phases():
    documented = set(documented_phases())
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path != Path(__file__).resolve() and "Interact.Feedback(" in path.read_text():
            assert phases_sent(path.read_text()) <= documented, path
