"""The definition format: pydantic models for the manifest, connectors, actions, data sources and triggers.

Their JSON Schema is generated into ``component/schema/`` (``component schemas`` rewrites it) and a
test fails when the committed files drift from these models.

Templates (request parts, headers, auth values) use the tiny mapping language of
:mod:`component.templates`: ``"$inputs.name"`` takes a value with its JSON type, ``{inputs.name}``
fills a path segment (percent-encoded) and ``{+inputs.path}`` inserts a relative path verbatim.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .templates import Renderer, compile_template

JsonSchema = dict[str, Any]
Template = Any
KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
EventKind = Literal["created", "updated"]
RESOURCE_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"
HOOK_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# --- requests and responses ---------------------------------------------------------------------


class RequestTemplate(Strict):
    """How a definition's inputs become one HTTP request."""

    method: str = Field(description='HTTP method, or a reference such as "$inputs.method".')
    path: str = Field(
        description="Path relative to the connector's base URL. {inputs.x} and {connection.x} placeholders "
        "are percent-encoded; {+inputs.x} inserts a relative path as is (checked to stay under the base URL)."
    )
    query: Template = Field(None, description="Query parameters: an object template, or a reference.")
    headers: Template = Field(None, description="Extra request headers: an object template, or a reference.")
    json_body: Template = Field(None, alias="json", description="JSON body template.")
    form: Template = Field(
        None, description="Form body template: url-encoded, or the text parts of a multipart body with files."
    )
    files: Template = Field(
        None,
        description="Multipart file parts: part name to {filename, content (base64), contentType}, "
        "or a reference to such an object.",
    )
    operationId: str | None = Field(
        None,
        description="The vendor's OpenAPI operationId this request implements, where the vendor has a spec.",
    )

    @cached_property
    def compiled(self) -> dict[str, Renderer | None]:
        """Each template part compiled once (None where the part is absent): requests only fill them in."""
        parts = {"headers": self.headers, "query": self.query, "json": self.json_body}
        parts.update({"form": self.form, "files": self.files})
        return {name: None if part is None else compile_template(part) for name, part in parts.items()}


class ResponseSpec(Strict):
    """What a success response holds and how much of it the result keeps."""

    body: Literal["json", "text", "any"] = Field(
        "json",
        description='"json": a success body that is not JSON (an HTML page, cut-off JSON) is an '
        'unexpected_body error; "text": the body as text; "any": JSON when it parses, else text '
        "(a body labelled application/json must parse).",
    )
    unwrap: bool = Field(
        True,
        description="Unwrap the connector's envelope (its data path); false returns the vendor's whole body, "
        "pagination included. Error envelopes are decoded either way.",
    )


class PagePagination(Strict):
    """Page number paging: ``page``/``pageSize`` in the query, ``hasMore`` in the response."""

    style: Literal["page"]
    pageParam: str = "page"
    sizeParam: str = "pageSize"
    pageSize: int = Field(500, ge=1)
    firstPage: int = 1
    items: str = Field("data", description="Dotted path of the item list in a page.")
    hasMore: str = Field("hasMore", description="Dotted path of the more-pages flag.")
    total: str | None = Field(
        None, description="Dotted path of the total count, rewritten on merged results."
    )
    totalParam: str | None = Field(
        None,
        description="Query parameter set to true on the first page to ask for the total count; when the "
        "total comes back, the remaining pages are fetched concurrently.",
    )
    concurrency: int = Field(
        4, ge=1, le=16, description="Most pages in flight at once when the total is known."
    )
    when: Template = Field(
        True, description='Whether to fetch every page: true, or a reference like "$inputs.fetchAll".'
    )
    maxItems: int | None = Field(
        None,
        ge=1,
        description="Stop a fetch-all after this many items (default 100,000; hasMore stays true).",
    )
    maxPages: int | None = Field(
        None,
        ge=1,
        description="Stop a fetch-all after this many pages (default 1,000; hasMore stays true), however "
        "few items each page holds.",
    )


class CursorPagination(Strict):
    """Cursor paging: a ``limit`` and the previous page's cursor in the query."""

    style: Literal["cursor"]
    cursorParam: str = "startAfter"
    limitParam: str = "limit"
    limit: int = Field(100, ge=1)
    items: str = Field(description="Dotted path of the item list in a page.")
    nextCursor: str = Field("pagination.nextCursor", description="Dotted path of the next cursor.")
    hasMore: str | None = Field("pagination.hasMore", description="Dotted path of the more-pages flag.")
    when: Template = True
    maxItems: int | None = Field(
        None, ge=1, description="Stop a fetch-all after this many items (default 100,000)."
    )
    maxPages: int | None = Field(
        None, ge=1, description="Stop a fetch-all after this many pages (default 1,000)."
    )


