"""Generator: golden files, determinism, document splitting and size limits."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from iotws.cli import main
from iotws.errors import IotwsError
from iotws.package import authorizer_zip_bytes
from iotws.render.policies import MAX_DOCUMENT_CHARS, render_spec, worst_case
from iotws.spec.model import parse_spec

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SPECS = sorted(HERE.glob("specs/*.yaml")) + [ROOT / "examples/custom-authorizer/access.yaml"]
GOLDEN = HERE / "golden"


def _case(spec: Path) -> str:
    return spec.parent.name if spec.name == "access.yaml" else spec.stem


def _tree(d: Path) -> dict[str, str]:
    return {p.relative_to(d).as_posix(): p.read_text() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("spec", SPECS, ids=_case)
def test_golden(spec: Path, tmp_path: Path) -> None:
    """GIVEN a spec WHEN generated THEN the output equals the reviewed golden files."""
    out = tmp_path / "build"
    assert main(["generate", "--spec", str(spec), "--out", str(out), "-q"]) == 0
    got = _tree(out)
    # No absolute path in the build: the same spec text gives the same bytes anywhere, but
    # for the original spec's path relative to the build directory (metadata.json).
    meta = json.loads(got["metadata.json"])
    assert (out / meta["spec"]["path"]).resolve() == spec.resolve()
    meta["spec"]["path"] = "<spec>"
    got["metadata.json"] = json.dumps(meta, indent=2) + "\n"
    assert all(str(ROOT) not in text for text in got.values())
    assert got["spec/access.yaml"] == spec.read_text()
    golden = GOLDEN / _case(spec)
    if os.environ.get("IOTWS_UPDATE_GOLDEN") == "1":
        shutil.rmtree(golden, ignore_errors=True)
        for rel, text in got.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_text(text)
    want = _tree(golden)
    assert sorted(got) == sorted(want), "file list differs (IOTWS_UPDATE_GOLDEN=1 to review)"
    for rel in want:
        assert got[rel] == want[rel], f"{rel} differs from golden"


@pytest.mark.parametrize("spec", SPECS, ids=_case)
def test_deterministic_and_valid(spec: Path) -> None:
    a = render_spec(parse_spec(spec.read_text(), source="x"))
    b = render_spec(parse_spec(spec.read_text(), source="x"))
    assert a.files() == b.files()
    for prof in a.profiles.values():
        for doc, worst in zip(prof.documents, prof.worst_case_chars, strict=True):
            json.loads(doc)
            assert doc == json.dumps(json.loads(doc), separators=(",", ":"), ensure_ascii=False)
            assert worst <= MAX_DOCUMENT_CHARS
        assert 1 <= len(prof.documents) <= 10


def test_resource_types_per_action() -> None:
    """docs/iot-policies.md#actions-and-resources: Subscribe on topicfilter/, Publish and Receive on
    topic/."""
    r = render_spec(parse_spec((HERE / "specs/rooms.yaml").read_text()))
    for prof in r.profiles.values():
        for g in prof.grants:
            kind = g.resource.split(":", 5)[5].split("/", 1)[0]
            assert (
                kind
                == {
                    "iot:Connect": "client",
                    "iot:Subscribe": "topicfilter",
                    "iot:Publish": "topic",
                    "iot:Receive": "topic",
                }[g.action]
            )
            assert "+" not in g.resource and "#" not in g.resource
            assert g.resource.startswith("arn:aws:iot:eu-west-1:210987654321:")


def test_widenings_reported_for_plus_only() -> None:
    r = render_spec(parse_spec((HERE / "specs/rooms.yaml").read_text()))
    member = r.profiles["member"]
    patterns = {(w["action"], w["pattern"]) for w in member.widenings}
    assert ("iot:Subscribe", "tenants/{tenant}/rooms/+/messages") in patterns
    assert ("iot:Receive", "tenants/{tenant}/rooms/+/messages") in patterns
    assert ("iot:Publish", "tenants/{tenant}/rooms/+/messages/in") in patterns
    assert not any(w["pattern"] == "users/{sub}/#" for w in member.widenings)
    assert r.report["profiles"]["member"]["widenings"] == member.widenings


def _many_topics_spec(n: int, claim_len: int = 64) -> str:
    topics = "\n".join(f"      - area{i:03d}/{{sub}}/feed/+/items" for i in range(n))
    return f"""
