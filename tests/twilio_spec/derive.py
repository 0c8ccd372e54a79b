"""Derive the contract tests' slice of Twilio's OpenAPI description from the published one.

    python -m tests.twilio_spec.derive                 # npm pack the pinned package, write the slice
    python -m tests.twilio_spec.derive --spec FILE     # the same from a twilio_api_v2010.json at hand

Source: twilio/twilio-oai's `spec/json/twilio_api_v2010.json` (Twilio's OpenAPI 3.0.1
description of the 2010-04-01 REST API, the one the twilio Python library calls), as shipped
inside the npm package `@twilio-alpha/mcp` (PACKAGE below, pinned; npm checks its integrity).
The slice keeps what `tests/openapi_contract.py` reads: the POST Messages.json operation (path
parameters, form body, responses) and every component schema it reaches by `$ref`, starting
from the Message resource too. Nothing is edited by hand: `tests/test_twilio_spec.py` derives
it again from the package and compares.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PACKAGE = "@twilio-alpha/mcp@0.7.0"
MEMBER = "package/twilio-oai/spec/json/twilio_api_v2010.json"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
MESSAGE_SCHEMA = "api.v2010.account.message"
SLICE = Path(__file__).with_name("twilio_api_v2010_messages.json")


class SpecUnavailable(RuntimeError):
    """npm is missing or the registry did not give the package: nothing to derive from."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airtng-sms" / "twilio-spec"


def published_spec(cache: Path | None = None) -> Path:
    """The full description from the pinned package, fetched once with `npm pack` into a cache."""
    cache = cache or cache_dir()
    target = cache / PACKAGE.replace("/", "+") / "twilio_api_v2010.json"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise SpecUnavailable("npm is not installed (apt-get install npm, or Node.js)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [npm, "pack", PACKAGE, "--pack-destination", scratch, "--fetch-retries=1"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(scratch).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise SpecUnavailable(f"npm pack {PACKAGE} failed: {done.stderr.strip()[-300:]}")
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                raise SpecUnavailable(f"{PACKAGE} has no {MEMBER}")
            partial = target.with_suffix(".part")
            partial.write_bytes(member.read())
            partial.replace(target)
    return target


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def derive(full: dict[str, Any], source_sha256: str) -> dict[str, Any]:
    """The slice of `full` the contract tests use, self-contained, with where it came from."""
    operation = full["paths"][MESSAGES_PATH]["post"]
    schemas = full["components"]["schemas"]
    kept: dict[str, Any] = {}
    pending = [f"#/components/schemas/{MESSAGE_SCHEMA}", *_refs(operation)]
    while pending:
        ref = pending.pop()
        name = ref.removeprefix("#/components/schemas/")
        if name == ref:
            raise ValueError(f"a $ref outside components/schemas: {ref}")
        if name in kept:
            continue
        kept[name] = schemas[name]
        pending.extend(_refs(schemas[name]))
    return {
        "openapi": full["openapi"],
        "info": full["info"],
        "x-derived-from": {
            "package": PACKAGE,
            "file": MEMBER,
            "sha256": source_sha256,
            "upstream": "github.com/twilio/twilio-oai spec/json/twilio_api_v2010.json",
            "by": "python -m tests.twilio_spec.derive",
        },
        "paths": {MESSAGES_PATH: {"post": operation}},
        "components": {"schemas": {name: kept[name] for name in sorted(kept)}},
    }


def derive_from(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    return derive(json.loads(raw), hashlib.sha256(raw).hexdigest())


def render(spec_slice: dict[str, Any]) -> str:
    return json.dumps(spec_slice, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, help="a full twilio_api_v2010.json (default: npm)")
    args = parser.parse_args()
    source = args.spec or published_spec()
    SLICE.write_text(render(derive_from(source)), encoding="utf-8")
    print(f"wrote {SLICE} from {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
