"""The access spec's `rules:` section: checked by `iotws generate`, every problem named by
its field, and rendered into build/rules.json (the `iot-topic-rules` module's input)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from iotws.cli import main
from iotws.errors import SpecError
from iotws.spec.model import parse_spec

REPO = Path(__file__).resolve().parents[2]
CHAT = REPO / "examples" / "chat" / "access.yaml"

BASE: dict[str, Any] = {
    "version": 1,
    "app": "demo",
    "stage": "dev",
    "claims": {"sub": {"max_length": 64, "charset": "word"}},
    "authorizer": {
        "mode": "hs256",
        "hs256": {"secret": {"env": "SECRET"}},
        "select": {"claim": "role", "values": {"user": "user"}},
    },
    "profiles": {
        "user": {"client_id": "{sub}-*", "subscribe": ["rooms/+"], "publish": ["rooms/+/in"]},
    },
    "rules": {
        "room_in": {
            "sql": "SELECT text, topic(3) AS room FROM 'demo/dev/rooms/+/in'",
            "lambda": [{"function": "chat_message"}],
        },
    },
}


def spec_with(rules: Any) -> str:
    d = copy.deepcopy(BASE)
    d["rules"] = rules
    return yaml.safe_dump(d)


def test_chat_rules_render_to_the_module_input(tmp_path: Path) -> None:
    assert main(["generate", "--spec", str(CHAT), "--out", str(tmp_path), "--quiet"]) == 0
    built = json.loads((tmp_path / "rules.json").read_text())
    assert built["name_prefix"] == "chat_dev"
    assert set(built["rules"]) == {"chat_message", "presence"}
    chat = built["rules"]["chat_message"]
    assert chat["sql_version"] == "2016-03-23"  # always written out
    assert chat["lambda"] == [{"function": "chat_message"}]
    assert "FROM 'chat/dev/rooms/+/messages/in'" in chat["sql"]
    assert built["rules"]["presence"]["lambda"] == [{"function": "presence"}]


def test_a_spec_without_rules_writes_an_empty_map(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    del d["rules"]
    spec = tmp_path / "access.yaml"
    spec.write_text(yaml.safe_dump(d))
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert json.loads((tmp_path / "b" / "rules.json").read_text()) == {
        "name_prefix": "demo_dev",
        "rules": {},
    }


def test_every_action_kind_of_the_module_passes_through() -> None:
    rules = {
        "all": {
            "sql": "SELECT * FROM 'demo/dev/rooms/+/in'",
            "description": "d",
            "enabled": False,
            "lambda": [{"function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}],
            "republish": [
                {
                    "topic": "demo/dev/out/${topic(3)}",
                    "qos": 1,
                    "iam_resources": ["arn:aws:iot:us-east-1:123456789012:topic/demo/dev/out/*"],
                }
            ],
            "cloudwatch_logs": [{"log_group_name": "/x"}],
            "sqs": [{"queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}],
            "error_action": {"republish": {"topic": "demo/dev/errors"}},
        }
    }
    spec = parse_spec(spec_with(rules))
    assert spec.rules is not None
    out = spec.rules.document()["rules"]["all"]
    assert out["enabled"] is False and out["republish"][0]["qos"] == 1
    assert out["error_action"] == {"republish": {"topic": "demo/dev/errors"}}


def test_sql_outside_the_subset_is_a_warning_not_an_error() -> None:
    rules = {
        "r": {"sql": "SELECT lower(text) AS t FROM 'demo/dev/x'", "lambda": [{"function": "f"}]}
    }
    spec = parse_spec(spec_with(rules))
    assert spec.rules is not None
    (warning,) = spec.rules.warnings
    assert "rules.r.sql" in warning and "lower()" in warning


# (id, rules, field named, words in the message)
CASES: list[tuple[str, Any, str, str]] = [
    ("not a mapping", ["x"], "rules", "object"),
    ("hyphen in name", {"room-in": BASE["rules"]["room_in"]}, "rules.room-in", "no hyphens"),
    ("no sql", {"r": {"lambda": [{"function": "f"}]}}, "rules.r.sql", "required"),
    (
        "sql does not parse",
        {"r": {"sql": "SELECT text FROM 'demo/dev/x' WHERE", "lambda": [{"function": "f"}]}},
        "rules.r.sql",
        "does not parse",
    ),
    (
        "no FROM",
        {"r": {"sql": "SELECT text", "lambda": [{"function": "f"}]}},
        "rules.r.sql",
        "FROM",
    ),
    (
        "FROM outside the prefix",
        {"r": {"sql": "SELECT * FROM 'other/app/#'", "lambda": [{"function": "f"}]}},
        "rules.r.sql",
        "outside the spec's topic prefix",
    ),
    (
        "FROM a reserved topic",
        {
            "r": {
                "sql": "SELECT * FROM '$aws/things/x/shadow/update'",
                "lambda": [{"function": "f"}],
            }
        },
        "rules.r.sql",
        "reserved",
    ),
    (
        "bad sql_version",
        {"r": {**BASE["rules"]["room_in"], "sql_version": "2020-01-01"}},
        "rules.r.sql_version",
        "not an IoT SQL version",
    ),
    ("no action", {"r": {"sql": BASE["rules"]["room_in"]["sql"]}}, "rules.r", "no action"),
    (
        "eleven actions",
        {
            "r": {
                "sql": BASE["rules"]["room_in"]["sql"],
                "lambda": [{"function": f"f{i}"} for i in range(11)],
            }
        },
        "rules.r",
        "at most 10",
    ),
    (
        "unknown action",
        {"r": {**BASE["rules"]["room_in"], "kafka": [{"topic": "t"}]}},
        "rules.r.kafka",
        "unknown key",
    ),
    (
        "lambda with neither",
        {"r": {"sql": BASE["rules"]["room_in"]["sql"], "lambda": [{}]}},
        "rules.r.lambda[0]",
        "exactly one of function",
    ),
    (
        "lambda bad arn",
        {"r": {"sql": BASE["rules"]["room_in"]["sql"], "lambda": [{"function_arn": "f"}]}},
        "rules.r.lambda[0].function_arn",
        "not a Lambda function ARN",
    ),
    (
        "republish outside the prefix",
        {"r": {"sql": BASE["rules"]["room_in"]["sql"], "republish": [{"topic": "x/y"}]}},
        "rules.r.republish[0].topic",
        "outside the spec's topic prefix",
    ),
    (
        "template before the prefix",
        {
            "r": {
                "sql": BASE["rules"]["room_in"]["sql"],
                "republish": [{"topic": "${topic(1)}/dev/x"}],
            }
        },
        "rules.r.republish[0].topic",
        "before its first substitution template",
    ),
    (
        "template without iam_resources",
        {
            "r": {
                "sql": BASE["rules"]["room_in"]["sql"],
                "republish": [{"topic": "demo/dev/out/${topic(3)}"}],
            }
        },
        "rules.r.republish[0].iam_resources",
        "list the resources",
    ),
    (
        "template in a queue url",
        {
            "r": {
                "sql": BASE["rules"]["room_in"]["sql"],
                "sqs": [{"queue_url": "https://sqs.us-east-1.amazonaws.com/1/${topic(3)}"}],
            }
        },
        "rules.r.sqs[0].queue_url",
        "choose the resource",
    ),
    (
        "iam_resources not ARNs",
        {
            "r": {
                "sql": BASE["rules"]["room_in"]["sql"],
                "republish": [{"topic": "demo/dev/x/${topic(3)}", "iam_resources": ["topic/*"]}],
            }
        },
        "rules.r.republish[0].iam_resources",
        "resource ARNs",
    ),
    (
        "republish wildcard",
        {"r": {"sql": BASE["rules"]["room_in"]["sql"], "republish": [{"topic": "demo/dev/+"}]}},
        "rules.r.republish[0].topic",
        "wildcards",
    ),
    (
        "republish qos 2",
        {
            "r": {
                "sql": BASE["rules"]["room_in"]["sql"],
                "republish": [{"topic": "demo/dev/x", "qos": 2}],
            }
        },
        "rules.r.republish[0].qos",
        "QoS",
    ),
    (
        "error action with two targets",
        {
            "r": {
                **BASE["rules"]["room_in"],
                "error_action": {
                    "cloudwatch_logs": {"log_group_name": "/a"},
                    "republish": {"topic": "demo/dev/e"},
                },
            }
        },
        "rules.r.error_action",
        "exactly one target",
    ),
    # Python's `$` matches before a final newline: every name check must match the whole value
    (
        "newline after a name",
        {"room_in\n": BASE["rules"]["room_in"]},
        "rules.room_in\n",
        "no hyphens",
    ),
    (
        "newline after a function name",
        {"r": {"sql": BASE["rules"]["room_in"]["sql"], "lambda": [{"function": "f\n"}]}},
        "rules.r.lambda[0].function",
        "not a function name",
    ),
    (
        "newline after a function ARN",
        {
            "r": {
                "sql": BASE["rules"]["room_in"]["sql"],
                "lambda": [{"function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f\n"}],
            }
        },
        "rules.r.lambda[0].function_arn",
        "not a Lambda function ARN",
    ),
    (
        "cloudwatch without group",
        {"r": {"sql": BASE["rules"]["room_in"]["sql"], "cloudwatch_logs": [{}]}},
        "rules.r.cloudwatch_logs[0].log_group_name",
        "required",
    ),
]


@pytest.mark.parametrize(("case", "rules", "fld", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_rules(case: str, rules: Any, fld: str, words: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(spec_with(rules))
    found = [e for e in err.value.errors if e.field == fld]
    assert found, f"no error on {fld}: {err.value.render()}"
    assert any(words in e.message or words in (e.fix or "") for e in found), err.value.render()


def test_generate_refuses_with_exit_code_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text(
        spec_with({"r": {"sql": "SELECT FROM 'demo/dev/x'", "lambda": [{"function": "f"}]}})
    )
    out = tmp_path / "build"
    assert main(["generate", "--spec", str(spec), "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert "rules.r.sql" in err and "does not parse" in err
    assert "Traceback" not in err
    assert not out.exists()
