"""The access spec: load, validate against the schema, then check what a schema cannot.

Every problem is collected and reported at once, each naming the field and the fix
(`iotws.errors.SpecError`). Nothing renders from a spec that did not pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iotws import schemas
from iotws.errors import IotwsError, SpecError, read_text
from iotws.iot.facts import (
    CLIENT_ID_MAX_BYTES,
    COGNITO_IDENTITY_ID_MAX_LENGTH,
    IAM_POLICY_MAX_CODEPOINT,
    IDENTITY_CHARS,
    RESERVED_TOPIC_START,
    SIGNING_MIN_RSA_BITS,
    TOPIC_MAX_BYTES,
    TOPIC_MAX_SLASHES,
)
from iotws.iot.topics import has_control, misplaced_hash, misplaced_plus
from iotws.spec.namespaces import (
    CHARSETS,
    DEFAULT_CHARSET,
    IDENTITY_ID,
    Charset,
    Undelimited,
    client_id_witness,
    namespace_overlap,
    parse_values,
    undelimited,
)
from iotws.spec.namespaces import CLIENT_ID as CLIENT_ID_CHARSET
from iotws.spec.rules import RulesSpec, parse_rules

# Cognito identity ids look like "us-east-1:0f1e2d3c-...": region (up to ~14) + ":" + UUID (36).
SPEC_SCHEMA = "access.schema.json"  # iotws/schema/, checked by iotws.schemas
DEFAULT_CLAIM_MAX_LENGTH = 64

PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
PLACEHOLDER_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
BUILTIN_CLIENT_ID = "client_id"
BUILTIN_IDENTITY_ID = "identity_id"
TOKEN_SOURCES = ("token", "header", "query", "password", "username")
# Internal mode of a spec without an `authorizer:` section (Cognito-only specs).
NO_AUTHORIZER = "none"


@dataclass(frozen=True)
class Profile:
    name: str
    client_id: str
    subscribe: tuple[str, ...]
    publish: tuple[str, ...]
    receive: tuple[str, ...]
    receive_explicit: bool = False
    description: str = ""


@dataclass(frozen=True)
class Hs256Spec:
    secret_source: str  # "ssm" | "secretsmanager" | "env"
    secret_name: str
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30
    max_age_seconds: int | None = None
    subject_claim: str = "sub"
    max_lifetime_seconds: int | None = None


@dataclass(frozen=True)
class SelectSpec:
    claim: str
    values: dict[str, str]
    default: str | None


@dataclass(frozen=True)
class AuthorizerSpec:
    mode: str
    name: str
    token_key_name: str
    token_sources: tuple[str, ...]
    token_max_length: int
    refresh_after_seconds: int
    disconnect_after_seconds: int
    public_profile: str | None
    hs256: Hs256Spec | None
    jwks: dict[str, Any] | None
    select: SelectSpec | None
    signing_enabled: bool = False
    # IoT token signing (docs/custom-authorizer.md#authorizer-resource): key name -> PEM
    # (SubjectPublicKeyInfo),
    # read from the files named in authorizer.signing.public_keys and validated.
    signing_public_keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CognitoSpec:
    guest_profile: str
    authenticated_profile: str | None = None


@dataclass(frozen=True)
class Spec:
    version: int
    app: str
    stage: str
    prefix: str
    region: str | None
    account: str | None
    claims: dict[str, int]
    authorizer: AuthorizerSpec
    profiles: dict[str, Profile]
    cognito: CognitoSpec | None
    source: str = ""
    rules: RulesSpec | None = None  # the `rules:` section (iotws.spec.rules), checked
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # The text it was parsed from, verbatim: a build directory keeps a copy
    # (generator/INTERNALS.md "Build directory").
    text: str = field(default="", compare=False, repr=False)
    # claim name -> charset preset (namespaces.CHARSETS); default namespaces.DEFAULT_CHARSET
    claim_charsets: dict[str, str] = field(default_factory=dict)

    def charsets_for(self, profile: str) -> dict[str, Charset]:
        """Placeholder name -> the set of values it can take, for one profile."""
        if profile in self.cognito_profiles():
            return {BUILTIN_IDENTITY_ID: IDENTITY_ID}
        out = {BUILTIN_CLIENT_ID: CLIENT_ID_CHARSET}
        for name in self.claims:
            out[name] = CHARSETS[self.claim_charsets.get(name, DEFAULT_CHARSET)]
        return out

    def subject_claim(self) -> str:
        """The claim that names the user in token modes."""
        a = self.authorizer
        if a.hs256 is not None:
            return a.hs256.subject_claim
        if a.jwks is not None:
            return str(a.jwks.get("subject_claim", "sub"))
        return "sub"

    def token_profiles(self) -> list[str]:
        a = self.authorizer
        if a.mode not in ("hs256", "jwks") or not a.select:
            return []
        names = set(a.select.values.values())
        if a.select.default:
            names.add(a.select.default)
        return sorted(names)

    @property
    def has_authorizer(self) -> bool:
        return self.authorizer.mode != NO_AUTHORIZER

    def authorizer_profiles(self) -> list[str]:
        """Profiles the authorizer can hand out (public fallback and token selection)."""
        names: list[str] = []
        a = self.authorizer
        if a.public_profile:
            names.append(a.public_profile)
        if a.select:
            names += list(a.select.values.values())
            if a.select.default:
                names.append(a.select.default)
        return sorted(set(names))

    def cognito_profiles(self) -> list[str]:
        if not self.cognito:
            return []
        names = [self.cognito.guest_profile]
        if self.cognito.authenticated_profile:
            names.append(self.cognito.authenticated_profile)
        return sorted(set(names))

    def placeholders_for(self, profile: str) -> dict[str, int]:
        """The placeholders a profile may use, with the longest value each can take."""
        if profile in self.cognito_profiles():
            return {BUILTIN_IDENTITY_ID: COGNITO_IDENTITY_ID_MAX_LENGTH}
        allowed: dict[str, int] = {BUILTIN_CLIENT_ID: CLIENT_ID_MAX_BYTES}
        token_mode = self.authorizer.mode in ("hs256", "jwks")
        anonymous_only = profile == self.authorizer.public_profile and not (
            self.authorizer.select
            and (
                profile in self.authorizer.select.values.values()
                or profile == self.authorizer.select.default
            )
        )
        if token_mode and not anonymous_only:
            allowed.update(self.claims)
        return allowed


# --------------------------------------------------------------------------- loading


def schema() -> dict[str, Any]:
    return schemas.load(SPEC_SCHEMA)


def load_spec(path: str | Path) -> Spec:
    p = Path(path)
    text = read_text(p, "--spec", "give the path of your access.yaml")
    return parse_spec(text, source=str(p))


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (PyYAML keeps the last one
    silently, so a second `publish:` would quietly replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"the key {key!r} is repeated (first at line {seen[key]}); a "
                    "repeated key would silently replace the first",
                    problem_mark=key_node.start_mark,
                )
            if isinstance(key, str):
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _yaml_error(exc: yaml.YAMLError, source: str) -> IotwsError:
    """Where the problem is: the line of the problem and, for a construct left open
    (an unclosed `[` or quote), the line where it started, which is usually the one to fix."""
    problem = getattr(exc, "problem", None) or str(exc)
    mark = getattr(exc, "problem_mark", None)
    context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    if context and cmark is not None and (mark is None or cmark.line != mark.line):
        started = f"line {cmark.line + 1}, column {cmark.column + 1}"
        what = context.removeprefix("while parsing ").removeprefix("while scanning ")
        if "flow" in context or "scalar" in context:
            # An unclosed [ { or quote: the line where it opens is the one to fix.
            where = f" at {started}"
            problem = f"{what} opened here is not closed ({problem}{_at(mark)})"
        else:
            problem += f" (in {what} that starts at {started})"
    return IotwsError(
        f"{source} is not valid YAML{where}: {problem}",
        fix="check indentation and quoting (quote topics that start with special characters)",
    )


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _field_line(text: str, path: str) -> int | None:
    """The line of a field path such as `profiles.guest.subscribe[1]` in the YAML text."""
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if k.value == part]
            if not found:
                key = [k for k, _ in node.value if k.value == part]
                return key[0].start_mark.line + 1 if key else line
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and part.startswith("["):
            index = int(part[1:-1])
            if index >= len(node.value):
                return line
            node = node.value[index]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def _with_lines(errors: list[IotwsError], text: str) -> list[IotwsError]:
    for err in errors:
        line = _field_line(text, err.field) if err.field else None
        if line is not None:
            err.message = f"{err.message} (line {line})"
    return errors


def parse_spec(
    text: str, *, source: str = "<string>", signing_keys: Mapping[str, str] | None = None
) -> Spec:
    """The typed, checked spec. `signing_keys` (key name -> PEM) replaces reading the
    files of `authorizer.signing.public_keys`: a build directory carries the keys, not
    the files (iotws.build.open_build)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    if not isinstance(data, dict):
        raise IotwsError(
            f"{source} must be a YAML mapping with version, app, stage, authorizer and profiles",
            fix="start from the annotated example in generator/ACCESS_SPEC.md",
        )
    errors = _key_errors(data) or _schema_errors(data)
    if errors:
        raise SpecError(_with_lines(errors, text))
    spec = _build(data, source)
    errors = _semantic_errors(spec)
    keys, key_errors = _signing_keys(spec, signing_keys)
    errors += key_errors
    rules, rule_errors = parse_rules(data.get("rules"), spec.prefix)
    errors += rule_errors
    if errors:
        raise SpecError(_with_lines(errors, text))
    spec = replace(spec, rules=rules, text=text)
    if keys:
        spec = replace(spec, authorizer=replace(spec.authorizer, signing_public_keys=keys))
    return spec