class NoPagination(Strict):
    """One request. ``limitParam`` names the query parameter that caps it: a response with that
    many items may have been cut, so a picklist reports ``truncated``."""

    style: Literal["none"]
    limitParam: str | None = Field(None, description="Query parameter that caps the one response.")


Pagination = Annotated[PagePagination | CursorPagination | NoPagination, Field(discriminator="style")]


class PicklistResult(Strict):
    """How a data source turns items into ``{"key", "label"}`` entries."""

    items: str | None = Field(
        None, description="Dotted path of the item list; defaults to the pagination's items path."
    )
    key: str = Field("{id}", description="Key template; {field.path} placeholders read the item.")
    label: str = Field(description='Label template, e.g. "{name} (ID: {id})".')


class InputCheck(Strict):
    """A rule that compares two inputs, checked before anything is sent (JSON Schema cannot)."""

    rule: Literal["after"] = Field(
        description='"after": the date-time in field must be later than the one in other (when both are set).'
    )
    field: str = Field(description="The input checked, a dotted path (e.g. endTime).")
    other: str = Field(description="The input it is compared with (e.g. serviceTime).")
    message: str | None = Field(None, description="A friendlier message than the default.")


class Prefetch(Strict):
    """A lookup that completes the inputs a check compares, e.g. a job's current start for a new end.

    It runs only when some, not all, of the ``into`` inputs are given (a lone side of a pair), through
    the same session as the request. The record's values fill the missing inputs for the checks only;
    the request itself still carries just what the caller gave.
    """

    request: RequestTemplate
    select: str | None = Field(None, description='Dotted path of the record in the response, e.g. "0".')
    into: dict[str, str] = Field(
        min_length=1, description="Input name to the record field that fills it when the input is unset."
    )


class Watermark(Strict):
    """Change-marker polling: a record fires when its marker is newer than what was handled."""

    field: str = Field(
        description="Record field with the last-change time (the change marker), e.g. modifiedOn."
    )
    createdField: str | None = Field(
        None,
        description="Record field with the creation time. A record is 'created' when it was created inside "
        "the poll's window and not seen before; otherwise 'updated'. Without it every change is 'updated'.",
    )
    id: str = Field("id", description="Record field that identifies a record (the dedupe key).")
    overlap: float = Field(
        0,
        ge=0,
        description="Seconds re-read before the watermark on every poll, so records that appear late with "
        "an older time are still caught; versions already handled in that window never fire twice.",
    )
    maxRecent: int = Field(
        10_000, ge=1, description="Most (id, marker) pairs remembered from the overlap window."
    )


class SeenIds(Strict):
    """Id-set polling, for lists without a change filter: a record fires the first time its id is listed."""

    id: str = Field("id", description="Record field that identifies a record.")
    createdField: str | None = Field(
        None,
        description="Record field with the creation time: when set, only records created after the "
        "instance started fire (a record that merely enters the list, e.g. a window, does not).",
    )
    changedAt: list[str] = Field(
        default_factory=list,
        description="Record fields that give an event's changedAt (the time of the change that fires, "
        "e.g. paidDate), the first present wins; createdField is tried last.",
    )
    budgetSeconds: float = Field(
        30,
        ge=0,
        description="Most of the key's rate budget one poll spends, in seconds' worth (30: half a minute's "
        "worth, 50 pages on Servicebay's 100 a minute). A longer list is scanned over several polls: the "
        "cursor is kept in the state, so a pass resumes where it stopped, after a restart too. 0: every "
        "poll scans the whole list.",
    )
    max: int = Field(
        50_000,
        ge=1,
        description="Most ids remembered. The set is the ids of the last full scan, so it is bounded by the "
        "list's size; a list longer than this is refused rather than silently firing again.",
    )


class RequestVariant(Strict):
    """What changes in the request for one value of the choosing input."""

    path: str | None = Field(None, description="Replaces the request path.")
    operationId: str | None = None
    query: dict[str, Template] = Field(
        default_factory=dict, description="Merged over the request query; null removes a parameter."
    )
    sorted: bool | None = Field(None, description="Replaces the trigger's sorted flag.")
    deactivated: dict[str, Template] | Literal[False] | None = Field(
        None,
        description="With the trigger's deactivations turned on: the query merged for this case instead of "
        "deactivations.query (e.g. activeState=All where the list has no active filter); false: this case "
        "cannot list deactivated records, and turning them on is refused as a bad input.",
    )


