"""push_collector: random pushes -> motion masks -> push examples in the store (passive pre-training).

A thin node around :func:`interseg.sim.push_examples.collect_push_examples`, which does the
work in a worker thread: the arm sweeps through random table points while the cameras record,
consecutive frames become motion masks (positives), swept table points where nothing moved
become negatives, and everything is written to the examples store with ``source="push"``.

In simulation the node owns its own embedded MuJoCo arena (built and closed by
``collect_push_examples``); the sim node is not involved and need not run. On a real robot this
node is where the arm's push motions would be driven and the cameras recorded: the rest of the
chain (motion masks with the robot's self-filter, negatives, the store) only needs frames,
joint states and the calibration, which a real cell provides.

Published topics:
  labelled_examples (interseg_interfaces/LabelledExample): one per example written
    (interaction_id = push id, view, positive, mask_area, store_key, reason)
  ~/progress (std_msgs/String): one JSON object per push: frames done / total, pushes,
    unreachable pushes, positives, negatives, elapsed seconds, ``done`` on the last one
Exits with code 0 when ``frames`` frames are recorded (launch files mark it ``on_exit:
shutdown``); a failure is logged as fatal and exits 1; Ctrl-C stops after the current frame
and closes the store (every example written so far stays).
Parameters: see config/push_collector.yaml.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import String

from interseg.learning.store import ExampleStore
from interseg.nodes.common import declare, run_node
from interseg.sim.push_examples import DEFAULT_CAMERAS, CollectionSummary, collect_push_examples
from interseg_interfaces.msg import LabelledExample


class _Stopped(Exception):
    """Raised from a collection hook to end the collection early (Ctrl-C / shutdown)."""


class PushCollectorNode(Node):
    def __init__(self) -> None:
        super().__init__("push_collector")
        store_path = declare(
            self,
            "store",
            "runs/pretrain/examples",
            "examples store directory (created if missing; push examples are appended)",
        )
        self.frames = declare(
            self,
            "frames",
            2000,
            "pushing frames to record (each has every recorded camera's view); the node exits when done",
            minimum=1,
        )
        self.width = declare(
            self, "width", 640, "camera width, pixels (the pre-trained checkpoint expects it)", minimum=16
        )
        self.height = declare(self, "height", 480, "camera height, pixels", minimum=16)
        self.split = declare(self, "split", "train", "objects and backgrounds pushed around: train, val or test")
        self.shadows = declare(
            self, "shadows", False, "render cast shadows while recording (the arm's moving shadow makes false motion)"
        )
        self.cameras = tuple(
            declare(self, "cameras", list(DEFAULT_CAMERAS), "views to record (default: the views facing the arm)")
        )
        self.seed = declare(self, "seed", 0, "seed of the arena and of the push points", minimum=0)
        self.reset_every = declare(
            self, "reset_every", 10, "re-scatter the objects every N pushes (0: never)", minimum=0
        )
        self.negatives_per_push = declare(
            self, "negatives_per_push", 2, "negatives per view on the swept path where nothing moved", minimum=0
        )
        self._check_parameters()

        self.store = ExampleStore(Path(store_path), writer=True)
        self.example_publisher = self.create_publisher(LabelledExample, "labelled_examples", 50)
        self.progress_publisher = self.create_publisher(String, "~/progress", 10)
        self.finished = Future()
        self._stop = threading.Event()
        self._start = time.monotonic()
        self.get_logger().info(
            f"recording {self.frames} push frames at {self.width}x{self.height} from "
            f"{', '.join(self.cameras)} into {self.store.root} ({self.store.count()} examples already there)"
        )
        self.thread = threading.Thread(target=self.collect, name="push_collector", daemon=True)
        self.thread.start()

    def _check_parameters(self) -> None:
        from interseg.sim.scene import default_camera_rig

        known = default_camera_rig().names
        if not self.cameras:
            raise ValueError("cameras must name at least one view")
        unknown = [c for c in self.cameras if c not in known]
        if unknown or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras {list(self.cameras)}: each must be one of {list(known)}, at most once")
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val or test, not '{self.split}'")

    # -- hooks run by collect_push_examples in the worker thread ----------------------------------
    def _on_frame(self, _frame) -> None:
        if self._stop.is_set():
            raise _Stopped()

    def _on_example(self, key: str, push_id: int, view: str, positive: bool, mask_area: int, reason: str) -> None:
        if self._stop.is_set():
            raise _Stopped()
        msg = LabelledExample(
            interaction_id=int(push_id),
            view=view,
            positive=bool(positive),
            mask_area=int(mask_area),
            store_key=key,
            reason=reason,
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = f"{view}_optical_frame"
        self.example_publisher.publish(msg)

    def _progress(self, summary: CollectionSummary, done: bool = False) -> dict:
        return {
            "frames": summary.frames,
            "total_frames": int(self.frames),
            "pushes": summary.pushes,
            "unreachable_pushes": summary.unreachable_pushes,
            "positives": summary.positives,
            "negatives": summary.negatives,
            "elapsed_s": round(time.monotonic() - self._start, 3),
            "done": done,
        }

    def _on_push(self, summary: CollectionSummary) -> None:
        if self._stop.is_set():
            raise _Stopped()
        self.progress_publisher.publish(String(data=json.dumps(self._progress(summary))))
        self.get_logger().info(
            f"{summary.frames}/{self.frames} frames, {summary.pushes} pushes: {summary.positives} "
            f"masks, {summary.negatives} negatives",
            throttle_duration_sec=5.0,
        )

    # -- the worker ------------------------------------------------------------------------------
    def collect(self) -> None:
        try:
            summary = collect_push_examples(
                self.store,
                int(self.frames),
                width=int(self.width),
                height=int(self.height),
                split=self.split,
                shadows=bool(self.shadows),
                cameras=self.cameras,
                seed=int(self.seed),
                reset_every=int(self.reset_every),
                negatives_per_push=int(self.negatives_per_push),
                progress=False,
                on_frame=self._on_frame,
                on_example=self._on_example,
                on_push=self._on_push,
            )
        except _Stopped:
            note = "stopped before the frame budget was recorded; the examples written so far are kept"
            if self.context.ok():
                self.get_logger().info(note)
            else:  # shut down by Ctrl-C: /rosout is gone, the console is not
                print(f"[push_collector] {note}", file=sys.stderr, flush=True)
            self._finish(0)
            return
        except Exception as exc:  # noqa: BLE001 -- report, then end with a failure code
            if self._stop.is_set():  # shutting down: publishing or the arena failed because of it
                self._finish(0)
                return
            self.get_logger().fatal(f"push collection failed: {exc!r}")
            self._finish(1)
            return
        self.progress_publisher.publish(String(data=json.dumps(self._progress(summary, done=True))))
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(summary.extractor.get("dropped", {}).items())) or "none"
        self.get_logger().info(
            f"done: {summary.frames} frames from {summary.pushes} pushes ({summary.unreachable_pushes} unreachable) in "
            f"{summary.seconds:.0f} s (masks {summary.mask_seconds:.0f} s): {summary.positives} masks, "
            f"{summary.negatives} negatives written to {self.store.root}; frame pairs dropped: {dropped}"
        )
        # Let reliable subscribers receive the last examples and progress before the process exits.
        for publisher in (self.example_publisher, self.progress_publisher):
            try:
                publisher.wait_for_all_acked(Duration(seconds=2.0))
            except Exception:  # noqa: BLE001 - best effort; the store already holds everything
                pass
        self._finish(0)

    def _finish(self, code: int) -> None:
        if not self.finished.done():
            self.finished.set_result(code)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=60.0)
        if self.thread.is_alive():
            self.get_logger().warning("the collection thread did not stop in 60 s; leaving the store open")
            return
        self.store.close()


def main(args: list[str] | None = None) -> int:
    return run_node(PushCollectorNode, args)
