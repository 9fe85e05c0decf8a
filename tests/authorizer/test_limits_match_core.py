"""The authorizer Lambda is deployed alone (standard library only), so it keeps its own
copy of the IoT limits it enforces. The copy must equal the IoT core (`iotws.iot.facts`)."""

from __future__ import annotations

from iotws.authorizer_code import config
from iotws.iot import facts


def test_authorizer_limits_equal_the_iot_core() -> None:
    # GIVEN the authorizer's limits WHEN compared with the core THEN they are the same
    assert config.MAX_DOCUMENTS == facts.MAX_DOCUMENTS
    assert config.MAX_DOCUMENT_CHARS == facts.MAX_DOCUMENT_CHARS
    assert config.CLIENT_ID_MAX_BYTES == facts.CLIENT_ID_MAX_BYTES
    assert (config.SESSION_MIN, config.SESSION_MAX) == (
        facts.SESSION_MIN_SECONDS,
        facts.SESSION_MAX_SECONDS,
    )
