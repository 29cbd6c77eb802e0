"""The disk under the examples store fills up while the labeller writes, then space comes back.

The labeller runs in its own process; "full" is a file-size limit set on that process from
outside (prlimit: every write past it fails with EFBIG, as write() fails with ENOSPC on a full
disk). Nothing may be announced on labelled_examples that is not in the store with readable
files; the store stays readable throughout; the labeller says why once, keeps what it labelled
in memory, and writes and announces it when the disk accepts writes again."""

from __future__ import annotations

import re
import resource
import signal
import sys
import time

import numpy as np
import pytest
from conftest import REPO, wait_for

from interseg.learning.example_files import read_example
from interseg.learning.store import ExampleStore
from interseg.learning.synthetic import default_cameras, random_objects, render, table_texture

pytestmark = pytest.mark.slow

W, H = 320, 240
FULL_LIMIT = 40_000  # bytes a file may grow to while the disk is "full": less than any example image


def _ignore_file_size_signal() -> None:
    # Without this the kernel kills the process at the limit (SIGXFSZ) instead of failing the write.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def interaction_message(interaction_id: int, seed: int):
    """A pick-and-place seen by four synthetic cameras: one object taken from its place and put
    down elsewhere (what the grasp planner publishes after an interaction)."""
    from geometry_msgs.msg import PoseStamped

    from interseg.nodes.convert import camera_to_info, image_to_msg, matrix_to_pose
    from interseg_interfaces.msg import Interaction, Observation

    rng = np.random.default_rng(seed)
    objects = random_objects(rng, 3)
    target, place = objects[0], (-0.25 if objects[0].x > 0 else 0.25, 0.25)
    after_objects = objects[1:] + [target.moved_to(*place)]
    texture = table_texture(seed)

    def observation(scene) -> Observation:
        obs = Observation()
        obs.header.frame_id = "world"
        for camera in default_cameras(W, H):
            image, _ = render(camera, scene, texture, noise_sigma=2.0, rng=rng)
            obs.camera_names.append(camera.name)
            obs.images.append(image_to_msg(image, "rgb8"))
            obs.camera_infos.append(camera_to_info(camera))
            obs.camera_poses.append(matrix_to_pose(camera.world_from_camera))
        return obs

    msg = Interaction(interaction_id=interaction_id, executed=True, object_lifted=True, model_version=0)
    msg.header.frame_id = "world"
    msg.grasp_pose = PoseStamped()
    msg.grasp_pose.pose.position.x, msg.grasp_pose.pose.position.y = float(target.x), float(target.y)
    msg.place_pose.pose.position.x, msg.place_pose.pose.position.y = place
    msg.before, msg.after = observation(objects), observation(after_objects)
    return msg


def stored_keys(root) -> set[str]:
    with ExampleStore(root) as store:
        records = store.records()
        for record in records:  # every row's files are complete and fit it
            read_example(root, record)
        return {r.key for r in records}


