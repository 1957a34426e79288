"""Brokers are scrubbed by the auth scheme they declare, not by a table of exchange names
(issue 16 item 4).

A REST broker freshly generated with its own header names (``X-MYEX-APIKEY``, ``X-MYEX-SIGN``,
``X-MYEX-TS``) records a signed request against the local Binance stand-in: the cassette keeps
none of the three, and the audit of a copy with them left in names them. A freshly generated
ccxt broker of an exchange the harness's table does not list (Bitfinex) is scrubbed of the
headers ccxt's own ``sign()`` adds.
"""

from __future__ import annotations

import json

import pytest
import yaml

from brokers.signing import AuthNames, Signer
from scaffolder.generate import generate
from scaffolder.standin import BinanceStandIn
from tests.scaffolder.test_generate import make_project, run_python

KEY = "CANARY-MYEX-KEY-0000"
SECRET = "CANARY-MYEX-SECRET-0000"
HEADERS = {
    "key_header": "X-MYEX-APIKEY",
    "signature_header": "X-MYEX-SIGN",
    "timestamp_header": "X-MYEX-TS",
}

#: Records one signed read of the broker named argv[1] into argv[2], through the harness's
#: vcrpy configuration, then audits the cassette and a copy with the auth headers put back.
RECORD_AND_AUDIT = """
import copy, json, sys
from pathlib import Path
import vcr, yaml
from brokers import create_broker
from brokers.errors import BrokerError
from scaffolder.harness.audit import audit
from scaffolder.harness.session import harness_vcr_config, register_matchers

name, cassette = sys.argv[1], Path(sys.argv[2])
broker = create_broker(name, f"config/brokers/{name}.json")
recorder = vcr.VCR(record_mode="all")
register_matchers(recorder)
config = harness_vcr_config(name, secrets=[sys.argv[3], sys.argv[4]])
with recorder.use_cassette(str(cassette), **config):
    try:
        broker.request("GET", "balance", signed=True)
    except BrokerError:
        pass  # the stand-in may refuse a header-signed request: what was sent is recorded
document = yaml.safe_load(cassette.read_text())
headers = document["interactions"][0]["request"]["headers"]
clean = audit([cassette], Path.cwd(), env={})[1]
headers.update({"X-MYEX-SIGN": ["0" * 10], "X-MYEX-TS": ["1"], "X-MYEX-APIKEY": ["k"]})
leaked = cassette.with_name("leaked.yaml")
leaked.write_text(yaml.safe_dump(document))
found = audit([leaked], Path.cwd(), env={})[1]
print(json.dumps({"clean": [str(f) for f in clean], "found": [f.where for f in found]}))
"""


def test_a_generated_rest_broker_with_its_own_header_names_is_scrubbed_of_them(tmp_path):
    project = make_project(tmp_path / "project")
    with BinanceStandIn(KEY, SECRET) as standin:
        generate(
            "myex",
            project,
            data={
                "integration": "rest",
                "signing_scheme": "hmac_sha256_header",
                "testnet": False,
                "base_url": standin.url,
                **HEADERS,
            },
        )
        cassette = project / "cassettes" / "myex" / "balance.yaml"
        out = run_python(
            project,
            RECORD_AND_AUDIT,
            "myex",
            str(cassette),
            KEY,
            SECRET,
            env={"MYEX_API_KEY": KEY, "MYEX_API_SECRET": SECRET},
        )
    text = cassette.read_text(encoding="utf-8")
    headers = yaml.safe_load(text)["interactions"][0]["request"]["headers"]
    for header in HEADERS.values():
        assert headers[header] == ["SCRUBBED"], header
    assert KEY not in text and SECRET not in text
    report = json.loads(out)
    assert report["clean"] == []
    for header in HEADERS.values():
        assert f"interaction 0 header {header}" in report["found"]


def test_a_rest_broker_class_declares_the_names_its_signer_fills():
    class Myex:  # the attributes a generated RestBroker subclass states
        signing_scheme = "hmac_sha512_header"

    from brokers.rest_broker import RestBroker

    klass = type("MyexBroker", (RestBroker,), {**HEADERS, "signing_scheme": "hmac_sha512_header"})
    assert klass.auth_names() == AuthNames.of(HEADERS.values())
    query = type("Q", (RestBroker,), {"key_header": "X-Q-KEY"})
    assert query.auth_names().headers == {"x-q-key"}
    assert "signature" in query.auth_names().params
    assert Signer("k", "s").auth_names().volatile_params == {"timestamp", "recvwindow"}
    del Myex


SCRUB_FRESH_CCXT = """
import json
from vcr.request import Request
from scaffolder.harness.scrub import Scrubber
from scaffolder.harness.signed_requests import scheme_for

request = Request(
    "POST",
    "https://api.bitfinex.com/v2/auth/r/wallets",
    "{}",
    {"bfx-apikey": "k", "bfx-signature": "ab" * 48, "bfx-nonce": "1700000000000000"},
)
Scrubber("bitfinex", []).request(request)
print(json.dumps({"headers": dict(request.headers),
                  "table": sorted(scheme_for("bitfinex").secret_headers)}))
"""


@pytest.mark.parametrize("exchange", ["bitfinex"])
def test_a_generated_ccxt_broker_is_scrubbed_of_what_ccxt_signs_with(tmp_path, exchange):
    project = make_project(tmp_path / "project")
    generate(exchange, project, data={"testnet": False})
    report = json.loads(run_python(project, SCRUB_FRESH_CCXT))
    assert "bfx-signature" not in report["table"], "the table alone would have kept it"
    assert report["headers"] == {
        "bfx-apikey": "SCRUBBED",
        "bfx-signature": "SCRUBBED",
        "bfx-nonce": "SCRUBBED",
    }


def test_what_ccxt_signs_with_is_cached_so_the_audit_need_not_import_ccxt(tmp_path):
    import os
    import subprocess
    import sys

    probe = (
        "import json, sys\n"
        "from brokers.ccxt_auth import ccxt_auth_names\n"
        "names = ccxt_auth_names('kraken')\n"
        "print(json.dumps([sorted(names.headers), 'ccxt' in sys.modules]))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(2)
    ]
    assert runs == [[["api-key", "api-sign"], True], [["api-key", "api-sign"], False]]
    assert len(list((tmp_path / "broker-scaffolder").glob("ccxt-auth-*.json"))) == 1
