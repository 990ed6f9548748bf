"""The poll core: ``poll(trigger, inputs, connection, state) -> (events, new state)``, pure over a sender.

It owns no storage: the caller hands in the last committed state and persists the new one only
after it has accepted the events (see :mod:`component.triggers.runner`). Requests go through the
same session as actions (auth, rate budget, retries, redaction) via ``send``.

Two ways of noticing changes, both declared in the trigger definition:

* **watermark** (change marker): the state keeps the newest marker handled (the watermark), a
  floor (where the instance started) and the (id, marker) pairs handled inside the overlap window,
  which includes every id at the watermark itself. A poll reads records whose marker is at or
  after ``since = max(watermark - overlap, floor)``; a record fires unless that version (that
  marker) was already handled: one stamped earlier than the last handled is another version all
  the same (a vendor server whose clock runs behind another's), and a record listed twice in one
  poll counts as read last. Records sharing a timestamp across a page or poll boundary are neither
  skipped (the query is inclusive) nor repeated (their ids are remembered); an update after the
  watermark fires again as ``updated``; late arrivals inside the overlap still fire once.
  The watermark never moves past the poll's own clock (plus :data:`FUTURE_SKEW`, zero): a record
  stamped later (a vendor clock ahead, a mistyped year) fires once and is remembered among the
  handled pairs, not adopted, so it cannot hide the changes after it; once the clock catches up it
  can become the watermark like any other record, and a new version of it (even one stamped
  earlier) fires again.
* **seen** (id set): for lists with no change filter. The state is the ids of the last full scan;
  a listed id not in it fires once. A scan longer than the poll's page budget (``budgetSeconds``
  of the key's rate budget) is a pass over several polls: the state keeps the pass's cursor and
  the ids it has read, so it resumes where it stopped (after a restart too); an id fires when it
  is first read that is neither in the last full scan nor read earlier in the pass. When a pass
  ends its ids become the last full scan. During an instance's first pass only records created
  after the instance started fire (by ``createdField``; without it, nothing fires until the first
  pass is complete).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from .. import pagination as paging
from .. import templates
from ..errors import ComponentError, InputValidationError, StateStoreError
from ..http import OutgoingRequest
from ..models import PagePagination, SeenIds, Trigger, Watermark
from . import markers

Send = Callable[[OutgoingRequest], Awaitable[Any]]
Build = Callable[[Trigger, Mapping[str, Any]], OutgoingRequest]
STATE_VERSION = 1
LOG = logging.getLogger("component.triggers")
# Seconds a marker may run past the poll's own clock and still become the watermark. Not more than
# zero: with a skew s, a record stamped between the overlap and s ahead of the vendor's (correct)
# clock would become the watermark and the changes after it would fall before the next poll's start.
# At zero nothing is lost while the vendor's clock is at most the overlap behind ours, however far
# ahead it runs or its records are stamped; records past the clock are re-read until they age in.
FUTURE_SKEW = 0.0
CLOCK_STEP_BACK = 300.0  # a stored watermark this far past the poll's clock is accepted: it stepped back
MAX_PAGES = 10_000  # a poll that reads more pages than this is a definition or vendor fault


class TriggerError(ComponentError):
    """A poll cannot be completed safely (the vendor's list breaks the trigger's assumptions)."""

    kind = "trigger"


class PollStoppedError(ComponentError):
    """The poll was asked to stop (Ctrl-C) between two requests; nothing of it was handed on or committed."""

    kind = "stopped"


# Set by a poller: once the event is set, a poll in progress stops before its next request.
STOP: ContextVar[asyncio.Event | None] = ContextVar("component_poll_stop", default=None)


class StateMismatchError(StateStoreError):
    """The stored state belongs to another trigger, variant or kind of polling than the one polled."""

    kind = "state_mismatch"
    exit_code = 2


@dataclass(frozen=True)
class PollResult:
    """``incomplete``: the parts of a capped list that came back full and could not be split
    (``{"window": {"from", "to"} or None, "records": n}``); records past the cap there were not read."""

    events: list[dict[str, Any]]
    state: dict[str, Any]
    requests: int = 0
    incomplete: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"events": self.events, "state": self.state}
        if self.incomplete:
            out["incomplete"] = self.incomplete
        return out


@dataclass(frozen=True)
class Plan:
    """The trigger with its variant applied: what one poll sends and how it reads the answer."""

    trigger: Trigger
    variant: str | None
    sorted: bool
    records: str | None
    deactivated: str | None = None  # the record field that is false once deactivated, when they fire


def plan(trigger: Trigger, inputs: Mapping[str, Any]) -> Plan:
    variant = None
    request = trigger.request
    is_sorted = trigger.sorted
    case_deactivated: dict[str, Any] | bool | None = None
    if trigger.variants:
        variant = str(inputs.get(trigger.variants.input))
        case = trigger.variants.cases.get(variant)
        if case is None:
            raise InputValidationError(
                f"{trigger.variants.input} must be one of {sorted(trigger.variants.cases)}",
                problems=[{"path": f"$.{trigger.variants.input}", "message": "is not a known choice"}],
            )
        query = dict(request.query) if isinstance(request.query, dict) else {}
        query.update(case.query)
        request = msgspec.structs.replace(
            request,
            path=case.path or request.path,
            operationId=case.operationId or request.operationId,
            query={k: v for k, v in query.items() if v is not None},
        )
        is_sorted = case.sorted if case.sorted is not None else is_sorted
        case_deactivated = case.deactivated
        trigger = msgspec.structs.replace(trigger, request=request)
    trigger, deactivated = _deactivations(trigger, inputs, variant, case_deactivated)
    pagination = trigger.pagination
    records = trigger.records or getattr(pagination, "items", None)
    return Plan(trigger, variant, is_sorted and isinstance(pagination, PagePagination), records, deactivated)


def _deactivations(
    trigger: Trigger, inputs: Mapping[str, Any], variant: str | None, case: dict[str, Any] | bool | None
) -> tuple[Trigger, str | None]:
    """With the trigger's deactivations turned on by their input: the trigger with its query widened
    to list deactivated records, and the record field that tells them; else the trigger and None."""
    spec = trigger.deactivations
    if spec is None or inputs.get(spec.input) is not True:
        return trigger, None
    if case is False:
        raise InputValidationError(
            f"{spec.input} is not available for {variant}: the vendor's list has no deactivated records",
            problems=[{"path": f"$.{spec.input}", "message": f"must be false for {variant}"}],
        )
    extra = spec.query if case is None or case is True else case
    query = dict(trigger.request.query) if isinstance(trigger.request.query, dict) else {}
    query.update(extra)
    request = msgspec.structs.replace(
        trigger.request, query={k: v for k, v in query.items() if v is not None}
    )
    return msgspec.structs.replace(trigger, request=request), spec.field


def _flag(template: Any, scope: Mapping[str, Any]) -> bool:
    value = templates.render(template, scope)
    return value not in (templates.MISSING, None, False)


def _days(template: Any, scope: Mapping[str, Any]) -> int:
    value = templates.render(template, scope)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def window_bounds(trigger: Trigger, scope: Mapping[str, Any], now_ns: int) -> tuple[int, int] | None:
    """The rolling window's ends in nanoseconds (from midnight ``back`` days ago to the midnight after
    ``ahead`` days on), or None when the trigger has no window."""
    window = trigger.window
    if window is None:
        return None
    today = markers.start_of_day(now_ns)
    start = today - _days(window.back, scope) * markers.DAY
    end = today + (_days(window.ahead, scope) + 1) * markers.DAY
    return start, end


def show_window(trigger: Trigger, low: int, high: int) -> dict[str, str]:
    """``$state.window``: the ends as the window's format spells them."""
    show = markers.to_date if trigger.window and trigger.window.format == "date" else markers.to_iso
    return {"from": show(low), "to": show(high)}


