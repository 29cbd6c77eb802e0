"""labeller: finished interactions in, labelled examples in the store out.

For every Interaction, each of the four views gives its own example through the calibrated
projection of the grasp point (before vs mid-grasp view, or before vs after when there is no
mid-grasp view): a positive with the changed region's mask, or a negative at the grasp point when
nothing moved. The place location gives an extra positive where the object appears. Examples
are appended to the examples store (durable, SQLite WAL + PNG files) before they are announced.

The store is written by this node (``store``, a directory), or, in a fleet whose labellers do not
share the learner's disk, by the store_writer node through its ``store_example`` service
(``store_service`` set): each example goes with a key chosen once, so a resend after a lost reply
or a restarted writer is stored once (see :mod:`interseg.nodes.store_writer`).

When the disk refuses a write (full, over quota, file too large), or the store writer is not
answering, the examples not yet stored
wait in memory (at most ``pending_limit``; beyond it the oldest are dropped and counted) and are
written, then announced, in order once the store accepts writes again (tried every
``retry_s`` and on every new interaction); the reason is logged once when it starts and once
when it ends. Nothing is announced that is not in the store. A store whose index is damaged
cannot be written again by retrying: the node logs it and stops with exit code 1.

Subscribed topics: interactions (interseg_interfaces/Interaction)
Published topics: labelled_examples (interseg_interfaces/LabelledExample), one per example
Parameters: see config/labeller.yaml.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import Header

from interseg.interaction import views_from_images
from interseg.learning.labelling import FrameDifferenceLabeller, LabellerConfig, ViewCapture
from interseg.learning.labelling import LabelledExample as Example  # the message type has the same name
from interseg.learning.store import ExampleStore
from interseg.learning.store_errors import StoreError, StoreWriteError
from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import ImageFormatError, image_to_msg, info_to_camera, msg_to_image
from interseg_interfaces.msg import Interaction, LabelledExample
from interseg_interfaces.srv import StoreExample


def views_from_interaction(msg: Interaction, use_lifted: bool = False) -> list[ViewCapture]:
    """One ViewCapture per camera (:func:`interseg.interaction.views_from_images`); raises
    ImageFormatError/ValueError on malformed messages.

    The mid-grasp view shows the arm over the grasp point; without a self-filter mask of the
    robot it would look like motion at every grasp, so by default the pick example compares
    before with after (the object, if picked, is then somewhere else)."""
    before, after, lifted = msg.before, msg.after, msg.lifted
    if len(before.images) != len(after.images) or not before.images:
        raise ValueError(f"before has {len(before.images)} views, after has {len(after.images)}")
    has_lifted = use_lifted and len(lifted.images) == len(before.images)
    cameras = [
        info_to_camera(before.camera_infos[index], before.camera_poses[index], name)
        for index, name in enumerate(before.camera_names)
    ]

    def rgb(observation) -> dict:
        return {camera.name: msg_to_image(observation.images[index], "rgb8") for index, camera in enumerate(cameras)}

    def depth(observation):
        return msg_to_image(observation.depth, "32FC1") if observation.depth.width else None

    return views_from_images(
        cameras,
        rgb(before),
        rgb(after),
        before_depth=depth(before),
        after_depth=depth(after) if not has_lifted else None,
        lifted=rgb(lifted) if has_lifted else None,
        lifted_depth=depth(lifted) if has_lifted else None,
    )


@dataclass
class PendingExample:
    """A labelled example not yet in the store, with its key (kept across resends) and what its
    announcement needs."""

    example: Example
    interaction_id: int
    model_version: int
    header: Header
    key: str


def example_key(prefix: str, interaction_id: int, example: Example) -> str:
    """A fleet-unique key: the robot's prefix (its namespace), the interaction, view and kind, and
    a random suffix (interaction ids restart with a robot's run)."""
    return f"{prefix}{int(interaction_id):08d}-{example.view}-{example.kind}-{uuid.uuid4().hex[:8]}"


def store_request(item: PendingExample) -> StoreExample.Request:
    example = item.example
    request = StoreExample.Request(
        key=item.key,
        interaction_id=item.interaction_id,
        view=example.view,
        kind=example.kind,
        source="interaction",
        positive=example.positive,
        u=float(example.u),
        v=float(example.v),
        reason=example.reason,
        model_version=item.model_version,
    )
    request.image = image_to_msg(example.image, "rgb8", item.header)
    if example.mask is not None:
        request.mask = image_to_msg(example.mask.astype(np.uint8) * 255, "mono8", item.header)
    return request


class LabellerNode(Node):
    def __init__(self) -> None:
        super().__init__("labeller")
        store_path = declare(self, "store", "runs/sim/examples", "examples store directory (created if missing)")
        self.use_place = declare(self, "use_place_examples", True, "add the extra positive at the place location")
        self.use_lifted = declare(
            self,
            "use_lifted_view",
            False,
            "compare before with the mid-grasp view (needs the arm masked out; off: before vs after)",
        )
        crop = declare(self, "crop", 240, "side of the crop around the projected grasp point at 640x480", minimum=16)
        min_area = declare(
            self, "min_area", 1000, "smallest changed region (px at 640x480) that makes a positive", minimum=1
        )
        self.pending_limit = declare(
            self,
            "pending_limit",
            256,
            "examples kept in memory while the store cannot be written (disk full); beyond it the oldest are dropped",
            minimum=0,
        )
        retry_s = declare(self, "retry_s", 5.0, "seconds between attempts to write kept examples", minimum=0.1)
        store_service = declare(
            self, "store_service", "", "send examples to this store_writer service instead ('' = write 'store' here)"
        )
        self.call_timeout = declare(
            self, "store_timeout_s", 10.0, "seconds to wait for the store writer's answer", minimum=0.1
        )
        self.labeller = FrameDifferenceLabeller(LabellerConfig(crop=crop, min_area=min_area))
        namespace = self.get_namespace().strip("/").replace("/", "-")
        self.key_prefix = f"{namespace}-" if namespace else ""
        self.store = self.client = None
        if store_service:
            # its own group: the reply is handled by another executor thread while a callback waits
            self.client = self.create_client(StoreExample, store_service, callback_group=ReentrantCallbackGroup())
            where = f"sending examples to the store writer at {self.client.srv_name}"
        else:
            self.store = ExampleStore(Path(store_path), writer=True)
            where = f"writing examples to {self.store.root} ({self.store.count()} already there)"
        self.publisher = self.create_publisher(LabelledExample, "labelled_examples", 50)
        self.pending: deque[PendingExample] = deque()
        self.store_problem: str | None = None  # why the last write failed, while examples wait
        self.problem_since = 0.0
        self.finished = Future()  # completes (code 1) only when the store cannot be written at all
        group = MutuallyExclusiveCallbackGroup()  # the store has one writer thread at a time
        self.subscription = self.create_subscription(
            Interaction, "interactions", self.on_interaction, 10, callback_group=group
        )
        self.retry_timer = self.create_timer(retry_s, self.write_pending, callback_group=group)
        self.counts = {"interactions": 0, "positives": 0, "negatives": 0, "rejected": 0, "dropped": 0}
        self.get_logger().info(where)

    def on_interaction(self, msg: Interaction) -> None:
        start = time.monotonic()
        try:
            views = views_from_interaction(msg, self.use_lifted)
            p, q = msg.grasp_pose.pose.position, msg.place_pose.pose.position
            grasp = np.array([p.x, p.y, p.z])
            place = np.array([q.x, q.y, q.z]) if self.use_place and msg.executed else None
            labels = self.labeller.label_interaction(views, grasp, place)
        except (ImageFormatError, ValueError, IndexError) as exc:
            self.counts["rejected"] += 1
            self.get_logger().warning(
                f"interaction {msg.interaction_id} rejected: {exc} ({self.counts['rejected']} so far)"
            )
            return
        self.counts["interactions"] += 1
        for view_labels in labels:
            for note in view_labels.notes:
                self.get_logger().debug(f"interaction {msg.interaction_id} {view_labels.view}: {note}")
            for example in view_labels.examples:
                interaction_id = int(msg.interaction_id)
                self.pending.append(
                    PendingExample(
                        example,
                        interaction_id,
                        int(msg.model_version),
                        msg.header,
                        example_key(self.key_prefix, interaction_id, example),
                    )
                )
        self.write_pending()
        self._limit_pending()
        pick = [e for v in labels for e in v.examples if e.kind == "pick" and e.view == msg.before.camera_names[0]]
        summary = pick[0].reason if pick else "; ".join(labels[0].notes) if labels else ""
        waiting = f" ({len(self.pending)} waiting for the store)" if self.pending else ""
        self.get_logger().info(
            f"interaction {msg.interaction_id}: {sum(len(v.examples) for v in labels)} examples in "
            f"{1000 * (time.monotonic() - start):.0f} ms{waiting}; main view: {summary}"
        )

    def _limit_pending(self) -> None:
        excess = len(self.pending) - self.pending_limit
        if excess > 0:
            for _ in range(excess):
                self.pending.popleft()
            self.counts["dropped"] += excess
            self.get_logger().error(
                f"{excess} examples dropped unstored: the store has refused writes for "
                f"{time.monotonic() - self.problem_since:.0f} s and {self.pending_limit} are waiting "
                f"already ({self.counts['dropped']} dropped so far)"
            )

    def write_pending(self) -> None:
        """Store, then announce, the waiting examples in order; stop at the first the disk refuses."""
        written = 0
        while self.pending and not self.finished.done():
            item = self.pending[0]
            try:
                key = self.store_one(item)
            except StoreWriteError as exc:
                if self.store_problem is None:
                    self.problem_since = time.monotonic()
                    self.get_logger().error(
                        f"the examples store refuses writes: {exc}; keeping up to "
                        f"{self.pending_limit} examples in memory and retrying"
                    )
                self.store_problem = str(exc)
                return
            except StoreError as exc:
                self.get_logger().fatal(
                    f"the examples store cannot be written: {exc}; stopping with {len(self.pending)} examples unstored"
                )
                self.finished.set_result(1)
                return
            except ValueError as exc:  # the store refuses this example itself: retrying will not help
                self.pending.popleft()
                self.counts["rejected"] += 1
                self.get_logger().warning(
                    f"interaction {item.interaction_id} {item.example.view}: example not stored: {exc}"
                )
                continue
            self.pending.popleft()
            written += 1
            example = item.example
            self.counts["positives" if example.positive else "negatives"] += 1
            out = LabelledExample(
                interaction_id=item.interaction_id,
                view=example.view,
                positive=example.positive,
                mask_area=example.mask_area,
                store_key=key,
                reason=example.reason,
            )
            out.header = item.header
            self.publisher.publish(out)
        if self.store_problem is not None and not self.pending:
            self.get_logger().info(
                f"the examples store accepts writes again after "
                f"{time.monotonic() - self.problem_since:.1f} s; {written} waiting examples "
                f"written ({self.counts['dropped']} dropped while it refused)"
            )
            self.store_problem = None

    def store_one(self, item: PendingExample) -> str:
        """Put one example in the store, here or through the store writer; raises StoreWriteError
        (try again later), StoreError (the store is broken) or ValueError (the example is refused)."""
        if self.store is not None:
            return self.store.add_example(
                item.example, interaction_id=item.interaction_id, model_version=item.model_version, key=item.key
            )
        if not self.client.service_is_ready():
            raise StoreWriteError(f"the store writer ({self.client.srv_name}) is not available")
        try:
            response = self.client.call(store_request(item), timeout_sec=self.call_timeout)
        except TimeoutError:
            raise StoreWriteError(f"the store writer did not answer within {self.call_timeout} s") from None
        if response.success:
            return item.key
        if response.retry:
            raise StoreWriteError(response.message)
        raise ValueError(response.message)

    def close(self) -> None:
        if self.pending:
            self.get_logger().error(f"stopping with {len(self.pending)} examples the store did not accept")
        if self.store is not None:
            self.store.close()


def main(args: list[str] | None = None) -> int:
    return run_node(LabellerNode, args)
