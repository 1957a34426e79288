"""``scaffolder doctor NAME``: the troubleshooting checklist, as a command.

Each check is one line, ``ok|warn|fail  <check>: <detail>``:

``config``
    the config file validates (the schema, then ccxt's metadata for ccxt brokers).
``broker``
    the broker is registered and builds from the config (sandbox URLs, URL overrides).
``credentials``
    every ``${VAR}`` the config references is set; a missing one is named. Values are never
    printed: a key shows only its masked tail, a secret only its length.
``tls``
    certifi's CA bundle exists and loads, and which https hosts a TLS handshake would verify
    against it. Nothing is connected for this check.
``clock skew``
    the local clock against the exchange's server time (ccxt's ``fetch_time``, or the REST
    broker's ``time`` endpoint): warn over 1 s, fail beyond the exchange's recvWindow or 30 s,
    whichever is smaller.
``signed read``
    connectivity and authentication: the balance, a signed request.
``signed string``
    only when the exchange refused the key or the signature: what was signed (the canonical
    string), with the signature, the key and the secret masked.

The report's exit code is 0 when no check failed, 1 otherwise; a bad name, an unknown broker
or a bad ``--via`` URL are usage errors (exit 2, raised as :class:`UsageError`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from brokers.config import default_config_path
from scaffolder.doctor.checkup import Checkup
from scaffolder.doctor.clock import MAX_SKEW_MS, WARN_SKEW_MS
from scaffolder.doctor.report import FAIL, KEY_LIKE, OK, WARN, Check, DoctorReport, Redactor
from scaffolder.errors import UsageError
from scaffolder.harness.record import check_via

__all__ = [
    "FAIL",
    "KEY_LIKE",
    "MAX_SKEW_MS",
    "OK",
    "WARN",
    "WARN_SKEW_MS",
    "Check",
    "DoctorReport",
    "Redactor",
    "run",
]


def run(
    name: str, root: Path, *, via: str | None = None, env: Mapping[str, str] | None = None
) -> DoctorReport:
    """Run every check for broker ``name`` of the project at ``root``."""
    from scaffolder.generate import check_name

    check_name(name)
    if via is not None:
        check_via(via)
    path = default_config_path(name, root)
    if not path.exists():
        from brokers.registry import available

        known = ", ".join(available()) or "none"
        raise UsageError(
            f"no config for {name!r} at {path}: generate the broker with `scaffolder new {name}` "
            f"(brokers: {known})"
        )
    return Checkup(name, root, path, via, os.environ if env is None else env).run()
