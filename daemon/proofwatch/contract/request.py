"""The request sidecar, NAME.EXT.request.json: its name, how it is read, and the wait for
one that arrives after its photo. The only place that knows any of these."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ..vocabulary import Request

REQUEST_SUFFIX = ".request.json"
MAX_REQUEST_BYTES = 1 << 20  # a request is a few hundred bytes; never read a huge file


def request_path(photo: Path) -> Path:
    return photo.with_name(photo.name + REQUEST_SUFFIX)


def read_request(photo: Path) -> Request | None:
    """The photo's request, or None when it has none (yet). RequestError when it is there
    but not what the contract says."""
    try:
        with open(request_path(photo), "rb") as fh:
            raw = fh.read(MAX_REQUEST_BYTES + 1)
    except FileNotFoundError:
        return None
    if len(raw) > MAX_REQUEST_BYTES:
        raise RequestError(f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        return parse_request(json.loads(raw))
    except ValueError as exc:  # not JSON, not UTF-8, or off-contract
        raise RequestError(str(exc)) from None


def still_waiting(parked_at: float, now: float, request_wait: float) -> bool:
    """A photo set aside at `parked_at` may still wait for its late request at `now`."""
    return now - parked_at < request_wait


class RequestError(ValueError):
    """The request sidecar is not what the contract says; the message is for a person."""


def parse_request(raw: Any) -> Request:
    """The tracker's request JSON (already decoded) as a Request."""
    if not isinstance(raw, dict):
        raise RequestError("the request must be a JSON object")
    unknown = set(raw) - {"id", "rules", "expect", "issued_at"}
    if unknown:
        raise RequestError(f"unknown field(s) in the request: {', '.join(sorted(unknown))}")
    ident = raw.get("id")
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, str | int)):
        raise RequestError("id must be a string")
    rules = raw.get("rules")
    if rules is not None and not (
        isinstance(rules, list) and all(isinstance(r, str) for r in rules)
    ):
        raise RequestError("rules must be a list of rule names")
    expect = raw.get("expect", {})
    if not isinstance(expect, dict) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in expect.values()
    ):
        raise RequestError("expect must be an object of strings")
    issued_at = None
    if raw.get("issued_at") is not None:
        try:
            issued_at = datetime.fromisoformat(str(raw["issued_at"]).replace("Z", "+00:00"))
        except ValueError:
            raise RequestError(f"issued_at is not an ISO 8601 time: {raw['issued_at']!r}") from None
    return Request(
        id=None if ident is None else str(ident),
        rules=None if rules is None else tuple(rules),
        expect={str(k): str(v) for k, v in expect.items()},
        issued_at=issued_at,
    )
