"""The emulator's rules engine on its own: start-up refusals that name the rule and the part,
actions, the error action with IoT's message (rule-error-handling.html), Lambda handlers
off the event loop, a raising handler that stops nothing else."""

from __future__ import annotations

import base64
import json
import logging
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iotws.errors import IotwsError
from iotws_emulator.rules import compile_rules
from iotws_emulator.rules.actions import LambdaInvoker
from iotws_emulator.rules.engine import RulesEngine

REGION, ACCOUNT = "us-east-1", "123456789012"

# A function that records its events in a module-level list the test reads back.
RECORDER = """
EVENTS = []
CONTEXTS = []

def handler(event, context):
    EVENTS.append(event)
    CONTEXTS.append(context)
    return {"ok": True}
"""
RAISER = """
CALLS = []

def handler(event, context):
    CALLS.append(event)
    raise RuntimeError("handler bug")
"""
BLOCKER = """
import threading
GATE = threading.Event()
CALLS = []

def handler(event, context):
    CALLS.append(event)
    GATE.wait(10)
"""


class Published(list[tuple[str, bytes, int, bool]]):
    """A fake server-side publish that records, and refuses reserved topics like IoT."""

    def __call__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if topic.startswith("$"):
            raise PermissionError(f"topic {topic!r} is reserved")
        self.append((topic, payload, qos, retain))


@pytest.fixture
def functions(tmp_path: Path) -> Callable[..., Callable[[str], Path]]:
    def make(**sources: str) -> Callable[[str], Path]:
        for name, code in sources.items():
            (tmp_path / name).mkdir()
            (tmp_path / name / "app.py").write_text(textwrap.dedent(code))
        return lambda name: tmp_path / name

    return make


def document(**rules: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, r in rules.items():
        out[key] = {"sql_version": "2016-03-23", "enabled": True, **r}
    return {"name_prefix": "demo_dev", "rules": out}


def compile_(
    doc: dict[str, Any],
    function_dir: Callable[[str], Path] | None = None,
    publish: Published | None = None,
    invoker: LambdaInvoker | None = None,
) -> RulesEngine:
    return compile_rules(
        doc,
        publish=publish if publish is not None else Published(),
        function_dir=function_dir or (lambda name: Path("/nonexistent") / name),
        region=REGION,
        account=ACCOUNT,
        invoker=invoker,
    )


def module(engine: RulesEngine, name: str) -> Any:
    import sys

    return sys.modules[f"iotws_lambda_{name}"]


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            {
                "sql": "SELECT text FROM 'demo/dev/a' WHERE",
                "cloudwatch_logs": [{"log_group_name": "/x"}],
            },
            "its SQL does not parse",
        ),
        (
            {
                "sql": "SELECT lower(text) AS t FROM 'demo/dev/a'",
                "cloudwatch_logs": [{"log_group_name": "/x"}],
            },
            "lower()",
        ),
        (
            {"sql": "SELECT * FROM 'demo/dev/a'", "sqs": [{"queue_url": "https://sqs.x/1/q"}]},
            "the sqs action is not emulated",
        ),
        (
            {
                "sql": "SELECT * FROM 'demo/dev/a'",
                "sql_version": "2015-10-08",
                "cloudwatch_logs": [{"log_group_name": "/x"}],
            },
            "sql_version '2015-10-08' is not emulated",
        ),
        (
            {
                "sql": "SELECT * FROM 'demo/dev/a'",
                "lambda": [{"function_arn": "arn:aws:lambda:us-east-1:1:function:f"}],
            },
            "only the kit's own functions",
        ),
        (
            {"sql": "SELECT * FROM 'demo/dev/a'", "lambda": [{"function": "nosuch"}]},
            "no Lambda source",
        ),
        (
            {
                "sql": "SELECT * FROM 'demo/dev/a/#/b'",
                "cloudwatch_logs": [{"log_group_name": "/x"}],
            },
            "'#' must be",
        ),
        (
            {"sql": "SELECT * FROM 'demo/dev/a'", "republish": [{"topic": "demo/dev/${lower(x)}"}]},
            "lower()",
        ),
        (
            {
                "sql": "SELECT * FROM 'demo/dev/a'",
                "cloudwatch_logs": [{"log_group_name": "/x"}],
                "error_action": {"kinesis": {"stream_name": "s"}},
            },
            "the kinesis action is not emulated",
        ),
    ],
)
def test_start_up_refuses_naming_the_rule_and_the_part(rule: dict[str, Any], words: str) -> None:
    with pytest.raises(IotwsError) as err:
        compile_(document(r=rule))
    assert err.value.field == "rule demo_dev_r"
    assert words in err.value.message


