"""The definition format: msgspec structs for the manifest, connectors, actions, data sources and triggers.

Their JSON Schema is generated into ``component/schema/`` (``component schemas`` rewrites it) and a
test fails when the committed files drift from these models.

Templates (request parts, headers, auth values) use the tiny mapping language of
:mod:`component.templates`: ``"$inputs.name"`` takes a value with its JSON type, ``{inputs.name}``
fills a path segment (percent-encoded) and ``{+inputs.path}`` inserts a relative path verbatim.

A file is read with :func:`parse`: msgspec accepts a sound file in microseconds and stops at the first
problem of an unsound one, which :func:`explain` then words in full from the same structs' JSON Schema.
(No ``from __future__ import annotations`` here: msgspec reads the annotations as objects, where
strings would cost an evaluation each on the first parse.)
"""

import json
import re
from collections.abc import Iterator
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

import msgspec
from msgspec import Meta, Struct

from .templates import Renderer, compile_template

JsonSchema = dict[str, Any]
Template = Any
END = r"(?!\n)$"
"""The end of the text in a pattern: Python's ``$`` (msgspec's) also matches before a final newline,
JSON Schema's (ECMA's) does not; with the lookahead both mean the end."""
KEY_PATTERN = rf"^[A-Za-z][A-Za-z0-9_]*{END}"
EventKind = Literal["created", "updated"]
RESOURCE_PATTERN = rf"^[A-Za-z][A-Za-z0-9_\-]*{END}"
HOOK_PATTERN = rf"^[A-Za-z_][\w.]*:[A-Za-z_]\w*{END}"
REF_PATTERN = rf"^[a-z0-9]+\.[A-Za-z][A-Za-z0-9_]*{END}"
"""CONNECTOR.KEY"""
URL_PATTERN = rf"^https://[^/@]+(/.*)?{END}"
"""A vendor's own host: https, and no userinfo (``user:pw@``)."""


class Strict(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A part of the format: unknown fields are refused and a loaded value never changes."""


S = TypeVar("S", bound=Strict)


# --- requests and responses ---------------------------------------------------------------------


class RequestTemplate(Strict, dict=True, frozen=True, kw_only=True):  # dict: room for the compiled templates
    """How a definition's inputs become one HTTP request."""

    method: Annotated[str, Meta(description='HTTP method, or a reference such as "$inputs.method".')]
    path: Annotated[
        str,
        Meta(
            description="Path relative to the connector's base URL. {inputs.x} and {connection.x} "
            "placeholders are percent-encoded; {+inputs.x} inserts a relative path as is (checked to stay "
            "under the base URL)."
        ),
    ]
    query: Annotated[Template, Meta(description="Query parameters: an object template, or a reference.")] = (
        None
    )
    headers: Annotated[
        Template, Meta(description="Extra request headers: an object template, or a reference.")
    ] = None
    json_body: Annotated[Template, Meta(description="JSON body template.")] = msgspec.field(
        default=None, name="json"
    )
    form: Annotated[
        Template,
        Meta(
            description="Form body template: url-encoded, or the text parts of a multipart body with files."
        ),
    ] = None
    files: Annotated[
        Template,
        Meta(
            description="Multipart file parts: part name to {filename, content (base64), contentType}, "
            "or a reference to such an object."
        ),
    ] = None
    operationId: Annotated[
        str | None,
        Meta(
            description="The vendor's OpenAPI operationId this request implements, where the vendor has a "
            "spec."
        ),
    ] = None

    @cached_property
    def compiled(self) -> dict[str, Renderer | None]:
        """Each template part compiled once (None where the part is absent): requests only fill them in."""
        parts = {"headers": self.headers, "query": self.query, "json": self.json_body}
        parts.update({"form": self.form, "files": self.files})
        return {name: None if part is None else compile_template(part) for name, part in parts.items()}


class ResponseSpec(Strict, frozen=True, kw_only=True):
    """What a success response holds and how much of it the result keeps."""

    body: Annotated[
        Literal["json", "text", "any"],
        Meta(
            description='"json": a success body that is not JSON (an HTML page, cut-off JSON) is an '
            'unexpected_body error; "text": the body as text; "any": JSON when it parses, else text '
            "(a body labelled application/json must parse)."
        ),
    ] = "json"
    unwrap: Annotated[
        bool,
        Meta(
            description="Unwrap the connector's envelope (its data path); false returns the vendor's "
            "whole body, pagination included. Error envelopes are decoded either way."
        ),
    ] = True


class PagePagination(Strict, tag_field="style", tag="page", frozen=True, kw_only=True):
    """Page number paging: ``page``/``pageSize`` in the query, ``hasMore`` in the response."""

    pageParam: str = "page"
    sizeParam: str = "pageSize"
    pageSize: Annotated[int, Meta(ge=1)] = 500
    firstPage: int = 1
    items: Annotated[str, Meta(description="Dotted path of the item list in a page.")] = "data"
    hasMore: Annotated[str, Meta(description="Dotted path of the more-pages flag.")] = "hasMore"
    total: Annotated[
        str | None, Meta(description="Dotted path of the total count, rewritten on merged results.")
    ] = None
    totalParam: Annotated[
        str | None,
        Meta(
            description="Query parameter set to true on the first page to ask for the total count; when the "
            "total comes back, the remaining pages are fetched concurrently."
        ),
    ] = None
    concurrency: Annotated[
        Annotated[int, Meta(ge=1, le=16)],
        Meta(description="Most pages in flight at once when the total is known."),
    ] = 4
    when: Annotated[
        Template,
        Meta(description='Whether to fetch every page: true, or a reference like "$inputs.fetchAll".'),
    ] = True
    maxItems: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(description="Stop a fetch-all after this many items (default 100,000; hasMore stays true)."),
    ] = None
    maxPages: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(
            description="Stop a fetch-all after this many pages (default 1,000; hasMore stays true), however "
            "few items each page holds."
        ),
    ] = None


