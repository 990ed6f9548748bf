"""``component demo``: a realistic booking flow across the three vendors.

Until the embedded sandbox exists, the demo runs the flow as a dry run: every step renders and
checks the exact request it would send (inputs validated, secrets redacted) and sends nothing.
Each step's inputs are the first example of its definition.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Console

from .runtime import Runtime

# Clearly fake credentials: the dry run sends nothing, so no real account is needed.
DEMO_CONNECTIONS: dict[str, dict[str, Any]] = {
    "servicetitan": {
        "clientId": "demo-client-id",
        "clientSecret": "demo-client-secret",
        "tenant": "1234567890",
        "applicationKey": "demo-application-key",
        "environment": "integration",
    },
    "servicebay": {"apiKey": "demo-servicebay-key", "orgId": "demo-org"},
    "homebase360": {"apiKey": "demo-homebase360-key"},
}

STEPS: list[tuple[str, str, str]] = [
    ("action", "homebase360.searchCustomers", "Find the caller in Homebase360 by phone"),
    ("action", "servicebay.lookupCustomer", "Look the caller up in Servicebay (404 means no match)"),
    ("action", "servicebay.createJob", "Book an in-store job (ticket) in Servicebay"),
    ("picklist", "servicetitan.selectTechnician", "Offer ServiceTitan technicians in a dropdown"),
    ("action", "servicetitan.createJob", "Create the ServiceTitan job with its first appointment"),
    ("action", "servicetitan.assignTechnicians", "Assign the chosen technician to the appointment"),
    ("action", "servicetitan.createPayment", "Record the deposit against the job's invoice"),
]

NOTE = (
    "dry run: the embedded sandbox is not part of this release yet, so each step prints the request "
    "it would send (validated, secrets redacted) and sends nothing"
)


async def _steps(runtime: Runtime, console: Console) -> list[dict[str, Any]]:
    out = []
    for number, (kind, ref, title) in enumerate(STEPS, start=1):
        definition = runtime.catalog.find("actions" if kind == "action" else "dataSources", ref)
        inputs = definition.model.examples[0] if definition.model.examples else {}
        connection = runtime.connection(definition.connector, DEMO_CONNECTIONS[definition.connector])
        call = runtime.run if kind == "action" else runtime.picklist
        request = await call(ref, inputs, connection, dry_run=True)
        console.print(
            f"[green]✓[/green] {number}/{len(STEPS)} {title}: {request['method']} {request['url']}",
            soft_wrap=True,
        )
        out.append({"step": number, "title": title, kind: ref, "inputs": inputs, "request": request})
    return out


async def _run(runtime: Runtime, console: Console) -> list[dict[str, Any]]:
    async with runtime:
        return await _steps(runtime, console)


def run_demo(runtime: Runtime, console: Console) -> dict[str, Any]:
    console.print(f"[bold]component demo[/bold] — {NOTE}")
    steps = asyncio.run(_run(runtime, console))
    return {"mode": "dry-run", "note": NOTE, "steps": steps}
