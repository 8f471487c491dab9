"""Entry point: `python -m app` serves on $PORT and stops gracefully on SIGTERM."""

import os

import uvicorn

from app.logconfig import configure_logging

DEFAULT_PORT = {{ port }}


def main() -> None:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    # Uvicorn handles SIGTERM and SIGINT: it stops accepting connections, lets
    # in-flight requests finish (up to the timeout), then runs the lifespan
    # shutdown. Keep the timeout below terminationGracePeriodSeconds.
    uvicorn.run(
        "app.main:app",
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", DEFAULT_PORT)),
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
