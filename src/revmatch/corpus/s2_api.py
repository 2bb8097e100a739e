"""The Semantic Scholar Datasets API client: settings, errors, requests with retries, and the
releases, dataset files and diffs endpoints.

The API (``https://api.semanticscholar.org/datasets/v1``) lists release ids, the datasets of
a release and, per dataset, pre-signed expiring URLs of gzipped JSON-lines shards; the
diffs endpoint lists the update and delete files that move a dataset from one release to a
later one. The API key is sent in the ``x-api-key`` header to API endpoints only (never to
the signed shard URLs, which carry their own signature), comes from an environment
variable, and never appears in logs, reprs or files: logged URLs lose their query string.
A listed file is its URL, or an object with its ``url`` and ``size`` in bytes (the size is then
checked by the download). Transient failures (connection errors, 429, 5xx) are retried with
exponential backoff; a rejected API key (401) stops at once with a clear error; a signed URL
refused as expired (403, 410, or a 400 whose S3-style body says ``ExpiredToken``,
``AccessDenied`` or ``Request has expired``) raises ``ExpiredUrlError``.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.semanticscholar.org/datasets/v1"
API_KEY_HEADER = "x-api-key"
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_EXPIRED_STATUS = frozenset({403, 410})
_ERROR_BODY_BYTES = 64 * 1024  # of an error answer, read to classify it
_S3_CODE = re.compile(rb"<Code>\s*([A-Za-z0-9_.-]+)\s*</Code>")
_EXPIRED_400_CODES = frozenset({"ExpiredToken", "AccessDenied"})
_EXPIRED_TEXT = b"Request has expired"


class AuthError(RuntimeError):
    """The API rejected the key (or none was given); retrying cannot help."""


class DownloadError(RuntimeError):
    """A request or download failed for good (retries spent, or a verification failed)."""


class ExpiredUrlError(DownloadError):
    """A signed shard URL was refused as expired (403, 410, or a 400 with an S3 expiry code):
    it must be listed again."""


class _TransientError(Exception):
    """A failure worth retrying after a pause (``retry_after`` seconds when the server says)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class ApiSettings:
    """Where the API is, the key (hidden from repr) and the retry policy."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = dataclasses.field(default=None, repr=False)
    retries: int = 5
    backoff_s: float = 2.0
    max_backoff_s: float = 120.0
    timeout_s: float = 60.0

    @classmethod
    def from_config(cls, s2_config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Build from the ``corpus.s2`` config; the key is read from ``environ[api_key_env]``."""
        environ = os.environ if environ is None else environ
        key_env = s2_config.get("api_key_env") or ""
        return cls(
            base_url=str(s2_config.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
            api_key=environ.get(key_env) or None if key_env else None,
            retries=int(s2_config.get("retries", 5)),
            backoff_s=float(s2_config.get("backoff_s", 2.0)),
            max_backoff_s=float(s2_config.get("max_backoff_s", 120.0)),
            timeout_s=float(s2_config.get("timeout_s", 60.0)),
        )


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``base_s * 2**(attempt-1)``, capped."""
    return min(max_s, base_s * 2.0 ** max(0, attempt - 1))


def redact_url(url: str) -> str:
    """A URL without its query string and fragment (signed URLs carry credentials there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@dataclasses.dataclass(frozen=True)
class ListedFile:
    """A file as the API lists it: its signed URL and, when listed, its size in bytes."""

    url: str
    size: int | None = None


def listed_file(item: Any, where: str) -> ListedFile:
    """A listed file from the API's item: a URL, or ``{"url": URL, "size": bytes}``."""
    if isinstance(item, str):
        return ListedFile(item)
    if isinstance(item, dict) and isinstance(item.get("url"), str):
        size = item.get("size")
        if size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            return ListedFile(item["url"], size)
    raise DownloadError(f"{where}: a listed file is neither a URL nor an object with 'url' and a byte 'size'")


def expiry_reason(status: int, body: bytes) -> str | None:
    """Why a signed-URL answer means "expired" (``HTTP 403``, ``HTTP 400 ExpiredToken``, ...);
    None when it does not: a 400 counts only with an S3 expiry code or message in its body."""
    match = _S3_CODE.search(body)
    code = match.group(1).decode("ascii", "replace") if match else None
    if status in _EXPIRED_STATUS:
        return f"HTTP {status}" + (f" {code}" if code else "")
    if status == 400 and (code in _EXPIRED_400_CODES or _EXPIRED_TEXT in body):
        return f"HTTP 400 {code or _EXPIRED_TEXT.decode()}"
    return None


def _error_body(exc: urllib.error.HTTPError) -> bytes:
    """The first bytes of an error answer's body (empty when it cannot be read)."""
    try:
        return exc.read(_ERROR_BODY_BYTES) or b""
    except (OSError, http.client.HTTPException):
        return b""


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _open(
    url: str, settings: ApiSettings, headers: Mapping[str, str] | None = None, send_key: bool = False
) -> http.client.HTTPResponse:
    """One request; classify failures as auth, expired, transient or final."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    if send_key and settings.api_key:
        request.add_header(API_KEY_HEADER, settings.api_key)
    where = redact_url(url)
    try:
        return urllib.request.urlopen(request, timeout=settings.timeout_s)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as exc:
        status = exc.code
        body = _error_body(exc) if status != 416 else b""
        exc.close()
        if status == 401 or (send_key and status == 403):
            hint = "no API key was given" if not settings.api_key else "the API key was rejected"
            raise AuthError(
                f"{where}: HTTP {status}: {hint}; set the environment variable named by "
                "corpus.s2.api_key_env to a valid Semantic Scholar API key"
            ) from None
        expired = None if send_key else expiry_reason(status, body)
        if expired is not None:
            raise ExpiredUrlError(f"{where}: {expired} (signed URL expired or revoked)") from None
        if status in _TRANSIENT_STATUS:
            raise _TransientError(f"{where}: HTTP {status}", _retry_after(exc.headers)) from None
        if status == 416:
            raise  # handled by the download loop
        code = _S3_CODE.search(body)
        raise DownloadError(f"{where}: HTTP {status}" + (f" {code.group(1).decode()}" if code else "")) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _TransientError(f"{where}: {type(exc).__name__}: {reason}") from None


def _pause(attempt: int, settings: ApiSettings, error: _TransientError) -> None:
    delay = error.retry_after if error.retry_after is not None else backoff_delay(
        attempt, settings.backoff_s, settings.max_backoff_s
    )
    logger.warning("%s; retry %d/%d in %.1f s", error, attempt, settings.retries, delay)
    time.sleep(delay)


def get_json(url: str, settings: ApiSettings) -> Any:
    """GET an API endpoint (with the key) as JSON, retrying transient failures."""
    for attempt in range(1, settings.retries + 2):
        try:
            with _open(url, settings, {"Accept": "application/json"}, send_key=True) as response:
                return json.loads(response.read())
        except _TransientError as exc:
            if attempt > settings.retries:
                raise DownloadError(f"{exc} (gave up after {settings.retries} retries)") from None
            _pause(attempt, settings, exc)
        except json.JSONDecodeError as exc:
            raise DownloadError(f"{redact_url(url)}: response is not JSON ({exc})") from None
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- API endpoints


def list_releases(settings: ApiSettings) -> list[str]:
    """Release ids (dates), oldest first."""
    releases = get_json(f"{settings.base_url}/release/", settings)
    if not isinstance(releases, list) or not all(isinstance(r, str) for r in releases):
        raise DownloadError(f"{settings.base_url}/release/: expected a list of release ids")
    return sorted(releases)


def resolve_release(release: str, settings: ApiSettings) -> str:
    """A release id; ``latest`` becomes the newest listed release."""
    if release != "latest":
        return release
    releases = list_releases(settings)
    if not releases:
        raise DownloadError(f"{settings.base_url}/release/: no releases listed")
    return releases[-1]


def dataset_files(release: str, dataset: str, settings: ApiSettings) -> list[ListedFile]:
    """The signed shard URLs of one dataset of a release, with their sizes when listed."""
    url = f"{settings.base_url}/release/{quote(release)}/dataset/{quote(dataset)}"
    body = get_json(url, settings)
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list):
        raise DownloadError(f"{redact_url(url)}: expected an object with a 'files' list of URLs")
    return [listed_file(f, redact_url(url)) for f in files]


def list_dataset_files(release: str, dataset: str, settings: ApiSettings) -> list[str]:
    """The signed shard URLs of one dataset of a release."""
    return [f.url for f in dataset_files(release, dataset, settings)]


def list_diffs(start_release: str, end_release: str, dataset: str, settings: ApiSettings) -> list[dict]:
    """The diffs from ``start_release`` to ``end_release``, oldest first, each with
    ``from_release``, ``to_release``, ``update_files`` and ``delete_files`` (``ListedFile``)."""
    url = f"{settings.base_url}/diffs/{quote(start_release)}/to/{quote(end_release)}/{quote(dataset)}"
    body = get_json(url, settings)
    diffs = body.get("diffs") if isinstance(body, dict) else None
    if not isinstance(diffs, list):
        raise DownloadError(f"{redact_url(url)}: expected an object with a 'diffs' list")
    for diff in diffs:
        if not isinstance(diff, dict) or not all(
            isinstance(diff.get(k), list) for k in ("update_files", "delete_files")
        ):
            raise DownloadError(f"{redact_url(url)}: a diff lacks 'update_files'/'delete_files' lists")
    where = redact_url(url)
    return [
        {**diff, **{k: [listed_file(f, where) for f in diff[k]] for k in ("update_files", "delete_files")}}
        for diff in diffs
    ]