@pytest.mark.slow
def test_labeller_keeps_examples_while_the_disk_is_full_and_announces_only_stored_ones(processes, ros_node, tmp_path):
    from interseg_interfaces.msg import Interaction, LabelledExample

    root = tmp_path / "examples"
    messages = [interaction_message(i, seed=10 + i) for i in range(1, 6)]
    announced: list[tuple[float, LabelledExample]] = []
    ros_node.create_subscription(
        LabelledExample, "labelled_examples", lambda m: announced.append((time.monotonic(), m)), 100
    )
    publisher = ros_node.create_publisher(Interaction, "interactions", 10)
    labeller = processes.start(
        [
            sys.executable,
            "-c",
            "import sys; from interseg.nodes.labeller import main; sys.exit(main())",
            "--ros-args",
            "--params-file",
            str(REPO / "config/labeller.yaml"),
            "-p",
            f"store:={root}",
            "-p",
            "retry_s:=0.5",
        ],
        name="labeller",
        preexec_fn=_ignore_file_size_signal,
    )
    wait_for(lambda: publisher.get_subscription_count() > 0, 60, message="the labeller's subscription")

    def announced_for(interaction_id: int) -> list[LabelledExample]:
        return [m for _, m in announced if m.interaction_id == interaction_id]

    def publish_and_wait_for_labels(msg, expect_announcements: bool = True) -> None:
        log_before = processes.output(labeller).count(f"interaction {msg.interaction_id}:")
        publisher.publish(msg)
        wait_for(
            lambda: processes.output(labeller).count(f"interaction {msg.interaction_id}:") > log_before,
            60,
            message=f"interaction {msg.interaction_id} labelled\n{processes.output(labeller)[-3000:]}",
        )
        if expect_announcements:  # each example is announced once stored: wait for all of them
            line = processes.output(labeller).split(f"interaction {msg.interaction_id}: ")[-1]
            count = int(line.split(" examples")[0])
            wait_for(
                lambda: len(announced_for(msg.interaction_id)) >= count,
                30,
                message=f"the {count} examples of interaction {msg.interaction_id} announced",
            )

    # 1. space: examples are stored, then announced
    publish_and_wait_for_labels(messages[0])
    first = len(announced_for(1))
    assert first >= 4, processes.output(labeller)
    assert stored_keys(root) == {m.store_key for _, m in announced}
    image_sizes = [p.stat().st_size for p in (root / "images").iterdir()]
    assert min(image_sizes) > FULL_LIMIT  # the limit refuses every image, as a full disk does

    # 2. the disk fills up: two interactions are labelled, nothing is announced or stored
    resource.prlimit(labeller.pid, resource.RLIMIT_FSIZE, (FULL_LIMIT, resource.RLIM_INFINITY))
    keys_before = stored_keys(root)
    count_before = len(announced)
    for msg in messages[1:3]:
        publish_and_wait_for_labels(msg, expect_announcements=False)
    time.sleep(2.0)  # a few retries go by
    assert len(announced) == count_before
    assert stored_keys(root) == keys_before  # the store stays readable, nothing partial in it
    assert not [p for p in root.rglob("*.tmp")]
    output = processes.output(labeller)
    assert output.count("the examples store refuses writes") == 1 and "File too large" in output
    assert "waiting for the store" in output
    assert labeller.poll() is None

    # 3. space is back: what was kept is written and announced, in order, without a new interaction
    resource.prlimit(labeller.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    freed = time.monotonic()
    wait_for(
        lambda: announced_for(2) and announced_for(3) and "accepts writes again" in processes.output(labeller),
        30,
        message=f"kept examples written\n{processes.output(labeller)[-3000:]}",
    )
    recovered_s = max(t for t, m in announced if m.interaction_id in (2, 3)) - freed
    print(f"kept examples stored and announced {recovered_s:.2f} s after space came back")
    for msg in messages[3:]:
        publish_and_wait_for_labels(msg)

    # every announced example is in the store, and every stored one was announced exactly once (the last
    # interaction's announcements may still be on their way after its first one arrived)
    wait_for(
        lambda: stored_keys(root) == {m.store_key for _, m in announced}, 10, message="every stored example announced"
    )
    keys = [m.store_key for _, m in announced]
    assert len(keys) == len(set(keys))
    assert stored_keys(root) == set(keys)
    assert [m.interaction_id for _, m in announced] == sorted(m.interaction_id for _, m in announced)
    assert {m.interaction_id for _, m in announced} == {1, 2, 3, 4, 5}
    assert labeller.poll() is None and "Traceback" not in processes.output(labeller)


@pytest.mark.slow
def test_labeller_drops_the_oldest_beyond_its_limit_and_says_so(processes, ros_node, tmp_path):
    from interseg_interfaces.msg import Interaction, LabelledExample

    root = tmp_path / "examples"
    announced: list[LabelledExample] = []
    ros_node.create_subscription(LabelledExample, "labelled_examples", announced.append, 100)
    publisher = ros_node.create_publisher(Interaction, "interactions", 10)
    labeller = processes.start(
        [
            sys.executable,
            "-c",
            "import sys; from interseg.nodes.labeller import main; sys.exit(main())",
            "--ros-args",
            "--params-file",
            str(REPO / "config/labeller.yaml"),
            "-p",
            f"store:={root}",
            "-p",
            "retry_s:=0.5",
            "-p",
            "pending_limit:=4",
        ],
        name="labeller",
        preexec_fn=_ignore_file_size_signal,
    )
    wait_for(lambda: publisher.get_subscription_count() > 0, 60, message="the labeller's subscription")
    wait_for(lambda: root.joinpath("examples.sqlite3").exists(), 30, message="the store")
    resource.prlimit(labeller.pid, resource.RLIMIT_FSIZE, (FULL_LIMIT, resource.RLIM_INFINITY))
    publisher.publish(interaction_message(7, seed=3))
    # the drop is logged while the interaction is handled, its summary line after it
    summary = re.compile(r"interaction 7: (\d+) examples")
    wait_for(
        lambda: "examples dropped unstored" in (out := processes.output(labeller)) and summary.search(out),
        60,
        message=f"the drop and the interaction's summary reported\n{processes.output(labeller)[-3000:]}",
    )
    labelled = int(summary.search(processes.output(labeller)).group(1))
    assert labelled > 4 and not announced
    resource.prlimit(labeller.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    wait_for(lambda: len(announced) == 4, 30, message="the four kept examples announced")
    time.sleep(1.0)
    assert len(announced) == 4 and stored_keys(root) == {m.store_key for m in announced}
    assert f"{labelled - 4} examples dropped unstored" in processes.output(labeller)
    assert f"({labelled - 4} dropped while it refused)" in processes.output(labeller)
    assert labeller.poll() is None
