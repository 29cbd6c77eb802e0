"""Imperfections of a real camera cell, so that frame differences are noisy as in the paper.

Between frames the lights move and change intensity a little; each camera has its own slowly
drifting exposure and white balance and per-pixel noise (read noise plus shot noise); the depth
camera has distance-dependent noise and a few missing pixels (NaN), like a structured-light
sensor. All draws come from the arena's own random generator, so a run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RealismConfig:
    enabled: bool = True
    light_position_jitter_m: float = 0.12
    light_intensity_jitter: float = 0.12  # relative, uniform +-
    exposure_drift: float = 0.012  # relative gain random-walk step per frame
    exposure_limit: float = 0.08  # gain stays within 1 +- this
    white_balance_drift: float = 0.006
    read_noise: float = 2.0  # grey levels (0..255), Gaussian
    shot_noise: float = 0.25  # grey levels x sqrt(intensity)
    depth_noise_m: float = 0.0015  # at 1 m; grows with distance squared
    depth_dropout: float = 0.002  # fraction of depth pixels reported as NaN
    blur_sigma_px: float = 0.0  # Gaussian blur (focus, motion) at 640 px wide, before the noise

    @classmethod
    def strongest(cls) -> RealismConfig:
        """The hardest camera model the simulator offers (to test on): lights moving and changing
        twice as much, exposure and white balance drifting further, more noise, some blur."""
        return cls(
            light_position_jitter_m=0.25,
            light_intensity_jitter=0.3,
            exposure_drift=0.02,
            exposure_limit=0.2,
            white_balance_drift=0.012,
            read_noise=4.0,
            shot_noise=0.5,
            depth_noise_m=0.003,
            depth_dropout=0.01,
            blur_sigma_px=0.8,
        )


REALISM_PRESETS = ("default", "strongest")


def realism_preset(name: str) -> RealismConfig:
    """A named camera model: ``default`` (RealismConfig()) or ``strongest``."""
    if name not in REALISM_PRESETS:
        raise ValueError(f"unknown realism preset {name!r}; one of {', '.join(REALISM_PRESETS)}")
    return RealismConfig() if name == "default" else RealismConfig.strongest()


class CameraSensor:
    """One camera's exposure/white-balance state and its noise model."""

    def __init__(
        self,
        config: RealismConfig,
        rng: np.random.Generator,
        exposure: float = 1.0,
        blur_sigma_px: float = 0.0,
        noise_scale: float = 1.0,
    ):
        """``exposure``, ``blur_sigma_px`` (absolute, at this camera's width) and ``noise_scale``
        hold for the sensor's life (one reset): domain randomisation's per-camera draw."""
        self.config = config
        self.rng = rng
        self.gain = np.ones(3)
        self.exposure = float(exposure)
        self.blur_sigma_px = float(blur_sigma_px)
        self.noise_scale = float(noise_scale)

    def expose(self, image: np.ndarray) -> np.ndarray:
        if not self.config.enabled:
            return image
        c, rng = self.config, self.rng
        common = rng.normal(0.0, c.exposure_drift)
        self.gain = self.gain + common + rng.normal(0.0, c.white_balance_drift, 3)
        self.gain = 1.0 + np.clip(self.gain - 1.0, -c.exposure_limit, c.exposure_limit)
        value = image.astype(np.float32) * (self.gain * self.exposure).astype(np.float32)
        blur = np.hypot(c.blur_sigma_px * image.shape[1] / 640, self.blur_sigma_px)
        if blur > 0.05:
            import cv2

            value = cv2.GaussianBlur(value, (0, 0), float(blur))
        sigma = self.noise_scale * np.sqrt(c.read_noise**2 + (c.shot_noise**2) * value)
        value += rng.standard_normal(value.shape, dtype=np.float32) * sigma
        return np.clip(value + 0.5, 0, 255).astype(np.uint8)

    def measure_depth(self, depth: np.ndarray) -> np.ndarray:
        depth = depth.astype(np.float32)
        if not self.config.enabled:
            return depth
        c, rng = self.config, self.rng
        noisy = depth + rng.standard_normal(depth.shape, dtype=np.float32) * (c.depth_noise_m * depth * depth)
        noisy[rng.random(depth.shape) < c.depth_dropout] = np.nan
        return noisy


class LightingJitter:
    """Moves and rescales the scene's lights around their nominal values, once per frame."""

    def __init__(self, model, config: RealismConfig, rng: np.random.Generator):
        self.model = model
        self.config = config
        self.rng = rng
        self.nominal_pos = model.light_pos.copy()
        self.nominal_dir = model.light_dir.copy()
        self.nominal_diffuse = model.light_diffuse.copy()
        self.nominal_ambient = model.vis.headlight.ambient.copy()

    def apply(self) -> None:
        if not self.config.enabled:
            return
        c, rng, m = self.config, self.rng, self.model
        for i in range(m.nlight):
            m.light_pos[i] = self.nominal_pos[i] + rng.uniform(-1, 1, 3) * c.light_position_jitter_m
            direction = self.nominal_dir[i] + rng.normal(0.0, 0.06, 3)
            m.light_dir[i] = direction / np.linalg.norm(direction)
            m.light_diffuse[i] = self.nominal_diffuse[i] * (1.0 + rng.uniform(-1, 1) * c.light_intensity_jitter)
        m.vis.headlight.ambient[:] = self.nominal_ambient * (1.0 + rng.uniform(-1, 1) * c.light_intensity_jitter)
