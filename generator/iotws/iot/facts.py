"""Facts about AWS IoT Core that the kit relies on, each with the AWS page it comes from.

Every limit, character set, reserved prefix and lifecycle disconnect reason used by the spec
check, the renderers, the linter, the checkov checks and the emulator is defined here once.
The project's own pages explain them: docs/data-plane.md, docs/iot-policies.md,
docs/custom-authorizer.md.
"""

from __future__ import annotations

import string
from typing import Final

# AWS pages the facts come from.
QUOTAS_PAGE: Final = "https://docs.aws.amazon.com/general/latest/gr/iot-core.html"
TOPICS_PAGE: Final = "https://docs.aws.amazon.com/iot/latest/developerguide/topics.html"
RESERVED_TOPICS_PAGE: Final = (
    "https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html"
)
MQTT_PAGE: Final = "https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html"
CUSTOM_AUTH_LAMBDA_PAGE: Final = (
    "https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-lambda.html"
)
POLICY_VARIABLES_PAGE: Final = (
    "https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-variables.html"
)
IOT_POLICIES_PAGE: Final = "https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html"
CREATE_TOPIC_RULE_PAGE: Final = (
    "https://docs.aws.amazon.com/iot/latest/apireference/API_CreateTopicRule.html"
)
LIFECYCLE_PAGE: Final = (
    "https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html"
)
IAM_QUOTAS_PAGE: Final = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
)
COGNITO_GETID_PAGE: Final = (
    "https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetId.html"
)
ARN_PAGE: Final = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"

# --- the account and region parts of an ARN (ARN_PAGE). The access spec's and the
# authorizer configuration's JSON Schemas use the same patterns (a test checks them).
REGION_PATTERN: Final = "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"
"""A region code such as us-east-1, us-gov-west-1 or ap-southeast-2."""
ACCOUNT_PATTERN: Final = "^[0-9]{12}$"
"""A 12-digit AWS account id."""

# --- custom authorizer response (CUSTOM_AUTH_LAMBDA_PAGE, QUOTAS_PAGE;
# docs/custom-authorizer.md#response)
MAX_DOCUMENTS: Final = 10
"""Policy documents one authorizer response (or one principal) may carry."""
MAX_DOCUMENT_CHARS: Final = 2048
"""Characters of one policy document (IOT_POLICIES_PAGE, docs/iot-policies.md#size-limits)."""
SESSION_MIN_SECONDS: Final = 300
SESSION_MAX_SECONDS: Final = 86_400
"""`disconnectAfterInSeconds` and `refreshAfterInSeconds` bounds."""

# --- client ids (QUOTAS_PAGE, MQTT_PAGE; docs/data-plane.md#client-ids)
CLIENT_ID_MAX_BYTES: Final = 128
"""UTF-8 bytes of an MQTT client id; ids starting with `$` are refused."""

# --- topics (TOPICS_PAGE, QUOTAS_PAGE; docs/data-plane.md#topics)
TOPIC_MAX_BYTES: Final = 256
"""UTF-8 bytes of a topic name or filter."""
TOPIC_MAX_SLASHES: Final = 7
"""Forward slashes in a topic name or filter (eight levels)."""

# --- message broker and protocol limits (QUOTAS_PAGE, MQTT_PAGE; docs/data-plane.md#limits)
MAX_PAYLOAD_BYTES: Final = 128 * 1024
"""Bytes of one message's payload."""
MAX_FILTERS_PER_SUBSCRIBE: Final = 8
MAX_SUBSCRIPTIONS: Final = 50
"""Subscriptions of one connection."""
MAX_INFLIGHT: Final = 100
"""Unacknowledged QoS 1 messages per connection."""
KEEPALIVE_MIN: Final = 30
KEEPALIVE_MAX: Final = 1200
"""Keep-alive seconds IoT uses: 1 to 29 becomes 30; 0 or more than 1200 becomes 1200
(docs/data-plane.md#qos-and-keep-alive)."""
TOPIC_ALIAS_MAXIMUM: Final = 8
"""MQTT 5 topic aliases per connection."""
PUBLISHES_PER_SECOND: Final = 100
BYTES_PER_SECOND: Final = 512 * 1024
CONNECTS_PER_SECOND_PER_CLIENT_ID: Final = 1
"""Per-connection throttles: inbound publishes and bytes per second, CONNECTs per second
per client id."""
IAM_CONNECTION_SECONDS: Final = 86_400
"""SigV4 (Cognito) connections last up to 24 hours."""

# --- disconnect reasons of lifecycle events (LIFECYCLE_PAGE; docs/data-plane.md)
AUTH_ERROR: Final = "AUTH_ERROR"
CLIENT_INITIATED_DISCONNECT: Final = "CLIENT_INITIATED_DISCONNECT"
CLIENT_ERROR: Final = "CLIENT_ERROR"
CONNECTION_LOST: Final = "CONNECTION_LOST"
DUPLICATE_CLIENTID: Final = "DUPLICATE_CLIENTID"
MQTT_KEEP_ALIVE_TIMEOUT: Final = "MQTT_KEEP_ALIVE_TIMEOUT"
SERVER_ERROR: Final = "SERVER_ERROR"
SERVER_INITIATED_DISCONNECT: Final = "SERVER_INITIATED_DISCONNECT"
THROTTLED: Final = "THROTTLED"
CUSTOMAUTH_TTL_EXPIRATION: Final = "CUSTOMAUTH_TTL_EXPIRATION"