# --------------------------------------------------------------------------- schema

_FIXES = {
    "app": "use 1-20 lower-case letters and digits, starting with a letter (e.g. chat)",
    "stage": "use 1-10 lower-case letters and digits, starting with a letter (e.g. dev)",
    "aws.region": "use a region code such as us-east-1",
    "aws.account": 'quote the 12-digit account id, e.g. "123456789012"',
    "authorizer.mode": "use one of: public, hs256, jwks",
    "authorizer.name": "use 1-128 of letters, digits, _ = , @ -",
    "authorizer.token.key_name": "use 1-128 of letters, digits, _ and - "
    "(docs/custom-authorizer.md#authorizer-resource)",
    "authorizer.token.sources": "list some of: token, header, query, password, username",
    "authorizer.session.refresh_after_seconds": "IoT accepts 300 to 86400 seconds",
    "authorizer.session.disconnect_after_seconds": "IoT accepts 300 to 86400 seconds",
    "authorizer.hs256.secret": "give exactly one of ssm_parameter, secrets_manager, env",
    "version": "set version: 1",
}


def _path_str(path: Any) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _key_errors(node: Any, where: str = "") -> list[IotwsError]:
    """YAML allows keys that are numbers or null; the spec does not (the schema's
    name patterns only see string keys)."""
    errs: list[IotwsError] = []
    if isinstance(node, dict):
        for key, value in node.items():
            name = f"{where}.{key}" if where else str(key)
            if not isinstance(key, str):
                errs.append(
                    IotwsError(f"key {key!r} is not a string", field=name, fix=f'quote it: "{key}"')
                )
            else:
                errs += _key_errors(value, name)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            errs += _key_errors(value, f"{where}[{i}]")
    return errs


