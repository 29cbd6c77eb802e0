"""labeller: finished interactions in, labelled examples in the store out.

For every Interaction, each of the four views gives its own example through the calibrated
projection of the grasp point (before vs mid-grasp view, or before vs after when there is no
mid-grasp view): a positive with the changed region's mask, or a negative at the grasp point when
nothing moved. The place location gives an extra positive where the object appears. Examples
are appended to the examples store (durable, SQLite WAL + PNG files) before they are announced.

Subscribed topics: interactions (interseg_interfaces/Interaction)
Published topics: labelled_examples (interseg_interfaces/LabelledExample), one per example
Parameters: see config/labeller_node.yaml.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from interseg_interfaces.msg import Interaction, LabelledExample

from interseg.learning.labelling import FrameDifferenceLabeller, LabellerConfig, ViewCapture
from interseg.learning.store import ExampleStore
from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import ImageFormatError, info_to_camera, msg_to_image


def views_from_interaction(msg: Interaction, use_lifted: bool = False) -> list[ViewCapture]:
    """One ViewCapture per camera; raises ImageFormatError/ValueError on malformed messages.

    The mid-grasp view shows the arm over the grasp point; without a self-filter mask of the
    robot it would look like motion at every grasp, so by default the pick example compares
    before with after (the object, if picked, is then somewhere else)."""
    before, after, lifted = msg.before, msg.after, msg.lifted
    if len(before.images) != len(after.images) or not before.images:
        raise ValueError(f"before has {len(before.images)} views, after has {len(after.images)}")
    has_lifted = use_lifted and len(lifted.images) == len(before.images)
    views = []
    for index, name in enumerate(before.camera_names):
        camera = info_to_camera(before.camera_infos[index], before.camera_poses[index], name)
        view = ViewCapture(camera=camera, before=msg_to_image(before.images[index], "rgb8"), after=msg_to_image(after.images[index], "rgb8"),
                           lifted=msg_to_image(lifted.images[index], "rgb8") if has_lifted else None)
        if index == 0 and before.depth.width and after.depth.width and not has_lifted:
            view.before_depth = msg_to_image(before.depth, "32FC1")
            view.after_depth = msg_to_image(after.depth, "32FC1")
        elif index == 0 and before.depth.width and has_lifted and lifted.depth.width:
            view.before_depth = msg_to_image(before.depth, "32FC1")
            view.after_depth = msg_to_image(lifted.depth, "32FC1")
        views.append(view)
    return views


class LabellerNode(Node):
    def __init__(self) -> None:
        super().__init__("labeller")
        store_path = declare(self, "store", "runs/sim/examples", "examples store directory (created if missing)")
        self.use_place = declare(self, "use_place_examples", True, "add the extra positive at the place location")
        self.use_lifted = declare(self, "use_lifted_view", False, "compare before with the mid-grasp view (needs the arm masked out; off: before vs after)")
        crop = declare(self, "crop", 240, "side of the crop around the projected grasp point at 640x480", minimum=16)
        min_area = declare(self, "min_area", 1000, "smallest changed region (px at 640x480) that makes a positive", minimum=1)
        self.labeller = FrameDifferenceLabeller(LabellerConfig(crop=crop, min_area=min_area))
        self.store = ExampleStore(Path(store_path), writer=True)
        self.publisher = self.create_publisher(LabelledExample, "labelled_examples", 50)
        self.subscription = self.create_subscription(Interaction, "interactions", self.on_interaction, 10,
                                                     callback_group=MutuallyExclusiveCallbackGroup())
        self.counts = {"interactions": 0, "positives": 0, "negatives": 0, "rejected": 0}
        self.get_logger().info(f"writing examples to {self.store.root} ({self.store.count()} already there)")

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
            self.get_logger().warning(f"interaction {msg.interaction_id} rejected: {exc} ({self.counts['rejected']} so far)")
            return
        self.counts["interactions"] += 1
        for view_labels in labels:
            for note in view_labels.notes:
                self.get_logger().debug(f"interaction {msg.interaction_id} {view_labels.view}: {note}")
            for example in view_labels.examples:
                key = self.store.add_example(example, interaction_id=int(msg.interaction_id), model_version=int(msg.model_version))
                self.counts["positives" if example.positive else "negatives"] += 1
                out = LabelledExample(interaction_id=msg.interaction_id, view=example.view, positive=example.positive,
                                      mask_area=example.mask_area, store_key=key, reason=example.reason)
                out.header = msg.header
                self.publisher.publish(out)
        pick = [e for v in labels for e in v.examples if e.kind == "pick" and e.view == msg.before.camera_names[0]]
        summary = pick[0].reason if pick else "; ".join(labels[0].notes) if labels else ""
        self.get_logger().info(f"interaction {msg.interaction_id}: {sum(len(v.examples) for v in labels)} examples in "
                               f"{1000 * (time.monotonic() - start):.0f} ms; main view: {summary}")

    def close(self) -> None:
        self.store.close()


def main(args: list[str] | None = None) -> int:
    return run_node(LabellerNode, args)
