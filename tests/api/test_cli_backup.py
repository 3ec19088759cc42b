"""`citynav backup` while a server writes, `citynav restore` into a new store, and a fresh
server on the restored store answers with the same incidents, history and keys."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.service import load_service
from incidents.keys import create_key


def test_backup_while_serving_and_restore_into_a_fresh_server(nky_snapshot_dir,
                                                              tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    svc = load_service(nky_snapshot_dir, db_url=url)
    key = create_key(svc.store, "traffic_centre", "KYTC")
    h = {"Authorization": f"Bearer {key}"}
    body = {"type": "closure", "severity": "high", "start": datetime.now(UTC).isoformat(),
            "geometry": {"type": "LineString", "coordinates": [[-84.5086, 39.0837],
                                                               [-84.5080, 39.0840]]}}
    run = CliRunner()
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        ids = [c.post("/v1/incidents", json=body, headers=h).json()["id"] for _ in range(3)]
        r = c.patch(f"/v1/incidents/{ids[0]}", json={"severity": "low"},
                    headers={**h, "If-Match": '"1"'})
        assert r.status_code == 200
        before = {i: c.get(f"/v1/incidents/{i}", headers=h).json() for i in ids}
        hist = {i: c.get(f"/v1/incidents/{i}/history", headers=h).json() for i in ids}
        out = run.invoke(cli_app, ["backup", str(tmp_path / "b.db"), "--db", url])
        assert out.exit_code == 0, out.output
        later = c.post("/v1/incidents", json=body, headers=h).json()["id"]  # after the backup
    svc.close()
    new = f"sqlite:///{tmp_path / 'restored.db'}"
    out = run.invoke(cli_app, ["restore", str(tmp_path / "b.db"), "--db", new])
    assert out.exit_code == 0, out.output
    assert "3 incidents" in out.output
    assert run.invoke(cli_app, ["restore", str(tmp_path / "b.db"), "--db", new]).exit_code == 1
    svc2 = load_service(nky_snapshot_dir, db_url=new)
    with TestClient(create_app(service=svc2), raise_server_exceptions=False) as c:
        for i in ids:
            got = c.get(f"/v1/incidents/{i}", headers=h)  # the key was restored too
            assert got.status_code == 200, got.text
            doc = got.json()
            assert {k: v for k, v in doc.items() if k != "live_version"} == \
                {k: v for k, v in before[i].items() if k != "live_version"}
            assert c.get(f"/v1/incidents/{i}/history", headers=h).json() == hist[i]
        assert c.get(f"/v1/incidents/{later}").status_code == 404
    svc2.close()
