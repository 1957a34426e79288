"""What a secret looks like, and how it is masked: one place for every path that shows text.

The cassette scrubber and audit (``scaffolder.harness``), ``scaffolder doctor``, config error
messages, the CLI's messages and this runtime's errors and log lines all ask this module:

- :func:`encoded_forms`: the spellings of a known secret value a request or a file may hold
  (raw, URL-encoded in upper and lower case, path-encoded, hex, and base64 at any offset);
- :func:`redact`: text with what *looks* secret masked without knowing any value: signed-URL
  parameters (``signature=``, ``hmac=``, ``AccessKeyId=``...) and URL passwords
  (``http://user:pass@host``), and the secrets this process holds (:func:`remember_secrets`:
  the credentials of every config loaded) in all their encoded forms;
- :class:`Redactor`: both, for a set of known values (doctor, the CLI);
- :func:`is_auth_name`, :func:`high_entropy` and :func:`signature_like`: the names that carry
  credentials and values that look like keys or signatures, for the audit's and the config
  check's judgement.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

#: Written in place of a secret in a cassette.
MASK = "SCRUBBED"
#: Shown in place of a secret in a message.
HIDDEN = "***"
#: Standard base64 alphabet -> URL-safe alphabet.
URLSAFE = str.maketrans("+/", "-_")
#: Values shorter than this are masked only where they stand whole (a parameter, a header, a
#: JSON string, a token between separators), never as a bare substring of other text.
SUBSTRING_MIN = 6
#: Values shorter than this are not taken for credentials at all: no exchange issues such keys,
#: and a placeholder like ``x`` would otherwise be "found" all over a cassette.
SHORTEST = 4

#: Names (parameters, headers, JSON keys) that carry credentials or signatures.
_AUTH_NAME = re.compile(
    r"(?i)(?:sign|\bsig\b|sig$|hmac|secret|passphrase|password|passwd|token|auth|credential|"
    r"api[-_]?key|apikey|access[-_]?key|private[-_]?key|\bkey\b|key$|cookie|session)"
)
#: ``name=value`` in a URL or a form whose value is never shown.
_SECRET_PARAM = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])((?:[A-Za-z0-9_.-]*(?:signature|sign|\bsig|hmac|secret|passphrase|"
    r"password|token|api_?key|apikey|access_?key(?:_?id)?|credential))=)([^&;,\s'\"<>#*][^&;,\s'\"<>#]*)"
)
#: ``scheme://user:password@`` in a URL (a proxy's credentials).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:'\"]*):([^/@\s'\"]+)@")
#: A signature as exchanges spell one: 40+ hex digits (HMAC-SHA1 and up) or 40+ base64 characters.
_SIGNATURE = re.compile(r"^(?:[0-9a-fA-F]{40,}|[A-Za-z0-9+/_-]{40,}={0,2})$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_B64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def base64_forms(value: str) -> set[str]:
    """What of ``value``'s base64 encoding shows whatever bytes surround it in a larger blob.

    Base64 turns 3 bytes into 4 characters, so a secret inside a longer encoded text (a JSON
    payload, ``key:secret``) is spelled one of three ways depending on its offset modulo 3;
    the characters at either end also carry bits of the neighbouring bytes. For each offset
    this keeps the characters made of the secret's bits only, in the standard and the
    URL-safe alphabet. A stand-alone encoding of ``value`` contains the offset-0 form.
    """
    data = value.encode()
    forms: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        core = encoded[-(-8 * shift // 6) : 8 * (shift + len(data)) // 6]
        forms |= {core, core.translate(URLSAFE)}
    return {form for form in forms if form}


def _lower_percent(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def encoded_forms(value: str) -> set[str]:
    """Every spelling of ``value`` worth looking for: raw, URL- and path-encoded (upper- and
    lower-case escapes), hex of its UTF-8 bytes (both cases) and its base64 forms; none for a
    value shorter than :data:`SHORTEST`."""
    if len(value) < SHORTEST:
        return set()
    forms = {value, quote(value, safe=""), quote_plus(value), quote(value, safe="/")}
    forms |= {_lower_percent(form) for form in list(forms)}
    hexed = value.encode().hex()
    forms |= {hexed, hexed.upper()}
    forms |= base64_forms(value)
    return {form for form in forms if form}


def is_auth_name(name: str) -> bool:
    """Whether a parameter, header or JSON key of this name carries a credential or signature."""
    return bool(_AUTH_NAME.search(name))


def high_entropy(value: str) -> bool:
    """Whether ``value`` looks like a key, a secret or a signature rather than a word, a number
    or an id: 32+ hex digits, or 20+ characters of one token mixing letters and digits with
    enough variety (Shannon entropy of at least 3.5 bits a character)."""
    if len(value) < 20 or value == MASK:
        return False
    if _HEX.match(value):
        return len(value) >= 32 and not value.isdigit()
    if not _B64.match(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and entropy(value) >= 3.5


def signature_like(value: str) -> bool:
    """Whether ``value`` is spelled like a signature: 40+ hex digits or 40+ base64 characters."""
    return bool(_SIGNATURE.match(value))


def entropy(value: str) -> float:
    """Shannon entropy of ``value``'s characters, in bits per character."""
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


