"""A request hook used by the tests: what a definition names as "hook": "module:function"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from component.http import OutgoingRequest


def tag_request(request: OutgoingRequest, scope: Mapping[str, Any]) -> OutgoingRequest:
    return replace(request, headers={**request.headers, "X-Hooked": str(scope["inputs"].get("phone", ""))})
