"""The server's HTTP face: the CLI's rules and messages, who may see what, and hostile uploads."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from grader import api
from grader.server.app import Settings, create_app

from ..conftest import pred_path
from .conftest import bearer


def upload(server, token, path_or_bytes, hw="hw99", name="pred.csv", key=None):
    data = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
    headers = {**bearer(token), **({"Idempotency-Key": key} if key else {})}
    return server.post(f"/api/v1/assignments/{hw}/submissions", headers=headers, files={"file": (name, data)})


def test_a_student_submits_and_sees_the_public_score_only(server, roster, calibrated):
    r = upload(server, roster["b01"], pred_path(calibrated, "strong"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "scored" and body["student"] == "b01" and body["public_score"] > 0
    assert body["public_baselines_passed"] == ["simple", "medium", "strong"]
    assert "private" not in json.dumps(body).replace("private_", "") and "private_score" not in body
    mine = server.get("/api/v1/submissions", headers=bearer(roster["b01"])).json()
    assert [m["id"] for m in mine] == [body["id"]] and mine[0]["private"] is None  # before the deadline
    one = server.get(f"/api/v1/submissions/{body['id']}", headers=bearer(roster["b01"])).json()
    assert one["status"] == "scored" and "private_score" not in one


def test_rejections_carry_the_precise_message_and_use_no_slot(server, roster):
    r = upload(server, roster["b01"], b"id,y\n0,1.0\n0,nan\n")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "rejected" and body["used_today"] == 0
    assert "line 3 (nan)" in body["message"] and "duplicate id" in body["message"]


def test_nobody_submits_or_reads_as_someone_else(server, roster, calibrated):
    mine = upload(server, roster["b01"], pred_path(calibrated, "medium")).json()
    # the student is whoever the token says; there is no field to claim another id
    other = upload(server, roster["b02"], pred_path(calibrated, "boss")).json()
    assert other["student"] == "b02"
    assert server.get(f"/api/v1/submissions/{mine['id']}", headers=bearer(roster["b02"])).status_code == 404
    assert [s["id"] for s in server.get("/api/v1/submissions", headers=bearer(roster["b02"])).json()] == [other["id"]]
    assert server.get("/api/v1/assignments/hw99/submissions", headers=bearer(roster["b01"])).status_code == 403
    assert server.put("/api/v1/assignments/hw99/finals", headers=bearer(roster["b02"]),
                      json={"ids": [mine["id"]]}).status_code == 404
    for headers in ({}, bearer("gr_not-a-token"), {"Authorization": "Basic YTpi"}):
        assert server.get("/api/v1/submissions", headers=headers).status_code == 401


def test_the_private_board_is_staff_only_before_the_deadline(server, roster, calibrated, monkeypatch):
    upload(server, roster["b01"], pred_path(calibrated, "strong"))
    r = server.get("/api/v1/assignments/hw99/leaderboard/private", headers=bearer(roster["b01"]))
    assert r.status_code == 403 and "hidden until the deadline" in r.json()["error"]
    staff = server.get("/api/v1/assignments/hw99/leaderboard/private", headers=bearer(roster["ta"]))
    assert staff.status_code == 200 and any(row["student_id"] == "b01" for row in staff.json())
    public = server.get("/api/v1/assignments/hw99/leaderboard/public", headers=bearer(roster["b02"])).json()
    assert any(row["baseline"] for row in public)
    monkeypatch.setenv("GRADE_NOW", "2022-02-25T10:00:00")  # the deadline passed
    assert server.get("/api/v1/assignments/hw99/leaderboard/private", headers=bearer(roster["b01"])).status_code == 200
    late = upload(server, roster["b01"], pred_path(calibrated, "boss")).json()
    assert late["status"] == "refused" and "late work is not accepted" in late["message"]


def test_the_ta_sees_every_submission_in_the_batch_view(server, roster, calibrated):
    a = upload(server, roster["b01"], pred_path(calibrated, "strong")).json()
    b = upload(server, roster["b02"], b"not,a,csv\n").json()
    rows = server.get("/api/v1/assignments/hw99/submissions", headers=bearer(roster["ta"])).json()
    assert {(r["id"], r["student"], r["status"]) for r in rows} == {(a["id"], "b01", "scored"), (b["id"], "b02", "rejected")}
    assert next(r for r in rows if r["id"] == a["id"])["private"] is not None  # staff see both scores
    assert upload(server, roster["ta"], pred_path(calibrated, "strong")).status_code == 403  # staff don't submit


def test_a_retried_upload_spends_one_slot(server, roster, calibrated):
    first = upload(server, roster["b01"], pred_path(calibrated, "strong"), key="retry-7").json()
    again = upload(server, roster["b01"], pred_path(calibrated, "strong"), key="retry-7").json()
    assert again["id"] == first["id"] and again["replayed"] and again["used_today"] == 1


def test_upload_names_cannot_traverse_and_oversized_bodies_are_cut_off(server, roster, calibrated):
    r = upload(server, roster["b01"], pred_path(calibrated, "strong"), name="../../../etc/passwd").json()
    assert r["status"] == "scored"
    recorded = api.class_submissions(calibrated, "hw99")[0]
    with calibrated.store.reading() as s:
        from grader.store import Submission
        assert s.get(Submission, recorded["id"]).filename == "passwd"
    huge = upload(server, roster["b01"], b"id,y\n" + b"0,1.0\n" * 200_000)  # 1.2 MB > the toy's 100 kB + slack
    assert huge.status_code == 413 and "limit" in huge.json()["error"]
    big = upload(server, roster["b01"], b"id,y\n" + b"0,1.0\n" * 17_500).json()  # under the body cap, over the spec's
    assert big["status"] == "rejected" and "over the size limit" in big["message"]
    assert server.post("/api/v1/assignments/hw99/submissions", headers={**bearer(roster["b01"]), "Content-Length": "99999999"},
                       content=b"").status_code == 413


def test_errors_are_json_with_the_cli_messages(server, roster):
    r = server.get("/api/v1/assignments/hw42/leaderboard/public", headers=bearer(roster["b01"]))
    assert r.status_code == 404 and "no assignment named 'hw42'" in r.json()["error"]
    r = server.put("/api/v1/assignments/hw99/finals", headers=bearer(roster["b01"]), json={"ids": [1, 2, 3]})
    assert r.status_code == 409 and "at most 2 final submissions" in r.json()["error"]
    r = server.put("/api/v1/assignments/hw99/finals", headers=bearer(roster["b01"]), json={"ids": "x"})
    assert r.status_code == 422 and r.json()["error"].startswith("body.ids")


def test_requests_are_rate_limited_per_token(calibrated, roster, monkeypatch):
    app = create_app(calibrated.root, Settings(workers=0, rate=1, burst=3))
    with TestClient(app) as client:
        codes = [client.get("/api/v1/me", headers=bearer(roster["b01"])).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        assert client.get("/api/v1/me", headers=bearer(roster["b02"])).status_code == 200  # another token
        r = client.get("/api/v1/me", headers=bearer(roster["b01"]))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_a_revoked_token_stops_working(server, roster, calibrated):
    assert server.get("/api/v1/me", headers=bearer(roster["b02"])).json() == {"subject": "b02", "role": "student"}
    assert api.revoke_tokens(calibrated, "b02") == 1
    assert server.get("/api/v1/me", headers=bearer(roster["b02"])).status_code == 401


def test_health_reports_the_queue(server):
    h = server.get("/api/v1/health").json()
    assert h["status"] == "ok" and isinstance(h["queue"], dict)


def test_ids_beyond_the_store_range_are_a_client_error(server, roster):
    """A submission id past 64 bits (found by the schema fuzzer) is refused as invalid, not a server error."""
    for bad in (2**63, 0, -1):
        r = server.get(f"/api/v1/submissions/{bad}", headers=bearer(roster["b01"]))
        assert r.status_code == 422, (bad, r.status_code, r.text)
    r = server.put("/api/v1/assignments/hw99/finals", json={"ids": [2**64]}, headers=bearer(roster["b01"]))
    assert r.status_code == 422, r.text