class CursorPagination(Strict, tag_field="style", tag="cursor", frozen=True, kw_only=True):
    """Cursor paging: a ``limit`` and the previous page's cursor in the query."""

    cursorParam: str = "startAfter"
    limitParam: str = "limit"
    limit: Annotated[int, Meta(ge=1)] = 100
    items: Annotated[str, Meta(description="Dotted path of the item list in a page.")]
    nextCursor: Annotated[str, Meta(description="Dotted path of the next cursor.")] = "pagination.nextCursor"
    hasMore: Annotated[str | None, Meta(description="Dotted path of the more-pages flag.")] = (
        "pagination.hasMore"
    )
    when: Template = True
    maxItems: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(description="Stop a fetch-all after this many items (default 100,000)."),
    ] = None
    maxPages: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(description="Stop a fetch-all after this many pages (default 1,000)."),
    ] = None


class NoPagination(Strict, tag_field="style", tag="none", frozen=True, kw_only=True):
    """One request. ``limitParam`` names the query parameter that caps it: a response with that
    many items may have been cut, so a picklist reports ``truncated``."""

    limitParam: Annotated[str | None, Meta(description="Query parameter that caps the one response.")] = None


Pagination = PagePagination | CursorPagination | NoPagination  # told apart by "style"


class PicklistResult(Strict, frozen=True, kw_only=True):
    """How a data source turns items into ``{"key", "label"}`` entries."""

    items: Annotated[
        str | None, Meta(description="Dotted path of the item list; defaults to the pagination's items path.")
    ] = None
    key: Annotated[str, Meta(description="Key template; {field.path} placeholders read the item.")] = "{id}"
    label: Annotated[str, Meta(description='Label template, e.g. "{name} (ID: {id})".')]


class InputCheck(Strict, frozen=True, kw_only=True):
    """A rule that compares two inputs, checked before anything is sent (JSON Schema cannot)."""

    rule: Annotated[
        Literal["after"],
        Meta(
            description='"after": the date-time in field must be later than the one in other (when both '
            "are set)."
        ),
    ]
    field: Annotated[str, Meta(description="The input checked, a dotted path (e.g. endTime).")]
    other: Annotated[str, Meta(description="The input it is compared with (e.g. serviceTime).")]
    message: Annotated[str | None, Meta(description="A friendlier message than the default.")] = None


