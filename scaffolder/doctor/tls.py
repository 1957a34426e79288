"""The ``tls`` check: certifi's CA bundle loads, and which hosts would verify against it."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scaffolder.doctor.report import FAIL, OK, WARN

if TYPE_CHECKING:
    from scaffolder.doctor.checkup import Checkup


def check_tls(doctor: Checkup) -> None:
    """The CA bundle (certifi's, or an override from the environment); nothing connects."""
    try:
        import certifi

        cafile = certifi.where()
    except Exception as exc:
        doctor.add("tls", FAIL, f"certifi is not usable ({exc}): pip install certifi")
        return
    count, problem = _load_bundle(cafile)
    if problem:
        doctor.add("tls", FAIL, f"certifi's CA bundle {cafile} {problem}: reinstall certifi")
        return
    hosts = sorted({urlsplit(u).netloc for u in doctor.urls if u.startswith("https://")})
    detail = f"certifi's CA bundle {cafile} loads {count} CA certificates"
    status = OK
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        override = doctor.env.get(variable)
        if override:
            other, other_problem = _load_bundle(override)
            if other_problem:
                doctor.add("tls", FAIL, f"{variable}={override} {other_problem}; unset it")
                return
            detail += f"; {variable}={override} ({other} CA certificates) replaces it"
            break
    verify = getattr(getattr(doctor.broker, "_exchange", None), "verify", True)
    if verify is False:
        status = WARN
        detail += "; certificate verification is switched off (ccxt verify=False)"
    if hosts:
        detail += f"; TLS to {', '.join(hosts)} would verify against it (not connected)"
    elif doctor.urls:
        detail += "; the broker's URLs are not https: no TLS"
    if doctor.via and urlsplit(doctor.via).scheme != "https":
        detail += f"; this run goes to {doctor.via} without TLS"
    doctor.add("tls", status, detail, cafile=cafile, certificates=count, https_hosts=hosts)


def _load_bundle(path: str) -> tuple[int, str | None]:
    """How many CA certificates a bundle holds, or why it cannot be used."""
    if not Path(path).is_file():
        return 0, "does not exist"
    try:
        context = ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return 0, f"does not load ({exc})"
    count = int(context.cert_store_stats().get("x509_ca", 0))
    if not count:
        return 0, "holds no CA certificate"
    return count, None
