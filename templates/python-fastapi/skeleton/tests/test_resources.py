import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app import resources
from app.main import app


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name in resources.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def listening() -> Iterator[int]:
    """A port on loopback that accepts connections, as a resource would."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def closed() -> int:
    """A port on loopback nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_without_resources_the_service_is_ready(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_ready_while_its_resources_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, listening: int
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:secret@127.0.0.1:{listening}/app")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{listening}")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_not_ready_while_a_resource_does_not_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, listening: int, closed: int
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:secret@127.0.0.1:{listening}/app")
    monkeypatch.setenv("QUEUE_URL", f"http://127.0.0.1:{closed}/000000000000/jobs")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "waiting_for": ["QUEUE_URL"]}
    assert "secret" not in response.text


def test_endpoints_come_from_the_url_or_the_scheme() -> None:
    assert resources.endpoint("postgres://u:p@db.internal/app") == ("db.internal", 5432)
    assert resources.endpoint("rediss://cache:6380") == ("cache", 6380)
    assert resources.endpoint("https://sqs.eu-west-1.amazonaws.com/1/jobs") == (
        "sqs.eu-west-1.amazonaws.com",
        443,
    )
    assert resources.endpoint("not a url") is None
