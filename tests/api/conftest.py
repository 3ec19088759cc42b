"""An app over the northern Kentucky snapshot, served in-process for HTTP tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service


@pytest.fixture(scope="session")
def nky_service(nky_snapshot_dir):
    return load_service(nky_snapshot_dir)


@pytest.fixture(scope="session")
def client(nky_service):
    app = create_app(service=nky_service)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