def _schema_errors(data: dict[str, Any]) -> list[IotwsError]:
    validator = schemas.validator(SPEC_SCHEMA)
    found: list[IotwsError] = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path]):
        where = _path_str(err.absolute_path)
        fix = _FIXES.get(re.sub(r"\[\d+\]", "", where))
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            for key in extra:
                name = f"{where}.{key}" if where != "(top level)" else key
                found.append(
                    IotwsError(
                        "unknown key",
                        field=name,
                        fix=f"remove it or use one of: {allowed}" if allowed else "remove it",
                    )
                )
            continue
        if err.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            for key in missing or [err.message]:
                name = f"{where}.{key}" if where != "(top level)" else key
                found.append(IotwsError("is required", field=name, fix=_FIXES.get(name)))
            continue
        if err.validator == "propertyNames":
            found.append(
                IotwsError(
                    f"name {err.instance!r} is not allowed",
                    field=where,
                    fix=(
                        "use 1-128 of letters, digits, : _ and - "
                        "(docs/custom-authorizer.md#authorizer-resource)"
                        if where.endswith("signing.public_keys")
                        else "use 1-32 lower-case letters, digits and _, starting with a letter"
                    ),
                )
            )
            continue
        if err.validator in ("minimum", "maximum"):
            msg = f"{err.instance!r} is out of range"
        elif err.validator == "pattern":
            msg = f"{err.instance!r} is not allowed"
        elif err.validator == "enum":
            msg = f"{err.instance!r} is not one of {err.validator_value}"
        elif err.validator == "type":
            msg = f"must be of type {err.validator_value}, got {type(err.instance).__name__}"
        elif err.validator in ("minProperties", "maxProperties") and where.endswith("secret"):
            msg = "needs exactly one secret source"
        else:
            msg = err.message
        found.append(IotwsError(msg, field=where, fix=fix))
    return found


# --------------------------------------------------------------------------- model


def _build(d: dict[str, Any], source: str) -> Spec:
    app, stage = d["app"], d["stage"]
    prefix = d.get("topic_prefix", f"{app}/{stage}")
    aws = d.get("aws") or {}
    claims = {
        name: int((c or {}).get("max_length", DEFAULT_CLAIM_MAX_LENGTH))
        for name, c in (d.get("claims") or {}).items()
    }
    claim_charsets = {
        name: str((c or {}).get("charset", DEFAULT_CHARSET))
        for name, c in (d.get("claims") or {}).items()
    }
    a = d.get("authorizer") or {"mode": NO_AUTHORIZER}
    token = a.get("token") or {}
    session = a.get("session") or {}
    hs = a.get("hs256")
    hs256 = None
    if hs:
        ((kind, name),) = hs["secret"].items()
        hs256 = Hs256Spec(
            secret_source={"ssm_parameter": "ssm", "secrets_manager": "secretsmanager"}.get(
                kind, kind
            ),
            secret_name=name,
            issuer=hs.get("issuer"),
            audience=hs.get("audience"),
            leeway_seconds=int(hs.get("leeway_seconds", 30)),
            max_age_seconds=hs.get("max_age_seconds"),
            max_lifetime_seconds=hs.get("max_lifetime_seconds"),
            subject_claim=hs.get("subject_claim", "sub"),
        )
    sel = a.get("select")
    select = (
        SelectSpec(
            claim=sel["claim"], values=dict(sel.get("values") or {}), default=sel.get("default")
        )
        if sel
        else None
    )
    auth = AuthorizerSpec(
        mode=a["mode"],
        name=a.get("name", f"{app}-{stage}-authorizer"),
        token_key_name=token.get("key_name", "token"),
        token_sources=tuple(token.get("sources", TOKEN_SOURCES)),
        token_max_length=int(token.get("max_length", 4096)),
        refresh_after_seconds=int(session.get("refresh_after_seconds", 3600)),
        disconnect_after_seconds=int(session.get("disconnect_after_seconds", 86400)),
        public_profile=(a.get("public") or {}).get("profile"),
        hs256=hs256,
        jwks=a.get("jwks"),
        select=select,
        signing_enabled=bool((a.get("signing") or {}).get("enabled", False)),
    )
    profiles: dict[str, Profile] = {}
    for name, p in d["profiles"].items():
        sub = tuple(p.get("subscribe", ()))
        profiles[name] = Profile(
            name=name,
            client_id=p["client_id"],
            subscribe=sub,
            publish=tuple(p.get("publish", ())),
            receive=tuple(p["receive"]) if "receive" in p else sub,
            receive_explicit="receive" in p,
            description=p.get("description", ""),
        )
    cog = d.get("cognito")
    cognito = (
        CognitoSpec(
            guest_profile=cog["guest_profile"],
            authenticated_profile=cog.get("authenticated_profile"),
        )
        if cog
        else None
    )
    return Spec(
        version=d["version"],
        app=app,
        stage=stage,
        prefix=prefix,
        region=aws.get("region"),
        account=aws.get("account"),
        claims=claims,
        authorizer=auth,
        profiles=profiles,
        cognito=cognito,
        source=source,
        raw=d,
        claim_charsets=claim_charsets,
    )


# --------------------------------------------------------------------------- semantics


