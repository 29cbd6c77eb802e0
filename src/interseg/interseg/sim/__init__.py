"""The embedded simulator (ROS-free): a MuJoCo tabletop with a Franka Panda and four cameras.

Public entry point: :class:`interseg.sim.arena.SimulatedArena`. It deliberately exposes only
what a real robot cell offers (camera images, calibrated cameras, the arm's own state and a
pick-and-place skill); ground-truth object masks live in :mod:`interseg.evaluation.ground_truth`,
which the learning side never imports.

MuJoCo reads ``MUJOCO_GL`` once, when it is first imported; :func:`configure_gl` must therefore
run before any ``import mujoco`` in this package (each module calls it at import time).
"""

from __future__ import annotations

import ctypes.util
import os
import sys


def configure_gl() -> str:
    """Choose the headless OpenGL backend: keep MUJOCO_GL if set, else EGL, else OSMesa."""
    backend = os.environ.get("MUJOCO_GL")
    if not backend:
        backend = "egl" if ctypes.util.find_library("EGL") else "osmesa"
        os.environ["MUJOCO_GL"] = backend
    if backend == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    elif backend == "egl":
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    return backend


def keep_triton_out() -> None:
    """Mesa's software renderer (EGL/OSMesa on llvmpipe) and Triton each load their own LLVM; a
    process that renders and then imports torchvision (torch._dynamo imports Triton when it is
    installed) segfaults in the second LLVM's initialisers. Nothing here compiles GPU kernels,
    so a rendering process tells Python that Triton is absent (torch then reports it missing)."""
    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]  (import triton -> ImportError)


configure_gl()
keep_triton_out()