# --- reserved topics (RESERVED_TOPICS_PAGE; docs/data-plane.md#topics)
RESERVED_TOPIC_START: Final = "$"
"""Topics starting with `$` are reserved; a filter starting with a wildcard never reaches them."""
AWS_RESERVED_PREFIX: Final = "$aws/"
"""AWS's reserved topics (lifecycle events, shadows, jobs, rules)."""
LIFECYCLE_PREFIX: Final = "$aws/events/"
"""Lifecycle events: clients may subscribe, never publish."""
CLIENT_PUBLISHABLE_RESERVED_PREFIXES: Final = ("$aws/things/", "$aws/rules/")
"""Reserved topics a client may publish to: device shadows and Basic Ingest."""
BASIC_INGEST_PREFIX: Final = "$aws/rules/"
SHARED_SUBSCRIPTION_PREFIX: Final = "$share/"
"""`$share/{ShareName}/{TopicFilter}` (MQTT_PAGE, "MQTT 5 supported features")."""

# --- topic rules (CREATE_TOPIC_RULE_PAGE, QUOTAS_PAGE; docs/rules-engine.md#names-and-sql).
# modules/iot-topic-rules validates the same in HCL; tests/rules_engine/test_module_contract.py
# checks that both say the same.
RULE_NAME_MAX_CHARS: Final = 128
RULE_NAME_PATTERN: Final = "^[a-zA-Z0-9_]{1,128}$"
RULE_SQL_VERSIONS: Final = ("2016-03-23", "2015-10-08", "beta")
"""The first is the one to use; a rule without a version runs 2015-10-08."""
RULE_MAX_ACTIONS: Final = 10
"""Actions of one topic rule (its error action not counted)."""
LAMBDA_FUNCTION_ARN_PATTERN: Final = (
    "^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[a-zA-Z0-9_-]+(:[a-zA-Z0-9$_-]+)?$"
)
"""A Lambda action's target: a function ARN, with an optional version or alias."""

# --- identity values substituted into policies (POLICY_VARIABLES_PAGE;
# docs/iot-policies.md#client-id-injection, docs/design.md#decision-2)
IDENTITY_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_.:@=|-")
"""Characters an identity value may have: no MQTT or policy wildcard (`+ # * ?`), no `/`,
no `$`, no quotes, braces or control characters."""
IDENTITY_CHAR_CLASS: Final = "[A-Za-z0-9_.:@=|-]"
"""`IDENTITY_CHARS` as a regular-expression character class."""
IDENTITY_CHARSET: Final = f"^{IDENTITY_CHAR_CLASS}+$"
"""The whole-value pattern (the authorizer configuration's `identity.charset`)."""

# --- IAM (Cognito guest role) policies (IAM_QUOTAS_PAGE; docs/cognito-guests.md)
INLINE_ROLE_POLICY_MAX_CHARS: Final = 10_240
MANAGED_POLICY_MAX_CHARS: Final = 6_144
IAM_POLICY_MAX_CODEPOINT: Final = 0xFF
"""IAM policy documents hold only tab, LF, CR and U+0020..U+00FF (IAM_QUOTAS_PAGE)."""

# --- Cognito identities (COGNITO_GETID_PAGE, POLICY_VARIABLES_PAGE; docs/cognito-guests.md)
COGNITO_IDENTITY_ID_MAX_LENGTH: Final = 55
"""Characters of an identity id (`<region>:<uuid>`)."""
COGNITO_IDENTITY_VARIABLE_NAME: Final = "cognito-identity.amazonaws.com:sub"
"""The policy variable IoT fills with the caller's identity id..."""
COGNITO_IDENTITY_VARIABLE: Final = "${" + COGNITO_IDENTITY_VARIABLE_NAME + "}"
"""... as written in a policy."""

# --- signing keys (docs/custom-authorizer.md#authorizer-resource)
SIGNING_MIN_RSA_BITS: Final = 2048

# --- reserved topics a wildcard must never reach (RESERVED_TOPICS_PAGE): lifecycle events,
# shadows, Basic Ingest, and a deep one (a policy `*` crosses levels). Probes for the
# linter and the build-time proofs.
RESERVED_TOPIC_EXAMPLES: Final = (
    "$aws/events/presence/connected/c1",
    "$aws/events/subscriptions/subscribed/c1",
    "$aws/things/t1/shadow/update",
    "$aws/things/t1/shadow/name/s1/update/accepted",
    "$aws/a/b/c/d/e/f",
    "$aws/events/presence/disconnected/c1",
    "$aws/rules/r1/x",
)