class Prefetch(Strict, frozen=True, kw_only=True):
    """A lookup that completes the inputs a check compares, e.g. a job's current start for a new end.

    It runs only when some, not all, of the ``into`` inputs are given (a lone side of a pair), through
    the same session as the request. The record's values fill the missing inputs for the checks only;
    the request itself still carries just what the caller gave.
    """

    request: RequestTemplate
    select: Annotated[
        str | None, Meta(description='Dotted path of the record in the response, e.g. "0".')
    ] = None
    into: Annotated[
        Annotated[dict[str, str], Meta(min_length=1)],
        Meta(description="Input name to the record field that fills it when the input is unset."),
    ]


class Watermark(Strict, frozen=True, kw_only=True):
    """Change-marker polling: a record fires when its marker is newer than what was handled."""

    field: Annotated[
        str, Meta(description="Record field with the last-change time (the change marker), e.g. modifiedOn.")
    ]
    createdField: Annotated[
        str | None,
        Meta(
            description="Record field with the creation time. A record is 'created' when it was created "
            "inside the poll's window and not seen before; otherwise 'updated'. Without it every change "
            "is 'updated'."
        ),
    ] = None
    id: Annotated[str, Meta(description="Record field that identifies a record (the dedupe key).")] = "id"
    overlap: Annotated[
        Annotated[float, Meta(ge=0)],
        Meta(
            description="Seconds re-read before the watermark on every poll, so records that appear late "
            "with an older time are still caught; versions already handled in that window never fire "
            "twice."
        ),
    ] = 0
    maxRecent: Annotated[
        Annotated[int, Meta(ge=1)],
        Meta(description="Most (id, marker) pairs remembered from the overlap window."),
    ] = 10_000


class SeenIds(Strict, frozen=True, kw_only=True):
    """Id-set polling, for lists without a change filter: a record fires the first time its id is listed."""

    id: Annotated[str, Meta(description="Record field that identifies a record.")] = "id"
    createdField: Annotated[
        str | None,
        Meta(
            description="Record field with the creation time: when set, only records created after the "
            "instance started fire (a record that merely enters the list, e.g. a window, does not)."
        ),
    ] = None
    changedAt: Annotated[
        list[str],
        Meta(
            description="Record fields that give an event's changedAt (the time of the change that fires, "
            "e.g. paidDate), the first present wins; createdField is tried last."
        ),
    ] = msgspec.field(default_factory=list)
    budgetSeconds: Annotated[
        Annotated[float, Meta(ge=0)],
        Meta(
            description="Most of the key's rate budget one poll spends, in seconds' worth (30: half a "
            "minute's worth, 50 pages on Servicebay's 100 a minute). A longer list is scanned over "
            "several polls: the cursor is kept in the state, so a pass resumes where it stopped, after a "
            "restart too. 0: every poll scans the whole list."
        ),
    ] = 30
    max: Annotated[
        Annotated[int, Meta(ge=1)],
        Meta(
            description="Most ids remembered. The set is the ids of the last full scan, so it is bounded "
            "by the list's size; a list longer than this is refused rather than silently firing again."
        ),
    ] = 50_000


class RequestVariant(Strict, frozen=True, kw_only=True):
    """What changes in the request for one value of the choosing input."""

    path: Annotated[str | None, Meta(description="Replaces the request path.")] = None
    operationId: str | None = None
    query: Annotated[
        dict[str, Template], Meta(description="Merged over the request query; null removes a parameter.")
    ] = msgspec.field(default_factory=dict)
    sorted: Annotated[bool | None, Meta(description="Replaces the trigger's sorted flag.")] = None
    deactivated: Annotated[
        dict[str, Template] | Literal[False] | None,
        Meta(
            description="With the trigger's deactivations turned on: the query merged for this case "
            "instead of deactivations.query (e.g. activeState=All where the list has no active filter); "
            "false: this case cannot list deactivated records, and turning them on is refused as a bad "
            "input."
        ),
    ] = None


class Variants(Strict, frozen=True, kw_only=True):
    """One trigger over several endpoints, chosen by an enum input (e.g. a resource type)."""

    input: Annotated[str, Meta(description="The input whose value picks the case.")]
    cases: Annotated[dict[str, RequestVariant], Meta(min_length=1)]


