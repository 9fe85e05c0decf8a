"""The local rules engine: the rules of build/rules.json, the kit's Lambda functions
in-process, a local moto for their other AWS calls (docs/RULES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iotws.errors import IotwsError, read_text
from iotws_emulator.rules.actions import LambdaInvoker, PublishFn
from iotws_emulator.rules.engine import RulesEngine, compile_rules
from iotws_emulator.rules.functions import Backends, LocalAws, load_backends

__all__ = ["Backends", "LocalRules", "RulesEngine", "compile_rules", "load_backends"]


class LocalRules:
    """The engine and the local AWS its functions use, started and stopped together."""

    def __init__(self, engine: RulesEngine, aws: LocalAws) -> None:
        self.engine = engine
        self.aws = aws

    @classmethod
    def load(
        cls,
        rules_path: Path,
        *,
        publish: PublishFn,
        function_dir: Any,
        region: str,
        account: str,
        topic_prefix: str,
        backends: Backends,
        invoker: LambdaInvoker | None = None,
    ) -> LocalRules:
        """Read and compile build/rules.json (refusing what cannot run); starts nothing."""
        text = read_text(rules_path, "--build", "run `iotws generate` (make generate)")
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise IotwsError(f"cannot read {rules_path}: {exc}", field="--build") from None
        engine = compile_rules(
            document,
            publish=publish,
            function_dir=function_dir,
            region=region,
            account=account,
            invoker=invoker,
        )
        unknown = sorted(set(backends.environment) - set(engine.functions))
        if unknown:
            raise IotwsError(
                f"functions {', '.join(unknown)} are not the target of any rule",
                field=backends.source,
                fix="remove them, or check the names against the spec's rules",
            )
        aws = LocalAws(
            region=region,
            topic_prefix=topic_prefix,
            backends=backends,
            functions=sorted(engine.functions),
        )
        aws.environment()  # refuses conflicting variables before anything starts
        return cls(engine, aws)

    def start(self, iot_data_url: str) -> None:
        if self.engine.functions:
            self.aws.start(iot_data_url)

    def on_message(
        self, topic: str, payload: bytes, *, client_id: str | None, principal: str | None
    ) -> None:
        self.engine.on_message(topic, payload, client_id=client_id, principal=principal)

    def close(self) -> None:
        self.engine.close()
        self.aws.close()