def split_point(trigger: Trigger, low: int, high: int) -> int | None:
    """Where a full window ``[low, high]`` is halved, or None when it is too narrow to split.

    A date window splits on midnights and is never narrower than a day; a date-time window splits
    on whole seconds down to the trigger's ``minSpan`` (on whole microseconds, what ``$state.window``
    can spell, below a second).
    """
    assert trigger.capped is not None
    dates = trigger.window is not None and trigger.window.format == "date"
    unit = markers.DAY if dates else markers.NS if trigger.capped.minSpan >= 1 else 1000
    span = max(int(trigger.capped.minSpan * markers.NS), unit)
    if high - low <= span:
        return None
    mid = low + (high - low) // 2
    mid -= mid % unit
    return mid if low < mid < high else None


# A capped window's parts are planned to hold at most this share of the cap, so a part read whole
# last poll stays under it while a few records are added (a full part costs a request and a split).
CUT_FILL = 0.75
MAX_CUTS = 2_000  # more remembered cuts than this: the state stays small, the window is halved as before


def starting_parts(bounds: tuple[int, int] | None, cuts: list[int]) -> list[tuple[int, int] | None]:
    """The parts a capped window is first asked for: cut where the last poll's parts ended (those
    inside the window), each part sharing its ends with its neighbours; the whole window without cuts.

    Any partition is safe (a part that comes back full is still split); remembering the last one
    spares the requests whose answers were only split, poll after poll: a steady poll costs one
    request per part read whole, about half of halving the window from the top again.
    """
    if bounds is None:
        return [None]
    low, high = bounds
    inside = sorted({cut for cut in cuts if low < cut < high})
    ends = [low, *inside, high]
    return list(itertools.pairwise(ends))


