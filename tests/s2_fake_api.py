"""A local stand-in for the Semantic Scholar Datasets API and its signed shard URLs.

Serves, on 127.0.0.1, the API shapes of ``/datasets/v1`` (release list, release, dataset
with ``files``, diffs chained between any two releases, each diff with ``from_release``,
``to_release``, ``update_files`` and ``delete_files``) behind an ``x-api-key`` check (401 on
a wrong key), and the shard files behind HMAC-signed URLs that expire (answered as
``expired_answer``: 403, or a 400 with an S3 error body), with ``Range`` support (206/416)
and an MD5 ``ETag``. Every listing signs anew (a new URL each time, as S3's dated signatures),
unless ``reuse_urls``; with ``list_sizes`` files are listed as ``{"url", "size"}`` (sizes
from ``listed_sizes`` when set there).

Faults can be queued per file name, one per request. Answers instead of the file: ``"503"``
(a server error), ``"403"`` (expired), ``"400-expired-token"``, ``"400-access-denied"`` (S3
XML bodies with that ``<Code>``), ``"400-request-expired"`` (a plain ``Request has expired``
body), ``"400-bad-request"`` (``<Code>InvalidArgument</Code>``: not an expiry). Or flags
joined by ``+``, e.g. ``"no-length+truncate"``: ``truncate`` (the connection closes after
half of the body), ``no-length`` (no ``Content-Length``: the body ends when the connection
closes), ``no-etag``, ``gzip-truncated`` (the object served is the file without its last
``GZIP_CUT`` bytes, its headers and ``ETag`` consistent with that: a truncated gzip stream),
``corrupt`` (one byte of the body flipped; headers those of the real file). Every request is
recorded. Also: fake Datasets API records and shards for tests and benchmarks.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/datasets/v1"
GZIP_CUT = 20  # bytes the gzip-truncated fault leaves out: the gzip trailer and some data
_S3_ERRORS = {
    "400-expired-token": ("ExpiredToken", "The provided token has expired."),
    "400-access-denied": ("AccessDenied", "Request has expired"),
    "400-bad-request": ("InvalidArgument", "Invalid argument."),
}
_FILE_FLAGS = frozenset({"truncate", "no-length", "no-etag", "gzip-truncated", "corrupt"})


class FakeS2:
    """The fake service. ``start()`` returns the API base URL; ``stop()`` shuts it down."""

    def __init__(self, root: Path, api_key: str = "test-key", url_ttl_s: float = 3600.0) -> None:
        self.root = Path(root)
        self.api_key = api_key
        self.url_ttl_s = url_ttl_s
        self.expired_answer = "403"  # how an expired or forged signature is answered
        self.reuse_urls = False  # True: every listing gives a file the URL it gave first
        self.list_sizes = False  # True: files listed as {"url", "size"}
        self.listed_sizes: dict[str, int] = {}  # rel -> the size to list instead of the true one
        self._signed: dict[str, str] = {}
        self._nonce = itertools.count()
        self.secret = b"fake-signing-secret"
        self.releases: dict[str, dict[str, list[str]]] = {}
        self.diffs: dict[str, list[dict]] = defaultdict(list)  # dataset -> diffs between releases
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._etags: dict[str, str] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- content

    def add_file(self, release: str, dataset: str, name: str, data: bytes) -> str:
        """Store a shard file; returns its path relative to ``root``."""
        rel = f"{release}/{dataset}/{name}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return rel

    def add_release(self, release: str, datasets: dict[str, list[str]]) -> None:
        """Register a release: dataset name -> file paths (relative to ``root``)."""
        self.releases[release] = {name: list(files) for name, files in datasets.items()}

    def add_diff(self, start: str, end: str, dataset: str, update_files: list[str], delete_files: list[str]) -> None:
        """Register the diff of ``dataset`` from release ``start`` to the next one, ``end``
        (files relative to ``root``). The endpoint chains diffs between any two releases."""
        self.diffs[dataset].append(
            {"from_release": start, "to_release": end, "update_files": update_files, "delete_files": delete_files}
        )

    def diff_chain(self, start: str, end: str, dataset: str) -> list[dict] | None:
        """The registered diffs leading from ``start`` to ``end``, in order; None when none do."""
        chain, at = [], start
        while at != end:
            step = next((d for d in self.diffs.get(dataset, []) if d["from_release"] == at), None)
            if step is None or step["to_release"] > end:
                return None
            chain.append(step)
            at = step["to_release"]
        return chain

    def sign(self, rel: str) -> str:
        if self.reuse_urls and rel in self._signed:
            return self._signed[rel]
        expires, nonce = int(time.time() + self.url_ttl_s), next(self._nonce)
        signature = hmac.new(self.secret, f"{rel}:{expires}:{nonce}".encode(), hashlib.sha256).hexdigest()
        self._signed[rel] = f"{self.file_base}/{rel}?Expires={expires}&N={nonce}&Signature={signature}"
        return self._signed[rel]

    def listed(self, rel: str) -> str | dict:
        """How a listing shows a file: its signed URL, or with ``list_sizes`` also its size."""
        if not self.list_sizes:
            return self.sign(rel)
        return {"url": self.sign(rel), "size": self.listed_sizes.get(rel, (self.root / rel).stat().st_size)}

    def file_requests(self, name: str) -> list[dict]:
        """Recorded requests for a shard file (by file name)."""
        with self._lock:
            return [r for r in self.requests if r["path"].startswith("/files/") and r["path"].endswith("/" + name)]

    def api_requests(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"].startswith(API_PREFIX)]

    # -------------------------------------------------------------- server

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    @property
    def file_base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/files"

    def start(self) -> str:
        service = self

        class Handler(_Handler):
            fake = service

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def etag(self, rel: str, size: int | None = None) -> str:
        """The MD5 of a file (of its first ``size`` bytes when given)."""
        key = f"{rel}:{size}"
        if key not in self._etags:
            md5, left = hashlib.md5(), size
            with open(self.root / rel, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20 if left is None else min(1 << 20, left)), b""):
                    md5.update(block)
                    left = None if left is None else left - len(block)
            self._etags[key] = md5.hexdigest()
        return self._etags[key]


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeS2
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 (quiet)
        pass

    def _json(self, status: int, body) -> None:
        self._body(status, json.dumps(body).encode(), "application/json")

    def _body(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, answer: str) -> None:
        """Answer ``503``, ``403`` or a 400 fault (see the module docstring)."""
        if answer == "503":
            return self._json(503, {"message": "Slow Down"})
        if answer == "403":
            return self._json(403, {"message": "Request has expired"})
        if answer == "400-request-expired":
            return self._body(400, b"Request has expired", "text/plain")
        code, message = _S3_ERRORS[answer]
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
               f"<RequestId>FAKE0001</RequestId></Error>")
        return self._body(400, xml.encode(), "application/xml")

    def do_GET(self):  # noqa: N802 (http.server API)
        url = urlsplit(self.path)
        with self.fake._lock:
            self.fake.requests.append(
                {"path": url.path, "range": self.headers.get("Range"), "key": self.headers.get("x-api-key"),
                 "time": time.time()}
            )
        if url.path.startswith(API_PREFIX):
            self._api(url.path[len(API_PREFIX):])
        elif url.path.startswith("/files/"):
            self._file(url.path[len("/files/"):], parse_qs(url.query))
        else:
            self._json(404, {"message": "not found"})

    # -------------------------------------------------------------- API

    def _api(self, path: str) -> None:
        fake = self.fake
        parts = [p for p in path.split("/") if p]
        if parts == ["release"]:
            return self._json(200, sorted(fake.releases))
        if len(parts) == 2 and parts[0] == "release":
            release = max(fake.releases) if parts[1] == "latest" else parts[1]
            if release not in fake.releases:
                return self._json(404, {"message": f"release {release} not found"})
            datasets = [{"name": n, "description": f"fake {n}", "README": ""} for n in fake.releases[release]]
            return self._json(200, {"release_id": release, "README": "fake release", "datasets": datasets})
        if self.headers.get("x-api-key") != fake.api_key:
            return self._json(401, {"message": "Unauthorized"})
        if len(parts) == 4 and parts[0] == "release" and parts[2] == "dataset":
            files = fake.releases.get(parts[1], {}).get(parts[3])
            if files is None:
                return self._json(404, {"message": "dataset not found"})
            return self._json(200, {"name": parts[3], "description": f"fake {parts[3]}", "README": "",
                                    "files": [fake.listed(f) for f in files]})
        if len(parts) == 5 and parts[0] == "diffs" and parts[2] == "to":
            diffs = fake.diff_chain(parts[1], parts[3], parts[4]) if parts[1] < parts[3] else None
            if diffs is None:
                return self._json(404, {"message": f"no diffs of {parts[4]} from {parts[1]} to {parts[3]}"})
            body = [{"from_release": d["from_release"], "to_release": d["to_release"],
                     "update_files": [fake.listed(f) for f in d["update_files"]],
                     "delete_files": [fake.listed(f) for f in d["delete_files"]]} for d in diffs]
            return self._json(200, {"dataset": parts[4], "start_release": parts[1], "end_release": parts[3],
                                    "diffs": body})
        return self._json(404, {"message": "not found"})

    # -------------------------------------------------------------- files

    def _file(self, rel: str, query: dict) -> None:
        fake = self.fake
        expires = (query.get("Expires") or ["0"])[0]
        signature = (query.get("Signature") or [""])[0]
        nonce = (query.get("N") or [""])[0]
        good = hmac.new(fake.secret, f"{rel}:{expires}:{nonce}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(good, signature) or int(expires) < time.time():
            return self._refuse(fake.expired_answer)
        path = fake.root / rel
        if not path.is_file():
            return self._json(404, {"message": "no such key"})
        with fake._lock:
            queue = fake.faults.get(path.name)
            fault = queue.pop(0) if queue else None
        if fault is not None and fault not in _FILE_FLAGS and "+" not in fault:
            return self._refuse(fault)
        flags = set(fault.split("+")) if fault else set()
        assert flags <= _FILE_FLAGS, f"unknown fault flags {flags - _FILE_FLAGS}"
        size = path.stat().st_size - (GZIP_CUT if "gzip-truncated" in flags else 0)
        start, end = 0, size - 1
        status = 200
        match = _RANGE.match(self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        length = end - start + 1
        closes = bool(flags & {"truncate", "no-length"})
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if "no-length" not in flags:
            self.send_header("Content-Length", str(length))
        if "no-etag" not in flags:
            truncated = "gzip-truncated" in flags
            self.send_header("ETag", f'"{fake.etag(rel, size if truncated else None)}"')
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if closes:
            self.send_header("Connection", "close")
        self.end_headers()
        send = length // 2 if "truncate" in flags else length
        with open(path, "rb") as fh:
            self.wfile.flush()
            if "corrupt" in flags:  # one byte flipped in the middle of what is sent
                fh.seek(start)
                body = bytearray(fh.read(send))
                body[len(body) // 2] ^= 0xFF
                self.wfile.write(bytes(body))
            else:
                self.connection.sendfile(fh, offset=start, count=send)
        if closes:
            self.close_connection = True


# ---------------------------------------------------------------- fake records

_SYLLABLES = "ba be bi bo bu ca ce co da de di do fa fe fi ga ge go la le li lo ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi za ze ing tion al er ent".split()
_VOCAB = ["".join(random.Random(i).choices(_SYLLABLES, k=1 + i % 4)) for i in range(5000)]
_WEIGHTS = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(_VOCAB))))


def _words(rng: random.Random, n: int) -> str:
    """Zipf-distributed pseudo-words: compresses about as well as English titles and abstracts."""
    return " ".join(rng.choices(_VOCAB, cum_weights=_WEIGHTS, k=n))


def paper_record(corpusid: int, rng: random.Random, acl: bool = False, year: int | None = None) -> dict:
    """A Datasets API ``papers`` record with realistic fields and sizes."""
    title = _words(rng, rng.randint(5, 14)).capitalize()
    acl_id = f"20{rng.randint(16, 23)}.acl-long.{corpusid % 997}" if acl else None
    return {
        "corpusid": corpusid,
        "externalids": {"ACL": acl_id, "DBLP": f"conf/x/A{corpusid}", "ArXiv": None, "MAG": str(corpusid * 7),
                        "CorpusId": str(corpusid), "PubMed": None, "DOI": f"10.1000/{corpusid:x}",
                        "PubMedCentral": None},
        "url": f"https://www.semanticscholar.org/paper/{hashlib.sha1(str(corpusid).encode()).hexdigest()}",
        "title": title,
        "authors": [{"authorId": str(rng.randint(1, 10**9)), "name": _words(rng, 2).title()}
                    for _ in range(rng.randint(1, 6))],
        "venue": "ACL" if acl else rng.choice(["NeurIPS", "ICML", "Nature", "CVPR", "arXiv.org", ""]),
        "publicationvenueid": f"{rng.getrandbits(128):032x}" if rng.random() < 0.5 else None,
        "year": year if year is not None else rng.randint(1990, 2024),
        "referencecount": rng.randint(0, 80),
        "citationcount": rng.randint(0, 500),
        "influentialcitationcount": rng.randint(0, 20),
        "isopenaccess": rng.random() < 0.3,
        "s2fieldsofstudy": [{"category": "Computer Science", "source": "s2-fos-model"}],
        "publicationtypes": ["JournalArticle"],
        "publicationdate": f"{rng.randint(1990, 2024)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "journal": {"name": _words(rng, 3).title(), "volume": str(rng.randint(1, 99)), "pages": "1-10"},
    }


def abstract_record(corpusid: int, rng: random.Random) -> dict:
    text = _words(rng, rng.randint(40, 160))
    return {"corpusid": corpusid, "openaccessinfo": {"externalids": {"CorpusId": str(corpusid)}, "license": None,
                                                     "url": None, "status": None},
            "abstract": text.capitalize() + "."}


def gzip_lines(lines: list, level: int = 6) -> bytes:
    """Dicts JSON-encoded (compact, as S2 writes them) or raw strings, one a line, gzipped."""
    text = "".join((json.dumps(x, separators=(",", ":")) if isinstance(x, dict) else x) + "\n" for x in lines)
    return gzip.compress(text.encode(), compresslevel=level)
