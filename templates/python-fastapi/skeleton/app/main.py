"""HTTP application: routes, Prometheus metrics and access logs."""

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator, metrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import SERVICE_DESCRIPTION, SERVICE_NAME, __version__, resources

logger = logging.getLogger("app")


class Readiness:
    """Ready once startup finished; not ready again as soon as shutdown begins."""

    ready = False


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    Readiness.ready = True
    logger.info("started", extra={"service": SERVICE_NAME, "version": __version__})
    try:
        yield
    finally:
        Readiness.ready = False
        logger.info("stopped", extra={"service": SERVICE_NAME})


class AccessLogMiddleware:
    """Log one JSON line per request with the route template, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None)
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": route or "none",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                },
            )


app = FastAPI(
    title=SERVICE_NAME,
    description=SERVICE_DESCRIPTION,
    version=__version__,
    lifespan=lifespan,
)
app.add_middleware(AccessLogMiddleware)

# Request count and latency by method, route template ("handler") and exact
# status code; the default registry also exports process_* and python_* metrics.
instrumentator = Instrumentator(
    should_group_status_codes=False,
    should_group_untemplated=True,
    excluded_handlers=["/metrics"],
)
instrumentator.add(metrics.requests())
instrumentator.add(metrics.latency())
instrumentator.instrument(app).expose(app, endpoint="/metrics", include_in_schema=False)


@app.get("/")
async def root() -> dict[str, str]:
    return {"name": SERVICE_NAME, "version": __version__}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/readyz")
async def readyz() -> JSONResponse:
    if not Readiness.ready:
        return JSONResponse({"status": "not ready"}, status_code=503)
    # Traffic waits until the database, cache and queue it needs answer.
    waiting = await resources.waiting_for()
    if waiting:
        return JSONResponse({"status": "not ready", "waiting_for": waiting}, status_code=503)
    return JSONResponse({"status": "ready"})