def _semantic_errors(spec: Spec) -> list[IotwsError]:
    errs: list[IotwsError] = []
    a = spec.authorizer
    names = set(spec.profiles)

    def need_profile(ref: str | None, fld: str) -> None:
        if ref is not None and ref not in names:
            errs.append(
                IotwsError(
                    f"names no profile: {ref!r}",
                    field=fld,
                    fix=f"use one of: {', '.join(sorted(names))}",
                )
            )

    # prefix
    if spec.prefix:
        for problem in _literal_topic_problems(spec.prefix):
            errs.append(
                IotwsError(
                    problem, field="topic_prefix", fix="use plain topic levels like app/stage"
                )
            )
    # modes
    if a.mode == NO_AUTHORIZER:
        if not spec.cognito:
            errs.append(
                IotwsError(
                    "is required unless the spec has a cognito section",
                    field="authorizer",
                    fix="add authorizer: {mode: public, public: {profile: guest}} or a cognito: "
                    "section",
                )
            )
    elif a.mode == "public":
        if not a.public_profile:
            errs.append(
                IotwsError(
                    "mode public needs the profile anonymous clients get",
                    field="authorizer.public.profile",
                    fix="add authorizer: {public: {profile: guest}}",
                )
            )
        for key, present in (("hs256", a.hs256), ("jwks", a.jwks), ("select", a.select)):
            if present:
                errs.append(
                    IotwsError(
                        "is not used in mode public",
                        field=f"authorizer.{key}",
                        fix="remove it, or set authorizer.mode to a token mode",
                    )
                )
    else:
        if not a.select:
            errs.append(
                IotwsError(
                    f"mode {a.mode} needs a rule that picks a profile from the token's claims",
                    field="authorizer.select",
                    fix="add select: {claim: role, values: {user: user}, default: user}",
                )
            )
        # Each token mode's own section: required in its mode, refused in the other.
        sections = (
            (
                "hs256",
                a.hs256,
                "the shared secret's source",
                "{secret: {ssm_parameter: /app/stage/jwt-secret}}",
            ),
            (
                "jwks",
                a.jwks,
                "the issuer's settings",
                "{preset: cognito, user_pool_id: ..., client_ids: [...]}",
            ),
        )
        for mode, section, what, example in sections:
            if a.mode == mode and not section:
                errs.append(
                    IotwsError(
                        f"mode {mode} needs {what}",
                        field=f"authorizer.{mode}",
                        fix=f"add {mode}: {example}",
                    )
                )
        for mode, section, _, _ in sections:
            if a.mode != mode and section:
                errs.append(
                    IotwsError(
                        f"is only used in mode {mode}", field=f"authorizer.{mode}", fix="remove it"
                    )
                )
        if a.mode == "jwks" and a.jwks:
            errs += _jwks_errors(a.jwks)
    if a.select:
        if not a.select.values and not a.select.default:
            errs.append(
                IotwsError(
                    "maps no claim value to a profile and has no default",
                    field="authorizer.select",
                    fix="add values: {<claim value>: <profile>} or default: <profile>",
                )
            )
        for value, prof in a.select.values.items():
            need_profile(prof, f"authorizer.select.values.{value}")
        need_profile(a.select.default, "authorizer.select.default")
    need_profile(a.public_profile, "authorizer.public.profile")
    if a.refresh_after_seconds > a.disconnect_after_seconds:
        errs.append(
            IotwsError(
                "refresh_after_seconds is longer than disconnect_after_seconds, so the "
                "policy would never be refreshed",
                field="authorizer.session.refresh_after_seconds",
                fix="make it at most disconnect_after_seconds",
            )
        )
    if spec.cognito:
        need_profile(spec.cognito.guest_profile, "cognito.guest_profile")
        need_profile(spec.cognito.authenticated_profile, "cognito.authenticated_profile")
        errs += _cognito_errors(spec)
        both = set(spec.cognito_profiles()) & set(spec.authorizer_profiles())
        for name in sorted(both):
            errs.append(
                IotwsError(
                    "is used both by the authorizer and by Cognito; their placeholders differ",
                    field=f"profiles.{name}",
                    fix="give Cognito its own profile",
                )
            )
    for claim, preset in spec.claim_charsets.items():
        charset = CHARSETS[preset]
        if spec.claims[claim] < charset.min_length:
            errs.append(
                IotwsError(
                    f"max_length {spec.claims[claim]} is shorter than any {preset} value "
                    f"({charset.min_length} characters, e.g. {charset.example!r})",
                    field=f"claims.{claim}.max_length",
                    fix=f"raise it to at least {charset.min_length}, or remove it",
                )
            )
    # claims referenced by selection are fine; claim names must not shadow built-ins
    for claim in spec.claims:
        if claim in (BUILTIN_CLIENT_ID, BUILTIN_IDENTITY_ID):
            errs.append(
                IotwsError(
                    f"{claim!r} is a built-in placeholder",
                    field=f"claims.{claim}",
                    fix="rename the claim",
                )
            )
    if errs:
        return errs
    for profile in spec.profiles.values():
        errs += _profile_errors(spec, profile)
    if errs:
        return errs
    return _namespace_errors(spec)


# --------------------------------------------------------------------------- jwks


JWKS_DEFAULTS: dict[str, Any] = {
    "algorithms": ["RS256"],
    "leeway_seconds": 30,
    "cache_ttl_seconds": 3600,
    "refresh_interval_seconds": 60,
    "fetch_timeout_seconds": 1.5,  # well inside IoT's 5 s for the whole authorizer
    "subject_claim": "sub",
    "max_lifetime_seconds": None,
}
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


COGNITO_AWS_FIX = (
    'add `aws: {region: us-east-1, account: "123456789012"}` (your own values) to the spec: '
    "the guest IAM policy needs literal ARNs"
)