class Variants(Strict):
    """One trigger over several endpoints, chosen by an enum input (e.g. a resource type)."""

    input: str = Field(description="The input whose value picks the case.")
    cases: dict[str, RequestVariant] = Field(min_length=1)


class Deactivations(Strict):
    """Deactivated records as events of their own, when a boolean input turns them on."""

    input: str = Field(
        description="The boolean input that turns it on; off (the default), the request and the events are "
        "exactly as without it."
    )
    field: str = Field("active", description="Record field that is false once the record was deactivated.")
    query: dict[str, Template] = Field(
        default_factory=dict,
        description="Merged over the request query when on, so the list holds deactivated records too "
        "(ServiceTitan: active=Any). A listed change of a record whose field is false fires as "
        "'deactivated' instead of 'created' or 'updated'.",
    )


class DateWindow(Strict):
    """A rolling date window, given to the request as $state.window.from and $state.window.to."""

    back: Template = Field(0, description="Days before today the window starts: a number or a reference.")
    ahead: Template = Field(0, description="Days after today the window ends: a number or a reference.")
    format: Literal["date", "date-time"] = Field(
        "date-time", description='"date" (YYYY-MM-DD) or "date-time" (midnight UTC, ISO 8601).'
    )


class Capped(Strict):
    """A list the vendor cuts short at a cap with no next page: a full answer is narrowed and asked again."""

    limit: int = Field(
        ge=1,
        description="Most records one answer holds. An answer this long may have been cut short, so its "
        "window is split and each part asked for again.",
    )
    split: Literal["window"] = Field(
        "window",
        description='How a full answer is narrowed: "window" halves $state.window.from/to, recursively, '
        "until every part comes back under the limit (parts share their boundary; records are deduplicated "
        "by id).",
    )
    minSpan: float = Field(
        1.0,
        gt=0,
        description="Seconds (a day at least for a date window): a part this narrow that still comes back "
        "full is not split further; it is reported in the poll result as incomplete and logged.",
    )


# --- definitions --------------------------------------------------------------------------------
# --- definitions --------------------------------------------------------------------------------


class Definition(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    label: str = Field(min_length=1)
    description: str = Field(min_length=1, description="What it does, for the user who picks it.")
    notes: list[str] = Field(
        default_factory=list,
        description="Facts for an integrator, kept out of the description: what the vendor's docs do not "
        "confirm and what this definition chose instead (README, Known unknowns).",
    )
    inputs: JsonSchema = Field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False},
        description="Draft 2020-12 JSON Schema of the inputs: an object with additionalProperties false.",
    )
    request: RequestTemplate
    pagination: Pagination | None = None
    response: ResponseSpec = Field(
        default_factory=ResponseSpec, description="What a success body holds (JSON by default)."
    )
    hook: str | None = Field(
        None,
        pattern=HOOK_PATTERN,
        description='"module:function" called with the rendered request, for what data cannot express.',
    )
    checks: list[InputCheck] = Field(
        default_factory=list, description="Rules over several inputs, checked after the schema."
    )
    resource: str | None = Field(
        None,
        pattern=RESOURCE_PATTERN,
        description="The vendor resource this definition reads or writes (e.g. customers). Picklist results "
        "are cached per connection and resource; a write (any method but GET, HEAD or OPTIONS) through an "
        "action of the same resource drops that cache.",
    )
    prefetch: Prefetch | None = Field(
        None, description="A lookup whose record fills unset inputs for the checks (see Prefetch)."
    )
    output: JsonSchema | None = Field(
        None,
        description="Draft 2020-12 JSON Schema of the result's data, so builders can map its fields.",
    )
    examples: list[dict[str, Any]] = Field(
        default_factory=list, description="Example inputs; each must validate."
    )


class Action(Definition):
    select: str | None = Field(None, description="Dotted path of the part of the response to return.")
    nullOn: list[int] = Field(
        default_factory=list, description="Statuses that mean 'no result': data is null."
    )
    aliases: list[str] = Field(default_factory=list, description="Other keys this action answers to.")
    invalidates: list[str] | None = Field(
        None,
        description='Resources whose cached picklists a write through this action drops; "*" for all of '
        "the connection's. Defaults to the action's own resource.",
    )


class DataSource(Definition):
    result: PicklistResult
    cap: int = Field(10_000, ge=1, le=10_000, description="Most entries returned (hard limit 10,000).")


def _all_kinds() -> dict[EventKind, Template]:
    return {"created": True, "updated": True}


