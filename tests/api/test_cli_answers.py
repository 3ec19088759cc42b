"""``citynav route`` and ``citynav plan`` on the bundled city, in-process: readable and JSON
answers, and a bad parameter exiting 2 with one plain line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app as cli_app

A, B, C = "39.0837,-84.5086", "39.0912,-84.4960", "39.0412,-84.4960"
AT = "2020-01-15T08:00:00-05:00"


def _run(*args: str):
    return CliRunner().invoke(cli_app, list(args))


def _text(r) -> str:
    return r.output + (getattr(r, "stderr", "") or "")


def test_plan_readable_and_json(nky_snapshot_dir: Path) -> None:
    snap = str(nky_snapshot_dir)
    r = _run("plan", "--from", A, "--to", C, "--at", AT, "--snapshot", snap)
    assert r.exit_code == 0, _text(r)
    assert "Option 1" in r.output and "transfer(s)" in r.output
    r = _run("plan", "--from", A, "--to", C, "--at", AT, "--snapshot", snap, "--json")
    assert r.exit_code == 0, _text(r)
    body = json.loads(r.output)
    assert body["itineraries"] and body["itineraries"][0]["legs"]


def test_bad_parameters_exit_2_with_one_plain_line(nky_snapshot_dir: Path) -> None:
    snap = str(nky_snapshot_dir)
    for args in (("route", "--from", A, "--to", B, "--depart-at", "soon"),
                 ("plan", "--from", A, "--to", C, "--at", "soon"),
                 ("plan", "--from", "stop:no-such-stop", "--to", C, "--at", AT)):
        r = _run(*args, "--snapshot", snap)
        assert r.exit_code == 2, (args, r.exit_code, _text(r))
        assert "error:" in _text(r) and "Traceback" not in _text(r), args