def _cognito_errors(spec: Spec) -> list[IotwsError]:
    """What the Cognito path needs beyond any profile: literal ARNs (IAM policies have no
    run-time slots) and only characters an IAM policy can hold (docs/cognito-guests.md)."""
    errs = [
        IotwsError(
            "is required for the Cognito guest path", field=f"aws.{key}", fix=COGNITO_AWS_FIX
        )
        for key, value in (("region", spec.region), ("account", spec.account))
        if not value
    ]
    for name in spec.cognito_profiles():
        prof = spec.profiles.get(name)
        if prof is None:
            continue  # need_profile reports it
        texts = [("client_id", prof.client_id)] + [
            (f"{kind}[{i}]", topic)
            for kind, topics in (
                ("subscribe", prof.subscribe),
                ("publish", prof.publish),
                ("receive", prof.receive if prof.receive_explicit else ()),
            )
            for i, topic in enumerate(topics)
        ]
        for fld, text in texts:
            bad = sorted({c for c in text if ord(c) > IAM_POLICY_MAX_CODEPOINT})
            if bad:
                errs.append(
                    IotwsError(
                        "has characters an IAM policy cannot hold: "
                        + " ".join(f"U+{ord(c):04X}" for c in bad),
                        field=f"profiles.{name}.{fld}",
                        fix="use Latin-1 characters only in topics of the Cognito profiles",
                    )
                )
    return errs


def cognito_issuer(user_pool_id: str) -> str:
    """`https://cognito-idp.<region>.amazonaws.com/<pool id>` (the pool id starts with
    its region: `eu-west-1_AbC123`)."""
    region = user_pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def resolve_jwks(raw: dict[str, Any]) -> dict[str, Any]:
    """The `jwks` section as the authorizer reads it: presets expanded, defaults filled.

    Preset `cognito`: issuer from `user_pool_id`, JWKS URL `<issuer>/.well-known/jwks.json`,
    `token_use` (default `id`); `client_ids` are checked in `aud` (ID tokens) or in the
    `client_id` claim (access tokens, which carry no `aud`). Call on a validated spec.
    """
    preset = raw.get("preset")
    out: dict[str, Any] = {"preset": preset}
    if preset == "cognito":
        issuer = cognito_issuer(raw["user_pool_id"])
        token_use = raw.get("token_use", "id")
        out.update(
            jwks_url=f"{issuer}/.well-known/jwks.json",
            issuer=issuer,
            audience=list(raw["client_ids"]),
            audience_claim="client_id" if token_use == "access" else "aud",  # noqa: S105
            token_use=token_use,
        )
    else:
        out.update(
            jwks_url=raw["jwks_url"],
            issuer=raw["issuer"],
            audience=list(raw["audience"]),
            audience_claim="aud",
            token_use=raw.get("token_use"),
        )
    for key, default in JWKS_DEFAULTS.items():
        out[key] = raw.get(key, default)
    return out


def _jwks_errors(raw: dict[str, Any]) -> list[IotwsError]:
    errs: list[IotwsError] = []
    base = "authorizer.jwks"
    if raw.get("preset") == "cognito":
        for key in ("user_pool_id", "client_ids"):
            if key not in raw:
                errs.append(
                    IotwsError(
                        "is required with preset cognito",
                        field=f"{base}.{key}",
                        fix="e.g. user_pool_id: eu-west-1_AbC123, client_ids: [<app client id>]",
                    )
                )
        for key, why in (
            ("jwks_url", "derived from user_pool_id"),
            ("issuer", "derived from user_pool_id"),
            ("audience", "Cognito's audience is the app client: use client_ids"),
        ):
            if key in raw:
                errs.append(
                    IotwsError(
                        f"is {why} with preset cognito", field=f"{base}.{key}", fix="remove it"
                    )
                )
        return errs
    for key, fix in (
        ("jwks_url", "the issuer's key set, e.g. https://issuer.example.com/.well-known/jwks.json"),
        ("issuer", "the exact `iss` of your tokens, e.g. https://issuer.example.com/"),
        (
            "audience",
            "the `aud` values of tokens meant for this app: without it any token of the "
            "issuer (for any app) would be accepted",
        ),
    ):
        if key not in raw:
            errs.append(IotwsError("is required without a preset", field=f"{base}.{key}", fix=fix))
    for key in ("user_pool_id", "client_ids"):
        if key in raw:
            errs.append(
                IotwsError(
                    "is only used with preset cognito",
                    field=f"{base}.{key}",
                    fix="add preset: cognito, or use jwks_url, issuer and audience",
                )
            )
    url = raw.get("jwks_url")
    if isinstance(url, str) and not _safe_jwks_url(url):
        errs.append(
            IotwsError(
                f"{url!r} must be https:// (plain http:// only to 127.0.0.1 for local tests): "
                "a key set fetched without TLS can be swapped on the way (JWKS poisoning)",
                field=f"{base}.jwks_url",
                fix="use the issuer's https:// JWKS URL",
            )
        )
    return errs


def _safe_jwks_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        return False
    if not url.isascii() or not url.isprintable():
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in _LOCAL_HOSTS)


# --------------------------------------------------------------------------- signing


