"""OpenReview's Expertise API served by revmatch (FastAPI): ``openreview-py``'s
``OpenReviewClient`` (``request_expertise``, ``get_expertise_status``,
``get_expertise_results``, ...) pointed at this service computes affinity scores on a
finished conference run. ``create_app`` builds the application, ``serve`` runs it with
uvicorn (on 127.0.0.1 unless told otherwise).

Endpoints (as openreview-expertise's Flask routes): ``POST /expertise``, ``GET
/expertise/status`` (``jobId``; without it, the jobs matching the filters), ``GET
/expertise/status/all``, ``GET /expertise/results`` (``jobId``, ``format=json|csv``,
``deleteOnGet``), ``GET /expertise/metadata``, ``DELETE /expertise/{jobId}``, ``GET
/expertise/test`` and ``GET /health``. And two calls of OpenReview's main API that the
client makes around the Expertise API: ``GET /profiles`` (built with a JWT token, it looks
up the token's profile) and ``GET /invitations`` (it checks that an expertise selection's
invitation exists before it sends it). Errors are the API's ``{"name": ..., "message": ...}``
with 400, 403, 404 or 500.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from revmatch.affinity.settings import ScorerSettings
from revmatch.io import PathLike
from revmatch.service.expertise_request import BadRequest, Translator, default_translator, translate
from revmatch.service.store import COMPLETED, FINAL, QUEUED, JobNotFound, JobStore, public_record
from revmatch.service.worker import ConferenceFiles, JobRunner

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5000  # the Expertise service's own default
_ERROR_NAMES = {400: "BadRequestError", 401: "UnauthorizedError", 403: "ForbiddenError", 404: "NotFoundError",
                405: "MethodNotAllowedError", 500: "InternalServerError"}
_FILTER_KEYS = ("memberOf", "invitation", "id", "withVenueid")


class ApiError(Exception):
    """An error answered as the Expertise API does: ``status`` and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str) -> dict:
    """The API's error document (what ``OpenReviewException`` carries on the client)."""
    return {"name": _ERROR_NAMES.get(status, "Error"), "message": message}


def token_user(token: str | None) -> dict:
    """The ``user`` of a JWT's payload (read, not verified: the token itself is what is
    checked), as the client reads it; ``{}`` for other tokens."""
    try:
        payload = token.split(".")[1]  # type: ignore[union-attr]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        user = claims.get("user", claims)
        return user if isinstance(user, dict) else {}
    except (AttributeError, IndexError, ValueError, TypeError):
        return {}


def user_id(user: dict) -> str | None:
    """The profile id of a token's user (``profile.id``, else ``id``)."""
    return (user.get("profile") or {}).get("id") or user.get("id")


def presented_token(request: Request) -> str | None:
    """The token of the ``Authorization`` header (``Bearer <token>`` or the bare token)."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else header.strip()


def authorizer(token: str | None) -> Callable[[Request], str | None]:
    """A dependency that lets a request in only with ``token`` (when one is configured);
    it gives the caller's profile id (from a JWT token), or None."""

    def authorize(request: Request) -> str | None:
        given = presented_token(request)
        if token is not None:
            if given is None:
                raise ApiError(403, "Forbidden: No Authorization token in headers")
            if not hmac.compare_digest(given.encode(), token.encode()):
                raise ApiError(403, "Forbidden: invalid Authorization token")
        return user_id(token_user(given))

    return authorize


def _job_id(request: Request) -> str:
    job_id = request.query_params.get("jobId", "")
    if not job_id:
        raise ApiError(400, "Bad request: jobId is required")
    return job_id


def _matches(record: dict, query: dict[str, str]) -> bool:
    """Whether a job's status matches the filters of ``GET /expertise/status/all``:
    ``status`` and the entities' ``memberOf``, ``invitation``, ``id``, ``withVenueid``
    (``entityA.<key>``, ``entityB.<key>`` or either), each a case-insensitive prefix."""
    wanted = query.get("status", "")
    if wanted and not str(record.get("status", "")).lower().startswith(wanted.lower()):
        return False
    request = record.get("request") or {}
    for param, value in query.items():
        entity, _, key = param.rpartition(".")
        if key not in _FILTER_KEYS or entity not in ("", "entityA", "entityB"):
            continue
        entities = [entity] if entity else ["entityA", "entityB"]
        found = [str((request.get(e) or {}).get(key) or "") for e in entities]
        if not any(text.lower().startswith(value.lower()) for text in found if text):
            return False
    return True