def test_a_function_without_handler_is_refused(functions: Any) -> None:
    fdir = functions(nohandler="X = 1\n", broken="import nosuchmodule_iotws\n")
    for name, words in (("nohandler", "no handler"), ("broken", "ModuleNotFoundError")):
        doc = document(r={"sql": "SELECT * FROM 'a'", "lambda": [{"function": name}]})
        with pytest.raises(IotwsError, match=words):
            compile_(doc, fdir)


# --------------------------------------------------------------------------- run time


def test_republish_with_templates_where_and_disabled_rules() -> None:
    publish = Published()
    doc = document(
        out={
            "sql": "SELECT text, topic(3) AS room FROM 'demo/dev/+/in' WHERE n > 1",
            "republish": [{"topic": "demo/dev/${topic(3)}/out/${clientid()}", "qos": 1}],
        },
        off={
            "sql": "SELECT * FROM 'demo/dev/+/in'",
            "enabled": False,
            "republish": [{"topic": "demo/dev/never"}],
        },
    )
    engine = compile_(doc, publish=publish)
    assert engine.on_message("demo/dev/lobby/in", b'{"text":"hi","n":2}', client_id="c1") == 1
    assert engine.on_message("demo/dev/lobby/in", b'{"text":"hi","n":1}', client_id="c1") == 0
    assert engine.on_message("demo/dev/lobby/other", b'{"n":5}', client_id="c1") == 0
    assert publish == [("demo/dev/lobby/out/c1", b'{"text":"hi","room":"lobby"}', 1, False)]


