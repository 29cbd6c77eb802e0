"""Evaluation only: ground truth from the simulator, evaluation sets, benchmarks.

Nothing in the learning loop (hypotheses, labeller, trainer, experimenter, grasp planner, the
nodes) may import from here; ``tests/sim/test_ground_truth_boundary.py`` enforces it.
"""
