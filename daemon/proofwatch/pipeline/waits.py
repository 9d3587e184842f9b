"""Why a photo is set aside instead of getting a verdict now: one exception family, one
mechanism (the daemon parks the photo, holding no worker, and takes it again later)."""

from __future__ import annotations

from .faults import Fault


class Postponed(Exception):
    """Set the photo aside and take it again later, holding no worker meanwhile: it is
    already stripped (privacy first), and a verdict now would be wrong or lost.

    `retry_after`: seconds until it is worth taking again (None: when its trigger comes,
    e.g. the request sidecar); `since`: when the cause began (monotonic), which bounds the
    wait."""

    def __init__(self, reason: str, retry_after: float | None = None, since: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.since = since


class AwaitingRequest(Postponed):
    """The photo's rules need its request, which has not arrived yet: taken again when the
    sidecar appears or the request wait ends."""


class AwaitingModel(Postponed):
    """The model server is busy or down: taken again after `retry_after`, and given
    `error` once it has waited model_wait (Options.model_since tells since when)."""


class MachineFault(Postponed):
    """A fault of the machine, not of the photo (disk full, read-only, I/O error, state
    database unusable, verdict not writable): never a verdict. Taken again on backoff, or
    at once when the fault clears; a photo not stripped yet waits hidden meanwhile."""

    def __init__(self, fault: Fault, hidden: bool = False):
        super().__init__(fault.describe())
        self.fault = fault
        self.hidden = hidden
