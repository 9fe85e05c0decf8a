"""Load `iotws_config.json` (generator/INTERNALS.md "Authorizer configuration").

Its contract is the JSON Schema the build checks it with (package data of the toolchain,
`iotws/schema/authorizer-config.schema.json`): `parse` refuses exactly what the schema
refuses, with a ConfigError that names the field (`iotws_authorizer.fields`), and then
what a schema cannot say (regexes compile, named profiles and slots exist).

The file is read and compiled lazily, once per container, on the first request: regexes
are compiled, policy documents are re-serialised as compact JSON (so that their length
after slot filling is exactly their compact length) and every slot is resolved to what
fills it. A bad file is remembered as a `ConfigError`, and every request is denied.

Where the file is: `set_path()` (tests, emulator), else the `IOTWS_CONFIG` environment
variable (tests), else `iotws_config.json` next to `app.py` (also inside a zip).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from iotws_authorizer import fields
from iotws_authorizer.errors import ConfigError

CONFIG_ENV = "IOTWS_CONFIG"
FILE_NAME = "iotws_config.json"
MODES = ("public", "hs256", "jwks")
TOKEN_SOURCES = ("token", "header", "query", "password", "username")
MAX_DOCUMENTS = 10  # docs/custom-authorizer.md#response
# docs/custom-authorizer.md#response, docs/iot-policies.md#size-limits (compact JSON, see
# module docstring)
MAX_DOCUMENT_CHARS = 2048
CLIENT_ID_MAX_BYTES = 128  # docs/data-plane.md#client-ids
SESSION_MIN, SESSION_MAX = 300, 86400  # docs/custom-authorizer.md#response

SLOT_PREFIX = "${iotws:"
SLOT_CLIENT_ID = "${iotws:client_id}"
SLOT_REGION = "${iotws:region}"
SLOT_ACCOUNT = "${iotws:account}"
# Patterns used only while parsing (re caches them); nothing is compiled at import time.
_SLOT = r"\$\{iotws:([^}]*)\}"
# The schema's patterns, without their ^...$ (tests/authorizer/test_config_contract.py
# checks that they are the same).
CLAIM_NAME_PATTERN = r"[a-z][a-z0-9_]{0,31}"
KEY_NAME_PATTERN = r"[a-zA-Z0-9_-]{1,128}"
NAME_PATTERN = r"[A-Za-z0-9_=,@-]{1,128}"
REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}"
ACCOUNT_PATTERN = r"[0-9]{12}"
SIGNING_KEY_NAME_PATTERN = r"[a-zA-Z0-9:_-]+"
PEM_PREFIX = "-----BEGIN PUBLIC KEY-----"


class TokenSettings:
    __slots__ = ("key_name", "key_lower", "sources", "max_length")

    def __init__(self, key_name: str, sources: tuple[str, ...], max_length: int) -> None:
        self.key_name = key_name
        self.key_lower = key_name.lower()
        self.sources = sources
        self.max_length = max_length


class Profile:
    """One profile, compiled: documents are compact JSON text with slots."""

    __slots__ = (
        "name",
        "template",
        "wildcard",
        "documents",
        "claims",
        "needs_region",
        "needs_account",
    )

    def __init__(
        self,
        name: str,
        template: str,
        wildcard: bool,
        documents: tuple[str, ...],
        claims: tuple[str, ...],
        needs_region: bool,
        needs_account: bool,
    ) -> None:
        self.name = name
        self.template = template
        self.wildcard = wildcard
        self.documents = documents
        self.claims = claims  # claim names used in the documents or the client-id template
        self.needs_region = needs_region  # uses ${iotws:region}
        self.needs_account = needs_account  # uses ${iotws:account}


class Selection:
    __slots__ = ("claims", "values", "default")

    def __init__(self, claims: tuple[str, ...], values: dict[str, str], default: str | None):
        self.claims = claims  # claim names, tried in order
        self.values = values  # claim value -> profile name
        self.default = default


class Config:
    __slots__ = (
        "mode",
        "name",
        "prefix",
        "region",
        "account",
        "token",
        "refresh_after",
        "disconnect_after",
        "charset",
        "client_id_max_bytes",
        "claim_max",
        "claim_patterns",
        "public_profile",
        "selection",
        "verifier",
        "verifier_settings",
        "profiles",
    )

    def __init__(self) -> None:
        self.mode = "public"
        self.name = ""
        self.prefix = ""
        self.region: str | None = None
        self.account: str | None = None
        self.token = TokenSettings("token", (), 4096)
        self.refresh_after = SESSION_MIN
        self.disconnect_after = SESSION_MIN
        self.charset: re.Pattern[str] | None = None  # compiled identity.charset
        self.client_id_max_bytes = CLIENT_ID_MAX_BYTES
        self.claim_max: dict[str, int] = {}
        self.claim_patterns: dict[str, re.Pattern[str]] = {}
        self.public_profile: Profile | None = None
        self.selection: Selection | None = None
        self.verifier: Any = None  # a verifier module, see iotws_authorizer.verifiers
        self.verifier_settings: Any = None
        self.profiles: dict[str, Profile] = {}


_path: str | None = None
_packaged_only = False
_cached: Config | ConfigError | None = None


def set_path(path: str | None) -> None:
    """Read the configuration from `path` (None: the default lookup). Forgets the cache."""
    global _path, _cached
    _path = path
    _cached = None


def use_packaged_only() -> None:
    """Ignore IOTWS_CONFIG: read the packaged file (the loader of a zip uses this)."""
    global _packaged_only, _cached
    _packaged_only = True
    _cached = None


def reset() -> None:
    global _cached
    _cached = None


def get() -> Config:
    """The compiled configuration (cached per container); raises ConfigError."""
    global _cached
    cached = _cached
    if cached is None:
        try:
            cached = parse(_read())
        except ConfigError as exc:
            cached = exc
        _cached = cached
    if isinstance(cached, ConfigError):
        raise cached
    return cached


def packaged_path() -> str:
    """`iotws_config.json` next to `app.py` (a path inside the zip when run from one)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(here), FILE_NAME)


