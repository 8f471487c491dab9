"""Run the real server process: JSON logs, $PORT, graceful stop on SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serves_on_port_and_stops_gracefully_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as res:
                    assert res.status == 200
                    break
            except OSError:
                assert proc.poll() is None, "server exited early"
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Uvicorn shuts down gracefully, then re-raises the signal it caught, so
    # the process ends "killed by SIGTERM" after a clean shutdown.
    assert proc.returncode in (0, -signal.SIGTERM), output
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    messages = [entry["message"] for entry in entries]
    assert "started" in messages
    assert "stopped" in messages
    assert messages.index("stopped") > messages.index("started")
    request = next(e for e in entries if e["message"] == "request" and e["path"] == "/readyz")
    assert request["status"] == 200
    assert request["method"] == "GET"