class Trigger(Definition):
    """A polling trigger: the request lists records; the state remembers which changes have fired."""

    watermark: Watermark | None = Field(None, description="Change-marker polling (give this or seen).")
    seen: SeenIds | None = Field(None, description="Id-set polling, for lists without a change filter.")
    records: str | None = Field(
        None, description="Dotted path of the record list in a page; defaults to the pagination's items."
    )
    sorted: bool = Field(
        False,
        description="The request returns records oldest first by the change marker and reads $state.since: "
        "each page is then asked for from the last marker seen (keyset paging), so records changed during "
        "a poll cannot shift past a page boundary. Otherwise every page is read and sorted locally.",
    )
    emit: dict[EventKind, Template] = Field(
        default_factory=lambda: _all_kinds(),
        description='Which kinds of event fire: true, false or a reference such as "$inputs.showNew".',
    )
    start: Template = Field(
        None,
        description="Where a new instance starts: a date or date-time (e.g. $inputs.lookBack). Unset: the "
        "first poll records the current time and fires nothing.",
    )
    variants: Variants | None = None
    window: DateWindow | None = None
    record: str | dict[str, str] | None = Field(
        None,
        description="Where the schema of one emitted record comes from: ACTION#/json/pointer names the part "
        "of an action's output that describes one record (listJobs#/properties/data/items); with variants, "
        "one such source per case. The event schema (catalog: event) is the envelope around it.",
    )
    capped: Capped | None = Field(
        None,
        description="The list is cut short at a cap with no paging (Homebase360 jobs): full answers are "
        "split by time until none is full; what cannot be split is reported, never passed over. The parts "
        "read whole are kept in the state, where the next poll cuts the window before asking.",
    )
    deactivations: Deactivations | None = Field(
        None,
        description="Deactivated records fire as 'deactivated' when an input turns them on (watermark "
        "polling).",
    )

    @model_validator(mode="after")
    def _one_mode(self) -> Trigger:
        if (self.watermark is None) == (self.seen is None):
            raise ValueError("give exactly one of watermark (change-marker polling) or seen (id-set polling)")
        return self


# --- flows -------------------------------------------------------------------------------------


class FlowTrigger(Strict):
    """The trigger a flow starts from: its steps run once per event."""

    trigger: str = Field(pattern=r"^[a-z0-9]+\.[A-Za-z][A-Za-z0-9_]*$", description="CONNECTOR.TRIGGER")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The trigger's inputs.")


class FlowStep(Strict):
    """One step: an action or a picklist, with inputs that may read earlier steps and the trigger."""

    name: str = Field(pattern=KEY_PATTERN, description="Unique step name; later steps read $steps.<name>.")
    title: str | None = Field(None, description="What the step does, for people.")
    action: str | None = Field(
        None, pattern=r"^[a-z0-9]+\.[A-Za-z][A-Za-z0-9_]*$", description="CONNECTOR.ACTION"
    )
    picklist: str | None = Field(
        None, pattern=r"^[a-z0-9]+\.[A-Za-z][A-Za-z0-9_]*$", description="CONNECTOR.DATASOURCE"
    )
    inputs: dict[str, Template] = Field(
        default_factory=dict,
        description='Inputs; values may be references: "$steps.<name>.data.id", "$trigger.record.id", '
        'with a filter ("$steps.tech.result.0.key|int").',
    )


class Flow(Strict):
    """A flow: an optional trigger and an ordered list of named steps (``component flow run``)."""

    schema_: str | None = Field(None, alias="$schema")
    name: str = Field(min_length=1)
    description: str = ""
    trigger: FlowTrigger | None = None
    steps: list[FlowStep] = Field(min_length=1)


# --- connectors and the manifest ----------------------------------------------------------------


class Environment(Strict):
    """A vendor's own hosts: https, and no userinfo (``user:pw@``) in any URL."""

    baseUrl: str = Field(pattern=r"^https://[^/@]+(/.*)?$")
    tokenUrl: str | None = Field(None, pattern=r"^https://[^/@]+(/.*)?$")


class OAuth2ClientCredentials(Strict):
    type: Literal["oauth2_client_credentials"]
    clientId: Template = "$connection.clientId"
    clientSecret: Template = "$connection.clientSecret"
    scope: Template = None
    refreshMargin: float = Field(60, ge=0, description="Seconds before expiry at which a token is renewed.")
    defaultExpiresIn: float = Field(900, gt=0, description="Token lifetime when the token response omits it.")


class ApiKeyAuth(Strict):
    type: Literal["api_key"]
    header: str
    value: Template = "$connection.apiKey"


