"""Dense registry models: embeddings (the averaging model, transformer encoders), cosine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from revmatch.io import PathLike
from revmatch.model.corpus_index import Calibration, CorpusIndex, calibrate, select_columns


class DenseModel:
    """An embedding model: unit vectors, cosine similarity. ``embed`` maps texts to (n, dim)."""

    def __init__(self, name: str, embed) -> None:
        self.name = name
        self.embed = embed

    def index(self, texts: Sequence[str]) -> CorpusIndex:
        return self.index_from_embeddings(self.embed(list(texts)))

    def index_from_embeddings(self, embeddings: np.ndarray) -> CorpusIndex:
        """A corpus index from embeddings already computed (e.g. ``corpus_embeddings.npy``)."""
        vectors = _unit_rows(np.asarray(embeddings, dtype=np.float32))
        index = CorpusIndex(self.name, vectors, Calibration(0.0, 1.0))
        index.calibration = calibrate(self, index, None)
        return index

    def queries(self, index: CorpusIndex, texts: Sequence[str]) -> np.ndarray:
        return _unit_rows(self.embed(list(texts)))

    def score(self, index: CorpusIndex, queries: np.ndarray, rows: slice,
              columns: np.ndarray | None) -> np.ndarray:
        vectors = select_columns(index.vectors, columns)
        return np.ascontiguousarray(queries[rows] @ vectors.T, dtype=np.float32)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def averaging_model(model_path: PathLike, device: str = "cpu", processes: int = 1,
                    batch_size: int = 512) -> DenseModel:
    """The trained averaging model of ``model_path`` as a registry model named ``avg``."""
    from revmatch.model.averaging import embed_texts, load_model

    model = load_model(model_path, device=device)
    return DenseModel("avg", lambda texts: embed_texts(model, texts, batch_size=batch_size,
                                                       processes=processes))


def encoder_model(name: str, folder: PathLike, device: str = "cpu", batch_size: int = 32,
                  max_seq_length: int | None = None, embedding_cache: PathLike | None = None,
                  runtime: str | None = None) -> DenseModel:
    """A pretrained transformer encoder (``revmatch.model.encoders``) as a cosine registry model.

    With ``embedding_cache`` every text's embedding is computed once per encoder and reused;
    ``runtime`` is the CPU runtime (torch, onnx, onnx-int8; default ``DEFAULT_CPU_RUNTIME``)."""
    from revmatch.model.device import resolve_device
    from revmatch.model.encoders import DEFAULT_CPU_RUNTIME, TransformerEncoder

    return DenseModel(name, TransformerEncoder(name, folder, device=str(resolve_device(device)),
                                               batch_size=batch_size, max_seq_length=max_seq_length,
                                               cache_dir=embedding_cache,
                                               runtime=runtime or DEFAULT_CPU_RUNTIME))