class Deactivations(Strict, frozen=True, kw_only=True):
    """Deactivated records as events of their own, when a boolean input turns them on."""

    input: Annotated[
        str,
        Meta(
            description="The boolean input that turns it on; off (the default), the request and the "
            "events are exactly as without it."
        ),
    ]
    field: Annotated[str, Meta(description="Record field that is false once the record was deactivated.")] = (
        "active"
    )
    query: Annotated[
        dict[str, Template],
        Meta(
            description="Merged over the request query when on, so the list holds deactivated records too "
            "(ServiceTitan: active=Any). A listed change of a record whose field is false fires as "
            "'deactivated' instead of 'created' or 'updated'."
        ),
    ] = msgspec.field(default_factory=dict)


class DateWindow(Strict, frozen=True, kw_only=True):
    """A rolling date window, given to the request as $state.window.from and $state.window.to."""

    back: Annotated[
        Template, Meta(description="Days before today the window starts: a number or a reference.")
    ] = 0
    ahead: Annotated[
        Template, Meta(description="Days after today the window ends: a number or a reference.")
    ] = 0
    format: Annotated[
        Literal["date", "date-time"],
        Meta(description='"date" (YYYY-MM-DD) or "date-time" (midnight UTC, ISO 8601).'),
    ] = "date-time"


class Capped(Strict, frozen=True, kw_only=True):
    """A list the vendor cuts short at a cap with no next page: a full answer is narrowed and asked again."""

    limit: Annotated[
        Annotated[int, Meta(ge=1)],
        Meta(
            description="Most records one answer holds. An answer this long may have been cut short, so its "
            "window is split and each part asked for again."
        ),
    ]
    split: Annotated[
        Literal["window"],
        Meta(
            description='How a full answer is narrowed: "window" halves $state.window.from/to, '
            "recursively, until every part comes back under the limit (parts share their boundary; "
            "records are deduplicated by id)."
        ),
    ] = "window"
    minSpan: Annotated[
        Annotated[float, Meta(gt=0)],
        Meta(
            description="Seconds (a day at least for a date window): a part this narrow that still comes "
            "back full is not split further; it is reported in the poll result as incomplete and logged."
        ),
    ] = 1.0


# --- definitions --------------------------------------------------------------------------------


class Definition(Strict, frozen=True, kw_only=True):
    key: Annotated[str, Meta(pattern=KEY_PATTERN)]
    label: Annotated[str, Meta(min_length=1)]
    description: Annotated[
        Annotated[str, Meta(min_length=1)], Meta(description="What it does, for the user who picks it.")
    ]
    notes: Annotated[
        list[str],
        Meta(
            description="Facts for an integrator, kept out of the description: what the vendor's docs do not "
            "confirm and what this definition chose instead (README, Known unknowns)."
        ),
    ] = msgspec.field(default_factory=list)
    inputs: Annotated[
        JsonSchema,
        Meta(
            description="Draft 2020-12 JSON Schema of the inputs: an object with additionalProperties false."
        ),
    ] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    request: RequestTemplate
    pagination: Pagination | None = None
    response: Annotated[ResponseSpec, Meta(description="What a success body holds (JSON by default).")] = (
        msgspec.field(default_factory=ResponseSpec)
    )
    hook: Annotated[
        Annotated[str, Meta(pattern=HOOK_PATTERN)] | None,
        Meta(description='"module:function" called with the rendered request, for what data cannot express.'),
    ] = None
    checks: Annotated[
        list[InputCheck], Meta(description="Rules over several inputs, checked after the schema.")
    ] = msgspec.field(default_factory=list)
    resource: Annotated[
        Annotated[str, Meta(pattern=RESOURCE_PATTERN)] | None,
        Meta(
            description="The vendor resource this definition reads or writes (e.g. customers). Picklist "
            "results are cached per connection and resource; a write (any method but GET, HEAD or "
            "OPTIONS) through an action of the same resource drops that cache."
        ),
    ] = None
    prefetch: Annotated[
        Prefetch | None,
        Meta(description="A lookup whose record fills unset inputs for the checks (see Prefetch)."),
    ] = None
    output: Annotated[
        JsonSchema | None,
        Meta(description="Draft 2020-12 JSON Schema of the result's data, so builders can map its fields."),
    ] = None
    examples: Annotated[list[dict[str, Any]], Meta(description="Example inputs; each must validate.")] = (
        msgspec.field(default_factory=list)
    )