def _signing_keys(
    spec: Spec, given: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[IotwsError]]:
    """Read and check `authorizer.signing.public_keys` (name -> PEM file, relative to the
    spec's folder; or name -> PEM from `given`): RSA public keys of at least 2,048 bits
    (docs/custom-authorizer.md#authorizer-resource).
    Returns name -> PEM (SubjectPublicKeyInfo, as IoT and Terraform take it)."""
    signing = ((spec.raw.get("authorizer") or {}).get("signing")) or {}
    enabled = bool(signing.get("enabled", False))
    paths: dict[str, str] = dict(signing.get("public_keys") or {})
    base = "authorizer.signing"
    if enabled and not paths:
        return {}, [
            IotwsError(
                "token signing needs at least one public key",
                field=f"{base}.public_keys",
                fix="add public_keys: {key1: keys/signing-public.pem} (RSA, >= 2048 bits)",
            )
        ]
    if paths and not enabled:
        return {}, [
            IotwsError(
                "public keys are only used with token signing on",
                field=f"{base}.public_keys",
                fix="add enabled: true, or remove public_keys",
            )
        ]
    here = Path(spec.source).parent if spec.source and spec.source != "<string>" else Path()
    keys: dict[str, str] = {}
    errs: list[IotwsError] = []
    for name, rel in sorted(paths.items(), key=lambda item: str(item[0])):
        fld = f"{base}.public_keys.{name}"
        # YAML keys may be numbers, which the schema's propertyNames pattern lets through.
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9:_-]{1,128}", name):
            errs.append(
                IotwsError(
                    f"key name {name!r} is not allowed",
                    field=fld,
                    fix="use 1-128 of letters, digits, : _ and - "
                    '(docs/custom-authorizer.md#authorizer-resource), e.g. "k1"',
                )
            )
            continue
        path = Path(rel) if Path(rel).is_absolute() else here / rel
        if given is not None:
            if name not in given:
                errs.append(
                    IotwsError(
                        f"the build carries no public key {name!r}",
                        field=fld,
                        fix="rebuild it from the spec: make generate",
                    )
                )
                continue
            data = given[name].encode("ascii", "replace")
        else:
            try:
                data = path.read_bytes()
            except OSError as exc:
                errs.append(
                    IotwsError(
                        f"cannot read {path}: {exc.strerror or type(exc).__name__}",
                        field=fld,
                        fix="give the path of a PEM public key, relative to the spec's folder",
                    )
                )
                continue
        if b"PRIVATE KEY" in data:
            errs.append(
                IotwsError(
                    f"{path} holds a private key; IoT needs only the public key, and the "
                    "private key must stay with the backend that signs tokens",
                    field=fld,
                    fix=f"openssl rsa -in {rel} -pubout -out public.pem, and point here to it",
                )
            )
            continue
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            errs.append(
                IotwsError(
                    f"{path} is not a PEM public key",
                    field=fld,
                    fix="-----BEGIN PUBLIC KEY----- ... (openssl rsa -in key.pem -pubout)",
                )
            )
            continue
        if not isinstance(key, rsa.RSAPublicKey):
            errs.append(
                IotwsError(
                    f"{path} is not an RSA key; IoT token signing takes RSA keys only",
                    field=fld,
                    fix="openssl genrsa -out signing.pem 2048 "
                    "(docs/custom-authorizer.md#authorizer-resource)",
                )
            )
            continue
        if key.key_size < SIGNING_MIN_RSA_BITS:
            errs.append(
                IotwsError(
                    f"{path} is a {key.key_size}-bit RSA key; IoT needs at least "
                    f"{SIGNING_MIN_RSA_BITS} bits",
                    field=fld,
                    fix="generate a new key: openssl genrsa -out signing.pem 2048",
                )
            )
            continue
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys[name] = pem.decode("ascii")
    return keys, errs


def _literal_topic_problems(text: str) -> list[str]:
    problems = []
    if text.startswith(RESERVED_TOPIC_START):
        problems.append("starts with $ (reserved topics, docs/data-plane.md#topics)")
    if any(c in text for c in "+#*?{}"):
        problems.append("contains a wildcard or placeholder character (+ # * ? { })")
    if "" in text.split("/"):
        problems.append("has an empty level (leading, trailing or double /)")
    if has_control(text):
        problems.append("contains a control character")
    return problems


def _profile_errors(spec: Spec, prof: Profile) -> list[IotwsError]:
    errs: list[IotwsError] = []
    allowed = spec.placeholders_for(prof.name)
    base = f"profiles.{prof.name}"
    if not (prof.subscribe or prof.publish or prof.receive):
        errs.append(
            IotwsError(
                "grants nothing: no subscribe, publish or receive topics",
                field=base,
                fix="add at least one topic, or remove the profile",
            )
        )
    rule_allowed = {k: v for k, v in allowed.items() if k != BUILTIN_CLIENT_ID}
    errs += _client_id_errors(prof.client_id, rule_allowed, f"{base}.client_id", spec, prof.name)
    for kind, topics in (
        ("subscribe", prof.subscribe),
        ("publish", prof.publish),
        ("receive", prof.receive if prof.receive_explicit else ()),
    ):
        seen: set[str] = set()
        for i, topic in enumerate(topics):
            fld = f"{base}.{kind}[{i}]"
            if topic in seen:
                errs.append(IotwsError(f"{topic!r} is listed twice", field=fld, fix="remove one"))
            seen.add(topic)
            errs += _topic_errors(spec, topic, allowed, fld, prof.name)
    return errs


def _placeholder_errors(
    text: str, allowed: dict[str, int], fld: str, spec: Spec, profile: str
) -> list[IotwsError]:
    errs = []
    for m in PLACEHOLDER_RE.finditer(text):
        name = m.group(1)
        if name in allowed:
            continue
        if profile in spec.cognito_profiles():
            fix = "Cognito guests have no claims: only {identity_id} exists for them"
        elif name in spec.claims:
            fix = (
                "anonymous clients have no claims: use {client_id}, or give this profile "
                "only to token holders"
            )
        elif PLACEHOLDER_NAME_RE.fullmatch(name):
            fix = (
                f"declare it under claims: ({name}: {{max_length: 64}}) or use one of: "
                + ", ".join("{" + n + "}" for n in sorted(allowed))
            )
        else:
            fix = "placeholders are {name} with lower-case letters, digits and _"
        errs.append(IotwsError(f"placeholder {{{name}}} names no claim", field=fld, fix=fix))
    stripped = PLACEHOLDER_RE.sub("", text)
    if "{" in stripped or "}" in stripped:
        errs.append(
            IotwsError(
                "has a { or } outside a placeholder",
                field=fld,
                fix="placeholders look like {sub}; braces are not allowed otherwise",
            )
        )
    return errs