version: 1
app: big
stage: dev
claims: {{sub: {{max_length: {claim_len}}}}}
authorizer:
  mode: hs256
  hs256: {{secret: {{env: SECRET}}}}
  select: {{claim: role, default: p}}
profiles:
  p:
    client_id: "{{sub}}"
    subscribe:
{topics}
"""


def test_statements_split_across_documents() -> None:
    """Worst case over 2,048: statements are split over documents, never truncated."""
    r = render_spec(parse_spec(_many_topics_spec(30)))
    prof = r.profiles["p"]
    assert len(prof.documents) > 1
    # every grant is present exactly once across the documents
    resources: list[str] = []
    for doc in prof.document_dicts():
        for st in doc["Statement"]:
            resources += st["Resource"]
    assert sorted(resources) == sorted(g.resource for g in prof.grants)
    assert all(len(worst_case(d, r.spec)) <= MAX_DOCUMENT_CHARS for d in prof.documents)


def test_overflow_names_profile_and_overflow(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(_many_topics_spec(120, claim_len=128))
    out = tmp_path / "out"
    with pytest.raises(IotwsError) as e:
        render_spec(parse_spec(spec.read_text()))
    assert e.value.field == "profiles.p"
    assert "over by" in e.value.message
    assert main(["generate", "--spec", str(spec), "--out", str(out)]) == 2
    assert not out.exists()


def test_package_is_reproducible(tmp_path: Path) -> None:
    spec = ROOT / "examples/custom-authorizer/access.yaml"
    a = tmp_path / "a.zip"
    b = tmp_path / "b.zip"
    assert main(["package", "--spec", str(spec), "--out", str(a)]) == 0
    os.utime(ROOT / "lambda_src/authorizer/app.py")  # mtimes must not matter
    assert main(["package", "--spec", str(spec), "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes() == authorizer_zip_bytes(spec)
    import zipfile

    with zipfile.ZipFile(a) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert "app.py" in names and "iotws_config.json" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) & 0o777 == 0o644


def test_self_check_catches_a_wrong_policy() -> None:
    """The always-on proof must fail when a rendered document is wrong."""
    from dataclasses import replace

    from iotws.policy.proofs import check_profile

    r = render_spec(parse_spec((ROOT / "examples/custom-authorizer/access.yaml").read_text()))
    user = r.profiles["user"]
    assert check_profile(r.spec, user) == []
    # a claim slot replaced by a wildcard: another user's channel becomes reachable
    leaky = replace(user, documents=[d.replace("${iotws:claim.sub}", "*") for d in user.documents])
    assert any("another identity" in p for p in check_profile(r.spec, leaky))
    # a Subscribe rendered on topic/ instead of topicfilter/: the grant is lost
    wrong = replace(
        user,
        documents=[d.replace(":topicfilter/", ":topic/") for d in user.documents],
    )
    assert any("iot:Subscribe" in p and "not allowed" in p for p in check_profile(r.spec, wrong))
    # Connect on client/* : takeover of any client id
    takeover = replace(
        user, documents=[d.replace("client/${iotws:client_id}", "client/*") for d in user.documents]
    )
    assert any("client id" in p for p in check_profile(r.spec, takeover))


def test_self_check_finds_the_takeover_when_the_spec_check_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fourth injected bug: `{sub}-*` with values that may contain "-" (user bob may
    connect as bob-x-1, the id of user bob-x). With the spec check switched off, the
    build-time search must still refuse the build, naming both identities."""
    import iotws.spec.model as spec_module
    from iotws.policy.proofs import self_check

    monkeypatch.setattr(spec_module, "_namespace_errors", lambda spec: [])
    text = (ROOT / "examples/custom-authorizer/access.yaml").read_text()
    text = text.replace("charset: word", "charset: opaque").replace("u-{sub}-*", "{sub}-*")
    result = render_spec(parse_spec(text))
    with pytest.raises(IotwsError) as e:
        self_check(result)
    import re

    assert re.search(
        r"client id '[^']+' is accepted for profile user \(sub '[^']+'.*\) and for profile "
        r"user \(sub '[^']+'",
        str(e.value),
    )
