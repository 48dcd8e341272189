"""Upstream over HTTP: POST the accepted result (or an operator's override) as JSON, with an idempotency key.

The key is the message's id (an accepted result's is its verdict id), so a server that already has
a result can drop the repeat that a lost response or a restart causes. TLS certificates are always
verified.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request

from edge.journal import Journal, OutboxMessage
from edge.sinks.base import DeliveryError, OutboxSink
from edge.sinks.settings import HttpUpstream, mask_password


def message_id(message: OutboxMessage) -> str:
    """The id of what is sent: an accepted result's is its verdict id, an override's its own."""
    try:
        value = json.loads(message.payload).get("id")
    except (ValueError, AttributeError):
        value = None
    return str(value) if value else message.verdict_id


class HttpSink(OutboxSink):
    def __init__(self, journal: Journal, sink: str, settings: HttpUpstream) -> None:
        super().__init__(journal, sink, max_backoff_s=settings.max_backoff_s)
        self.settings = settings
        self._context = ssl.create_default_context(cafile=settings.ca_file)
        self._token = os.environ.get(settings.token_env) if settings.token_env else None

    def deliver(self, message: OutboxMessage) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": message_id(message),
                   "User-Agent": "specimen-edge", **self.settings.headers}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(  # noqa: S310 - the URL is validated to be http(s)
            self.settings.url, data=message.payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s,  # noqa: S310
                                        context=self._context) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{mask_password(self.settings.url)} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"{mask_password(self.settings.url)} unreachable: {reason}") from None
