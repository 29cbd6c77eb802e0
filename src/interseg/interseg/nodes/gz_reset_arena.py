"""gz_reset_arena: the ResetArena service for the arena in Gazebo (launch/gazebo.launch.py).

A reset deletes the objects now in the world and creates the arrangement of the requested seed
(the same split and objects the embedded simulator would scatter for it) through Gazebo's entity
services, bridged as ros_gz_interfaces/DeleteEntity and SpawnEntity. What to delete and create is
decided without ROS (interseg.sim.gazebo_world.reset_plan, tested); only the service calls are
here. ``ros_gz_interfaces`` is imported when the node starts (a full ROS 2 Jazzy install).

Services: reset_arena (interseg_interfaces/ResetArena)
Clients: /world/<world>/remove (ros_gz_interfaces/DeleteEntity), /world/<world>/create
  (ros_gz_interfaces/SpawnEntity)
Parameters: world (the world's name), world_dir (where the world was written; new objects' files
  go under it), split, seed (the arrangement the world started with), min_objects, max_objects,
  call_timeout (seconds per Gazebo call).
"""

from __future__ import annotations

import threading

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from interseg.nodes.common import declare, run_node
from interseg_interfaces.srv import ResetArena


def import_ros_gz():
    try:
        from ros_gz_interfaces.msg import Entity, EntityFactory
        from ros_gz_interfaces.srv import DeleteEntity, SpawnEntity
    except ImportError as exc:
        raise RuntimeError(
            "ros_gz_interfaces is not installed: resetting the arena in Gazebo needs a full ROS 2 Jazzy "
            f"install with ros-jazzy-ros-gz (see docker/Dockerfile). ({exc})"
        ) from None
    return Entity, EntityFactory, DeleteEntity, SpawnEntity


class GazeboResetArena(Node):
    def __init__(self) -> None:
        super().__init__("gz_reset_arena")
        self.Entity, self.EntityFactory, DeleteEntity, SpawnEntity = import_ros_gz()
        world = declare(self, "world", "interseg_arena", "name of the Gazebo world")
        self.world_dir = declare(self, "world_dir", "", "folder the world was written to (interseg gz world --out)")
        self.split = declare(self, "split", "train", "object and background split")
        self.seed = declare(self, "seed", 0, "the arrangement the world started with", minimum=0)
        self.object_count = (
            declare(self, "min_objects", 4, "fewest objects per arrangement", minimum=1, maximum=12),
            declare(self, "max_objects", 8, "most objects per arrangement", minimum=1, maximum=12),
        )
        self.call_timeout = declare(self, "call_timeout", 10.0, "seconds per Gazebo call", minimum=0.1)
        if not self.world_dir:
            raise ValueError("parameter 'world_dir' is required: the folder `interseg gz world` wrote")
        from interseg.sim.arrangement import plan_arrangement

        self.plan_arrangement = plan_arrangement
        start = plan_arrangement(self.split, self.seed, self.object_count)
        self.current = [f"object_{i}" for i in range(len(start.objects))]
        group = MutuallyExclusiveCallbackGroup()
        self.remove = self.create_client(DeleteEntity, f"/world/{world}/remove", callback_group=group)
        self.create = self.create_client(SpawnEntity, f"/world/{world}/create", callback_group=group)
        self.lock = threading.Lock()
        self.service = self.create_service(
            ResetArena, "reset_arena", self.on_reset, callback_group=ReentrantCallbackGroup()
        )

    def _call(self, client, request, what: str) -> bool:
        if not client.wait_for_service(timeout_sec=self.call_timeout):
            raise RuntimeError(f"{client.srv_name} is not available ({what})")
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(self.call_timeout):
            future.cancel()
            raise TimeoutError(f"no answer within {self.call_timeout:g} s ({what})")
        return bool(getattr(future.result(), "success", False))

    def on_reset(self, request: ResetArena.Request, response: ResetArena.Response) -> ResetArena.Response:
        from interseg.sim.gazebo_world import reset_plan

        with self.lock:
            self.seed = int(request.seed) or self.seed + 1
            arrangement = self.plan_arrangement(self.split, self.seed, self.object_count)
            plan = reset_plan(self.current, arrangement, self.world_dir)
            try:
                for name in plan.remove:
                    entity = self.Entity(name=name, type=self.Entity.MODEL)
                    if not self._call(self.remove, self.remove.srv_type.Request(entity=entity), f"removing {name}"):
                        self.get_logger().warning(f"Gazebo did not remove {name} (already gone?)")
                self.current = []
                for spawn in plan.spawn:
                    factory = self.EntityFactory(name=spawn.name, allow_renaming=False, sdf=spawn.sdf)
                    p, q = factory.pose.position, factory.pose.orientation
                    p.x, p.y, p.z = spawn.position
                    q.x, q.y, q.z, q.w = spawn.orientation_xyzw
                    if not self._call(self.create, self.create.srv_type.Request(entity_factory=factory), spawn.name):
                        raise RuntimeError(f"Gazebo refused to create {spawn.name}")
                    self.current.append(spawn.name)
            except (RuntimeError, TimeoutError) as exc:
                response.success, response.message = False, f"reset to seed {self.seed} failed: {exc}"
                response.num_objects = len(self.current)
                self.get_logger().error(response.message)
                return response
        response.success, response.num_objects = True, len(self.current)
        response.message = f"seed {self.seed}: {len(self.current)} objects"
        return response


def main(args: list[str] | None = None) -> int:
    return run_node(GazeboResetArena, args)
