"""The example backend Lambdas and the publish helper are deployed alone (no `iotws` in
their zips), so they keep their own copies of the IoT limits they check. The copies must
equal the IoT core (`iotws.iot.facts`)."""

from __future__ import annotations

from types import ModuleType

import iotws_publish
from iotws.iot import facts


def test_backend_client_id_limits_equal_the_iot_core(
    chat: ModuleType, presence: ModuleType
) -> None:
    assert chat.MAX_CLIENT_ID_BYTES == facts.CLIENT_ID_MAX_BYTES
    assert presence.MAX_CLIENT_ID_BYTES == facts.CLIENT_ID_MAX_BYTES


def test_publish_helper_topic_limits_equal_the_iot_core() -> None:
    assert iotws_publish.MAX_TOPIC_BYTES == facts.TOPIC_MAX_BYTES
    assert iotws_publish.MAX_TOPIC_SLASHES == facts.TOPIC_MAX_SLASHES
