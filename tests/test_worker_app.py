"""The Celery app's routing and the ``celery worker`` arguments ``component worker run`` builds."""

from __future__ import annotations

import os

import pytest

from tests.servers import RedisServer

pytest.importorskip("celery", reason="Celery is not installed (pip install 'fieldservice-component[scale]')")


def test_dispatch_polls_and_interactive_tasks_each_have_their_own_queue(redis_server: RedisServer) -> None:
    import redis

    from component.worker.app import make_app, queued
    from component.worker.config import WorkerConfig

    app = make_app(WorkerConfig.from_env({"COMPONENT_REDIS_URL": redis_server.url}))
    for name, args in [
        ("component.worker.poll", ["flow-1"]),
        ("component.worker.poll", ["flow-2"]),
        ("component.worker.dispatch", []),
        ("component.worker.run_action", ["servicetitan.listTechnicians", {}]),
        ("component.worker.run_picklist", ["servicetitan.selectTechnician", {}]),
    ]:
        app.send_task(name, args=args, ignore_result=True)
    broker = redis.Redis.from_url(redis_server.url)
    lengths = {q: broker.llen(q) for q in ("component.poll", "component.dispatch", "component.interactive")}
    assert lengths == {"component.poll": 2, "component.dispatch": 1, "component.interactive": 2}
    assert queued(app, "component.poll") == 2


def test_a_worker_consumes_the_components_queues_unless_told_otherwise() -> None:
    from component.worker.app import worker_argv
    from component.worker.config import WorkerConfig

    config = WorkerConfig.from_env({"COMPONENT_MAX_IN_FLIGHT": "4"})
    argv = worker_argv(config, ["--loglevel", "INFO"])
    queues = argv[argv.index("--queues") + 1].split(",")
    assert sorted(queues) == ["component", "component.dispatch", "component.interactive", "component.poll"]
    assert argv[:5] == ["worker", "--pool", "threads", "--concurrency", "4"]
    for given in (["-Q", "component.interactive"], ["-Qcomponent.poll"], ["--queues=component.poll"]):
        assert worker_argv(config, given).count("--queues") == 0
    assert argv[argv.index("--hostname") + 1] == f"component-{os.getpid()}@%h"
    for given in (["-n", "w1@%h"], ["--hostname", "w1@%h"], ["--hostname=w1@%h"]):
        assert "--hostname" not in worker_argv(config, given)[:-2]


def test_a_workers_log_keeps_task_results_and_progress_events_out(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from component import progress
    from component.worker import app

    before = {name: logging.getLogger(name).level for name in ("component.progress", "celery.app.trace")}
    try:
        app._filter_new_handlers(logging.getLogger())  # what Celery's logging set-up signals call
        with caplog.at_level(logging.INFO):
            progress.report("budget-wait", "servicetitan: rate budget full; waiting 0.5 s")
            logging.getLogger("celery.app.trace").info("Task succeeded: {'events': [...]}")
            logging.getLogger("component.worker").info("polled flow-1")
        assert [record.getMessage() for record in caplog.records] == ["polled flow-1"]
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