def next_cuts(leaves: list[tuple[int, int]], limit: int) -> list[int]:
    """Where the next poll cuts the window: the parts just read whole (``(start, records)`` in time
    order), neighbours merged while together they hold at most :data:`CUT_FILL` of the cap."""
    target = max(1, int(limit * CUT_FILL))
    cuts: list[int] = []
    held = 0
    for index, (start, count) in enumerate(leaves):
        if index and held + count > target:
            cuts.append(start)
            held = 0
        held += count
    return cuts if len(cuts) <= MAX_CUTS else []


class _Fetcher:
    """Reads every record of one poll, through ``send``, counting requests."""

    def __init__(self, plan: Plan, scope: dict[str, Any], build: Build, send: Send, vendor: str) -> None:
        self.plan = plan
        self.scope = scope
        self.build = build
        self.send = send
        self.vendor = vendor
        self.requests = 0
        self.incomplete: list[dict[str, Any]] = []
        self.bounds: tuple[int, int] | None = None  # the window's ends, split when the list is capped
        self.cuts: list[int] = []  # where a capped window is cut before it is read (see starting_parts)

    async def _send(self, request: OutgoingRequest) -> Any:
        stop = STOP.get()
        if stop is not None and stop.is_set():
            raise PollStoppedError("stopped before the poll's next request; nothing of it was committed")
        self.requests += 1
        if self.requests > MAX_PAGES:
            raise TriggerError(f"a poll read more than {MAX_PAGES} pages; stopping", vendor=self.vendor)
        return await self.send(request)

    def _items(self, payload: Any) -> list[Any]:
        found = templates.get_path(payload, self.plan.records, [])
        return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []

    def _request(self, since: str | None, window: tuple[int, int] | None = None) -> OutgoingRequest:
        state = dict(self.scope["state"])
        if since is not None:
            state["since"] = since
        if window is not None:
            state["window"] = show_window(self.plan.trigger, *window)
        return self.build(self.plan.trigger, {**self.scope, "state": state})

    async def all_pages(self) -> list[dict[str, Any]]:
        """Every page as the pagination declares it (cursor, page numbers or one request); a capped
        list is asked for part by part until no answer is full (see :meth:`capped`)."""
        pagination = self.plan.trigger.pagination
        if self.plan.trigger.capped is not None and not isinstance(pagination, paging.Paged):
            return await self.capped()
        request = self._request(None)
        if not isinstance(pagination, paging.Paged):
            return self._items(await self._send(request))
        out: list[dict[str, Any]] = []
        async for payload, _ in paging.pages(pagination, request, self._send, self.vendor):
            out.extend(self._items(payload))
        return out

    async def probe(self, since: str) -> None:
        """The poll's first request from ``since``, its answer dropped: a new instance's first poll
        checks the connection (auth, host, the definition's request) with one request."""
        self.scope["state"]["since"] = since
        request = self._request(since)
        pagination = self.plan.trigger.pagination
        if isinstance(pagination, paging.Paged):
            request = replace(request, query=paging.first_query(pagination, request.query))
        await self._send(request)

    async def scan(self, resume: Any, pages: int) -> tuple[list[dict[str, Any]], Any]:
        """Up to ``pages`` pages from ``resume`` (a cursor or page number kept in the state; None:
        from the start): the records, and where the next poll resumes (None: the list is done)."""
        pagination = self.plan.trigger.pagination
        assert isinstance(pagination, paging.Paged)
        position = pagination.pageParam if isinstance(pagination, PagePagination) else pagination.cursorParam
        request = self._request(None)
        query = paging.first_query(pagination, request.query)
        if resume is not None:
            query = {**query, position: resume}
            if isinstance(pagination, PagePagination) and pagination.totalParam:
                query.pop(pagination.totalParam, None)
        out: list[dict[str, Any]] = []
        for _ in range(pages):
            payload = await self._send(replace(request, query=query))
            out.extend(self._items(payload))
            following = paging.next_query(pagination, query, payload, self.vendor)
            if following is None:
                return out, None
            query = following
        return out, query[position]

    async def capped(self) -> list[dict[str, Any]]:
        """The records of a list cut short at the cap: a full answer's window is split in two halves
        sharing their boundary, depth first, until every part comes back under the cap. The window is
        first cut where the last poll's parts ended (:func:`starting_parts`); the parts read whole
        this time become :attr:`cuts` for the next (:func:`next_cuts`).

        A part too narrow to split (or a list without a window) that is still full is kept as read,
        reported in :attr:`incomplete` (runs of such parts as one) and logged. Records read twice (at
        a shared boundary) are deduplicated by the caller.
        """
        trigger = self.plan.trigger
        assert trigger.capped is not None
        out: list[dict[str, Any]] = []
        parts: list[tuple[int, int] | None] = list(reversed(starting_parts(self.bounds, self.cuts)))
        leaves: list[tuple[int, int]] = []  # (start, records) of each part read whole, in time order
        while parts:
            part = parts.pop()
            items = self._items(await self._send(self._request(None, part)))
            full = len(items) >= trigger.capped.limit
            mid = split_point(trigger, *part) if full and part is not None else None
            if part is not None and mid is not None:
                parts.extend([(mid, part[1]), (part[0], mid)])  # the earlier half is read first
                continue
            if full:
                self._cut_short(part, len(items))
            if part is not None:
                leaves.append((part[0], len(items)))
            out.extend(items)
        self.cuts = next_cuts(leaves, trigger.capped.limit)
        for cut in self.incomplete:
            window = cut["window"]
            LOG.warning(
                "%s came back full (%d records, the vendor's cap) and cannot be split further: records "
                "past the cap were not read; narrow the trigger's inputs",
                "the list" if window is None else f"the window {window['from']} to {window['to']}",
                cut["records"],
            )
        return out

    def _cut_short(self, part: tuple[int, int] | None, count: int) -> None:
        window = None if part is None else show_window(self.plan.trigger, *part)
        last = self.incomplete[-1] if self.incomplete else None
        joined = (
            last is not None and window is not None and (last["window"] or {}).get("to") == window["from"]
        )
        if joined and last is not None and window is not None:  # one run of full parts across a boundary
            window = {"from": last["window"]["from"], "to": window["to"]}
            count = max(count, last["records"])
            self.incomplete.pop()
        self.incomplete.append({"window": window, "records": count})

    async def keyset(self, since: str, field: str, id_field: str) -> list[dict[str, Any]]:
        """Sorted endpoints: after each page ask again from the last marker seen, page one.

        Only when a whole page shares one marker does it move to the next page number. Records
        changed while the poll runs move to the end of the order; they cannot push an unread
        record back onto a page already read, except inside such a run of one marker read page by
        page: when a record read in the run shows up again later with a newer marker, the run may
        have shifted under the reader, so it is read again from its first page.
        """
        out: list[dict[str, Any]] = []
        start: str | None = since
        while start is not None:
            items, start = await self._keyset_pass(start, field, id_field)
            out.extend(items)
        return out

    async def _keyset_pass(
        self, since: str, field: str, id_field: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One keyset read to the end; also the cursor of the earliest run that shifted, if one did."""
        pagination = self.plan.trigger.pagination
        assert isinstance(pagination, PagePagination)
        out: list[dict[str, Any]] = []
        in_runs: dict[str, tuple[int, str]] = {}  # id -> (marker, cursor) of records read in a run by page
        shifted: tuple[int, str] | None = None
        cursor, page = since, pagination.firstPage
        while True:
            request = self._request(cursor)
            query = {**request.query, pagination.pageParam: page, pagination.sizeParam: pagination.pageSize}
            payload = await self._send(replace(request, query=query))
            items = self._items(payload)
            out.extend(items)
            keys = [markers.to_ns(templates.get_path(item, field, None)) for item in items]
            ids = [templates.get_path(item, id_field, None) for item in items]
            for record_id, key in zip(ids, keys, strict=True):
                run = in_runs.get(str(record_id))
                if (
                    run is not None
                    and key is not None
                    and key > run[0]
                    and (shifted is None or run < shifted)
                ):
                    shifted = run
            if not paging.has_more(pagination, payload):
                return out, None if shifted is None else shifted[1]
            known = [key for key in keys if key is not None]
            if known != sorted(known):
                raise TriggerError(
                    f"records are not sorted by {field}; the trigger cannot page by it safely",
                    vendor=self.vendor,
                )
            last = items[-1] if items else None
            last_key = keys[-1] if keys else None
            cursor_key = markers.to_ns(cursor) or 0
            if last is not None and last_key is not None and last_key > cursor_key:
                cursor, page = str(templates.get_path(last, field)), pagination.firstPage
            else:
                run_ids = (str(rid) for rid, key in zip(ids, keys, strict=True) if key == cursor_key)
                in_runs.update(dict.fromkeys(run_ids, (cursor_key, cursor)))
                page += 1


def event_id(instance: str | None, ref: str, record_id: str, marker: Any) -> str:
    """The event's identity: the same every time this change of this record is delivered to this
    instance (after a crash, a repeated poll, a restart), another for any other change.

    The marker counts as the time it names, however the vendor spells it; a record with no time
    at all is identified by its id alone.
    """
    moment = markers.to_ns(marker)
    version = "" if marker is None else str(marker) if moment is None else str(moment)
    text = "\x1f".join((instance or "", ref, record_id, version))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _event(kind: str, record_id: str, marker: Any, record: Any) -> dict[str, Any]:
    return {"type": kind, "id": record_id, "changedAt": marker, "record": record}


def _prune(recent: dict[str, str], low: int, keep: int, watermark: int | None) -> dict[str, str]:
    """Pairs at or after ``low``; beyond ``keep``, the oldest go first, never those at the watermark."""
    kept = {rid: m for rid, m in recent.items() if (markers.to_ns(m) or 0) >= low}
    if len(kept) <= keep:
        return kept
    at_top = {rid: m for rid, m in kept.items() if markers.to_ns(m) == watermark}
    rest = {rid: m for rid, m in kept.items() if rid not in at_top}
    newest = heapq.nlargest(max(0, keep - len(at_top)), rest.items(), key=lambda p: markers.to_ns(p[1]) or 0)
    return {**dict(newest), **at_top}


def _refuse(message: str) -> StateStoreError:
    return StateStoreError(
        f"the stored state is not a state of this trigger: {message}; nothing was changed "
        "(repair the row or poll under a new instance id)"
    )


def _time(state: Mapping[str, Any], name: str, *, required: bool = True) -> None:
    value = state.get(name)
    if value is None and not required:
        return
    if markers.to_ns(value) is None:
        raise _refuse(f"{name} {value!r:.60} is not a time between the years 1 and 9999")


def _check_state(state: Any, ref: str, mode: str, variant: str | None) -> dict[str, Any]:
    """The state to poll from (empty for a new instance); refuses one this trigger did not write."""
    if state is None:
        return {}
    if not isinstance(state, Mapping) or not state:
        raise _refuse(f"{type(state).__name__} {state!r:.40}")
    if state.get("mode") not in ("watermark", "seen"):
        raise _refuse(f"mode {state.get('mode')!r:.40} is not 'watermark' or 'seen'")
    version = state.get("version", STATE_VERSION)
    if type(version) is not int or version != STATE_VERSION:
        raise _refuse(f"version {version!r:.40} is not {STATE_VERSION}; another version wrote it")
    if state.get("trigger", ref) != ref:
        raise StateMismatchError(
            f"this trigger instance follows {state.get('trigger')!r:.80}, not {ref!r}; "
            "use a new instance id to follow something else"
        )
    if state["mode"] != mode:
        raise StateMismatchError(f"the stored state is for {state['mode']} polling, not {mode}")
    if state.get("variant") != variant:
        raise StateMismatchError(
            f"this trigger instance follows {state.get('variant')!r:.80}, not {variant!r}; "
            "use a new instance id to follow something else"
        )
    if not isinstance(state.get("floor", ""), str):
        raise _refuse("floor is not a string")
    _time(state, "floor", required=mode == "watermark" or "floor" in state)
    if mode == "seen":
        seen = state.get("seen", [])
        if not isinstance(seen, list) or not all(isinstance(rid, str) for rid in seen):
            raise _refuse("seen is not a list of ids")
        passing = state.get("pass", {})
        ids = passing.get("ids") if isinstance(passing, dict) else None
        if not isinstance(passing, dict) or (
            passing
            and (
                not isinstance(passing.get("cursor"), str | int)
                or isinstance(passing.get("cursor"), bool)
                or not isinstance(ids, list)
                or not all(isinstance(rid, str) for rid in ids)
            )
        ):
            raise _refuse("pass is not a cursor and a list of ids")
        return dict(state)
    _time(state, "watermark", required=False)
    cuts = state.get("cuts", [])
    if not isinstance(cuts, list) or len(cuts) > MAX_CUTS or any(markers.to_ns(cut) is None for cut in cuts):
        raise _refuse("cuts is not a list of times")
    recent = state.get("recent", {})
    if not isinstance(recent, dict) or not all(
        isinstance(m, str) and markers.to_ns(m) is not None for m in recent.values()
    ):
        raise _refuse("recent is not an object of ids and times")
    return dict(state)


async def poll(
    trigger: Trigger,
    inputs: Mapping[str, Any],
    connection: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    *,
    build: Build,
    send: Send,
    vendor: str,
    now: float,
    instance: str | None = None,
    rate: tuple[int, float] | None = None,
) -> PollResult:
    """One poll: the events since ``state`` (oldest first) and the state to commit once they are accepted.

    Each event carries an ``eventId`` (see :func:`event_id`) made from ``instance``, the trigger, the
    record's id and its ``changedAt``. ``rate`` is the key's rate budget (requests, per seconds): an
    id-set scan spends at most its ``budgetSeconds`` worth of it per poll.
    """
    p = plan(trigger, inputs)
    trigger = p.trigger
    ref = f"{vendor}.{trigger.key}"
    state = _check_state(state, ref, "watermark" if trigger.seen is None else "seen", p.variant)
    now_ns = int(now * markers.NS)
    scope: dict[str, Any] = {"inputs": dict(inputs), "connection": dict(connection), "state": {}}
    bounds = window_bounds(trigger, scope, now_ns)
    scope["state"]["window"] = {} if bounds is None else show_window(trigger, *bounds)
    fetcher = _Fetcher(p, scope, build, send, vendor)
    fetcher.bounds = bounds
    fetcher.cuts = [markers.to_ns(cut) or 0 for cut in state.get("cuts", [])]
    emit: dict[str, bool] = {kind: _flag(template, scope) for kind, template in trigger.emit.items()}
    if trigger.seen is not None:
        events, new_state = await _by_ids(trigger, state, fetcher, emit, vendor, now_ns, rate)
    else:
        assert trigger.watermark is not None
        events, new_state = await _by_watermark(trigger.watermark, state, scope, fetcher, emit, now_ns)
    new_state.update({"version": STATE_VERSION, "trigger": ref, "variant": p.variant})
    events = [{"eventId": event_id(instance, ref, e["id"], e["changedAt"]), **e} for e in events]
    return PollResult(events, new_state, fetcher.requests, fetcher.incomplete)


def scan_pages(spec: SeenIds, rate: tuple[int, float] | None) -> int | None:
    """Pages one poll of an id-set trigger may read: ``budgetSeconds`` worth of the key's budget
    (at least one), or None (the whole list) without a budget or with ``budgetSeconds`` 0."""
    if rate is None or spec.budgetSeconds <= 0:
        return None
    requests, per = rate
    return max(1, int(requests * spec.budgetSeconds / per))


async def _by_ids(
    trigger: Trigger,
    state: dict[str, Any],
    fetcher: _Fetcher,
    emit: Mapping[str, bool],
    vendor: str,
    now_ns: int,
    rate: tuple[int, float] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    spec = trigger.seen
    assert spec is not None
    first = "seen" not in state
    floor = str(state.get("floor") or markers.to_iso(now_ns))
    known = set(state.get("seen", []))
    passing = state.get("pass") or {}
    read_before = set(passing.get("ids", []))
    pages = scan_pages(spec, rate)
    if pages is None or not isinstance(trigger.pagination, paging.Paged):
        records, resume = await fetcher.all_pages(), None
        read_before = set()
    else:
        records, resume = await fetcher.scan(passing.get("cursor"), pages)
    listed: dict[str, dict[str, Any]] = {}
    for record in records:
        value = templates.get_path(record, spec.id, None)
        if value is not None and value != "":
            listed.setdefault(str(value), record)
    if len(listed) + len(read_before) > spec.max:
        raise TriggerError(
            f"the list has {len(listed) + len(read_before)} records, more than this trigger remembers "
            f"({spec.max}); narrow it with the trigger's inputs",
            vendor=vendor,
        )
    events = []
    if emit.get("created", True) and (not first or spec.createdField):
        floor_ns = markers.to_ns(floor) or 0
        for rid, record in listed.items():
            if rid in known or rid in read_before:
                continue
            created = templates.get_path(record, spec.createdField, None) if spec.createdField else None
            created_ns = markers.to_ns(created)
            if created_ns is not None and created_ns < floor_ns:
                continue  # it existed before the instance started; it only entered the list now
            if first and created_ns is None:
                continue  # the first pass learns the list; only what was created since may fire
            events.append(_event("created", rid, _changed_at(spec, record, created), record))
    ids = read_before | set(listed)
    if resume is None:  # the pass is complete: its ids are the last full scan
        return events, {"mode": "seen", "floor": floor, "seen": sorted(ids)}
    new_state: dict[str, Any] = {"mode": "seen", "floor": floor}
    if not first:
        new_state["seen"] = sorted(known)
    new_state["pass"] = {"cursor": resume, "ids": sorted(ids)}
    return events, new_state


def _changed_at(spec: SeenIds, record: Any, created: Any) -> Any:
    """The first of the trigger's ``changedAt`` fields the record holds a time in, else its creation time."""
    for name in spec.changedAt:
        value = templates.get_path(record, name, None)
        if markers.to_ns(value) is not None:
            return value
    return created


async def _by_watermark(
    spec: Watermark,
    state: dict[str, Any],
    scope: dict[str, Any],
    fetcher: _Fetcher,
    emit: Mapping[str, bool],
    now_ns: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    trigger = fetcher.plan.trigger
    deactivated = fetcher.plan.deactivated
    if "floor" not in state:
        start = templates.render(trigger.start, scope)
        start_ns = None if start in (templates.MISSING, None, "") else markers.to_ns(start)
        if start not in (templates.MISSING, None, "") and start_ns is None:
            raise InputValidationError(
                f"the start {start!r} is not a date or date-time",
                problems=[{"path": "$", "message": "look-back must be YYYY-MM-DD or an ISO date-time"}],
            )
        if start_ns is None:  # a new instance: record where it starts and fire nothing
            floor_text = markers.to_iso(now_ns)
            await fetcher.probe(floor_text)  # one request: bad credentials show now, not a poll later
            return [], {"mode": "watermark", "floor": floor_text, "watermark": None, "recent": {}}
        state = {"floor": str(start), "watermark": None, "recent": {}}
    floor = markers.to_ns(state["floor"]) or 0
    watermark_raw = state.get("watermark")
    watermark = markers.to_ns(watermark_raw)
    overlap = int(spec.overlap * markers.NS)
    bound = now_ns + int(FUTURE_SKEW * markers.NS)
    if watermark is not None and watermark > now_ns + int(CLOCK_STEP_BACK * markers.NS):
        raise StateStoreError(
            f"the stored watermark {watermark_raw!r:.60} is more than {CLOCK_STEP_BACK:g} s past this "
            "poll's clock: the clock has gone back since it was written, or an older version adopted a "
            "record stamped in the future; nothing was changed (check the clock, or poll under a new "
            "instance id with a start date to resume)"
        )
    since = floor if watermark is None else max(watermark - overlap, floor)
    if watermark is not None and since == watermark and overlap == 0:
        since_text = str(watermark_raw)  # the vendor's own spelling of its timestamp
    else:
        since_text = str(state["floor"]) if since == floor else markers.to_iso(since)
    scope["state"]["since"] = since_text
    if fetcher.plan.sorted:
        records = await fetcher.keyset(since_text, spec.field, spec.id)
    else:
        records = await fetcher.all_pages()
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, record in enumerate(records):
        record_id = templates.get_path(record, spec.id, None)
        if record_id is not None:
            latest[str(record_id)] = (index, record)  # read again later in the poll: the newer version
    keyed = []
    for record_id, (index, record) in latest.items():
        marker = templates.get_path(record, spec.field, None)
        key = markers.to_ns(marker)
        if key is None or key < since:
            continue
        keyed.append((key, record_id, index, marker, record))
    keyed.sort(key=lambda item: (item[0], item[1], item[2]))
    recent: dict[str, str] = {str(k): str(v) for k, v in (state.get("recent") or {}).items()}
    events = []
    top, top_raw = watermark, watermark_raw
    for key, record_id, _, marker, record in keyed:
        if key <= bound and (top is None or key > top):
            top, top_raw = key, marker  # read and handled (now or before), and not in the future
        previous = recent.get(record_id)
        if previous is not None and markers.to_ns(previous) == key:
            continue  # this version was handled already; any other marker is another version
        created_at = (
            markers.to_ns(templates.get_path(record, spec.createdField, None)) if spec.createdField else None
        )
        kind = "created" if created_at is not None and created_at >= since and previous is None else "updated"
        if deactivated is not None and templates.get_path(record, deactivated, None) is False:
            kind = "deactivated"  # listed only with deactivations on; any change of it while inactive
        recent[record_id] = str(marker)
        if emit.get(kind, True):
            events.append(_event(kind, record_id, marker, record))
    low = floor if top is None else max(top - overlap, floor)
    new_state = {
        "mode": "watermark",
        "floor": state["floor"],
        "watermark": top_raw,
        "recent": _prune(recent, low, spec.maxRecent, top),
    }
    if trigger.capped is not None and fetcher.cuts:
        new_state["cuts"] = [markers.to_iso(cut) for cut in fetcher.cuts]
    return events, new_state
