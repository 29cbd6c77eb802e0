"""Export of a trained network to ONNX or TorchScript, and running the exported file.

What is exported is the network up to its candidates, for one image size (the checkpoint's
``expected_size``): a uint8 RGB image [1, 3, h, w] at the network's resolution (the camera frame
resized by ``input_scale``) in; the ``pre_nms`` best locations out, with their scores, cells,
coarse mask logits and refined mask logits (every candidate refined, so the graph needs no
decision made outside it). Non-maximum suppression and pasting the masks into the frame stay in
numpy (:func:`interseg.learning.predictor.decode_candidates`), the same code for every format, so a
file gives the hypotheses the checkpoint gives.

Each file embeds what decoding needs as JSON (``EXPORT_FORMAT``, the model config, the checkpoint's
version): ONNX in the model's metadata under ``interseg``, TorchScript as the extra file
``interseg.json``.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from interseg.learning.hypothesis import Hypothesis
from interseg.learning.images import validate_rgb_image
from interseg.learning.model import STRIDE, HypothesisNetwork, ModelConfig
from interseg.learning.predictor import Candidates, decode_candidates, network_image

EXPORT_FORMAT = "interseg.exported_hypothesis_network"
EXPORT_FORMAT_VERSION = 1
FORMATS = ("onnx", "torchscript")
OUTPUTS = ("scores", "rows", "cols", "coarse", "refined")


class ExportError(ValueError):
    """A file that is not an exported interseg network, or an export that cannot be made."""


class CandidateNetwork(nn.Module):
    """The network from a uint8 image at network resolution to its ``pre_nms`` best candidates."""

    def __init__(self, network: HypothesisNetwork):
        super().__init__()
        self.network = network.eval()
        self.config = network.config

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        net, m = self.network, self.config.mask_size
        f4, f8, f16 = net.trunk_stages(net.normalize(image))
        objectness, masks = net.heads(f16)
        w = objectness.shape[2]
        scores = torch.sigmoid(objectness[0]).reshape(-1)
        top_scores, top_idx = torch.topk(scores, min(self.config.pre_nms, scores.numel()))
        rows, cols = top_idx // w, top_idx % w
        coarse = masks[0].reshape(m * m, -1)[:, top_idx].permute(1, 0).reshape(-1, m, m)
        refined = coarse if net.refiner is None else net.refine_cells(f4, f8, rows, cols, coarse)
        return top_scores, rows, cols, coarse, refined


def network_input_size(config: ModelConfig) -> tuple[int, int]:
    """(width, height) of the network's input for the config's ``expected_size``."""
    if config.expected_size is None:
        raise ExportError("the checkpoint accepts any image size; an export needs one (expected_size)")
    w, h = config.expected_size
    return max(STRIDE, int(round(w * config.input_scale))), max(STRIDE, int(round(h * config.input_scale)))


def _metadata(config: ModelConfig, version: int, source: str) -> str:
    return json.dumps(
        {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_FORMAT_VERSION,
            "config": config.to_dict(),
            "version": int(version),
            "source": source,
            "outputs": list(OUTPUTS),
        }
    )


def export(checkpoint: str | os.PathLike, fmt: str, out: str | os.PathLike) -> Path:
    """Write the checkpoint's network as ``fmt`` (onnx or torchscript) to ``out``, atomically."""
    from interseg.learning.checkpoint import load_network

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    network, meta = load_network(checkpoint)
    module = CandidateNetwork(network.cpu()).eval()
    width, height = network_input_size(network.config)
    example = torch.zeros(1, 3, height, width, dtype=torch.uint8)
    metadata = _metadata(network.config, meta.get("version") or 0, str(Path(checkpoint).resolve()))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation, the tracer's notes on constants
        if fmt == "torchscript":
            traced = torch.jit.trace(module, (example,), check_trace=False)
            torch.jit.save(traced, str(partial), _extra_files={"interseg.json": metadata})
        else:
            import onnx

            torch.onnx.export(
                module,
                (example,),
                str(partial),
                input_names=["image"],
                output_names=list(OUTPUTS),
                dynamo=True,
                external_data=False,  # one file: the weights are a few MB
                verbose=False,
            )
            model = onnx.load(str(partial))
            entry = model.metadata_props.add()
            entry.key, entry.value = "interseg", metadata
            onnx.save(model, str(partial))
    os.replace(partial, out)
    return out


def _parse_metadata(text: str | None, path: Path) -> dict:
    try:
        data = json.loads(text or "")
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{path} is not an exported interseg network (no interseg metadata)")
    if int(data.get("format_version", -1)) > EXPORT_FORMAT_VERSION:
        raise ExportError(f"{path} has export format {data['format_version']}, newer than this interseg reads")
    return data


class ExportedPredictor:
    """An exported file run like :class:`~interseg.learning.predictor.HypothesisPredictor`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise ExportError(f"{self.path} does not exist")
        if is_onnx(self.path):
            import onnx
            import onnxruntime

            try:
                props = {p.key: p.value for p in onnx.load(str(self.path), load_external_data=False).metadata_props}
            except Exception as exc:  # noqa: BLE001 (protobuf raises its own DecodeError types)
                raise ExportError(f"{self.path} is not a readable ONNX model ({exc})") from None
            data = _parse_metadata(props.get("interseg"), self.path)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            self._run = lambda x: session.run(list(OUTPUTS), {"image": x.numpy()})
        else:
            extra = {"interseg.json": ""}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream
                    module = torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra)
            except Exception as exc:  # noqa: BLE001 (torch.jit raises RuntimeError and others for foreign files)
                raise ExportError(f"{self.path} is neither ONNX nor TorchScript ({type(exc).__name__})") from None
            data = _parse_metadata(extra["interseg.json"], self.path)
            module.eval()

            def run(x: torch.Tensor):
                with torch.inference_mode():
                    return [t.numpy() for t in module(x)]

            self._run = run
        self.config = ModelConfig.from_dict(data["config"])
        self.version = int(data.get("version", 0))

    def candidates(self, image_rgb: np.ndarray) -> list[np.ndarray]:
        """The raw outputs (``OUTPUTS``) for one camera frame."""
        image_rgb = validate_rgb_image(image_rgb, self.config.expected_size)
        x = torch.from_numpy(network_image(image_rgb, self.config)).permute(2, 0, 1).unsqueeze(0).contiguous()
        return self._run(x)

    def predict(self, image_rgb: np.ndarray) -> list[Hypothesis]:
        scores, rows, cols, coarse, refined = (torch.from_numpy(np.asarray(a)) for a in self.candidates(image_rgb))
        w, h = network_input_size(self.config)
        grid = (-(-h // STRIDE), -(-w // STRIDE))
        found = Candidates(scores, rows.long(), cols.long(), coarse, grid)
        refine = None if not self.config.refine else (lambda kept: refined[kept])
        return decode_candidates(found, image_rgb.shape[:2], self.config, refine)


def is_onnx(path: Path) -> bool:
    """ONNX by suffix, else by content (TorchScript files are zip archives)."""
    if path.suffix.lower() == ".onnx":
        return True
    with path.open("rb") as f:
        return f.read(2) != b"PK"


def is_exported(path: str | os.PathLike) -> bool:
    """An exported network (ONNX, or TorchScript with interseg's metadata), not a checkpoint
    (checkpoints are zip archives too, without TorchScript's ``code/``)."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/extra/interseg.json") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