def test_templated_republish_is_bounded_by_iam_resources() -> None:
    publish = Published()
    doc = document(
        r={
            "sql": "SELECT * FROM 'demo/dev/+/in'",
            "republish": [
                {
                    "topic": "demo/dev/${topic(3)}/out",
                    "iam_resources": [f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/demo/dev/room?/out"],
                }
            ],
            "error_action": {"republish": {"topic": "demo/dev/errors"}},
        }
    )
    engine = compile_(doc, publish=publish)
    engine.on_message("demo/dev/room1/in", b"{}")
    engine.on_message("demo/dev/other/in", b"{}")  # the role may not write there
    assert [p[0] for p in publish] == ["demo/dev/room1/out", "demo/dev/errors"]
    (failure,) = json.loads(publish[1][1])["failures"]
    assert failure["failedResource"] == "demo/dev/other/out"
    assert failure["errorMessage"].startswith("AccessDenied")


def test_error_action_gets_iots_error_message() -> None:
    publish = Published()
    doc = document(
        r={
            "sql": "SELECT * FROM 'demo/dev/in'",
            # IoT refuses a republish to a reserved topic: the action fails
            "republish": [{"topic": "$aws/things/x/shadow/update"}, {"topic": "demo/dev/ok"}],
            "error_action": {"republish": {"topic": "demo/dev/errors"}},
        }
    )
    engine = compile_(doc, publish=publish)
    payload = b'{"a":1}'
    assert engine.on_message("demo/dev/in", payload, client_id="c9") == 1
    # the other action still ran, then one error message for the rule and message
    assert [p[0] for p in publish] == ["demo/dev/ok", "demo/dev/errors"]
    error = json.loads(publish[1][1])
    assert set(error) == {
        "ruleName",
        "topic",
        "cloudwatchTraceId",
        "clientId",
        "base64OriginalPayload",
        "failures",
    }
    assert error["ruleName"] == "demo_dev_r"
    assert error["topic"] == "demo/dev/in" and error["clientId"] == "c9"
    assert base64.b64decode(error["base64OriginalPayload"]) == payload
    (failure,) = error["failures"]
    assert failure["failedAction"] == "RepublishAction"
    assert failure["failedResource"] == "$aws/things/x/shadow/update"
    assert "reserved" in failure["errorMessage"]


def test_default_error_action_is_the_modules_log_group(caplog: pytest.LogCaptureFixture) -> None:
    engine = compile_(
        document(r={"sql": "SELECT * FROM 'demo/dev/in'", "republish": [{"topic": "$aws/x"}]})
    )
    with caplog.at_level(logging.INFO, logger="iotws.emulator.rules"):
        engine.on_message("demo/dev/in", b"{}")
    text = caplog.text
    assert "cloudwatch_logs group=/iotws/demo_dev/rule-errors" in text
    assert '"failedAction":"RepublishAction"' in text


def test_lambda_runs_off_the_loop_with_the_select_output(functions: Any) -> None:
    fdir = functions(rec=RECORDER)
    doc = document(
        r={
            "sql": "SELECT text, topic(3) AS room, clientid() AS client_id FROM 'demo/dev/+/in'",
            "lambda": [{"function": "rec"}],
        }
    )
    engine = compile_(doc, fdir)
    caller = threading.get_ident()
    engine.on_message("demo/dev/lobby/in", b'{"text":"hi","secret":"x"}', client_id="alice-1")
    assert engine.wait_idle(10)
    mod = module(engine, "rec")
    assert mod.EVENTS == [{"text": "hi", "room": "lobby", "client_id": "alice-1"}]
    ctx = mod.CONTEXTS[0]
    assert ctx.invoked_function_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rec"
    assert ctx.aws_request_id and ctx.get_remaining_time_in_millis() > 0
    assert engine.invoker.completed == 1
    assert caller == threading.get_ident()
    engine.close()


def test_a_function_imports_the_modules_beside_it(functions: Any, tmp_path: Path) -> None:
    fdir = functions(
        helped="from iotws_test_helper_mod import shout\nOUT = []\n"
        "def handler(event, context):\n    OUT.append(shout(event['t']))\n"
    )
    (tmp_path / "helped" / "iotws_test_helper_mod.py").write_text(
        "def shout(s):\n    return s.upper()\n"
    )
    doc = document(r={"sql": "SELECT t FROM 'demo/dev/in'", "lambda": [{"function": "helped"}]})
    before = list(sys.path)
    engine = compile_(doc, fdir)
    # the folder is on sys.path only while app.py is imported: a folder's `app.py` left there
    # would answer every later `import app` of the process
    assert sys.path == before
    engine.on_message("demo/dev/in", b'{"t": "hi"}')
    assert engine.wait_idle(10)
    assert module(engine, "helped").OUT == ["HI"]
    engine.close()


def test_a_raising_handler_is_logged_and_nothing_else_stops(
    functions: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fdir = functions(bad=RAISER, rec=RECORDER)
    publish = Published()
    doc = document(
        bad={
            "sql": "SELECT * FROM 'demo/dev/in'",
            "lambda": [{"function": "bad"}],
            "error_action": {"republish": {"topic": "demo/dev/errors"}},
        },
        good={"sql": "SELECT * FROM 'demo/dev/in'", "lambda": [{"function": "rec"}]},
    )
    engine = compile_(doc, fdir, publish)
    with caplog.at_level(logging.INFO, logger="iotws.emulator.rules"):
        for i in range(3):
            assert engine.on_message("demo/dev/in", json.dumps({"i": i}).encode()) == 2
        assert engine.wait_idle(10)
    assert len(module(engine, "bad").CALLS) == 3
    # workers run in parallel: any order
    assert sorted(e["i"] for e in module(engine, "rec").EVENTS) == [0, 1, 2]
    assert engine.invoker.failed == 3 and engine.invoker.completed == 3
    assert "LAMBDA bad FAILED" in caplog.text and "RuntimeError: handler bug" in caplog.text
    # The rule's invoke succeeded (asynchronous, 202): IoT runs no error action for this.
    assert publish == []
    engine.close()


def test_binary_payload_to_lambda_fails_into_the_error_action(functions: Any) -> None:
    fdir = functions(rec=RECORDER)
    publish = Published()
    doc = document(
        raw={
            "sql": "SELECT * FROM 'demo/dev/bin'",
            "lambda": [{"function": "rec"}],
            "error_action": {"republish": {"topic": "demo/dev/errors"}},
        },
        encoded={
            "sql": "SELECT encode(*, 'base64') AS data FROM 'demo/dev/bin'",
            "lambda": [{"function": "rec"}],
        },
    )
    engine = compile_(doc, fdir, publish)
    raw = b"\x00\xffbinary"
    engine.on_message("demo/dev/bin", raw)
    assert engine.wait_idle(10)
    assert module(engine, "rec").EVENTS == [{"data": base64.b64encode(raw).decode()}]
    (error,) = [json.loads(p[1]) for p in publish]
    assert error["failures"][0]["failedAction"] == "LambdaAction"
    assert "encode(*, 'base64')" in error["failures"][0]["errorMessage"]
    engine.close()


def test_invocations_are_bounded_and_the_overflow_is_an_action_failure(functions: Any) -> None:
    fdir = functions(slow=BLOCKER)
    publish = Published()
    doc = document(
        r={
            "sql": "SELECT * FROM 'demo/dev/in'",
            "lambda": [{"function": "slow"}],
            "error_action": {"republish": {"topic": "demo/dev/errors"}},
        }
    )
    engine = compile_(doc, fdir, publish, invoker=LambdaInvoker(workers=1, max_pending=2))
    for i in range(4):
        engine.on_message("demo/dev/in", json.dumps({"i": i}).encode())
    errors = [json.loads(p[1]) for p in publish]
    assert len(errors) == 2
    assert all("TooManyRequestsException" in e["failures"][0]["errorMessage"] for e in errors)
    module(engine, "slow").GATE.set()
    assert engine.wait_idle(10)
    assert len(module(engine, "slow").CALLS) == 2
    engine.close()


def test_a_rule_republishing_into_itself_stops(caplog: pytest.LogCaptureFixture) -> None:
    engine: RulesEngine | None = None

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        assert engine is not None
        engine.on_message(topic, payload)  # what the broker's listener does

    engine = compile_rules(
        document(
            r={"sql": "SELECT * FROM 'demo/dev/loop'", "republish": [{"topic": "demo/dev/loop"}]}
        ),
        publish=publish,
        function_dir=lambda n: Path(n),
        region=REGION,
        account=ACCOUNT,
    )
    with caplog.at_level(logging.WARNING, logger="iotws.emulator.rules"):
        engine.on_message("demo/dev/loop", b"{}")
    assert "republished 9 times in a row" in caplog.text
    assert engine.rules[0].fired == 9


def test_basic_ingest_is_said_not_dropped_silently(caplog: pytest.LogCaptureFixture) -> None:
    engine = compile_(
        document(
            r={"sql": "SELECT * FROM 'demo/dev/in'", "cloudwatch_logs": [{"log_group_name": "/x"}]}
        )
    )
    with caplog.at_level(logging.WARNING, logger="iotws.emulator.rules"):
        assert engine.on_message("$aws/rules/demo_dev_r/demo/dev/in", b"{}") == 0
    assert "basic ingest" in caplog.text and "not emulated" in caplog.text