def _results_response(store: JobStore, job_id: str, fmt: str, delete: bool) -> Response:
    record = store.status(job_id)
    if record["status"] != COMPLETED:
        raise ApiError(404, f"Scores not found - status: {record['status']} | "
                            f"description: {record['description']}")
    if fmt not in ("json", "csv"):
        raise ApiError(400, f"Bad request: format must be json or csv, got {fmt!r}")
    if fmt == "csv":
        rows = store.api_csv(job_id)
        if not delete:
            return StreamingResponse(rows, media_type="text/csv; charset=utf-8")
        content = "".join(rows)
        store.delete(job_id)
        return Response(content, media_type="text/csv; charset=utf-8")
    path = store.results_path(job_id, "json")
    if not delete:
        return FileResponse(path, media_type="application/json")
    content = path.read_bytes()
    store.delete(job_id)
    return Response(content, media_type="application/json")


def expertise_router(store: JobStore, runner: JobRunner | None, venue_id: str | None, translator: Translator,
                     default_model: str | None, token: str | None) -> APIRouter:
    """The Expertise API's routes over ``store``; new jobs go to ``runner`` (None: they wait)."""
    authorize = authorizer(token)
    router = APIRouter(dependencies=[Depends(authorize)])

    @router.post("/expertise")
    async def post_expertise(request: Request, caller: str | None = Depends(authorize)) -> dict:
        try:
            body = await request.json()
        except ValueError as exc:
            raise ApiError(400, "Bad request: the request body is not JSON") from exc
        try:
            translated = translate(body, venue_id, translator, default_model)
        except BadRequest as exc:
            raise ApiError(400, str(exc)) from exc
        job = translated.job
        record = store.create(body["name"], body, job, tauthor=caller, notes=translated.notes)
        if runner is None:
            store.set_status(record["jobId"], QUEUED)
        else:
            runner.submit(record["jobId"])
        logger.info("job %s (%s) queued: %s", record["jobId"], body["name"], job)
        return {"jobId": record["jobId"]}

    @router.get("/expertise/status")
    def get_status(request: Request) -> dict:
        job_id = request.query_params.get("jobId")
        if not job_id:
            return all_statuses(request)
        return public_record(store.status(job_id))

    @router.get("/expertise/status/all")
    def all_statuses(request: Request) -> dict:
        query = dict(request.query_params)
        records = [public_record(r) for r in store.statuses() if _matches(r, query)]
        return {"results": sorted(records, key=lambda r: r["cdate"], reverse=True)}

    @router.get("/expertise/results")
    def get_results(request: Request) -> Response:
        delete = request.query_params.get("deleteOnGet", "false").lower() == "true"
        fmt = request.query_params.get("format", "json").lower()
        return _results_response(store, _job_id(request), fmt, delete)

    @router.get("/expertise/metadata")
    def get_metadata(request: Request) -> dict:
        job_id = _job_id(request)
        record = store.status(job_id)
        if record["status"] != COMPLETED:
            raise ApiError(404, f"Metadata not available - status: {record['status']} | "
                                f"description: {record['description']}")
        return store.metadata(job_id)

    @router.delete("/expertise/{job_id}")
    def delete_job(job_id: str) -> dict:
        record = store.status(job_id)
        if record["status"] not in FINAL:
            raise ApiError(400, f"Bad request: cannot delete job in status {record['status']}")
        store.delete(job_id)
        return public_record(record)

    @router.get("/expertise/test")
    def test() -> PlainTextResponse:
        return PlainTextResponse("OpenReview Expertise (test)")

    @router.get("/invitations")
    def get_invitations(request: Request) -> dict:
        """An invitation of the venue (``<venue>/.../-/<name>``): the client checks that an
        expertise selection's invitation exists before it puts it in a request (and drops it
        silently otherwise); the translator then honours it or refuses it, naming the field."""
        wanted = request.query_params.get("id", "")
        if venue_id and wanted.startswith(f"{venue_id}/") and "/-/" in wanted:
            return {"invitations": [{"id": wanted, "domain": venue_id}]}
        raise ApiError(404, f"Invitation not found: {wanted}")

    @router.get("/profiles")
    def get_profiles(request: Request, caller: str | None = Depends(authorize)) -> dict:
        """The caller's own profile, the one the client looks up when built with a JWT token."""
        wanted = request.query_params.get("id")
        if caller is None or (wanted and wanted != caller) or "email" in request.query_params:
            return {"profiles": []}
        return {"profiles": [{"id": caller, "active": True, "content": {}}]}

    return router


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status)

    @app.exception_handler(JobNotFound)
    async def not_found(_: Request, exc: JobNotFound) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc)), status_code=404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(400, f"Bad request: {exc.errors()}"), status_code=400)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("internal error")
        return JSONResponse(error_body(500, f"Internal server error: {exc}"), status_code=500)


