"""A calibrated toy course behind the server app, with a roster of students, a TA and tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from grader import api
from grader.server.app import Settings, create_app


@pytest.fixture
def roster(calibrated, tmp_path):
    csv = tmp_path / "roster.csv"
    csv.write_text("id,name,alias\nb01,Alice Chen,owl\nb02,Bob Lin,fox\n")
    tokens = {sid: tok for sid, _, tok in api.import_roster(calibrated, csv, tmp_path / "tokens.csv")}
    tokens["ta"] = api.issue_token(calibrated, "Ta Wang", "ta")
    return tokens


@pytest.fixture
def server(calibrated, roster, monkeypatch):
    monkeypatch.setenv("GRADE_NOW", "2022-02-20T10:00:00")  # before the toy deadline (02-23)
    app = create_app(calibrated.root, Settings(workers=0, rate=1000, burst=1000))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