Auth = Annotated[OAuth2ClientCredentials | ApiKeyAuth, Field(discriminator="type")]


class ConnectionDef(Strict):
    label: str
    schema_: JsonSchema = Field(
        alias="schema",
        description='JSON Schema of the connection object. Mark secrets with "x-secret": true; '
        '"x-env" names an environment variable that may supply a field.',
    )
    environments: dict[str, Environment] = Field(min_length=1)
    environmentField: str | None = Field(
        None, description="Connection field whose value picks the environment; else the first environment."
    )
    auth: Auth
    headers: dict[str, Template] = Field(default_factory=dict, description="Headers sent on every request.")


class RetryPolicy(Strict):
    maxAttempts: int = Field(4, ge=1, description="Attempts in all, the first included.")
    backoff: float = Field(0.5, ge=0, description="First back-off in seconds; doubles on each retry.")
    maxBackoff: float = Field(30, ge=0)
    jitter: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of each back-off step drawn at random (0.5: between half and all of it).",
    )
    statuses: list[int] = Field(
        default_factory=lambda: [429, 500, 502, 503, 504],
        description="Statuses retried. 429 is retried on any method; the rest on idempotent methods only.",
    )


class RateLimit(Strict):
    requests: int = Field(ge=1)
    per: float = Field(gt=0, description="Window in seconds.")
    key: Template = Field(None, description="What the budget is shared by, e.g. $connection.apiKey.")
    margin: float = Field(
        0,
        ge=0,
        description="Seconds added to the window. A slot is held from the send until the window has passed "
        "after the response, so no delay on the way makes the vendor count one request too many; the "
        "margin is for a vendor that counts more coarsely than a sliding window (whole seconds, minutes "
        "on the clock).",
    )


class HttpPolicy(Strict):
    timeout: float = Field(100, gt=0, description="Seconds for one request.")
    deadline: float = Field(300, gt=0, description="Seconds for one request with all its retries.")
    retry: RetryPolicy = RetryPolicy()
    rateLimit: RateLimit | None = None
    resetHeader: str | None = Field(None, description="Header with the Unix time at which a 429 ends.")
    maxResponseBytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="Largest response body read, in bytes after decompression; a larger one is a "
        "response_too_large error, and reading stops there.",
    )


class Envelope(Strict):
    """Where a vendor puts the payload and the parts of an error."""

    data: str | None = Field(None, description="Dotted path of the payload in a success body.")
    success: str | None = Field(None, description="Dotted path of a success flag; false means error.")
    message: list[str] = Field(
        default_factory=lambda: ["message"], description="Paths tried for the message."
    )
    traceId: list[str] = Field(default_factory=list, description="Body paths tried for a trace id.")
    traceHeaders: list[str] = Field(
        default_factory=list, description="Response headers tried for a trace id."
    )
    errors: str | None = Field(None, description="Dotted path of field-level error details.")
    credentials: dict[Literal["401", "403"], list[str]] = Field(
        default_factory=dict,
        description="HTTP statuses that mean the vendor refused the connection's credentials, each "
        "with the connection fields to check: such an answer is invalid_credentials (exit 2), not auth.",
    )


class ConnectionTest(Strict):
    """How to check a connection: the connector's cheapest authenticated call."""

    action: str = Field(pattern=KEY_PATTERN, description="The action to run (an action of this connector).")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Its inputs.")
    description: str | None = Field(None, description="What the call proves, for people.")


class Connector(Strict):
    label: str
    description: str
    connection: ConnectionDef
    testConnection: ConnectionTest | None = Field(
        None, description="The call that checks a connection (component test-connection)."
    )
    http: HttpPolicy = HttpPolicy()
    envelope: Envelope = Envelope()
    pagination: dict[str, Any] | None = Field(
        None,
        description="Pagination defaults merged under each definition's own pagination of the same style.",
    )
    actions: list[str] = Field(
        default_factory=list, description="Action definition files, relative to the manifest."
    )
    dataSources: list[str] = Field(default_factory=list)
    triggers: list[str] = Field(default_factory=list)


class Manifest(Strict):
    schema_: str | None = Field(None, alias="$schema")
    name: str
    version: str
    connectors: dict[str, Connector] = Field(min_length=1)


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "manifest": Manifest,
    "action": Action,
    "datasource": DataSource,
    "trigger": Trigger,
    "flow": Flow,
}
SCHEMA_DIR = Path(__file__).parent / "schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each file kind, as generated from the models."""
    out = {}
    for name, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://fieldservice-component.dev/schema/{name}.schema.json"
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