def create_app(
    conference_dir: PathLike,
    model_dir: PathLike,
    papers: PathLike | None,
    venue_id: str | None,
    state_dir: PathLike,
    token: str | None = None,
    *,
    corpus_embeddings: PathLike | None = None,
    submission_embeddings: PathLike | None = None,
    reject_embeddings: PathLike | None = None,
    scorer_settings: ScorerSettings | None = None,
    default_model: str | None = None,
    archives_dir: PathLike | None = None,
    translator: Translator | None = None,
    run_jobs: bool = True,
) -> FastAPI:
    """The Expertise API over a finished conference run (``conference_dir``), the corpus
    (``papers``) and the model folder (``model_dir``), for the OpenReview venue ``venue_id``.

    Jobs live under ``state_dir`` (one folder each) and survive a restart: at startup, jobs
    that were waiting or running are queued again. One worker thread runs them in turn
    (``run_jobs=False``: none; jobs wait, for maintenance). With a ``token``, every request
    but ``/health`` must carry ``Authorization: Bearer <token>``. ``translator``: the
    request -> job translation (default: ``revmatch.affinity.from_openreview``, with its notes);
    ``default_model``: the model of jobs whose request names none, as the requests that name
    one of OpenReview's models (default: the job's default, ``avg``); ``archives_dir``: the
    members' OpenReview archives (``<member id>.jsonl``), read instead of the corpus
    (``papers`` may then be None), which honours a request's ``expertise`` selection.
    """
    files = ConferenceFiles.of(conference_dir, model_dir, papers, corpus_embeddings, submission_embeddings,
                               reject_embeddings, scorer_settings, archives_dir)
    files.check()
    translator = translator or default_translator(default_model, archives_dir)
    store = JobStore(state_dir)
    runner = JobRunner(store, files) if run_jobs else None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        store.hold()
        stopped = True
        try:
            waiting = store.recover()
            if runner is not None:
                runner.requeue(waiting)
                runner.start()
            yield
        finally:
            if runner is not None:
                stopped = runner.stop(timeout=2.0)
            if stopped:  # else the folder stays held until the job or the process ends
                store.release()

    app = FastAPI(title="revmatch Expertise API", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.store, app.state.runner, app.state.files = store, runner, files
    _install_error_handlers(app)

    @app.get("/health")
    def health() -> dict:
        return {"status": "Healthy instance"}

    app.include_router(expertise_router(store, runner, venue_id, translator, default_model, token))
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, log_level: str = "info", **app_args: Any
) -> None:
    """Run the service with uvicorn until interrupted; ``app_args`` go to ``create_app``.

    Another address than a loopback one needs a ``token``: the scores are the venue's.
    Clients must use ``http://127.0.0.1:<port>``, not ``http://localhost``: for a base URL
    starting with ``http://localhost`` openreview-py fakes the Expertise API's answers.
    """
    import uvicorn

    if not is_loopback(host) and not app_args.get("token"):
        raise ValueError(f"serving on {host} (not a loopback address) needs a token")
    app = create_app(**app_args)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")).run()
