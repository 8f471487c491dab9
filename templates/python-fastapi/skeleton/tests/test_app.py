import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app import SERVICE_NAME, __version__
from app.main import Readiness, app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # Entering the client runs the lifespan, which marks the service ready.
    with TestClient(app) as test_client:
        yield test_client


def test_root_reports_name_and_version(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"name": SERVICE_NAME, "version": __version__}


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_ready(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_when_shutting_down(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Readiness, "ready", False)
    response = client.get("/readyz")
    assert response.status_code == 503


def test_unknown_path_is_404(client: TestClient) -> None:
    assert client.get("/no/such/path").status_code == 404


def test_metrics_by_method_route_and_status(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no/such/path")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()

    def has_sample(prefix: str, *labels: str) -> bool:
        return any(line.startswith(prefix) and all(lb in line for lb in labels) for line in lines)

    ok = ('handler="/healthz"', 'method="GET"', 'status="200"')
    assert has_sample("http_requests_total{", *ok)
    assert has_sample("http_request_duration_seconds_bucket{", *ok)
    assert has_sample("http_request_duration_seconds_count{", *ok)
    # Unmatched URLs are grouped, so raw paths never become label values.
    assert has_sample("http_requests_total{", 'handler="none"', 'status="404"')
    assert "/no/such/path" not in response.text
    assert has_sample("python_info{")
    if sys.platform.startswith("linux"):
        assert has_sample("process_cpu_seconds_total ")
        assert has_sample("process_resident_memory_bytes ")
