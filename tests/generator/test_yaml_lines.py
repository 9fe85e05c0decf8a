"""Spec errors point at the line to fix: unclosed brackets and quotes at the line where
they open, repeated keys refused (PyYAML would keep the last one silently), and schema
errors with the line of the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotws.cli import main

HEAD = "version: 1\napp: x\nstage: dev\nauthorizer: {mode: public, public: {profile: guest}}\n"
CASES = [
    # (body after HEAD, text that must appear in the error)
    (
        'profiles:\n  guest:\n    client_id: "anon-*"\n    subscribe: [server\n'
        "    publish: [client]\n",
        "at line 8, column 16: a flow sequence opened here is not closed",
    ),
    (
        'profiles:\n  guest:\n    client_id: "anon-*\n    subscribe: [server]\n',
        "at line 7, column 16: a quoted scalar opened here is not closed",
    ),
    (
        'profiles:\n  guest:\n    client_id: "anon-*"\n    publish: [client]\n'
        "    publish: [other]\n",
        "at line 9, column 5: the key 'publish' is repeated (first at line 8)",
    ),
    (
        'profiles:\n  guest:\n    client_id: "anon-*"\n    publish: [client]\n    bogus: 1\n',
        "profiles.guest.bogus: unknown key (line 9)",
    ),
    (
        'profiles:\n  guest:\n    client_id: "anon-*"\n   publish: [client]\n',
        "at line 8, column 4:",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_error_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, expected: str
) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text(HEAD + body, encoding="utf-8")
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
