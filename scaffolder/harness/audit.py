"""``scaffolder cassettes audit``: scan cassettes for anything that looks like a secret.

Four kinds of finding:

- the value of a credential variable set in the environment, in any of the encodings
  :func:`brokers.redaction.encoded_forms` lists, in the file's text or in a body once decoded
  (gzip, ``!!binary``, JSON ``\\u`` escapes);
- an auth header or secret parameter whose value is not the scrub mask: the harness's table,
  and what the broker of ``cassettes/<name>/`` declares it signs;
- a key-like value (:func:`brokers.redaction.high_entropy`) under an auth-like name, anywhere:
  a header, a query or body parameter at any depth, a response header or field;
- an API-key-shaped value under any name, in the URL path, a header or a body: what an audit
  without the credentials (the pre-commit hook) can still recognise.

Order ids, hex hashes, UUIDs, timestamps and prices are none of these, so the committed
cassettes audit clean.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from brokers.config import env_references
from brokers.redaction import (
    MASK,
    encoded_forms,
    entropy,
    high_entropy,
    is_auth_name,
    signature_like,
)
from scaffolder.harness.scrub import body_kind
from scaffolder.harness.signed_requests import SCHEMES, AuthScheme, scheme_for, scheme_for_broker

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
            if env.get(var):
                values[var] = env[var]
    return values


def _found_in(value: str, texts: Iterable[str]) -> bool:
    """Whether a credential (in any encoding) is in one of ``texts``; a short one only as a
    whole token, as the scrubber masks it."""
    forms = encoded_forms(value)
    for text in texts:
        for form in forms:
            if len(form) >= 6:
                if form in text:
                    return True
            elif re.search(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", text):
                return True
    return False


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


def audit_file(
    path: Path, secrets: Mapping[str, str], scheme: AuthScheme | None = None
) -> list[Finding]:
    """Findings in one cassette (or snapshot) file (``scheme``: see :func:`audit`)."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(name, "file", f"cannot be read as text ({exc})")]
    if path.suffix == ".json":
        return [*_value_findings(name, secrets, [text]), *_audit_snapshot(name, text)]
    try:
        document = read_cassette_yaml(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        findings = _value_findings(name, secrets, [text])
        return [*findings, Finding(name, "file", f"is not valid YAML ({exc.__class__.__name__})")]
    problem = _shape_problem(document)
    if problem:
        findings = _value_findings(name, secrets, [text])
        return [*findings, Finding(name, "file", f"is not a vcrpy cassette: {problem}")]
    texts = [text]
    findings: list[Finding] = []
    scheme = scheme or _scheme_of(path)
    for index, interaction in enumerate(document.get("interactions") or []):
        try:
            request = interaction["request"]
            response = interaction.get("response")
            texts += [unquote(str(request.get("uri", "")))]
            texts += decoded_texts(request.get("body"))
            if isinstance(response, dict):
                texts += decoded_texts(response.get("body"))
            findings.extend(_audit_request(name, index, request, scheme))
            findings.extend(_audit_response(name, index, response))
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            findings.append(
                Finding(
                    name, f"interaction {index}", f"cannot be audited ({exc.__class__.__name__})"
                )
            )
    return [*_value_findings(name, secrets, texts), *findings]


def _value_findings(name: str, secrets: Mapping[str, str], texts: list[str]) -> list[Finding]:
    return [
        Finding(name, "content", f"contains the value of ${var} (or an encoding of it)")
        for var, value in secrets.items()
        if _found_in(value, texts)
    ]


def _audit_snapshot(name: str, text: str) -> list[Finding]:
    """A markets snapshot or scenario (JSON): values that look like keys, by the field rule."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return []  # replay names a corrupt snapshot; the audit looks for secrets only
    return [
        Finding(name, f"field {key}", LOOKS_SECRET)
        for key, value in _json_leaves(document, "")
        if _key_like(key.rsplit(".", 1)[-1], value)
    ]


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


def _audit_request(name: str, index: int, request: dict, scheme: AuthScheme) -> list[Finding]:
    findings = []
    where = f"interaction {index}"
    secret_headers = ALL_SECRET_HEADERS | scheme.secret_headers
    secret_params = ALL_SECRET_PARAMS | scheme.secret_params
    for header, values in (request.get("headers") or {}).items():
        value = values[0] if isinstance(values, list) and values else values
        if header.lower() in ALL_PAYLOAD_HEADERS and str(value) != MASK:
            findings.extend(_audit_payload(name, f"{where} header {header}", value))
        elif header.lower() in secret_headers and str(value) != MASK:
            findings.append(Finding(name, f"{where} header {header}", "auth header not scrubbed"))
        elif _key_like(header, str(value)):
            findings.append(Finding(name, f"{where} header {header}", LOOKS_SECRET))
    uri = str(request.get("uri", ""))
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for key, value in [*query, *_body_params(request.get("body"))]:
        leaf = key.rsplit(".", 1)[-1]
        if leaf.lower() in secret_params and value != MASK:
            findings.append(
                Finding(name, f"{where} parameter {key}", "secret parameter not scrubbed")
            )
        elif value != MASK and "sig" in leaf.lower() and signature_like(value):
            findings.append(Finding(name, f"{where} parameter {key}", "looks like a signature"))
        elif _key_like(leaf, value):
            findings.append(Finding(name, f"{where} parameter {key}", LOOKS_SECRET))
    for segment in unquote(parts.path).split("/"):
        if _key_like("", segment):
            findings.append(Finding(name, f"{where} uri path", LOOKS_SECRET))
    return findings


def _audit_response(name: str, index: int, response: object) -> list[Finding]:
    """Headers and body fields of a response that hold a key-like value under an auth-like
    name (or an API-key-shaped value under any name)."""
    if not isinstance(response, dict):
        return []
    where = f"interaction {index} response"
    findings = []
    headers = response.get("headers") or {}
    for header, values in headers.items() if isinstance(headers, dict) else []:
        for value in values if isinstance(values, list) else [values]:
            if str(value) != MASK and _key_like(str(header), str(value)):
                findings.append(Finding(name, f"{where} header {header}", LOOKS_SECRET))
    body = response.get("body")
    content = body.get("string") if isinstance(body, dict) else None
    for key, value in _body_params(content):
        if _key_like(key.rsplit(".", 1)[-1], value):
            findings.append(Finding(name, f"{where} field {key}", LOOKS_SECRET))
    return findings


LOOKS_SECRET = "looks like a key or signature (scrub it, or re-record)"


def _key_like(name: str, value: str) -> bool:
    """A value that looks like a key or signature: any key-like value under an auth-like
    name, or, under any name, one shaped as API keys are (see :func:`api_key_shaped`)."""
    if value == MASK or not value:
        return False
    return (bool(name) and is_auth_name(name) and high_entropy(value)) or api_key_shaped(value)


def api_key_shaped(value: str) -> bool:
    """32 to 128 letters and digits mixing upper case, lower case and digits, with the variety
    of random text: how exchanges issue API keys. Hex hashes, UUIDs, order ids and numbers
    are not (no mixed case), nor are words."""
    if not 32 <= len(value) <= 128 or not value.isalnum() or not value.isascii():
        return False
    kinds = (any(c.islower() for c in value), any(c.isupper() for c in value))
    return all(kinds) and any(c.isdigit() for c in value) and entropy(value) >= 4.0


def decoded_texts(value: object) -> list[str]:
    """The texts a body holds, decoded: bytes (``!!binary`` in the cassette) un-gzipped when
    gzipped and read as UTF-8; JSON read, so ``\\u``-escapes show the characters they spell."""
    if isinstance(value, dict):
        value = value.get("string")
    if isinstance(value, bytes):
        if value.startswith(b"\x1f\x8b"):
            try:
                value = gzip.decompress(value)
            except (OSError, EOFError):
                return []
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str) or not value:
        return []
    texts = [value]
    if body_kind(value) == "json":
        texts.append(json.dumps(json.loads(value), ensure_ascii=False))
    return texts


def _body_params(body: object) -> list[tuple[str, str]]:
    """A body's parameters, decoded: every string of a JSON document at any depth (named by
    its dotted path), or a form's pairs."""
    for text in decoded_texts(body)[:1]:
        kind = body_kind(text)
        if kind == "json":
            return list(_json_leaves(json.loads(text), ""))
        if kind == "form":
            return parse_qsl(text.strip(), keep_blank_values=True)
    return []


