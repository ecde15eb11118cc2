"""RFC 9457 problem+json answers for every error, each with a stable ``code``."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.types import Send

from hutong.errors import HutongError

log = logging.getLogger("hutong.api")

PROBLEM_TYPE = "https://hutong.dev/problems/"
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


class Problem(BaseModel):
    """What every error answer carries (RFC 9457), as ``application/problem+json``."""

    type: str
    title: str
    status: int
    detail: str
    code: str  # stable, machine-readable: the part of ``type`` after the last slash
    instance: str  # the request's path
    errors: list[dict[str, Any]] | None = None  # per-field errors of a 422


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    return body


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, title, detail, instance, errors),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


async def send_problem(
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """The same problem as ``problem``, sent by a pure ASGI middleware that answers before
    the app (and its exception handlers) is reached."""
    body = json.dumps(problem_body(status, code, title, detail, instance)).encode()
    raw = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append(
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "type": err.get("type", "invalid"),
                "msg": err.get("msg", "invalid"),
            }
        )
    return out


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HutongError)
    return problem(exc.status, exc.code, exc.title, exc.detail, request.url.path, exc.errors)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    return problem(422, "validation_failed", "Invalid input", detail, request.url.path, errors)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    title = code.replace("_", " ").capitalize()
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, code, title, detail, request.url.path, headers=headers)


async def _on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database could not be reached, or a connection broke. The request's transaction
    rolled back, unless the break came after the database committed and before it said so
    (then the retry's Idempotency-Key returns the first answer): retrying is always safe."""
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        503,
        "store_unavailable",
        "Store unavailable",
        "the database could not be reached; retry shortly with the same Idempotency-Key",
        request.url.path,
        headers={"Retry-After": "1"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500, "internal_error", "Internal error", "an unexpected error was logged", request.url.path
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(HutongError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(OperationalError, _on_store_unavailable)
    app.add_exception_handler(InterfaceError, _on_store_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)
    document(app)


PROBLEM_RESPONSE = {
    "description": "Refused: a problem (RFC 9457) whose ``code`` says why",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


UNAVAILABLE = "The store could not be reached: retry after Retry-After, same Idempotency-Key"


def document(app: FastAPI) -> None:
    """/openapi.json says what the API really sends on a refusal: a ``4XX`` problem on every
    operation, in place of FastAPI's default 422 ``HTTPValidationError``, which hutong never
    sends (its validation errors are problems too)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["4XX"] = PROBLEM_RESPONSE
                responses["503"] = {**PROBLEM_RESPONSE, "description": UNAVAILABLE}
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