def _read() -> Any:
    path = _path or (None if _packaged_only else os.environ.get(CONFIG_ENV)) or None
    try:
        if path is not None:
            with open(path, "rb") as fh:
                data = fh.read()
        else:
            path = packaged_path()
            # The module loader reads files inside a zip too (zipimport), plain files else.
            get_data = getattr(getattr(__spec__, "loader", None), "get_data", None)
            if get_data is not None:
                data = get_data(path)
            else:  # pragma: no cover - every stdlib file loader has get_data
                with open(path, "rb") as fh:
                    data = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {FILE_NAME}: {type(exc).__name__}") from None
    try:
        # NaN and Infinity are not JSON (RFC 8259), nor are they in the schema's ranges.
        return json.loads(data, parse_constant=_not_json)
    except ValueError:
        raise ConfigError(f"{FILE_NAME} is not valid JSON") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --------------------------------------------------------------------------- parsing
# The rules are the JSON Schema's (module docstring): keys, types, enums, ranges, patterns.
# What a schema cannot say is checked after them: regexes compile, names of profiles and
# slots exist, templates keep to identity.charset, documents are JSON objects.

_TOP_REQUIRED = (
    "version",
    "mode",
    "name",
    "prefix",
    "region",
    "account",
    "token",
    "session",
    "identity",
    "claims",
    "public_profile",
    "selection",
    "signing_enabled",
    "profiles",
)
_TOP_OPTIONAL = ("signing_public_keys", "hs256", "jwks")
_MODE_SECTIONS = ("hs256", "jwks")  # each only in its own mode


