"""The worker's sinks: a signed webhook (served for real on loopback) that is retried with a jittered
back-off and whose failure leaves the trigger state uncommitted, and a Celery task on a real Redis.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from component.errors import SinkError, UsageError
from component.worker.sinks import (
    SIGNATURE_HEADER,
    TaskSink,
    WebhookSink,
    backoff,
    open_sink,
    shown_url,
    signature,
    verify,
)
from tests.conftest import SB_KEY
from tests.servers import PostgresServer, RedisServer, served
from tests.worker_cluster import CUSTOMER, INPUTS, TRIGGER, Receiver

SECRET = "sink-secret-for-tests"
BATCH = {"instance": "flow-1", "trigger": TRIGGER, "events": [{"eventId": "e1", "id": "1"}]}


def deliver(sink: WebhookSink, batch: dict[str, Any]) -> None:
    async def go() -> None:
        try:
            await sink.deliver(batch)
        finally:
            await sink.aclose()

    asyncio.run(go())


def test_the_signature_is_an_hmac_of_the_exact_body() -> None:
    body = json.dumps(BATCH).encode()
    header = signature(SECRET, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(SECRET, body, header)
    assert not verify(SECRET, body + b" ", header)
    assert not verify("another", body, header)
    assert not verify(SECRET, body, None)


def test_a_webhook_gets_the_batch_signed_after_retries_with_a_jittered_backoff() -> None:
    receiver = Receiver(SECRET, fail_first=2)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with served(receiver) as url:
        deliver(WebhookSink(f"{url}/hook", SECRET, draw=lambda: 0.5, sleep=sleep), BATCH)
    assert receiver.batches == [BATCH]
    assert waits == [backoff(1, 0.5), backoff(2, 0.5)] == [0.375, 0.75]
    assert backoff(30, 0.0) == 10.0 and backoff(30, 0.999) > 5.0  # capped, and at least half of it


def test_a_webhook_that_keeps_failing_or_refuses_is_a_sink_error() -> None:
    async def no_wait(seconds: float) -> None:
        return None

    failing = Receiver(SECRET, fail_first=100)
    with served(failing) as url, pytest.raises(SinkError, match="after 3 attempts \\(last: status 503\\)"):
        deliver(WebhookSink(f"{url}/hook", SECRET, attempts=3, sleep=no_wait), BATCH)
    assert failing.fail_first == 97

    refusing = Receiver("not-the-secret")  # answers 401 to our signature: a refusal, not retried
    with served(refusing) as url, pytest.raises(SinkError, match="refused") as caught:
        deliver(WebhookSink(f"{url}/hook", SECRET, attempts=5, sleep=no_wait), BATCH)
    assert refusing.refused == 1
    assert caught.value.to_dict()["error"]["type"] == "sink"
    assert SECRET not in str(caught.value)


def test_open_sink_names_the_setting_at_fault() -> None:
    send = print
    with pytest.raises(UsageError, match="COMPONENT_SINK is not set"):
        open_sink(None, None, send)
    with pytest.raises(UsageError, match="COMPONENT_SINK_SECRET"):
        open_sink("https://example.test/hook", None, send)
    with pytest.raises(UsageError, match="http\\(s\\) URL or task:NAME"):
        open_sink("ftp://example.test", SECRET, send)
    assert isinstance(open_sink("task:consumer.take", None, send), TaskSink)
    assert SIGNATURE_HEADER == "X-Component-Signature"


def test_a_task_sink_sends_the_batch_to_the_named_task_on_its_own_queue(redis_server: RedisServer) -> None:
    """Never on a queue the component's own workers consume: they would discard it as an
    unregistered task (logging the batch) after the state was committed."""
    pytest.importorskip(
        "celery", reason="Celery is not installed (pip install 'fieldservice-component[scale]')"
    )
    import redis

    from component.worker import app as worker_app
    from component.worker.app import make_app
    from component.worker.config import WorkerConfig

    app = make_app(WorkerConfig.from_env({"COMPONENT_REDIS_URL": redis_server.url}))
    broker = redis.Redis.from_url(redis_server.url)

    def send(name: str, queue: str, batch: dict[str, Any]) -> None:
        app.send_task(name, args=[batch], queue=queue, ignore_result=True)

    for where, queue in [("task:consumer.take", "consumer.take"), ("task:consumer.take@events", "events")]:
        sink = open_sink(where, None, send)
        assert isinstance(sink, TaskSink) and sink.queue == queue
        asyncio.run(sink.deliver(BATCH))
        message = json.loads(broker.lpop(queue) or b"{}")
        assert message["headers"]["task"] == "consumer.take"
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        assert args == [BATCH]
    assert worker_app.app.conf.task_default_queue == app.conf.task_default_queue == "component"
    assert broker.llen("celery") == broker.llen("component") == 0

    redis_server.kill()  # the broker is gone: the batch is not accepted, so nothing commits
    with pytest.raises(SinkError, match="cannot send a batch of trigger instance 'flow-1' to task"):
        asyncio.run(
            TaskSink(
                "consumer.take",
                lambda name, queue, batch: app.send_task(
                    name, args=[batch], queue=queue, retry=False, ignore_result=True
                ),
            ).deliver(BATCH)
        )


def test_a_task_sink_on_the_components_own_queues_is_refused() -> None:
    for where in ["task:component", "task:consumer.take@component.poll", "task:x@", "task:@q", "task:"]:
        with pytest.raises(UsageError, match="COMPONENT_SINK must be"):
            open_sink(where, None, print)


def test_a_failed_delivery_commits_nothing_and_the_next_poll_delivers_again(
    postgres_server: PostgresServer,
) -> None:
    """The engine's poll with the webhook failing: the state stays where it was; once the webhook
    takes batches again the same event arrives with the same ``eventId``."""
    from component.app import Application
    from component.worker.config import WorkerConfig
    from component.worker.engine import Engine
    from component.worker.instances import InstanceTable

    state = postgres_server.database()
    receiver = Receiver(SECRET)
    with served(receiver) as url:
        config = WorkerConfig.from_env(
            {
                "COMPONENT_STATE": state,
                "COMPONENT_SINK": f"{url}/hook",
                "COMPONENT_SINK_SECRET": SECRET,
                "COMPONENT_SINK_ATTEMPTS": "1",
            }
        )
        application = Application.create(sandbox=True)
        engine = Engine(config, print, application=application)
        try:
            with InstanceTable(state) as table:
                table.add("flow-1", TRIGGER, INPUTS, None, 60)
            assert engine.poll("flow-1")["status"] == "polled"  # the starting point
            engine.call(application.run("servicetitan.createCustomer", CUSTOMER))
            receiver.fail_first = 1
            failed = engine.poll("flow-1")
            assert failed["error"]["type"] == "sink", failed
            assert receiver.batches == []
            assert engine.poll("flow-1") == {"status": "polled", "events": 1, "requests": 1}
            assert engine.poll("flow-1")["events"] == 0  # committed now
            assert len(receiver.batches) == 1
            assert engine.poll("flow-2") == {"status": "removed", "events": 0, "requests": 0}
        finally:
            engine.close()


def test_the_backlog_is_counted_on_a_pooled_connection_and_an_empty_queue_holds_none(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip(
        "celery", reason="Celery is not installed (pip install 'fieldservice-component[scale]')"
    )
    from component.worker.app import make_app, queued
    from component.worker.config import WorkerConfig

    app = make_app(WorkerConfig.from_env({"COMPONENT_REDIS_URL": redis_server.url}))
    assert queued(app, "q") == 0  # Redis has no list for an empty queue: 0, not "unknown"
    for _ in range(3):
        app.send_task("consumer.take", args=[BATCH], queue="q", ignore_result=True)
    assert queued(app, "q") == 3
    redis_server.kill()
    with caplog.at_level("WARNING", logger="component.worker"):
        app.conf.broker_connection_timeout = 1
        assert queued(app, "q") is None
    assert "cannot count the messages waiting in queue 'q'" in caplog.text


def test_the_webhook_url_shows_no_credentials_in_reprs_and_errors() -> None:
    async def no_wait(seconds: float) -> None:
        return None

    canary = SB_KEY
    for receiver, match in [(Receiver("not-the-secret"), "refused"), (Receiver(SECRET, 100), "attempts")]:
        with served(receiver) as url:
            where = url.replace("://", f"://user:{canary}@") + f"/hook?token={canary}#{canary}"
            sink = WebhookSink(where, SECRET, attempts=2, sleep=no_wait)
            assert repr(sink) == f"WebhookSink('{url}/hook')"
            with pytest.raises(SinkError, match=match) as caught:
                deliver(sink, BATCH)
        assert f"{url}/hook" in str(caught.value) and canary not in str(caught.value)
        assert receiver.refused + len(receiver.batches) + receiver.fail_first > 0  # it was reached
    assert shown_url("https://[::1]:8443/a?b=c") == "https://[::1]:8443/a"
    assert shown_url("http://[bad/x") == "http://?"
