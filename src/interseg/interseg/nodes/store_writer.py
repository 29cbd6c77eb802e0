"""store_writer: the examples store's one writer, for labellers that do not share its disk.

A fleet's labellers (one per robot, on any host) send each example to this node's
``store_example`` service (interseg_interfaces/StoreExample) instead of writing a store
themselves; the trainer reads the store this node writes, on the same disk. The service is
idempotent by the sender's key: a key already in the store is answered with success and
``already_stored``, nothing is written again. So a labeller that lost a reply, or whose request
reached a writer that was killed before answering, sends the same example again and it is stored
once. The store's own writes are atomic (files, then the index row, in a transaction): a writer
killed at any moment leaves no partial example, and the labeller's resend to the respawned writer
completes it.

Answers: success (stored now or already there); ``retry`` when the disk refuses the write (full,
over quota): the labeller keeps the example and sends it again; refused without ``retry`` when
the example itself is malformed (bad key, image, mask or point). A store whose index is damaged
cannot be written: the node logs it and stops with exit code 1.

Services: store_example (interseg_interfaces/StoreExample)
Parameters: store (directory, created if missing).
"""

from __future__ import annotations

from pathlib import Path

from rclpy.node import Node
from rclpy.task import Future

from interseg.learning.store import ExampleStore
from interseg.learning.store_errors import StoreError, StoreWriteError
from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import msg_to_image
from interseg_interfaces.srv import StoreExample


class StoreWriterNode(Node):
    def __init__(self) -> None:
        super().__init__("store_writer")
        store_path = declare(self, "store", "runs/fleet/examples", "examples store directory (created if missing)")
        self.store = ExampleStore(Path(store_path), writer=True)
        self.finished = Future()  # completes (code 1) only when the store cannot be written at all
        self.counts = {"stored": 0, "resent": 0, "refused": 0, "deferred": 0}
        self.service = self.create_service(StoreExample, "store_example", self.on_request)
        self.get_logger().info(f"writing examples to {self.store.root} ({self.store.count()} already there)")

    def on_request(self, request, response):
        key = request.key
        try:
            if self.finished.done():
                raise StoreWriteError("the store writer is stopping")
            if self.store.has(key):
                self.counts["resent"] += 1
                response.success, response.already_stored, response.message = True, True, "already stored"
                return response
            image = msg_to_image(request.image, "rgb8")  # ImageFormatError is a ValueError
            mask = msg_to_image(request.mask, "mono8") > 0 if request.mask.width else None
            self.store.add(
                image=image,
                u=request.u,
                v=request.v,
                positive=request.positive,
                mask=mask,
                reason=request.reason,
                interaction_id=request.interaction_id,
                view=request.view,
                kind=request.kind,
                source=request.source or "interaction",
                model_version=request.model_version if request.model_version >= 0 else None,
                key=key,
            )
        except StoreWriteError as exc:
            self.counts["deferred"] += 1
            response.success, response.retry, response.message = False, True, f"not stored, send again: {exc}"
            return response
        except StoreError as exc:
            self.get_logger().fatal(f"the examples store cannot be written: {exc}")
            self.finished.set_result(1)
            response.success, response.retry, response.message = False, True, f"the store writer is stopping: {exc}"
            return response
        except ValueError as exc:
            self.counts["refused"] += 1
            self.get_logger().warning(f"example {key!r} refused: {exc}")
            response.success, response.retry, response.message = False, False, f"refused: {exc}"
            return response
        self.counts["stored"] += 1
        response.success, response.message = True, "stored"
        return response

    def close(self) -> None:
        self.get_logger().info(
            "stopping: {stored} stored, {resent} resends answered, {refused} refused, {deferred} deferred".format(
                **self.counts
            )
        )
        self.store.close()


def main(args: list[str] | None = None) -> int:
    return run_node(StoreWriterNode, args)
