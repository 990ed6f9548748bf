"""Peer (issue item 5): every ServiceTitan customer from the served sandbox, read by a declarative
Airbyte source (low-code manifest, ``PageIncrement`` paginator, OAuth client credentials) and by our
``listCustomers`` with ``fetchAll``, at the same page size. Records per second for both.

The Airbyte source is read through ``source.read`` (records as objects, no JSON lines on stdout):
the most favourable way to run it. airbyte-cdk comes with ``pip install -e ".[benchmarks]"``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from component.catalog import load
from component.models import PagePagination
from component.runtime import Runtime

from .core import Report, Row, Sample, interleaved
from .served import Unavailable, sandbox

ACTION = "servicetitan.listCustomers"
LATENCY_MS = 20


def manifest(page_size: int) -> dict[str, Any]:
    option = {"type": "RequestOption", "inject_into": "request_parameter"}
    return {
        "version": "6.0.0",
        "type": "DeclarativeSource",
        "check": {"type": "CheckStream", "stream_names": ["customers"]},
        "streams": [
            {
                "type": "DeclarativeStream",
                "name": "customers",
                "primary_key": ["id"],
                "schema_loader": {"type": "InlineSchemaLoader", "schema": {"type": "object"}},
                "retriever": {
                    "type": "SimpleRetriever",
                    "requester": {
                        "type": "HttpRequester",
                        "url_base": "{{ config['base_url'] }}",
                        "path": "/crm/v2/tenant/{{ config['tenant'] }}/customers",
                        "http_method": "GET",
                        "request_headers": {"ST-App-Key": "{{ config['app_key'] }}"},
                        "authenticator": {
                            "type": "OAuthAuthenticator",
                            "token_refresh_endpoint": "{{ config['token_url'] }}",
                            "grant_type": "client_credentials",
                            "client_id": "{{ config['client_id'] }}",
                            "client_secret": "{{ config['client_secret'] }}",
                        },
                    },
                    "record_selector": {
                        "type": "RecordSelector",
                        "extractor": {"type": "DpathExtractor", "field_path": ["data"]},
                    },
                    "paginator": {
                        "type": "DefaultPaginator",
                        "pagination_strategy": {
                            "type": "PageIncrement",
                            "page_size": page_size,
                            "start_from_page": 1,
                        },
                        "page_size_option": {**option, "field_name": "pageSize"},
                        "page_token_option": {**option, "field_name": "page"},
                    },
                },
            }
        ],
    }


def airbyte_read(connection: dict[str, Any], page_size: int) -> int:
    try:
        from airbyte_cdk.models import SyncMode
        from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
        from airbyte_cdk.test.catalog_builder import CatalogBuilder
    except ImportError as exc:
        raise Unavailable(f'airbyte-cdk is not installed (pip install -e ".[benchmarks]"): {exc}') from None
    config = {
        "base_url": connection["baseUrl"],
        "token_url": connection["tokenUrl"],
        "tenant": connection["tenant"],
        "client_id": connection["clientId"],
        "client_secret": connection["clientSecret"],
        "app_key": connection["applicationKey"],
    }
    catalog = CatalogBuilder().with_stream("customers", SyncMode.full_refresh).build()
    source = ConcurrentDeclarativeSource(
        catalog=catalog, config=config, state=None, source_config=manifest(page_size)
    )
    logger = logging.getLogger("airbyte")
    logger.setLevel(logging.WARNING)  # its progress lines would land in the benchmark's table on stdout
    return sum(1 for message in source.read(logger, config, catalog, None) if message.record is not None)


async def ours_read(connection: dict[str, Any]) -> int:
    async with Runtime(env={}) as runtime:
        result = await runtime.run(ACTION, {"fetchAll": True}, connection)
    return len(result["data"]["data"])


def run(report: Report, runs: int) -> None:
    catalog = load()
    definitions = catalog.connectors["servicetitan"].definitions["actions"]
    if ACTION.split(".")[1] not in definitions:
        raise Unavailable(f"{ACTION} is not defined yet")
    pagination = definitions[ACTION.split(".")[1]].model.pagination
    page_size = pagination.pageSize if isinstance(pagination, PagePagination) else 500
    logging.getLogger("airbyte").setLevel(logging.ERROR)
    counts: dict[str, int] = {}
    with sandbox(latency_ms=LATENCY_MS) as served:
        connection = served["connections"]["servicetitan"]

        def airbyte() -> float:
            started = time.perf_counter()
            counts["airbyte"] = airbyte_read(connection, page_size)
            return time.perf_counter() - started

        def ours() -> float:
            started = time.perf_counter()
            counts["ours"] = asyncio.run(ours_read(connection))
            return time.perf_counter() - started

        samples = interleaved(runs, {"ours": ours, "airbyte": airbyte})
    if counts["ours"] != counts["airbyte"]:
        raise RuntimeError(f"the two sides read different counts: {counts}")
    records = counts["ours"]
    row = Row(
        "peer",
        f"read {records:,} customers (page size {page_size}, {LATENCY_MS} ms latency), records/s",
        Sample([records / v for v in samples["ours"]], "rec/s"),
        Sample([records / v for v in samples["airbyte"]], "rec/s"),
        "Airbyte declarative source (PageIncrement)",
        "ours faster",
        higher_is_better=True,
    )
    row.met = row.ratio is not None and row.ratio > 1
    row.note = (
        f"wall: ours {Sample(samples['ours'], 's').text()}, Airbyte {Sample(samples['airbyte'], 's').text()}"
    )
    report.add(row)