class Action(Definition, frozen=True, kw_only=True):
    select: Annotated[str | None, Meta(description="Dotted path of the part of the response to return.")] = (
        None
    )
    nullOn: Annotated[list[int], Meta(description="Statuses that mean 'no result': data is null.")] = (
        msgspec.field(default_factory=list)
    )
    aliases: Annotated[list[str], Meta(description="Other keys this action answers to.")] = msgspec.field(
        default_factory=list
    )
    invalidates: Annotated[
        list[str] | None,
        Meta(
            description='Resources whose cached picklists a write through this action drops; "*" for all of '
            "the connection's. Defaults to the action's own resource."
        ),
    ] = None


class DataSource(Definition, frozen=True, kw_only=True):
    result: PicklistResult
    cap: Annotated[
        Annotated[int, Meta(ge=1, le=10_000)], Meta(description="Most entries returned (hard limit 10,000).")
    ] = 10_000


def _all_kinds() -> dict[EventKind, Template]:
    return {"created": True, "updated": True}


class Trigger(Definition, frozen=True, kw_only=True):
    """A polling trigger: the request lists records; the state remembers which changes have fired."""

    watermark: Annotated[Watermark | None, Meta(description="Change-marker polling (give this or seen).")] = (
        None
    )
    seen: Annotated[
        SeenIds | None, Meta(description="Id-set polling, for lists without a change filter.")
    ] = None
    records: Annotated[
        str | None,
        Meta(description="Dotted path of the record list in a page; defaults to the pagination's items."),
    ] = None
    sorted: Annotated[
        bool,
        Meta(
            description="The request returns records oldest first by the change marker and reads "
            "$state.since: each page is then asked for from the last marker seen (keyset paging), so "
            "records changed during a poll cannot shift past a page boundary. Otherwise every page is "
            "read and sorted locally."
        ),
    ] = False
    emit: Annotated[
        dict[EventKind, Template],
        Meta(description='Which kinds of event fire: true, false or a reference such as "$inputs.showNew".'),
    ] = msgspec.field(default_factory=lambda: _all_kinds())
    start: Annotated[
        Template,
        Meta(
            description="Where a new instance starts: a date or date-time (e.g. $inputs.lookBack). Unset: "
            "the first poll records the current time and fires nothing."
        ),
    ] = None
    variants: Variants | None = None
    window: DateWindow | None = None
    record: Annotated[
        str | dict[str, str] | None,
        Meta(
            description="Where the schema of one emitted record comes from: ACTION#/json/pointer names "
            "the part of an action's output that describes one record (listJobs#/properties/data/items); "
            "with variants, one such source per case. The event schema (catalog: event) is the envelope "
            "around it."
        ),
    ] = None
    capped: Annotated[
        Capped | None,
        Meta(
            description="The list is cut short at a cap with no paging (Homebase360 jobs): full answers "
            "are split by time until none is full; what cannot be split is reported, never passed over. "
            "The parts read whole are kept in the state, where the next poll cuts the window before "
            "asking."
        ),
    ] = None
    deactivations: Annotated[
        Deactivations | None,
        Meta(
            description="Deactivated records fire as 'deactivated' when an input turns them on (watermark "
            "polling)."
        ),
    ] = None

    def __post_init__(self) -> None:
        if (self.watermark is None) == (self.seen is None):
            raise ValueError("give exactly one of watermark (change-marker polling) or seen (id-set polling)")


# --- flows -------------------------------------------------------------------------------------


class FlowTrigger(Strict, frozen=True, kw_only=True):
    """The trigger a flow starts from: its steps run once per event."""

    trigger: Annotated[
        Annotated[str, Meta(pattern=REF_PATTERN)],
        Meta(description="CONNECTOR.TRIGGER"),
    ]
    inputs: Annotated[dict[str, Any], Meta(description="The trigger's inputs.")] = msgspec.field(
        default_factory=dict
    )


