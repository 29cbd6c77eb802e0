"""The experimenter's ROS-free parts: the choice among hypotheses (seeded, uniform or weighted by
score, robust to scores that are NaN, negative or all zero), the tally of interactions, and the
reading of an Interact result by its goal status (an aborted goal is never an executed one; a goal
the server did not know is not counted)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from interseg.experiment import (
    NOT_RUN_PREFIXES,
    POLICIES,
    STATUS_ABORTED,
    STATUS_CANCELED,
    STATUS_NAMES,
    STATUS_SUCCEEDED,
    STATUS_UNKNOWN,
    ExperimentTally,
    choose_hypothesis,
    read_interact_result,
)

# -- choose_hypothesis ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_no_hypotheses_is_an_error(policy):
    with pytest.raises(ValueError, match="no hypotheses"):
        choose_hypothesis([], policy, np.random.default_rng(0))


def test_unknown_policy_is_an_error():
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        choose_hypothesis([0.5, 0.2], "greedy", np.random.default_rng(0))


@pytest.mark.parametrize("policy", POLICIES)
def test_same_seed_same_choices(policy):
    scores = [0.1, 0.7, 0.3, 0.9, 0.05]
    first = [choose_hypothesis(scores, policy, np.random.default_rng(42)) for _ in range(3)]
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert [choose_hypothesis(scores, policy, rng_a) for _ in range(50)] == [
        choose_hypothesis(scores, policy, rng_b) for _ in range(50)
    ]
    assert len(set(first)) == 1


@pytest.mark.parametrize("policy", POLICIES)
def test_a_single_hypothesis_is_always_chosen(policy):
    rng = np.random.default_rng(3)
    assert {choose_hypothesis([0.4], policy, rng) for _ in range(20)} == {0}


def test_uniform_ignores_scores_and_covers_every_index():
    rng = np.random.default_rng(0)
    counts = Counter(choose_hypothesis([1.0, 0.0, 0.0, 0.0], "uniform", rng) for _ in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(abs(c / 4000 - 0.25) < 0.04 for c in counts.values())


def test_uncertain_prefers_scores_near_one_half():
    rng = np.random.default_rng(0)
    scores = [0.5, 0.9, 0.1, 0.99]  # weights s (1 - s): 0.25, 0.09, 0.09, 0.0099
    counts = Counter(choose_hypothesis(scores, "uncertain", rng) for _ in range(8000))
    total = 0.25 + 0.09 + 0.09 + 0.0099
    for index, weight in enumerate((0.25, 0.09, 0.09, 0.0099)):
        assert abs(counts[index] / 8000 - weight / total) < 0.02, counts


@pytest.mark.parametrize("scores", [[1.0, 0.0], [float("nan"), 2.0, -1.0], [float("inf"), 1.0]])
def test_uncertain_without_an_uncertain_score_falls_back_to_uniform(scores):
    rng = np.random.default_rng(1)
    assert set(Counter(choose_hypothesis(scores, "uncertain", rng) for _ in range(300))) == set(range(len(scores)))


def test_uncertain_never_picks_nan_or_out_of_range_scores_when_another_is_uncertain():
    rng = np.random.default_rng(2)
    assert {choose_hypothesis([float("nan"), 1.5, -0.2, 0.4], "uncertain", rng) for _ in range(300)} == {3}


def test_score_weighted_follows_the_scores():
    rng = np.random.default_rng(1)
    counts = Counter(choose_hypothesis([0.1, 0.3, 0.6], "score_weighted", rng) for _ in range(6000))
    for index, share in enumerate([0.1, 0.3, 0.6]):
        assert abs(counts[index] / 6000 - share) < 0.03


def test_score_weighted_never_picks_a_zero_negative_or_nan_score_when_another_is_positive():
    rng = np.random.default_rng(2)
    scores = [0.0, -5.0, math.nan, 0.2, -math.inf]
    assert {choose_hypothesis(scores, "score_weighted", rng) for _ in range(500)} == {3}


@pytest.mark.parametrize(
    "scores", [[0.0, 0.0, 0.0], [-1.0, -2.0, -0.5], [math.nan, math.nan, math.nan], [math.nan, -1.0, 0.0]]
)
def test_score_weighted_without_a_positive_score_falls_back_to_uniform(scores):
    rng = np.random.default_rng(5)
    counts = Counter(choose_hypothesis(scores, "score_weighted", rng) for _ in range(900))
    assert set(counts) == {0, 1, 2}


@pytest.mark.parametrize(
    "scores, allowed",
    [
        ([0.5, math.inf, 0.2], {1}),
        ([math.inf, 0.1, math.inf], {0, 2}),
        ([1e308, 1e308, 0.0], {0, 1}),
        ([1e-300, 0.0], {0}),
    ],
)
def test_score_weighted_with_infinite_or_extreme_scores(scores, allowed):
    # inf / inf and an overflowing sum would be NaN probabilities, which numpy refuses
    rng = np.random.default_rng(0)
    assert {choose_hypothesis(scores, "score_weighted", rng) for _ in range(200)} == allowed


def test_the_choice_is_a_plain_int():
    index = choose_hypothesis(np.array([0.2, 0.8]).tolist(), "score_weighted", np.random.default_rng(0))
    assert type(index) is int


# -- read_interact_result ------------------------------------------------------------------------


def test_status_values_match_action_msgs():
    goal_status = pytest.importorskip("action_msgs.msg").GoalStatus
    assert (STATUS_UNKNOWN, STATUS_SUCCEEDED, STATUS_CANCELED, STATUS_ABORTED) == (
        goal_status.STATUS_UNKNOWN,
        goal_status.STATUS_SUCCEEDED,
        goal_status.STATUS_CANCELED,
        goal_status.STATUS_ABORTED,
    )
    for name in ("accepted", "executing", "canceling"):
        assert STATUS_NAMES[getattr(goal_status, f"STATUS_{name.upper()}")] == name


def test_a_succeeded_goal_is_counted_as_reported():
    outcome = read_interact_result(STATUS_SUCCEEDED, True, True, True, "placed; lifted=True, moved=True", 17)
    assert (outcome.counted, outcome.success, outcome.moved, outcome.lifted, outcome.rejected) == (
        True,
        True,
        True,
        True,
        False,
    )
    failed = read_interact_result(
        STATUS_SUCCEEDED, False, False, False, "rejected: out of reach; lifted=False, moved=False", 18
    )
    assert failed.counted and not failed.success and not failed.rejected


def test_an_aborted_goal_is_counted_as_rejected_and_never_as_executed():
    outcome = read_interact_result(
        STATUS_ABORTED, True, False, True, "pick-and-place done (ok) but capture failed: timeout"
    )
    assert outcome.counted and outcome.rejected
    assert not outcome.success  # the result's success field does not override the status
    assert outcome.lifted  # what the arm believed is kept
    grasp = read_interact_result(STATUS_ABORTED, False, False, False, "rejected: no depth at the grasp pixel")
    assert grasp.counted and grasp.rejected and not grasp.success


@pytest.mark.parametrize(
    "message",
    [
        "stopped: grasp_planner is shutting down; no Interaction published",
        "not run: no arm backend serves pick_place",
        "not run: capture failed: no response",
    ],
)
def test_an_aborted_goal_that_never_ran_is_not_counted(message):
    assert message.startswith(NOT_RUN_PREFIXES)
    outcome = read_interact_result(STATUS_ABORTED, False, False, False, message)
    assert not outcome.counted and message in outcome.reason


def test_a_canceled_goal_is_counted_only_when_its_interaction_was_published():
    before = read_interact_result(
        STATUS_CANCELED, False, False, False, "cancelled before picking; no Interaction published"
    )
    assert not before.counted and "cancelled before picking" in before.reason
    after = read_interact_result(
        STATUS_CANCELED, True, True, False, "placed; lifted=False, moved=True", interaction_id=99
    )
    assert after.counted and after.success and after.moved and not after.rejected


@pytest.mark.parametrize("status", [STATUS_UNKNOWN, 1, 2, 3, 42])
def test_a_status_that_is_not_final_or_not_known_is_not_counted(status):
    # rclpy answers a result request for a goal the server does not know (expired, or a restarted
    # server) with STATUS_UNKNOWN and a default result: that result must not count as an attempt.
    outcome = read_interact_result(status, False, False, False, "", 0)
    assert not outcome.counted and not outcome.success
    assert STATUS_NAMES.get(status, str(status)) in outcome.reason


def test_a_succeeded_goal_with_a_not_run_message_is_still_counted():
    # the status decides; a message that happens to start like a not-run one does not
    assert read_interact_result(STATUS_SUCCEEDED, True, False, False, "not run: leftover text", 3).counted


# -- ExperimentTally ----------------------------------------------------------------------------


def test_an_empty_tally_divides_by_nothing():
    tally = ExperimentTally()
    assert tally.as_record()["grasp_success"] == 0.0
    assert tally.summary() == "0 interactions, 0 positive (0%), 0 lifted (0%), 0 rejected, 0 resets"
    assert tally.progress_bar(0) == "[....................] 0/0"


def test_record_counts_each_field_and_keeps_the_newest_model_version():
    tally = ExperimentTally()
    tally.record(success=True, moved=True, lifted=True, model_version=3)
    tally.record(rejected=True, model_version=1)
    tally.record(success=True, moved=True, model_version=2)
    assert (tally.interactions, tally.executed, tally.positives, tally.lifted, tally.rejected) == (3, 2, 2, 1, 1)
    assert tally.model_version == 3
    record = tally.as_record()
    assert record == {
        "interactions": 3,
        "executed": 2,
        "positives": 2,
        "lifted": 1,
        "rejected": 1,
        "resets": 0,
        "grasp_success": pytest.approx(1 / 3),
    }
    assert tally.summary() == "3 interactions, 2 positive (67%), 1 lifted (33%), 1 rejected, 0 resets"


def test_progress_bar_fills_and_saturates():
    tally = ExperimentTally(interactions=5)
    assert tally.progress_bar(10) == "[" + "#" * 10 + "." * 10 + "] 5/10"
    assert tally.progress_bar(10, width=4) == "[##..] 5/10"
    assert tally.progress_bar(3) == "[" + "#" * 20 + "] 5/3"  # past the target: full, not overflowing
    assert len(tally.progress_bar(1, width=8)) == len("[########] 5/1")


@pytest.mark.parametrize("reset_every", [1, 3, 25])
def test_resets_are_due_once_per_block_of_interactions(reset_every):
    """The loop resets when ``interactions % reset_every == 0`` and a reset is due: exactly one
    reset per block, including the very first (interactions 0), and none twice for one block
    (a reset that failed is retried, a successful one is not repeated)."""
    tally = ExperimentTally()
    for interactions in range(3 * reset_every + 1):
        tally.interactions = interactions
        if interactions % reset_every == 0 and tally.resets_due(reset_every):
            tally.resets += 1
        assert not (interactions % reset_every == 0 and tally.resets_due(reset_every))
    assert tally.resets == 4  # before interactions 0, n, 2n and 3n


def test_a_failed_reset_stays_due():
    tally = ExperimentTally(interactions=50)
    assert tally.resets_due(25)  # none done yet: due (and the loop retries until one succeeds)
    tally.resets = 3
    assert not tally.resets_due(25)
