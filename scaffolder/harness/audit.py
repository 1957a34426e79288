"""``scaffolder cassettes audit``: scan cassettes for anything that looks like a secret.

Three kinds of finding: the value of a credential variable set in the environment (any
encoding), an auth header or secret parameter whose value is not the scrub mask, and a
signature-like token (long hex or base64) in an auth position.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import yaml

from brokers.config import env_references
from scaffolder.harness.scrub import MASK, base64_forms
from scaffolder.harness.signed_requests import SCHEMES, scheme_for

SIGNATURE_LIKE = re.compile(r"^(?:[0-9a-fA-F]{40,}|[A-Za-z0-9+/_-]{40,}={0,2})$")
ALL_SECRET_HEADERS = frozenset().union(*(scheme_for(n).secret_headers for n in [None, *SCHEMES]))
ALL_SECRET_PARAMS = frozenset().union(*(scheme_for(n).secret_params for n in [None, *SCHEMES]))
#: Headers the scrubber keeps (scrubbed inside): base64 JSON payloads, checked field by field.
ALL_PAYLOAD_HEADERS = frozenset().union(*(scheme_for(n).payload_headers for n in [None, *SCHEMES]))


@dataclass(frozen=True)
class Finding:
    """One suspicious value in one cassette."""

    path: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def credential_values(root: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variable -> value of every credential variable the configs reference that is set."""
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    for config in sorted((root / "config" / "brokers").glob("*.json")):
        try:
            document = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for _, var in env_references(document):
            if env.get(var) and len(env[var]) >= 6:
                values[var] = env[var]
    return values


def _encodings(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value)} | base64_forms(value)


def cassette_files(paths: Iterable[Path]) -> list[Path]:
    """Cassette files under ``paths`` (YAML and JSON)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
            )
        elif path.exists():
            found.append(path)
    return found


def read_cassette_yaml(text: str) -> Any:
    """Parse a cassette exactly as vcrpy does (its safe loader, with libyaml where present, and
    the few tags it writes for Python values), so the audit reads what replay would read."""
    from vcr.serializers.yamlserializer import deserialize

    return deserialize(text)


def audit_file(path: Path, secrets: Mapping[str, str]) -> list[Finding]:
    """Findings in one cassette (or snapshot) file."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(name, "file", f"cannot be read as text ({exc})")]
    findings = [
        Finding(name, "content", f"contains the value of ${var} (or an encoding of it)")
        for var, value in secrets.items()
        if any(v in text for v in _encodings(value))
    ]
    if path.suffix == ".json":
        return findings
    try:
        document = read_cassette_yaml(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return [*findings, Finding(name, "file", f"is not valid YAML ({exc.__class__.__name__})")]
    problem = _shape_problem(document)
    if problem:
        return [*findings, Finding(name, "file", f"is not a vcrpy cassette: {problem}")]
    for index, interaction in enumerate(document.get("interactions") or []):
        try:
            findings.extend(_audit_request(name, index, interaction["request"]))
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            findings.append(
                Finding(
                    name, f"interaction {index}", f"cannot be audited ({exc.__class__.__name__})"
                )
            )
    return findings


def _shape_problem(document: object) -> str | None:
    """Why ``document`` is not a vcrpy cassette (interactions of request mappings), or None."""
    if not isinstance(document, dict):
        return f"the top level is {type(document).__name__}, not a mapping"
    if "interactions" not in document:
        return "it has no interactions"
    interactions = document["interactions"]
    if interactions is None:
        return "interactions is empty (null)"
    if not isinstance(interactions, list):
        return f"interactions is {type(interactions).__name__}, not a list"
    for index, interaction in enumerate(interactions):
        request = interaction.get("request") if isinstance(interaction, dict) else None
        if not isinstance(request, dict):
            return f"interaction {index} has no request mapping"
        headers = request.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(k, str) for k in headers):
            return f"interaction {index} has headers that are not a mapping of names"
        if not isinstance(request.get("uri", ""), str):
            return f"interaction {index} has a uri that is not text"
    return None


def _audit_request(name: str, index: int, request: dict) -> list[Finding]:
    findings = []
    for header, values in (request.get("headers") or {}).items():
        value = values[0] if isinstance(values, list) and values else values
        if header.lower() in ALL_PAYLOAD_HEADERS and str(value) != MASK:
            findings.extend(_audit_payload(name, f"interaction {index} header {header}", value))
        elif header.lower() in ALL_SECRET_HEADERS and str(value) != MASK:
            findings.append(
                Finding(name, f"interaction {index} header {header}", "auth header not scrubbed")
            )
    query = parse_qsl(urlsplit(str(request.get("uri", ""))).query, keep_blank_values=True)
    body = request.get("body")
    body_params = _body_params(body)
    for key, value in [*query, *body_params]:
        if key.lower() in ALL_SECRET_PARAMS and value != MASK:
            findings.append(
                Finding(
                    name, f"interaction {index} parameter {key}", "secret parameter not scrubbed"
                )
            )
        elif value != MASK and "sig" in key.lower() and SIGNATURE_LIKE.match(value):
            findings.append(
                Finding(name, f"interaction {index} parameter {key}", "looks like a signature")
            )
    return findings


def _body_params(body: object) -> list[tuple[str, str]]:
    """A request body's top-level parameters: a JSON object's or a form's."""
    if not isinstance(body, str):
        return []
    if body.lstrip().startswith("{"):
        try:
            document = json.loads(body)
        except ValueError:
            return []
        return [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in document.items()]
    return parse_qsl(body, keep_blank_values=True) if "=" in body else []


def _audit_payload(name: str, where: str, value: object) -> list[Finding]:
    """A base64 JSON payload header (Gemini): kept by the scrubber, its secret fields masked."""
    try:
        document = json.loads(base64.b64decode(str(value), validate=True))
    except (ValueError, TypeError):
        return [Finding(name, where, "payload header neither masked nor base64 JSON")]
    if not isinstance(document, dict):
        return [Finding(name, where, "payload header neither masked nor base64 JSON")]
    return [
        Finding(name, f"{where} field {key}", "secret parameter not scrubbed")
        for key, field in document.items()
        if key.lower() in ALL_SECRET_PARAMS and field != MASK
    ]


def audit(
    paths: Iterable[Path], root: Path, env: Mapping[str, str] | None = None
) -> tuple[int, list[Finding]]:
    """Audit every cassette under ``paths``: (files scanned, findings)."""
    secrets = credential_values(root, env)
    files = cassette_files(paths)
    findings = [f for path in files for f in audit_file(path, secrets)]
    return len(files), findings