class FlowStep(Strict, frozen=True, kw_only=True):
    """One step: an action or a picklist, with inputs that may read earlier steps and the trigger."""

    name: Annotated[
        Annotated[str, Meta(pattern=KEY_PATTERN)],
        Meta(description="Unique step name; later steps read $steps.<name>."),
    ]
    title: Annotated[str | None, Meta(description="What the step does, for people.")] = None
    action: Annotated[
        Annotated[str, Meta(pattern=REF_PATTERN)] | None,
        Meta(description="CONNECTOR.ACTION"),
    ] = None
    picklist: Annotated[
        Annotated[str, Meta(pattern=REF_PATTERN)] | None,
        Meta(description="CONNECTOR.DATASOURCE"),
    ] = None
    inputs: Annotated[
        dict[str, Template],
        Meta(
            description='Inputs; values may be references: "$steps.<name>.data.id", "$trigger.record.id", '
            'with a filter ("$steps.tech.result.0.key|int").'
        ),
    ] = msgspec.field(default_factory=dict)


class Flow(Strict, frozen=True, kw_only=True):
    """A flow: an optional trigger and an ordered list of named steps (``component flow run``)."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: Annotated[str, Meta(min_length=1)]
    description: str = ""
    trigger: FlowTrigger | None = None
    steps: Annotated[list[FlowStep], Meta(min_length=1)]


# --- connectors and the manifest ----------------------------------------------------------------


class Environment(Strict, frozen=True, kw_only=True):
    """A vendor's own hosts: https, and no userinfo (``user:pw@``) in any URL."""

    baseUrl: Annotated[str, Meta(pattern=URL_PATTERN)]
    tokenUrl: Annotated[str, Meta(pattern=URL_PATTERN)] | None = None


class OAuth2ClientCredentials(
    Strict, tag_field="type", tag="oauth2_client_credentials", frozen=True, kw_only=True
):
    clientId: Template = "$connection.clientId"
    clientSecret: Template = "$connection.clientSecret"
    scope: Template = None
    refreshMargin: Annotated[
        Annotated[float, Meta(ge=0)], Meta(description="Seconds before expiry at which a token is renewed.")
    ] = 60
    defaultExpiresIn: Annotated[
        Annotated[float, Meta(gt=0)], Meta(description="Token lifetime when the token response omits it.")
    ] = 900


class ApiKeyAuth(Strict, tag_field="type", tag="api_key", frozen=True, kw_only=True):
    header: str
    value: Template = "$connection.apiKey"


Auth = OAuth2ClientCredentials | ApiKeyAuth  # told apart by "type"


class ConnectionDef(Strict, frozen=True, kw_only=True):
    label: str
    schema_: Annotated[
        JsonSchema,
        Meta(
            description='JSON Schema of the connection object. Mark secrets with "x-secret": true; '
            '"x-env" names an environment variable that may supply a field.'
        ),
    ] = msgspec.field(name="schema")
    environments: Annotated[dict[str, Environment], Meta(min_length=1)]
    environmentField: Annotated[
        str | None,
        Meta(description="Connection field whose value picks the environment; else the first environment."),
    ] = None
    auth: Auth
    headers: Annotated[dict[str, Template], Meta(description="Headers sent on every request.")] = (
        msgspec.field(default_factory=dict)
    )


class RetryPolicy(Strict, frozen=True, kw_only=True):
    maxAttempts: Annotated[
        Annotated[int, Meta(ge=1)], Meta(description="Attempts in all, the first included.")
    ] = 4
    backoff: Annotated[
        Annotated[float, Meta(ge=0)], Meta(description="First back-off in seconds; doubles on each retry.")
    ] = 0.5
    maxBackoff: Annotated[float, Meta(ge=0)] = 30
    jitter: Annotated[
        Annotated[float, Meta(ge=0, le=1)],
        Meta(description="Share of each back-off step drawn at random (0.5: between half and all of it)."),
    ] = 0.5
    statuses: Annotated[
        list[int],
        Meta(
            description="Statuses retried. 429 is retried on any method; the rest on idempotent methods only."
        ),
    ] = msgspec.field(default_factory=lambda: [429, 500, 502, 503, 504])


