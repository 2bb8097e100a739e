"""A sentence-transformers encoder run by ONNX Runtime on the CPU, in fp32 or int8.

The transformer body is exported once per model folder (``export_onnx``: token ids, mask
and token types -> last hidden states); a BERT body's attention, GELU and layer norms are
fused into ONNX Runtime's own operators (``fuse_onnx``); the graph is optionally quantised
to int8 weights (``quantise_onnx``: dynamic quantisation of the matrix multiplications, one
scale per output channel); the files are kept next to the embedding cache. The pooling (mean
over the mask) and the normalisation are done here in numpy, as the sentence-transformers
pipeline does them. On 2 CPU cores fp32 gives the same embeddings as torch (cosine 1.0000)
about twice as fast (benchmarks/encoder_speed.py).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from revmatch.io import PathLike, atomic_path

logger = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnx", "onnx-int8")
ONNX_OPSET = 17
# in the export files' names and the embedding cache keys: 3 = fused, per-channel int8, one text a call
EXPORT_VERSION = 3
FUSED_MODEL_TYPES = ("bert",)  # bodies whose graph ONNX Runtime's BERT fusions are checked on


def onnx_supported(model) -> bool:
    """Whether the pipeline is a transformer, mean pooling and an optional normalisation."""
    modules = list(model)
    if len(modules) not in (2, 3) or not hasattr(modules[0], "auto_model"):
        return False
    mode = getattr(modules[1], "pooling_mode", None)
    if mode is None and hasattr(modules[1], "get_pooling_mode_str"):  # sentence-transformers < 6
        mode = modules[1].get_pooling_mode_str()
    return mode == "mean" and all(type(m).__name__ == "Normalize" for m in modules[2:])


def export_onnx(model, path: PathLike) -> None:
    """The transformer body of a sentence-transformers ``model`` to an ONNX file (fused when
    its architecture is one of ``FUSED_MODEL_TYPES``)."""
    import torch

    body = model[0].auto_model.eval()
    config = body.config
    fused = config.model_type in FUSED_MODEL_TYPES and hasattr(body, "set_attn_implementation")
    dummy = model.tokenizer(["a short text", "another text, a little longer"], padding=True, return_tensors="pt")
    names = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in dummy]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}

    class Body(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = body

        def forward(self, *inputs):
            return self.body(**dict(zip(names, inputs, strict=True))).last_hidden_state

    # The dummy batch is padded, so the traced graph keeps the attention mask's path (the
    # tracer's warnings about shape-dependent branches are about that choice); exports are
    # checked against torch's embeddings (tests/test_encoders.py). The eager attention is the
    # pattern that ONNX Runtime fuses (torch's sdpa traces to one it does not).
    previous = config._attn_implementation
    with atomic_path(path, suffix=".onnx") as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fused:
            body.set_attn_implementation("eager")
        try:
            torch.onnx.export(Body(), tuple(dummy[name] for name in names), str(tmp), input_names=names,
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=ONNX_OPSET,
                              dynamo=False)
        finally:
            if fused:
                body.set_attn_implementation(previous)
        if fused:
            fuse_onnx(tmp, tmp, config.num_attention_heads, config.hidden_size)


@contextlib.contextmanager
def quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's tools log an INFO line per node or tensor through the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)


def fuse_onnx(source: PathLike, path: PathLike, num_heads: int, hidden_size: int) -> None:
    """ONNX Runtime's BERT fusions (attention, embedding and skip layer norms, bias GELU):
    the same function in fewer, faster operators."""
    from onnxruntime.transformers.optimizer import optimize_model

    with quiet_root_logger():
        graph = optimize_model(str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                               opt_level=0)
        graph.save_model_to_file(str(path))


def quantise_onnx(source: PathLike, path: PathLike) -> None:
    """int8 weights for the matrix multiplications (ONNX Runtime dynamic quantisation), one
    scale per output channel: embeddings at cosine 0.995 to fp32's, where one scale per
    matrix gives 0.95 (benchmarks/README.md)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_root_logger(), atomic_path(path, suffix=".onnx") as tmp:
        # fused operators carry no inferred output types: float is what they produce
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})


def embedding_dimension(model) -> int:
    """The output dimension of a sentence-transformers model (any version)."""
    method = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(method())


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit-length mean of the token vectors under the mask: (B, T, D), (B, T) -> (B, D)."""
    mask = mask.astype(np.float32)[..., None]
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


class OnnxEncoder:
    """Texts -> unit float32 embeddings of a sentence-transformers ``model`` with ONNX Runtime.

    ``folder`` keeps the exported files (``<key>.v3.onnx``, ``<key>.v3.int8.onnx``); without it they
    live in a temporary folder for the encoder's lifetime.
    """

    def __init__(self, model, key: str, runtime: str = "onnx", folder: PathLike | None = None,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        if runtime not in ("onnx", "onnx-int8"):
            raise ValueError(f"runtime {runtime!r}: expected onnx or onnx-int8")
        self.model = model
        if folder is None:
            self._tmp = tempfile.mkdtemp(prefix="revmatch-onnx-")
            folder = self._tmp
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}.v{EXPORT_VERSION}.onnx"
        if not path.exists():
            logger.info("exporting the encoder to %s", path)
            export_onnx(model, path)
        if runtime == "onnx-int8":
            source, path = path, path.with_suffix(".int8.onnx")
            if not path.exists():
                quantise_onnx(source, path)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.runtime = runtime

    def __del__(self) -> None:
        if getattr(self, "_tmp", None):
            shutil.rmtree(self._tmp, ignore_errors=True)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings in the order of ``texts``; batches of similar lengths (longest first)."""
        if self.runtime == "onnx-int8":
            # int8 quantises each call's activations with one scale: one text a call keeps an
            # embedding a function of its text alone (and costs no speed: no padding)
            batch_size = 1
        dim = embedding_dimension(self.model)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            features = self.model.tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                            max_length=self.model.max_seq_length, return_tensors="np")
            feed = {k: v.astype(np.int64) for k, v in features.items() if k in self.inputs}
            hidden = self.session.run(None, feed)[0]
            out[rows] = mean_pool(hidden, features["attention_mask"])
        return out