def parse(raw: Any) -> Config:
    """Validate and compile a configuration dict; raises ConfigError naming the field."""
    raw = fields.obj(raw, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    version = raw["version"]
    if isinstance(version, bool) or version != 1:
        raise ConfigError("version must be 1")
    cfg = Config()
    cfg.mode = fields.choice(raw["mode"], "mode", MODES)
    cfg.name = fields.text(raw["name"], "name", pattern=NAME_PATTERN)
    cfg.prefix = fields.text(raw["prefix"], "prefix")
    cfg.region = fields.text(raw["region"], "region", pattern=REGION_PATTERN, null=True)
    cfg.account = fields.text(raw["account"], "account", pattern=ACCOUNT_PATTERN, null=True)
    for section in _MODE_SECTIONS:
        if section in raw and cfg.mode != section:
            raise ConfigError(f"{section} is only used in mode {section} (mode is {cfg.mode})")

    token = fields.obj(raw["token"], "token", ("key_name", "sources", "max_length"))
    key_name = fields.text(token["key_name"], "token.key_name", pattern=KEY_NAME_PATTERN)
    sources = fields.array(token["sources"], "token.sources")
    for index, source in enumerate(sources):
        fields.choice(source, f"token.sources[{index}]", TOKEN_SOURCES)
    fields.unique(sources, "token.sources")
    max_length = fields.integer(token["max_length"], "token.max_length", 1, 65536)
    cfg.token = TokenSettings(key_name, tuple(sources), max_length)

    session = fields.obj(
        raw["session"], "session", ("refresh_after_seconds", "disconnect_after_seconds")
    )
    cfg.refresh_after = fields.integer(
        session["refresh_after_seconds"], "session.refresh_after_seconds", SESSION_MIN, SESSION_MAX
    )
    cfg.disconnect_after = fields.integer(
        session["disconnect_after_seconds"],
        "session.disconnect_after_seconds",
        SESSION_MIN,
        SESSION_MAX,
    )

    identity = fields.obj(raw["identity"], "identity", ("charset", "client_id_max_bytes"))
    charset = fields.text(identity["charset"], "identity.charset", min_length=1)
    cfg.client_id_max_bytes = fields.integer(
        identity["client_id_max_bytes"], "identity.client_id_max_bytes", 1, CLIENT_ID_MAX_BYTES
    )

    claims = fields.mapping(raw["claims"], "claims")
    patterns: dict[str, str] = {}
    for name, rule in claims.items():
        where = f"claims.{name}"
        if not re.fullmatch(CLAIM_NAME_PATTERN, name, re.ASCII):
            raise ConfigError(f"{where}: a claim name must match ^{CLAIM_NAME_PATTERN}$")
        rule = fields.obj(rule, where, ("max_length", "charset", "pattern"))
        cfg.claim_max[name] = fields.integer(rule["max_length"], f"{where}.max_length", 1, 128)
        fields.text(rule["charset"], f"{where}.charset", min_length=1)
        patterns[name] = fields.text(rule["pattern"], f"{where}.pattern", min_length=1)

    public = fields.text(raw["public_profile"], "public_profile", min_length=1, null=True)
    if public is None and cfg.mode == "public":
        raise ConfigError("public_profile is required in mode public")
    raw_selection = raw["selection"]
    if cfg.mode == "public" and raw_selection is not None:
        raise ConfigError("selection must be null in mode public (no token picks a profile)")
    if cfg.mode != "public" and not isinstance(raw_selection, dict):
        raise ConfigError(f"selection must be an object in mode {cfg.mode}")
    fields.boolean(raw["signing_enabled"], "signing_enabled")
    if "signing_public_keys" in raw:
        keys = fields.mapping(raw["signing_public_keys"], "signing_public_keys")
        for key_id, pem in keys.items():
            where = f"signing_public_keys.{key_id}"
            if not re.fullmatch(SIGNING_KEY_NAME_PATTERN, key_id, re.ASCII):
                raise ConfigError(f"{where}: a key name must match ^{SIGNING_KEY_NAME_PATTERN}$")
            if not isinstance(pem, str) or not pem.startswith(PEM_PREFIX):
                raise ConfigError(f"{where} must be a PEM public key ({PEM_PREFIX}...)")
    raw_profiles = fields.mapping(raw["profiles"], "profiles")
    if not raw_profiles:
        raise ConfigError("profiles must name at least one profile")
    for name, raw_profile in raw_profiles.items():
        _profile_shape(name, raw_profile)
    if raw_selection is not None:
        _selection_shape(raw_selection)
    verifier = None
    if cfg.mode != "public":
        from iotws_authorizer import verifiers

        # The mode's own section (hs256/jwks), checked by its verifier module.
        verifier = verifiers.get(cfg.mode)
        cfg.verifier_settings = verifier.parse_settings(raw)

    # What the schema cannot say: regexes compile, names exist, slots are known.
    cfg.charset = _regex(charset, "identity.charset")
    for name, pattern in patterns.items():
        cfg.claim_patterns[name] = _regex(pattern, f"claims.{name}.pattern")
    for name, raw_profile in raw_profiles.items():
        cfg.profiles[name] = _profile(name, raw_profile, cfg)
    if public is not None:
        cfg.public_profile = _lookup(cfg, public, "public_profile")
        if cfg.public_profile.claims:
            raise ConfigError("public_profile uses claims, but anonymous clients have none")
    if raw_selection is not None:
        cfg.selection = _selection(raw_selection, cfg)
    cfg.verifier = verifier
    return cfg


def _regex(pattern: str, where: str) -> re.Pattern[str]:
    try:
        # ASCII-only classes; callers use fullmatch (a `$` anchor would accept a final "\n").
        return re.compile(pattern, re.ASCII)
    except re.error:
        raise ConfigError(f"{where} is not a valid regular expression") from None


def compiled_charset(cfg: Config) -> re.Pattern[str]:
    if cfg.charset is None:  # pragma: no cover - parse sets it before any profile
        raise ConfigError("identity.charset is missing")
    return cfg.charset


def _lookup(cfg: Config, name: str, where: str) -> Profile:
    if name not in cfg.profiles:
        raise ConfigError(f"{where} names an unknown profile")
    return cfg.profiles[name]


def _selection_shape(raw: dict[str, Any]) -> None:
    fields.obj(raw, "selection", ("claim", "values", "order", "default"))
    claim = raw["claim"]
    if isinstance(claim, list):
        fields.array(claim, "selection.claim", min_items=1)
        for index, name in enumerate(claim):
            fields.text(name, f"selection.claim[{index}]", min_length=1)
    elif not isinstance(claim, str) or not claim:
        raise ConfigError("selection.claim must be a claim name or a list of claim names")
    for key, profile in fields.mapping(raw["values"], "selection.values").items():
        fields.text(profile, f"selection.values.{key}")
    order = fields.array(raw["order"], "selection.order")
    for index, key in enumerate(order):
        fields.text(key, f"selection.order[{index}]")
    fields.unique(order, "selection.order")
    fields.text(raw["default"], "selection.default", min_length=1, null=True)


def _selection(raw: dict[str, Any], cfg: Config) -> Selection:
    claim = raw["claim"]
    names = (claim,) if isinstance(claim, str) else tuple(claim)
    values: dict[str, str] = raw["values"]
    for key, profile in values.items():
        _lookup(cfg, profile, f"selection.values.{key}")
    # `order`: the spec's order of `values` (JSON writers may sort object keys); the first
    # value in this order that a token holds picks the profile.
    order: list[str] = raw["order"]
    if sorted(order) != sorted(values):
        raise ConfigError("selection.order must list every key of selection.values once")
    default = raw["default"]
    if default is not None:
        _lookup(cfg, default, "selection.default")
    return Selection(names, {key: values[key] for key in order}, default)


def _slots(text: str, cfg: Config, where: str) -> tuple[list[str], bool, bool, bool]:
    """(claim names, uses client id, uses region, uses account) of the slots in `text`."""
    claims: list[str] = []
    client = region = account = False
    for slot in re.findall(_SLOT, text):
        if slot == "client_id":
            client = True
        elif slot == "region":
            region = True
        elif slot == "account":
            account = True
        elif slot.startswith("claim.") and slot[6:] in cfg.claim_max:
            claims.append(slot[6:])
        else:
            raise ConfigError(f"{where}: unknown slot ${{iotws:{slot}}}")
    if SLOT_PREFIX in re.sub(_SLOT, "", text):
        raise ConfigError(f"{where}: malformed slot")
    return claims, client, region, account


def _profile_shape(name: str, raw: Any) -> None:
    where = f"profiles.{name}"
    fields.obj(raw, where, ("client_id", "documents"))
    rule = fields.obj(raw["client_id"], f"{where}.client_id", ("template", "wildcard"))
    template = fields.text(rule["template"], f"{where}.client_id.template")
    if not fields.boolean(rule["wildcard"], f"{where}.client_id.wildcard") and not template:
        raise ConfigError(f"{where}.client_id.template is empty, which needs wildcard true")
    docs = fields.array(raw["documents"], f"{where}.documents", 1, MAX_DOCUMENTS)
    for index, doc in enumerate(docs):
        fields.text(doc, f"{where}.documents[{index}]", min_length=2, max_length=MAX_DOCUMENT_CHARS)


def _profile(name: str, raw: dict[str, Any], cfg: Config) -> Profile:
    """A profile whose shape `_profile_shape` checked: slots resolved, documents compacted."""
    where = f"profiles.{name}"
    template: str = raw["client_id"]["template"]
    wildcard: bool = raw["client_id"]["wildcard"]
    claims, client, region, account = _slots(template, cfg, f"{where}.client_id")
    if client:
        raise ConfigError(f"{where}.client_id.template cannot use the client id itself")
    literal = re.sub(_SLOT, "", template)
    if literal and not compiled_charset(cfg).fullmatch(literal):
        raise ConfigError(f"{where}.client_id.template has characters outside identity.charset")
    documents: list[str] = []
    for index, text in enumerate(raw["documents"]):
        try:
            doc = json.loads(text)
        except ValueError:
            raise ConfigError(f"{where}.documents[{index}] is not JSON") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}.documents[{index}] must be a JSON object")
        # Compact and canonical: the filled text's length is then its compact length.
        compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        doc_claims, _, doc_region, doc_account = _slots(compact, cfg, f"{where}.documents[{index}]")
        claims += doc_claims
        region = region or doc_region
        account = account or doc_account
        documents.append(compact)
    return Profile(
        name,
        template,
        wildcard,
        tuple(documents),
        tuple(dict.fromkeys(claims)),
        region,
        account,
    )