class RateLimit(Strict, frozen=True, kw_only=True):
    requests: Annotated[int, Meta(ge=1)]
    per: Annotated[Annotated[float, Meta(gt=0)], Meta(description="Window in seconds.")]
    key: Annotated[Template, Meta(description="What the budget is shared by, e.g. $connection.apiKey.")] = (
        None
    )
    margin: Annotated[
        Annotated[float, Meta(ge=0)],
        Meta(
            description="Seconds added to the window. A slot is held from the send until the window has "
            "passed after the response, so no delay on the way makes the vendor count one request too "
            "many; the margin is for a vendor that counts more coarsely than a sliding window (whole "
            "seconds, minutes on the clock)."
        ),
    ] = 0


class HttpPolicy(Strict, frozen=True, kw_only=True):
    timeout: Annotated[Annotated[float, Meta(gt=0)], Meta(description="Seconds for one request.")] = 100
    deadline: Annotated[
        Annotated[float, Meta(gt=0)], Meta(description="Seconds for one request with all its retries.")
    ] = 300
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    rateLimit: RateLimit | None = None
    resetHeader: Annotated[str | None, Meta(description="Header with the Unix time at which a 429 ends.")] = (
        None
    )
    maxResponseBytes: Annotated[
        Annotated[int, Meta(ge=1024)],
        Meta(
            description="Largest response body read, in bytes after decompression; a larger one is a "
            "response_too_large error, and reading stops there."
        ),
    ] = 32 * 1024 * 1024


class Envelope(Strict, frozen=True, kw_only=True):
    """Where a vendor puts the payload and the parts of an error."""

    data: Annotated[str | None, Meta(description="Dotted path of the payload in a success body.")] = None
    success: Annotated[str | None, Meta(description="Dotted path of a success flag; false means error.")] = (
        None
    )
    message: Annotated[list[str], Meta(description="Paths tried for the message.")] = msgspec.field(
        default_factory=lambda: ["message"]
    )
    traceId: Annotated[list[str], Meta(description="Body paths tried for a trace id.")] = msgspec.field(
        default_factory=list
    )
    traceHeaders: Annotated[list[str], Meta(description="Response headers tried for a trace id.")] = (
        msgspec.field(default_factory=list)
    )
    errors: Annotated[str | None, Meta(description="Dotted path of field-level error details.")] = None
    credentials: Annotated[
        dict[Literal["401", "403"], list[str]],
        Meta(
            description="HTTP statuses that mean the vendor refused the connection's credentials, each "
            "with the connection fields to check: such an answer is invalid_credentials (exit 2), not auth."
        ),
    ] = msgspec.field(default_factory=dict)


class ConnectionTest(Strict, frozen=True, kw_only=True):
    """How to check a connection: the connector's cheapest authenticated call."""

    action: Annotated[
        Annotated[str, Meta(pattern=KEY_PATTERN)],
        Meta(description="The action to run (an action of this connector)."),
    ]
    inputs: Annotated[dict[str, Any], Meta(description="Its inputs.")] = msgspec.field(default_factory=dict)
    description: Annotated[str | None, Meta(description="What the call proves, for people.")] = None


class Connector(Strict, frozen=True, kw_only=True):
    label: str
    description: str
    connection: ConnectionDef
    testConnection: Annotated[
        ConnectionTest | None,
        Meta(description="The call that checks a connection (component test-connection)."),
    ] = None
    http: HttpPolicy = msgspec.field(default_factory=HttpPolicy)
    envelope: Envelope = msgspec.field(default_factory=Envelope)
    pagination: Annotated[
        dict[str, Any] | None,
        Meta(
            description="Pagination defaults merged under each definition's own pagination of the same style."
        ),
    ] = None
    actions: Annotated[list[str], Meta(description="Action definition files, relative to the manifest.")] = (
        msgspec.field(default_factory=list)
    )
    dataSources: list[str] = msgspec.field(default_factory=list)
    triggers: list[str] = msgspec.field(default_factory=list)


class Manifest(Strict, frozen=True, kw_only=True):
    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    version: str
    connectors: Annotated[dict[str, Connector], Meta(min_length=1)]


SCHEMA_MODELS: dict[str, type[Strict]] = {
    "manifest": Manifest,
    "action": Action,
    "datasource": DataSource,
    "trigger": Trigger,
    "flow": Flow,
}
SCHEMA_DIR = Path(__file__).parent / "schema"


