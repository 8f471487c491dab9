"""The resources paved gives the service: a database, a cache, a queue, each
as a URL in the environment (`DATABASE_URL`, `REDIS_URL`, `QUEUE_URL`; each
resource also as `<NAME>_URL`). The service is ready only while every one of
them answers on its port. URLs hold credentials: only variable names are
ever shown."""

import asyncio
import contextlib
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

VARIABLES = ("DATABASE_URL", "REDIS_URL", "QUEUE_URL")
DEFAULT_PORTS = {
    "postgres": 5432,
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "http": 80,
    "https": 443,
}
# How long readiness waits for one resource to accept a connection.
CONNECT_TIMEOUT = 1.0


def configured(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The resource variables that are set, with their URLs."""
    return {name: environ[name] for name in VARIABLES if environ.get(name)}


def endpoint(url: str) -> tuple[str, int] | None:
    """The host and port a resource URL points at, if it names them."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or not port:
        return None
    return parts.hostname, port


async def answers(url: str) -> bool:
    """Whether the resource accepts a TCP connection within the timeout."""
    target = endpoint(url)
    if target is None:
        return False
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(*target), CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def waiting_for(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The variables whose resources do not answer, checked together."""
    urls = configured(environ)
    results = await asyncio.gather(*(answers(url) for url in urls.values()))
    return [name for name, ok in zip(urls, results, strict=True) if not ok]
