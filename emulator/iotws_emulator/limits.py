"""IoT Core's data-plane limits, MQTT reason codes and lifecycle disconnect reasons.

Sources (AWS IoT Developer Guide): mqtt.html, topics.html, reserved-topics.html,
life-cycle-events.html and the quotas page "AWS IoT Core message broker and protocol
limits and quotas" (docs.aws.amazon.com/general/latest/gr/iot-core.html). Values AWS does
not state are marked unverified where they are used.
"""

from __future__ import annotations

# Client-id, topic and reserved-prefix facts: iotws.iot.facts. Payloads, subscriptions, in-flight
# messages (quotas page)
IAM_CONNECTION_SECONDS = 86_400  # SigV4 (Cognito) connections last up to 24 hours
MAX_PAYLOAD_BYTES = 128 * 1024
MAX_FILTERS_PER_SUBSCRIBE = 8
MAX_SUBSCRIPTIONS = 50
MAX_INFLIGHT = 100
KEEPALIVE_MIN, KEEPALIVE_MAX = 30, 1200
KEEPALIVE_GRACE = 1.5
TOPIC_ALIAS_MAXIMUM = 8  # IoT's MQTT 5 topic alias limit (mqtt.html)
# Per-connection throttles (quotas page "Message broker and protocol limits"): inbound
# publishes per second, inbound bytes per second, CONNECTs per second per client id.
PUBLISHES_PER_SECOND = 100
BYTES_PER_SECOND = 512 * 1024
CONNECTS_PER_SECOND_PER_CLIENT_ID = 1
# Largest packet accepted before the payload check: a 128 KB payload, a 64 KB topic or
# properties block and headers. Bigger remaining lengths are refused before buffering.
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 2 * 65_536 + 64

# v3.1.1 CONNACK return codes and the MQTT 5 reason codes used
V3_IDENTIFIER_REJECTED = 2
V3_NOT_AUTHORIZED = 5
RC_UNSPECIFIED = 0x80
RC_MALFORMED = 0x81
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
RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
RC_CONNECTION_RATE_EXCEEDED = 0x9F
V3_SERVER_UNAVAILABLE = 3
RC_QOS_NOT_SUPPORTED = 0x9B
RC_MAX_CONNECT_TIME = 0xA0
RC_NO_SUBSCRIPTION = 0x11

# Disconnect reasons of lifecycle events (life-cycle-events.html)
AUTH_ERROR = "AUTH_ERROR"
CLIENT_INITIATED_DISCONNECT = "CLIENT_INITIATED_DISCONNECT"
CLIENT_ERROR = "CLIENT_ERROR"
CONNECTION_LOST = "CONNECTION_LOST"
DUPLICATE_CLIENTID = "DUPLICATE_CLIENTID"
MQTT_KEEP_ALIVE_TIMEOUT = "MQTT_KEEP_ALIVE_TIMEOUT"
SERVER_ERROR = "SERVER_ERROR"
SERVER_INITIATED_DISCONNECT = "SERVER_INITIATED_DISCONNECT"
THROTTLED = "THROTTLED"
CUSTOMAUTH_TTL_EXPIRATION = "CUSTOMAUTH_TTL_EXPIRATION"