def json_schema(model: type[Strict]) -> dict[str, Any]:
    """The Draft 2020-12 JSON Schema of ``model``'s files, as generated from the structs."""
    schema: dict[str, Any] = msgspec.json.schema(model)
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each file kind, as generated from the models."""
    out = {}
    for name, model in SCHEMA_MODELS.items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://fieldservice-component.dev/schema/{name}.schema.json",
            **json_schema(model),
        }
        out[name] = schema
    return out


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = SCHEMA_DIR / f"{name}.schema.json"
        path.write_text(render_schema(schema), encoding="utf-8")
        written.append(path)
    return written


# --- reading values of the format -------------------------------------------------------------------


def parse(model: type[S], data: Any) -> S:
    """``data`` (decoded JSON) as a ``model``; raises :class:`FormatError` naming every problem."""
    try:
        return msgspec.convert(data, model)
    except msgspec.ValidationError as error:
        raise FormatError(explain(model, data, error)) from None


def plain(value: Strict, *, omit_none: bool = False) -> dict[str, Any]:
    """``value`` as JSON data, fields under the names files use (``json``, ``$schema``)."""
    data: dict[str, Any] = msgspec.to_builtins(value)
    return {k: v for k, v in data.items() if v is not None} if omit_none else data


class FormatError(ValueError):
    """Data the format refuses; ``problems`` is each ``(JSON path, message)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


_AT = re.compile(r" - at `(?:key` in `)?(\$[^`]*)`$")


def explain(model: type[Strict], data: Any, error: msgspec.ValidationError) -> list[tuple[str, str]]:
    """Each problem of ``data``, which ``model`` refused: ``(JSON path, message)``.

    msgspec stops at the first problem; the models' own JSON Schema (:func:`json_schema`) finds them
    all, so a file is fixed in one go. msgspec's own problem is kept where the schema found nothing
    at or inside its place: what JSON Schema cannot say (``5.0`` for a whole number), or a rule
    across fields such as a trigger's one polling mode (checked once every field is sound).
    """
    from jsonschema import Draft202012Validator

    found: list[tuple[str, str]] = []
    for refusal in Draft202012Validator(_schema_of(model)).iter_errors(data):
        for problem in _problems(refusal):
            if problem not in found:
                found.append(problem)
    message = str(error)
    at = _AT.search(message)
    own = (at[1], message[: at.start()]) if at else ("$", message)
    if not any(path == own[0] or path.startswith((own[0] + ".", own[0] + "[")) for path, _ in found):
        found.append(own)
    return sorted(found)


@cache
def _schema_of(model: type[Strict]) -> dict[str, Any]:
    return json_schema(model)


def _problems(error: Any) -> Iterator[tuple[str, str]]:
    """A jsonschema error as problems at the field they concern (as inputs' problems are worded), a
    union's by the branch meant."""
    if error.validator == "anyOf" and error.context:
        for branch in _meant(error):
            yield from _problems(branch)
        return
    from .schemas import problems_of

    for problem in problems_of(error, unknown="is not a field here"):
        yield problem["path"], problem["message"]


def _meant(error: Any) -> list[Any]:
    """The errors of the branch of a union the data was meant for (its tag, or the one non-null)."""
    branches: dict[int, list[Any]] = {}
    for inner in error.context:
        branches.setdefault(inner.relative_schema_path[0], []).append(inner)
    options, instance = error.schema["anyOf"], error.instance
    tagged = error.schema.get("discriminator")
    if tagged and isinstance(instance, dict):
        name, mapping = tagged["propertyName"], tagged["mapping"]
        if name not in instance or instance[name] not in mapping:
            from .schemas import field_path

            return [_Problem(field_path(error.json_path, name), f"must be one of {sorted(mapping)}")]
        meant = [i for i, option in enumerate(options) if option.get("$ref") == mapping[instance[name]]]
        return [inner for i in meant for inner in branches.get(i, [])]
    if instance is not None:
        for i, option in enumerate(options):
            if option == {"type": "null"}:
                branches.pop(i, None)
    if len(branches) == 1:
        return next(iter(branches.values()))
    from jsonschema.exceptions import best_match

    return [best_match(error.context)]


class _Problem(NamedTuple):
    """A problem worded here, shaped as a jsonschema error where :func:`_problems` reads one."""

    json_path: str
    message: str
    instance: Any = None
    validator: str = ""
    schema: Any = None