def _worst_case(text: str, allowed: dict[str, int]) -> str:
    return PLACEHOLDER_RE.sub(lambda m: "x" * allowed.get(m.group(1), 0), text)


def _client_id_errors(
    rule: str, allowed: dict[str, int], fld: str, spec: Spec, profile: str
) -> list[IotwsError]:
    errs = _placeholder_errors(rule, allowed, fld, spec, profile)
    if errs:
        return errs
    body = rule[:-1] if rule.endswith("*") else rule
    if profile in spec.cognito_profiles() and rule.count("{" + BUILTIN_IDENTITY_ID + "}") != 1:
        errs.append(
            IotwsError(
                "a Cognito profile's client id must contain {identity_id} exactly once, so no "
                "guest can take over another's connection",
                field=fld,
                fix="write e.g. {identity_id} or guest-{identity_id}",
            )
        )
    if "*" in body:
        errs.append(
            IotwsError(
                "may have one * and only at the end",
                field=fld,
                fix="write a literal prefix and placeholders, then an optional *, e.g. {sub}-*",
            )
        )
    literal = PLACEHOLDER_RE.sub("", body)
    bad = sorted({c for c in literal if c not in IDENTITY_CHARS})
    if bad:
        errs.append(
            IotwsError(
                f"contains characters that client ids here may not have: {' '.join(bad)}",
                field=fld,
                fix="use letters, digits and _ . : @ = | - (docs/iot-policies.md)",
            )
        )
    if rule.startswith("$"):
        errs.append(IotwsError("starts with $", field=fld, fix="client ids may not start with $"))
    if not rule.endswith("*") and not PLACEHOLDER_RE.search(rule):
        errs.append(
            IotwsError(
                "is one fixed client id: every client would take over the others' connection "
                "(DUPLICATE_CLIENTID)",
                field=fld,
                fix="end it with * (e.g. anon-*) or include a placeholder such as {sub}",
            )
        )
    worst = _worst_case(body, allowed)
    if len(worst.encode()) + (1 if rule.endswith("*") else 0) > CLIENT_ID_MAX_BYTES:
        errs.append(
            IotwsError(
                f"can be {len(worst.encode())} bytes with the longest claim values; IoT allows "
                f"{CLIENT_ID_MAX_BYTES}",
                field=fld,
                fix="lower claims.<name>.max_length or shorten the literal part",
            )
        )
    return errs


def _topic_errors(
    spec: Spec, topic: str, allowed: dict[str, int], fld: str, profile: str
) -> list[IotwsError]:
    errs = _placeholder_errors(topic, allowed, fld, spec, profile)
    if topic.startswith(RESERVED_TOPIC_START):
        errs.append(
            IotwsError(
                "starts with $: reserved topics cannot be granted here",
                field=fld,
                fix="use an application topic (docs/data-plane.md#topics)",
            )
        )
    if topic.startswith("/") or topic.endswith("/") or "//" in topic:
        errs.append(IotwsError("has an empty level", field=fld, fix="remove the extra /"))
    for c in "*?":
        if c in topic:
            errs.append(
                IotwsError(
                    f"contains {c!r}, a wildcard in IoT policies",
                    field=fld,
                    fix="use MQTT wildcards: + for one level, # for the rest",
                )
            )
    if has_control(topic):
        errs.append(IotwsError("contains a control character", field=fld, fix="remove it"))
    levels = topic.split("/")
    if misplaced_hash(levels):
        errs.append(
            IotwsError(
                "# must be a whole level and the last one",
                field=fld,
                fix="write it as .../# at the end",
            )
        )
    if misplaced_plus(levels):
        errs.append(
            IotwsError(
                "+ must be a whole level",
                field=fld,
                fix="write it as .../+/... (one level), or use a placeholder",
            )
        )
    full = f"{spec.prefix}/{topic}" if spec.prefix else topic
    worst = _worst_case(full, allowed)
    size = len(worst.encode("utf-8"))
    if size > TOPIC_MAX_BYTES:
        errs.append(
            IotwsError(
                f"is {size} bytes with the prefix and the longest placeholder values; IoT "
                f"allows {TOPIC_MAX_BYTES}",
                field=fld,
                fix="shorten the topic or lower claims.<name>.max_length",
            )
        )
    slashes = full.count("/")
    if slashes > TOPIC_MAX_SLASHES:
        errs.append(
            IotwsError(
                f"has {slashes} slashes with the prefix; IoT allows {TOPIC_MAX_SLASHES}",
                field=fld,
                fix="use fewer levels or a shorter topic_prefix",
            )
        )
    return errs


# --------------------------------------------------------------------------- namespaces


def _used_profiles(spec: Spec) -> list[str]:
    return sorted(set(spec.authorizer_profiles()) | set(spec.cognito_profiles()))


def _patterns(prof: Profile) -> list[tuple[str, int, str]]:
    """(kind, index, pattern) of every topic pattern the profile grants."""
    out = [("subscribe", i, t) for i, t in enumerate(prof.subscribe)]
    out += [("publish", i, t) for i, t in enumerate(prof.publish)]
    if prof.receive_explicit:
        out += [("receive", i, t) for i, t in enumerate(prof.receive)]
    return out


def _describe(values: dict[str, str]) -> str:
    return ", ".join(f"{k} {v!r}" for k, v in sorted(values.items())) or "any values"


