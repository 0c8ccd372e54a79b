"""Checks requests we send to, and answers we get from, Twilio against Twilio's own OpenAPI spec.

    problems = validate_create_message(recorded.form, account_sid)   # [] when Twilio accepts it
    assert validate_message_resource(response_json) == []

It owns the reading of Twilio's OpenAPI 3.0.1 description of the 2010-04-01 API, as the slice
in tests/twilio_spec/ (derived from the published description by tests/twilio_spec/derive.py,
which says where it came from): the POST Messages.json request body (``CreateMessageRequest``,
form-encoded) and the ``api.v2010.account.message`` resource. Schemas
are checked with openapi-schema-validator's OAS 3.0 dialect (``nullable`` and friends), with
``$ref`` resolved through a ``referencing`` registry holding the whole spec.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.twilio_spec.derive import SLICE

__all__ = [
    "SPEC_PATH",
    "create_message_schema",
    "message_resource_schema",
    "validate_create_message",
    "validate_message_resource",
]

SPEC_PATH = SLICE
_SPEC_URI = "urn:twilio:api-v2010"
_MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
_FORM = "application/x-www-form-urlencoded"

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# Twilio's "phone-number" also covers channel addresses (whatsapp:+1...), short codes and
# alphanumeric sender IDs (From only, but the spec uses one format for both).
_CHANNEL = re.compile(r"^[a-z]+:\+[1-9]\d{1,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _pointer(*parts: str) -> str:
    # JSON pointer escaping, then percent-encoding because the pointer lives in a URI fragment
    # (the path template has braces).
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return "/".join(quote(part, safe="") for part in escaped)


@functools.cache
def _spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = json.load(fh)
    return spec


@functools.cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_spec(), default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


def _resolve(ref: str) -> Any:
    return _registry().resolver().lookup(ref).contents


def _create_ref() -> str:
    return f"{_SPEC_URI}#/" + _pointer(
        "paths", _MESSAGES_PATH, "post", "requestBody", "content", _FORM, "schema"
    )


_MESSAGE_REF = f"{_SPEC_URI}#/components/schemas/api.v2010.account.message"


def create_message_schema() -> dict[str, Any]:
    """The spec's CreateMessageRequest schema (refs unresolved)."""
    schema: dict[str, Any] = _resolve(_create_ref())
    return schema


def message_resource_schema() -> dict[str, Any]:
    schema: dict[str, Any] = _resolve(_MESSAGE_REF)
    return schema


def _is_phone_number(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return any(p.match(value) for p in (_E164, _CHANNEL, _SHORT_CODE, _ALPHANUMERIC_SENDER))


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    # Twilio: "URL must contain a valid hostname and underscores are not allowed".
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "_" not in (parts.hostname or "")
        and " " not in value
    )


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_rfc2822(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_currency(value: object) -> bool:
    return not isinstance(value, str) or bool(_CURRENCY.match(value))


def _is_uri_map(value: object) -> bool:
    if not isinstance(value, dict):
        return True
    return all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


@functools.cache
def _format_checker() -> FormatChecker:
    # The OAS 3.0 checker knows int32/int64/...; Twilio's own formats are added here, since
    # jsonschema silently accepts formats it has no checker for.
    checker = FormatChecker()
    checker.checkers = dict(oas30_format_checker.checkers)
    checker.checks("phone-number")(_is_phone_number)
    checker.checks("uri")(_is_uri)
    checker.checks("date-time")(_is_date_time)
    checker.checks("date-time-rfc-2822")(_is_rfc2822)
    checker.checks("currency")(_is_currency)
    checker.checks("uri-map")(_is_uri_map)
    return checker


def _validator(ref: str) -> OAS30Validator:
    return OAS30Validator({"$ref": ref}, registry=_registry(), format_checker=_format_checker())


def _property_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: Mapping[str, Any] = _resolve(_SPEC_URI + ref)
        return resolved
    return schema


def _coerce(value: str, schema: Mapping[str, Any]) -> object:
    """A form string as the JSON value its schema describes; left as-is when it is not one."""
    kind = _property_schema(schema).get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _errors(validator: OAS30Validator, instance: object) -> list[str]:
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{where}: {error.message}")
    return problems


def validate_create_message(form: Mapping[str, Sequence[str] | str], account_sid: str) -> list[str]:
    """Problems with a POST Messages.json (form fields as lists of values); [] when valid."""
    problems: list[str] = []
    post = _spec()["paths"][_MESSAGES_PATH]["post"]
    for parameter in post["parameters"]:
        if parameter["in"] == "path" and parameter["name"] == "AccountSid":
            validator = OAS30Validator(parameter["schema"], format_checker=_format_checker())
            problems += [f"AccountSid {p}" for p in _errors(validator, account_sid)]

    schema = create_message_schema()
    properties: Mapping[str, Any] = schema.get("properties", {})
    instance: dict[str, object] = {}
    for name, raw in form.items():
        values = [raw] if isinstance(raw, str) else list(raw)
        prop = properties.get(name)
        if prop is None:
            problems.append(f"{name}: not a field of CreateMessageRequest")
            continue
        if prop.get("type") == "array":
            instance[name] = [_coerce(v, prop.get("items", {})) for v in values]
        elif len(values) != 1:
            problems.append(f"{name}: sent {len(values)} times, the spec allows one value")
        else:
            instance[name] = _coerce(values[0], prop)
    problems += _errors(_validator(_create_ref()), instance)

    # Twilio rejects these at runtime (21603 / 21602) though the spec only requires To.
    if not _first(form, "From"):
        problems.append("From: required (the service sends from its own number)")
    if not _first(form, "Body") and not _first(form, "MediaUrl"):
        problems.append("Body: Body or MediaUrl is required")
    return problems


def _first(form: Mapping[str, Sequence[str] | str], key: str) -> str | None:
    raw = form.get(key)
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    return raw[0] if raw else None


def validate_message_resource(obj: object, *, strict: bool = True) -> list[str]:
    """Problems with a Message resource as returned by Twilio; [] when it matches the spec.

    ``strict`` also requires every property the spec declares (Twilio always sends them all,
    and the library's MessageInstance reads them all) and no undeclared ones.
    """
    if not isinstance(obj, dict):
        return [f"(root): expected a JSON object, got {type(obj).__name__}"]
    problems = _errors(_validator(_MESSAGE_REF), obj)
    if strict:
        declared = set(message_resource_schema()["properties"])
        problems += [f"{name}: missing" for name in sorted(declared - obj.keys())]
        problems += [f"{name}: not declared by the spec" for name in sorted(obj.keys() - declared)]
    return problems
