"""The emulator's MQTT reason codes and its own bounds. IoT Core's limits and lifecycle
disconnect reasons are facts of the IoT core (`iotws.iot.facts`), written once for the
whole kit.
"""

from __future__ import annotations

from iotws.iot.facts import MAX_PAYLOAD_BYTES

KEEPALIVE_GRACE = 1.5  # MQTT: the server waits 1.5 keep-alive periods
# Largest packet accepted before the payload check: a 128 KB payload, a 64 KB topic or
# properties block and headers. Bigger remaining lengths are refused before buffering.
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 2 * 65_536 + 64

# v3.1.1 CONNACK return codes and the MQTT 5 reason codes used
V3_IDENTIFIER_REJECTED = 2
V3_NOT_AUTHORIZED = 5
RC_UNSPECIFIED = 0x80
RC_PROTOCOL_ERROR = 0x82
RC_CLIENT_ID_INVALID = 0x85
RC_NOT_AUTHORIZED = 0x87
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_MESSAGE_RATE_TOO_HIGH = 0x96
RC_QUOTA_EXCEEDED = 0x97
RC_CONNECTION_RATE_EXCEEDED = 0x9F
V3_SERVER_UNAVAILABLE = 3
RC_MAX_CONNECT_TIME = 0xA0
RC_NO_SUBSCRIPTION = 0x11