def _namespace_errors(spec: Spec) -> list[IotwsError]:
    """docs/design.md#decision-8: distinct identities get disjoint client ids and namespaces
    (iotws.spec.namespaces explains the rules). Each error gives a concrete colliding pair."""
    errs: list[IotwsError] = []
    used = _used_profiles(spec)
    public = spec.authorizer.public_profile
    token_profiles = spec.token_profiles()
    subject = spec.subject_claim()
    charset_fix = (
        "declare the claim's character set so its values cannot contain that character "
        "(claims.<name>.charset: uuid, email, word or alnum), or put a separator after "
        "the placeholder that its values cannot contain (e.g. / in topics)"
    )
    for name in used:
        prof = spec.profiles[name]
        cs = spec.charsets_for(name)
        fld = f"profiles.{name}.client_id"
        if prof.client_id == "*":
            errs.append(
                IotwsError(
                    "is a bare *: any client could take any id, including every other profile's",
                    field=fld,
                    fix="give the range a literal prefix of its own, e.g. anon-*",
                )
            )
            continue
        if name == public and name in token_profiles:
            errs.append(
                IotwsError(
                    "is both the anonymous profile (authorizer.public.profile) and a profile "
                    "tokens select: anonymous clients and users would share client ids",
                    field=f"profiles.{name}",
                    fix="give anonymous clients their own profile (e.g. guest with anon-*)",
                )
            )
            continue
        if name in token_profiles and "{" + subject + "}" not in prof.client_id:
            errs.append(
                IotwsError(
                    f"does not contain {{{subject}}}: two users of this profile could "
                    "connect with the same client id and take over each other's connection",
                    field=fld,
                    fix=f"include the user's {{{subject}}}, e.g. {{{subject}}}-*",
                )
            )
        for u in undelimited(prof.client_id, cs, topic=False):
            errs.append(_undelimited_error(fld, prof.client_id, u, cs, charset_fix))
        for kind, i, topic in _patterns(prof):
            for u in undelimited(topic, cs, topic=True):
                errs.append(
                    _undelimited_error(f"profiles.{name}.{kind}[{i}]", topic, u, cs, charset_fix)
                )
            if not spec.prefix and _first_level_open(topic):
                errs.append(
                    IotwsError(
                        "starts with a wildcard or placeholder while topic_prefix is empty: "
                        "it reaches topics of every app on the account's endpoint (and, "
                        "rendered as *, reserved $aws/... topics)",
                        field=f"profiles.{name}.{kind}[{i}]",
                        fix="set topic_prefix (e.g. app/stage) or start the topic with a "
                        "literal level",
                    )
                )
    if errs:
        return errs
    # Disjoint client-id ranges between profiles.
    for i, a_name in enumerate(used):
        for b_name in used[i + 1 :]:
            a, b = spec.profiles[a_name], spec.profiles[b_name]
            a_cs, b_cs = spec.charsets_for(a_name), spec.charsets_for(b_name)
            witness = client_id_witness(a.client_id, a_cs, b.client_id, b_cs)
            if witness is None:
                continue
            errs.append(
                IotwsError(
                    f"the client-id ranges of profiles {a_name} ({a.client_id!r}) and "
                    f"{b_name} ({b.client_id!r}) overlap: both accept {witness!r} ("
                    f"{a_name} with {_describe(parse_values(a.client_id, witness, a_cs))}; "
                    f"{b_name} with {_describe(parse_values(b.client_id, witness, b_cs))}), "
                    "so one could take over the other's connection",
                    field=f"profiles.{b_name}.client_id",
                    fix="start each profile's client id with a literal prefix the other "
                    "cannot produce (e.g. anon-* and u-{sub}-*), or declare claim character "
                    "sets that exclude the other's prefix",
                )
            )
    # Namespaces: no grant reaches into another identity's placeholder topics.
    for g_name in used:
        g_prof = spec.profiles[g_name]
        g_cs = spec.charsets_for(g_name)
        for kind, i, grant in _patterns(g_prof):
            for q_name in used:
                q_cs = spec.charsets_for(q_name)
                for q_kind, _, ns in _patterns(spec.profiles[q_name]):
                    if not PLACEHOLDER_RE.search(ns):
                        continue
                    hit = namespace_overlap(grant, g_cs, ns, q_cs)
                    if hit is None:
                        continue
                    full = f"{spec.prefix}/{hit.witness}" if spec.prefix else hit.witness
                    errs.append(
                        IotwsError(
                            f"{grant!r} reaches into {q_name}'s {q_kind} namespace {ns!r}: "
                            f"topic {full!r} belongs to the {q_name} identity with "
                            f"{_describe(hit.owner_values)}, and another identity of "
                            f"profile {g_name} is granted it",
                            field=f"profiles.{g_name}.{kind}[{i}]",
                            fix="keep per-identity topics under a literal level of their own "
                            "that no shared topic or wildcard reaches (e.g. users/{sub}/# "
                            "and rooms/+/messages), and declare claim character sets",
                        )
                    )
                    break
    return errs


def _first_level_open(topic: str) -> bool:
    first = topic.split("/", 1)[0]
    return first in ("+", "#") or bool(PLACEHOLDER_RE.search(first))


def _undelimited_error(
    fld: str, text: str, u: Undelimited, cs: dict[str, Charset], fix: str
) -> IotwsError:
    charset = cs[u.placeholder]
    if u.follower == "*":
        after = "may contain what the * after it matches"
    elif u.follower:
        after = f"may contain {u.follower!r}, the character after it"
    else:
        after = "run on into the placeholder after it"
    short = _render_example(text, u.placeholder, u.example_short)
    long = _render_example(text, u.placeholder, u.example_long)
    return IotwsError(
        f"{text!r}: the values of {{{u.placeholder}}} ({charset.name}: {charset.description}) "
        f"{after}, so the identity with {u.placeholder} {u.example_short!r} "
        f"({short!r}) is a prefix of the one with {u.placeholder} {u.example_long!r} "
        f"({long!r}) and could take over its ids and topics",
        field=fld,
        fix=fix,
    )


def _render_example(text: str, placeholder: str, value: str) -> str:
    return PLACEHOLDER_RE.sub(lambda m: value if m.group(1) == placeholder else m.group(0), text)