#: (form, shown) for every encoded form of the secrets this process holds, longest first.
_remembered: tuple[tuple[str, str], ...] = ()
_remembered_values: frozenset[str] = frozenset()


def remember_secrets(values: Iterable[str]) -> None:
    """Secrets this process holds from now on (the config loader passes a broker's resolved
    credentials): :func:`redact`, hence every error message, retry log line and CLI message,
    masks them in all their :func:`encoded_forms`. Values shorter than :data:`SUBSTRING_MIN`
    are left out, as the scrubber leaves them out of running text: a short value may be part
    of an ordinary word or number."""
    global _remembered, _remembered_values
    new = {v for v in values if len(v) >= SUBSTRING_MIN} - _remembered_values
    if not new:
        return
    held = _remembered_values | new
    forms = {form for v in held for form in encoded_forms(v) if len(form) >= SUBSTRING_MIN}
    _remembered = tuple((form, HIDDEN) for form in sorted(forms, key=len, reverse=True))
    _remembered_values = held


def redact(text: str) -> str:
    """``text`` with the secrets this process holds (:func:`remember_secrets`), signed-URL
    parameters and URL passwords masked."""
    if _remembered:
        text = replace_values(text, _remembered)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{HIDDEN}@", text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + HIDDEN, text)


def hidden(value: str) -> str:
    """How a secret value is named in a message: its length only."""
    return f"the value ({len(value)} characters, hidden)"


def mask_tail(value: str, keep: int = 4) -> str:
    """``value`` with all but the last ``keep`` characters hidden (for showing a key)."""
    if len(value) <= keep * 2:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def replace_values(text: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``text`` with each (form, shown) pair's form replaced; short forms only as whole tokens.

    ``pairs`` should come longest form first, so that a secret inside another is not half
    replaced.
    """
    for form, shown in pairs:
        if form not in text:
            continue
        if len(form) >= SUBSTRING_MIN:
            text = text.replace(form, shown)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", shown, text)
    return text


class Redactor:
    """Masks known secret values (in all their :func:`encoded_forms`) and whatever
    :func:`redact` recognises. Identifiers named in ``key_like`` show their last characters;
    everything else shows ``***``."""

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        extra_secrets: Iterable[str] = (),
        *,
        key_like: Iterable[str] = (),
    ) -> None:
        tails = frozenset(key_like)
        pairs: dict[str, str] = {}
        for name, value in (credentials or {}).items():
            if value:
                shown = mask_tail(value) if name in tails else HIDDEN
                for form in encoded_forms(value):
                    pairs.setdefault(form, shown)
        for value in extra_secrets:
            for form in encoded_forms(value):
                pairs.setdefault(form, HIDDEN)
        self.pairs = sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def __call__(self, text: str) -> str:
        return redact(replace_values(text, self.pairs))
