"""What a REST answer means: its decoded JSON, or the error it stands for.

One place for :class:`~brokers.rest_broker.RestBroker`'s answer handling: a body that is not
JSON, an HTTP error status, and an error body (``{"code": <negative>, "msg": ...}``, the
Binance style) become our errors by the broker's ``error_codes``, with a duplicate client order
id recognised by its message and a rate limit keeping the answer's ``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from brokers.errors import (
    BadResponseError,
    BrokerError,
    DuplicateOrderError,
    build_error,
    error_for_status,
    parse_retry_after,
)


def decode_answer(
    response: requests.Response,
    *,
    broker: str,
    error_codes: Mapping[str, type[BrokerError]],
    duplicate_order_markers: tuple[str, ...],
) -> Any:
    """The decoded JSON of ``response``; every failed answer raises a BrokerError."""
    try:
        data = response.json()
    except (ValueError, json.JSONDecodeError) as exc:
        if response.status_code >= 400:  # a gateway's error page (a 429 keeps Retry-After)
            raise http_error(
                error_for_status(response.status_code),
                f"HTTP {response.status_code} with a non-JSON body",
                response,
                broker=broker,
            ) from exc
        raise BadResponseError(
            f"expected JSON from {response.request.path_url if response.request else '?'}, "
            f"got {response.headers.get('Content-Type', 'no content type')}",
            broker=broker,
        ) from exc
    if response.status_code >= 400 or (isinstance(data, dict) and is_error_body(data)):
        raise error_from_body(
            response,
            data,
            broker=broker,
            error_codes=error_codes,
            duplicate_order_markers=duplicate_order_markers,
        )
    return data


def error_from_body(
    response: requests.Response,
    data: Any,
    *,
    broker: str,
    error_codes: Mapping[str, type[BrokerError]],
    duplicate_order_markers: tuple[str, ...],
) -> BrokerError:
    """Our error for an error answer: by its code, else by its HTTP status."""
    code = str(data.get("code")) if isinstance(data, dict) else ""
    message = (
        str(data.get("msg") or data.get("message") or data) if isinstance(data, dict) else str(data)
    )
    text = f"HTTP {response.status_code}: {message}" + (f" (code {code})" if code else "")
    klass = error_codes.get(code) or error_for_status(response.status_code)
    if any(marker in message for marker in duplicate_order_markers):
        klass = DuplicateOrderError
    return http_error(klass, text, response, broker=broker)


def http_error(
    klass: type[BrokerError], text: str, response: requests.Response, *, broker: str
) -> BrokerError:
    """A ``klass`` error for an HTTP answer; a rate limit keeps the answer's Retry-After."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return build_error(klass, text, broker, retry_after)


def is_error_body(data: dict[str, Any]) -> bool:
    """Whether a 2xx body is an error all the same (``{"code": <negative>, "msg": ...}``)."""
    code = data.get("code")
    return isinstance(code, int) and code < 0 and "msg" in data