def _json_leaves(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _json_leaves(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for child in value:
            yield from _json_leaves(child, path)
    elif isinstance(value, str):
        yield path, value
    elif value is not None and path:
        yield path, json.dumps(value)


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


def _scheme_of(path: Path) -> AuthScheme:
    """The auth scheme of the broker whose cassettes ``path`` is among
    (``cassettes/<name>/...``): what its class declares, for a registered broker."""
    parts = path.resolve().parts
    if "cassettes" not in parts[:-1]:
        return scheme_for(None)
    index = len(parts) - 1 - parts[::-1].index("cassettes")
    return _broker_scheme(parts[index + 1]) if index + 1 < len(parts) - 1 else scheme_for(None)


@functools.lru_cache(maxsize=64)
def _broker_scheme(name: str) -> AuthScheme:
    return scheme_for_broker(name)


def audit(
    paths: Iterable[Path],
    root: Path,
    env: Mapping[str, str] | None = None,
    *,
    broker: str | None = None,
) -> tuple[int, list[Finding]]:
    """Audit every cassette under ``paths``: (files scanned, findings).

    ``broker`` names whose auth scheme applies (a recording's scratch folder); by default each
    file gets the scheme of the broker whose ``cassettes/<name>/`` holds it.
    """
    secrets = credential_values(root, env)
    files = cassette_files(paths)
    scheme = _broker_scheme(broker) if broker else None
    findings = [f for path in files for f in audit_file(path, secrets, scheme)]
    return len(files), findings
