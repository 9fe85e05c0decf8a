"""Load `iotws_config.json` (shape: generator/INTERNALS.md "Authorizer configuration").

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
_CLAIM_NAME = r"[a-z][a-z0-9_]{0,31}"
_KEY_NAME = r"[a-zA-Z0-9_-]{1,128}"
REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}"
ACCOUNT_PATTERN = r"[0-9]{12}"


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
        return json.loads(data)
    except ValueError:
        raise ConfigError(f"{FILE_NAME} is not valid JSON") from None


# --------------------------------------------------------------------------- parsing


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise ConfigError(f"{where}.{key} is missing")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ConfigError(f"{where}.{key} has the wrong type")
    return value


def _int(obj: dict[str, Any], key: str, where: str, lo: int, hi: int) -> int:
    value = _get(obj, key, int, where)
    if isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{where}.{key} must be an integer in {lo}..{hi}")
    return int(value)


def _opt_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}.{key} must be a non-empty string or null")
    return value


def parse(raw: Any) -> Config:
    """Validate and compile a configuration dict; raises ConfigError naming the field."""
    if not isinstance(raw, dict):
        raise ConfigError("configuration must be a JSON object")
    if raw.get("version") != 1:
        raise ConfigError("version must be 1")
    cfg = Config()
    cfg.mode = _get(raw, "mode", str, "config")
    if cfg.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}")
    name, prefix = raw.get("name"), raw.get("prefix")
    cfg.name = name if isinstance(name, str) else ""
    cfg.prefix = prefix if isinstance(prefix, str) else ""
    cfg.region = _opt_str(raw, "region", "config")
    if cfg.region is not None and not re.fullmatch(REGION_PATTERN, cfg.region):
        raise ConfigError("region is not an AWS region name")
    cfg.account = _opt_str(raw, "account", "config")
    if cfg.account is not None and not re.fullmatch(ACCOUNT_PATTERN, cfg.account):
        raise ConfigError("account must be 12 digits")

    token = _get(raw, "token", dict, "config")
    key_name = _get(token, "key_name", str, "token")
    if not re.fullmatch(_KEY_NAME, key_name):
        raise ConfigError("token.key_name must match ^[a-zA-Z0-9_-]{1,128}$")
    sources = _get(token, "sources", list, "token")
    if any(s not in TOKEN_SOURCES for s in sources) or len(set(sources)) != len(sources):
        raise ConfigError(f"token.sources: each of {', '.join(TOKEN_SOURCES)} at most once")
    max_length = _int(token, "max_length", "token", 1, 65536)
    cfg.token = TokenSettings(key_name, tuple(sources), max_length)

    session = _get(raw, "session", dict, "config")
    cfg.refresh_after = _int(session, "refresh_after_seconds", "session", SESSION_MIN, SESSION_MAX)
    cfg.disconnect_after = _int(
        session, "disconnect_after_seconds", "session", SESSION_MIN, SESSION_MAX
    )

    identity = _get(raw, "identity", dict, "config")
    charset = _get(identity, "charset", str, "identity")
    try:
        # ASCII-only classes; callers use fullmatch (a `$` anchor would accept a final "\n").
        compiled = re.compile(charset, re.ASCII)
    except re.error:
        raise ConfigError("identity.charset is not a valid regular expression") from None
    cfg.charset = compiled
    cfg.client_id_max_bytes = _int(
        identity, "client_id_max_bytes", "identity", 1, CLIENT_ID_MAX_BYTES
    )

    claims = raw.get("claims") or {}
    if not isinstance(claims, dict):
        raise ConfigError("claims must be an object")
    for name, rule in claims.items():
        if not re.fullmatch(_CLAIM_NAME, name) or not isinstance(rule, dict):
            raise ConfigError(f"claims.{name} is not a valid claim declaration")
        cfg.claim_max[name] = _int(rule, "max_length", f"claims.{name}", 1, 128)
        # The claim's declared character set (ACCESS_SPEC.md "claims"): values are matched
        # against it before any substitution, so templates stay self-delimiting.
        pattern = _get(rule, "pattern", str, f"claims.{name}")
        try:
            cfg.claim_patterns[name] = re.compile(pattern, re.ASCII)
        except re.error:
            raise ConfigError(f"claims.{name}.pattern is not a valid regular expression") from None

    raw_profiles = _get(raw, "profiles", dict, "config")
    for name, raw_profile in raw_profiles.items():
        cfg.profiles[name] = _profile(name, raw_profile, cfg)

    public = _opt_str(raw, "public_profile", "config")
    if public is not None:
        cfg.public_profile = _lookup(cfg, public, "public_profile")
        if cfg.public_profile.claims:
            raise ConfigError("public_profile uses claims, but anonymous clients have none")
    if cfg.mode == "public":
        if cfg.public_profile is None:
            raise ConfigError("public_profile is required in mode public")
        return cfg

    cfg.selection = _selection(_get(raw, "selection", dict, "config"), cfg)
    from iotws_authorizer import verifiers

    cfg.verifier = verifiers.get(cfg.mode)
    cfg.verifier_settings = cfg.verifier.parse_settings(raw)
    return cfg


def compiled_charset(cfg: Config) -> re.Pattern[str]:
    if cfg.charset is None:  # pragma: no cover - parse sets it before any profile
        raise ConfigError("identity.charset is missing")
    return cfg.charset


def _lookup(cfg: Config, name: str, where: str) -> Profile:
    if name not in cfg.profiles:
        raise ConfigError(f"{where} names an unknown profile")
    return cfg.profiles[name]


def _selection(raw: dict[str, Any], cfg: Config) -> Selection:
    claim = raw.get("claim")
    names = (claim,) if isinstance(claim, str) else tuple(claim) if isinstance(claim, list) else ()
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError("selection.claim must be a claim name or a list of claim names")
    values = raw.get("values") or {}
    if not isinstance(values, dict):
        raise ConfigError("selection.values must be an object")
    for key, profile in values.items():
        if not isinstance(profile, str):
            raise ConfigError("selection.values must map strings to profile names")
        _lookup(cfg, profile, f"selection.values.{key}")
    # `order`: the spec's order of `values` (JSON writers may sort object keys); the first
    # value in this order that a token holds picks the profile.
    order = raw.get("order", list(values))
    if not isinstance(order, list) or sorted(order) != sorted(values):
        raise ConfigError("selection.order must list every key of selection.values once")
    default = _opt_str(raw, "default", "selection")
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


def _profile(name: str, raw: Any, cfg: Config) -> Profile:
    where = f"profiles.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object")
    rule = _get(raw, "client_id", dict, where)
    template = _get(rule, "template", str, f"{where}.client_id")
    wildcard = rule.get("wildcard", False)
    if not isinstance(wildcard, bool):
        raise ConfigError(f"{where}.client_id.wildcard must be a boolean")
    claims, client, region, account = _slots(template, cfg, f"{where}.client_id")
    if client:
        raise ConfigError(f"{where}.client_id.template cannot use the client id itself")
    literal = re.sub(_SLOT, "", template)
    if literal and not compiled_charset(cfg).fullmatch(literal):
        raise ConfigError(f"{where}.client_id.template has characters outside identity.charset")
    if not template and not wildcard:
        raise ConfigError(f"{where}.client_id: an empty template needs wildcard")

    raw_docs = _get(raw, "documents", list, where)
    if not raw_docs or len(raw_docs) > MAX_DOCUMENTS:
        raise ConfigError(f"{where}.documents: 1 to {MAX_DOCUMENTS} documents")
    documents: list[str] = []
    for index, doc in enumerate(raw_docs):
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:
                raise ConfigError(f"{where}.documents[{index}] is not JSON") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}.documents[{index}] must be a JSON object")
        # Compact and canonical: the filled text's length is then its compact length.
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        doc_claims, _, doc_region, doc_account = _slots(text, cfg, f"{where}.documents[{index}]")
        claims += doc_claims
        region = region or doc_region
        account = account or doc_account
        documents.append(text)
    return Profile(
        name,
        template,
        wildcard,
        tuple(documents),
        tuple(dict.fromkeys(claims)),
        region,
        account,
    )
