"""The playground page in a real headless browser: Playwright drives Debian's Chromium against
``component serve --sandbox`` started for this module (one server, one browser, a page per test).

Skipped, with the reason, where the Python ``playwright`` package or a ``chromium`` executable is
missing; no browser is ever downloaded. Screenshots of every scenario are kept under
``artifacts/playground/`` (not committed).

The sandbox is reached only through the service's ``/v1`` calls, and the service logs every request
it answers; a scenario that must send nothing is proven by that log (no ``POST /v1/…`` line during it)
and by the page's own network record.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from component.sandbox import CREDENTIALS
from component.service.playground import VOCABULARY

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "playground"
CHROMIUM = os.environ.get("COMPONENT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CANARY = "CANARY-playground-secret-3c9e"
SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"

if not Path(CHROMIUM).is_file():
    pytest.skip(
        "no chromium executable (install Debian's chromium package, or set COMPONENT_CHROMIUM)",
        allow_module_level=True,
    )
if not (ROOT / "component" / "service" / "playground" / "static" / "index.html").is_file():
    pytest.skip("the playground bundle is not built", allow_module_level=True)


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def posts(self) -> list[str]:
        """Every ``POST /v1/…`` the service has answered, from its access log."""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line for line in lines if " POST /v1/" in line]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
        return json.loads(raw) if raw else None


@contextmanager
def running(folder: Path, token: str | None = None) -> Iterator[Server]:
    """``component serve --sandbox`` on a free loopback port, its log in ``folder``."""
    from cryptography.fernet import Fernet

    log = folder / "service.log"
    env = {**os.environ, "COMPONENT_SECRET_KEY": Fernet.generate_key().decode(), "PYTHONUNBUFFERED": "1"}
    env.pop("COMPONENT_SERVICE_TOKEN", None)
    if token:
        env["COMPONENT_SERVICE_TOKEN"] = token
    command = [sys.executable, "-m", "component", "serve", "--sandbox", "--host", "127.0.0.1", "--port", "0"]
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            [*command, "--state", str(folder / "state.db")],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
            cwd=folder,
        )
    try:
        assert process.stdout is not None
        text = ""
        deadline = time.monotonic() + 60
        while True:
            line = process.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"component serve exited: {log.read_text()}")
            text += line
            try:
                url = json.loads(text)["url"]
                break
            except ValueError:
                if time.monotonic() > deadline:
                    raise RuntimeError("component serve did not announce its address") from None
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Server(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("playground-service")) as live:
        # a stored connection whose secret is a canary: the page lists it by id, never its secret
        values = {**CREDENTIALS["servicetitan"], "clientSecret": CANARY}
        live.call("PUT", "/v1/connections/st-canary", {"connector": "servicetitan", "values": values})
        yield live


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(30_000)
        yield context
        context.close()


class Session:
    """One page with everything it logged, sent and received."""

    def __init__(self, page: Any, server: Server) -> None:
        self.page = page
        self.server = server
        self.console: list[str] = []
        self.requests: list[Any] = []
        self.bodies: list[str] = []
        page.on(
            "console", lambda m: self.console.append(f"{m.type}: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        page.on("request", lambda r: self.requests.append(r))
        page.on("response", self._keep)

    def _keep(self, response: Any) -> None:
        try:
            if "json" in response.headers.get("content-type", ""):
                self.bodies.append(response.text())
        except Exception:  # a body gone with its page
            pass

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.server.url}/playground/{fragment}")
        self.page.get_by_role("tab", name="Actions").wait_for()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def sent(self, pattern: str) -> list[Any]:
        return [r for r in self.requests if r.method == "POST" and re.search(pattern, r.url)]


SESSIONS: list[Session] = []


@pytest.fixture
def session(browser: Any, server: Server) -> Iterator[Session]:
    page = browser.new_page()
    live = Session(page, server)
    SESSIONS.append(live)
    yield live
    page.close()


def pick(page: Any, field: str, typed: str, option: str) -> None:
    box = page.get_by_role("combobox", name=field)
    box.click()
    box.fill(typed)
    page.get_by_role("option", name=re.compile(re.escape(option))).first.click()


def test_assign_technicians_with_dropdowns(session: Session) -> None:
    page = session.page
    session.open()
    vocabulary = page.locator("[data-vocabulary]")
    sync_api.expect(vocabulary).to_have_attribute(
        "data-vocabulary", "declared" if VOCABULARY.is_file() else "discovered"
    )
    page.get_by_label("Search definitions").fill("assign tech")
    page.get_by_role("button", name="Assign Technicians to Appointment").click()
    technicians = page.get_by_role("combobox", name="Technician IDs-1")
    page.locator("#root_technicianIds__add").click()
    technicians.click()
    status = page.get_by_role("status").filter(has_text="matches")
    sync_api.expect(status).to_contain_text(re.compile(r"\d+ matches"))
    everyone = int(re.sub(r"\D", "", status.inner_text().split("matches")[0]))
    technicians.fill("Sandra")
    sync_api.expect(page.get_by_role("option", name=re.compile("Sandra Cruz"))).to_be_visible()
    narrowed = page.locator('.picklist-list [role="option"]').count()
    assert 0 < narrowed < everyone, (narrowed, everyone)
    session.shot("assign-technicians-dropdown")
    page.get_by_role("option", name=re.compile("Sandra Cruz")).first.click()
    sync_api.expect(technicians).to_have_value(re.compile("Sandra Cruz"))
    pick(page, "Job Appointment ID", "400007-1", "Appointment 400007-1")
    sync_api.expect(page.get_by_role("combobox", name="Job Appointment ID")).to_have_value(
        re.compile("400007-1")
    )
    with page.expect_response(lambda r: "/v1/actions/" in r.url and "dryRun" not in r.url) as answer:
        page.get_by_test_id("run").click()
    assert answer.value.status == 200
    sent = json.loads(answer.value.request.post_data)
    assert sent == {"jobAppointmentId": 500007, "technicianIds": [4001]}
    sync_api.expect(page.get_by_test_id("preview-panel")).to_contain_text("assign-technicians")
    response = page.get_by_test_id("response-panel")
    sync_api.expect(response).to_contain_text('"id": 500007')
    sync_api.expect(page.get_by_label("Output fields")).to_contain_text("data.jobId")
    session.shot("assign-technicians-run")
    assert session.console == []


def test_inline_errors_send_nothing(session: Session) -> None:
    page = session.page
    session.open("#/servicetitan/actions/assignTechnicians")
    page.get_by_role("heading", name="Assign Technicians to Appointment").wait_for()
    before = len(session.server.posts())
    page.get_by_test_id("run").click()
    sync_api.expect(page.locator("#root_jobAppointmentId__error")).to_contain_text(
        "must have required property"
    )
    session.shot("required-field-error")

    session.open("#/servicetitan/actions/listAppointments")
    page.get_by_role("heading", name=re.compile("Appointments")).first.wait_for()
    page.get_by_role("textbox", name=re.compile(r"^Starts On Or After$")).fill("next tuesday")
    page.get_by_test_id("preview").click()
    page.get_by_test_id("run").click()
    sync_api.expect(page.locator("#root_startsOnOrAfter__error")).to_contain_text("date-time")
    session.shot("bad-date-time-error")
    time.sleep(0.5)  # a request would have been sent by now
    assert session.server.posts()[before:] == []
    assert session.sent(r"/v1/(actions|flows)/") == []


def test_the_services_refusal_is_shown_at_the_field(session: Session) -> None:
    """An end before its start passes the schema (the page's check) and not the runtime's rule: the
    dry run is refused, its message shows at the field, and the call itself is never sent."""
    page = session.page
    session.open("#/servicebay/actions/createJob")
    page.get_by_role("button", name="Load example").click()
    page.get_by_role("textbox", name="End Time", exact=True).fill("2026-12-10T13:00:00Z")
    with page.expect_response(lambda r: "/v1/actions/servicebay.createJob" in r.url) as refused:
        page.get_by_test_id("run").click()
    assert refused.value.status == 422 and "dryRun=true" in refused.value.url
    sync_api.expect(page.locator("#root_endTime__error")).to_contain_text("must be after serviceTime")
    session.shot("runtime-refusal-at-field")
    time.sleep(0.3)
    assert [r.url for r in session.sent("/v1/actions/") if "dryRun=true" not in r.url] == []


def test_the_catalogs_own_wording_is_shown_at_the_field(session: Session) -> None:
    page = session.page
    session.open("#/homebase360/actions/searchCustomers")
    page.get_by_role("textbox", name=re.compile("^Phone")).fill("555-0100")
    page.get_by_test_id("preview").click()
    sync_api.expect(page.locator("#root_phone__error")).to_contain_text("must be +1 and a ten-digit")
    assert session.sent("/v1/actions/") == []


def test_with_a_token_the_page_asks_for_it(browser: Any, tmp_path: Path) -> None:
    token = "playground-browser-token-41f0"
    with running(tmp_path, token=token) as guarded:
        page = browser.new_page()
        try:
            live = Session(page, guarded)
            page.goto(f"{guarded.url}/playground/")
            page.get_by_label("Service token").fill(token)
            page.get_by_role("button", name="Continue").click()
            page.get_by_role("tab", name="Actions").wait_for()
            sync_api.expect(
                page.get_by_role("button", name="Assign Technicians to Appointment")
            ).to_be_visible()
            assert token not in "\n".join(live.bodies)
        finally:
            page.close()


def test_create_job_example_sends_only_what_is_set(session: Session) -> None:
    page = session.page
    example = session.server.call("GET", "/v1/definitions/actions/servicetitan.createJob")["examples"][0]
    session.open("#/servicetitan/actions/createJob")
    page.get_by_role("button", name="Load example").click()
    sync_api.expect(page.get_by_role("combobox", name="Customer ID")).to_have_value("100001")
    with page.expect_response(
        lambda r: "/v1/actions/servicetitan.createJob" in r.url and "dryRun" not in r.url
    ) as got:
        page.get_by_test_id("run").click()
    assert got.value.status == 200
    sent = json.loads(got.value.request.post_data)
    # the optional sections (external data, lead source, custom fields) were left alone: not sent
    assert sent == example
    assert not {"externalData", "jobGeneratedLeadSource", "customFields"} & set(sent)
    sync_api.expect(page.get_by_test_id("response-panel")).to_contain_text('"customerId": 100001')
    session.shot("create-job-example")
    assert session.console == []


def test_customer_search_over_twelve_thousand(session: Session) -> None:
    page = session.page
    session.open("#/servicetitan/actions/createJob")
    box = page.get_by_role("combobox", name="Customer ID")
    box.click()
    status = page.get_by_role("status").filter(has_text="matches")
    sync_api.expect(status).to_contain_text("10,000 matches", timeout=60_000)
    # 10,000 entries loaded, a window of them rendered; the end of the list is reachable
    options = page.locator('.picklist-list [role="option"]')
    rendered = options.count()
    assert 0 < rendered <= 20, rendered
    page.locator(".picklist-list").evaluate("list => { list.scrollTop = list.scrollHeight; }")
    last = session.server.call("POST", "/v1/picklists/servicetitan.selectCustomers", {})["result"][-1]
    sync_api.expect(page.locator(f'.picklist-list [role="option"][data-key="{last["key"]}"]')).to_be_visible()
    assert options.count() <= 20
    started = time.perf_counter()
    box.fill("Carol Wood")
    # customer 111998 lies past the picklist's 10,000 cap: the service searched all 12,000
    sync_api.expect(page.locator('[role=option][data-key="111998"]')).to_be_visible()
    elapsed = time.perf_counter() - started
    session.shot("customer-search")
    (ARTIFACTS / "customer-search.txt").write_text(f"matches shown {elapsed:.3f} s after typing\n")
    if SLOW:
        assert elapsed < 1.0, elapsed
    page.locator('[role=option][data-key="111998"]').click()
    sync_api.expect(box).to_have_value(re.compile("Carol Wood"))
    assert session.console == []


def test_dependent_picklist_reloads(session: Session) -> None:
    page = session.page
    session.open("#/servicetitan/actions/createJob")
    pick(page, "Customer ID", "Carol Wood", "Boise")
    with page.expect_request(lambda r: "selectLocation" in r.url) as asked:
        page.get_by_role("combobox", name="Location ID").click()
    assert json.loads(asked.value.post_data) == {"customerId": 111998}
    sync_api.expect(page.get_by_role("status").filter(has_text="for customerId 111998")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Clear Customer ID").click()
    pick(page, "Customer ID", "William Wilson", "Portland")
    with page.expect_request(lambda r: "selectLocation" in r.url) as again:
        page.get_by_role("combobox", name="Location ID").click()
    assert json.loads(again.value.post_data) == {"customerId": 100001}


def test_cross_vendor_flow_runs_to_the_end(session: Session) -> None:
    page = session.page
    session.open()
    page.get_by_role("tab", name="Flows").click()
    page.get_by_label("Flow file").select_option("flows/cross-vendor-intake.json")
    page.get_by_test_id("run-flow").click()
    summary = page.get_by_test_id("flow-summary")
    sync_api.expect(summary).to_contain_text("Finished", timeout=120_000)
    flow = json.loads((ROOT / "flows" / "cross-vendor-intake.json").read_text())
    steps = page.locator(".flow-step")
    assert steps.count() == len(flow["steps"])
    assert {steps.nth(i).get_attribute("data-status") for i in range(steps.count())} == {"ok"}
    assert page.locator(".flow-step .elapsed").count() == len(flow["steps"])
    session.shot("cross-vendor-flow")
    assert session.console == []


def test_a_flow_stops_at_its_failing_step(session: Session) -> None:
    page = session.page
    session.open("#/flows")
    page.get_by_label("Flow file").select_option("flows/cross-vendor-intake.json")
    flow = json.loads((ROOT / "flows" / "cross-vendor-intake.json").read_text())
    flow["steps"][1]["inputs"]["customerId"] = "no-such-customer"
    page.get_by_text("Edit this flow before running it").click()
    page.get_by_label("Flow JSON").fill(json.dumps(flow, indent=2))
    page.get_by_test_id("run-flow").click()
    sync_api.expect(page.get_by_test_id("flow-summary")).to_contain_text("Stopped at step booking")
    statuses = [s.get_attribute("data-status") for s in page.locator(".flow-step").all()]
    assert statuses == ["ok", "failed"] + ["not run"] * (len(flow["steps"]) - 2)
    sync_api.expect(page.locator('.flow-step[data-step="booking"] .failure')).to_be_visible()
    session.shot("flow-failing-step")


def test_a_trigger_polls(session: Session) -> None:
    page = session.page
    session.open("#/servicebay/triggers/newJob")
    page.get_by_test_id("poll").click()
    sync_api.expect(page.get_by_test_id("events-panel")).to_contain_text("event")
    session.shot("trigger-poll")
    assert session.console == []


def _refs(kind: str) -> list[str]:
    from component.catalog import load

    catalog = load(ROOT)
    return sorted(d.ref for c in catalog.connectors.values() for d in c.definitions[kind].values())  # type: ignore[index]


@pytest.fixture(scope="module")
def catalog_page(browser: Any, server: Server) -> Iterator[Session]:
    live = Session(browser.new_page(), server)
    SESSIONS.append(live)
    live.open()
    yield live
    live.page.close()


@pytest.mark.parametrize("ref", _refs("actions"))
def test_every_action_renders_and_its_example_submits(catalog_page: Session, ref: str) -> None:
    """Each action's form renders without a console error; its documented example passes the page's
    own validation and the service's dry run."""
    page = catalog_page.page
    catalog_page.console.clear()
    connector, key = ref.split(".", 1)
    page.evaluate("where => { window.location.hash = where; }", f"#/{connector}/actions/{key}")
    section = page.locator(f'section.definition[data-ref="{ref}"]')
    section.wait_for()
    examples = page.get_by_role("button", name=re.compile("^Load example"))
    if examples.count():
        examples.first.click()
        with page.expect_response(lambda r: f"/v1/actions/{ref}?" in r.url and "dryRun=true" in r.url) as got:
            page.get_by_test_id("preview").click()
        assert got.value.status == 200, got.value.text()
        sync_api.expect(page.get_by_test_id("preview-panel")).to_be_visible()
    else:
        sync_api.expect(section.locator("form")).to_be_visible()
    assert catalog_page.console == [], catalog_page.console


@pytest.mark.parametrize(
    ("kind", "ref"),
    [("dataSources", r) for r in _refs("dataSources")] + [("triggers", r) for r in _refs("triggers")],
)
def test_every_picklist_and_trigger_renders(catalog_page: Session, kind: str, ref: str) -> None:
    page = catalog_page.page
    catalog_page.console.clear()
    connector, key = ref.split(".", 1)
    page.evaluate("where => { window.location.hash = where; }", f"#/{connector}/{kind}/{key}")
    section = page.locator(f'section.definition[data-ref="{ref}"]')
    sync_api.expect(section.locator("form")).to_be_visible()
    sync_api.expect(page.get_by_test_id("poll" if kind == "triggers" else "run")).to_be_enabled()
    assert catalog_page.console == [], catalog_page.console


def test_no_secret_reached_the_page(session: Session) -> None:
    """Last: every JSON body any page of this module received is free of every secret in play."""
    session.open()
    sync_api.expect(session.page.get_by_label("Connection")).to_contain_text("st-canary")
    secrets = {CANARY} | {
        value
        for connector, values in CREDENTIALS.items()
        for name, value in values.items()
        if name in {"clientSecret", "applicationKey", "apiKey"}
    }
    bodies = [body for live in SESSIONS for body in live.bodies]
    assert len(bodies) > 10
    leaked = sorted(secret for secret in secrets for body in bodies if secret in body)
    assert leaked == []
