"""A small Ethereum JSON-RPC client over one kept-alive HTTP connection, with batch requests:
the rpc engine sends a whole block's transactions, or fetches all its receipts, in one round trip."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any, Sequence
from urllib.parse import urlsplit

from ledger.errors import ConfigError, LedgerError

MAX_BATCH = 500  # Besu refuses batches above 1024 requests by default


class RpcError(LedgerError):
    """The node answered one request with a JSON-RPC error."""

    def __init__(self, method: str, error: dict) -> None:
        self.method = method
        self.code = error.get("code")
        self.data = error.get("data")
        super().__init__(f"{method}: {error.get('message', error)}")


class NodeUnreachable(LedgerError):
    """No answer from the endpoint at all (refused, timed out, not JSON-RPC)."""


class JsonRpcClient:
    def __init__(self, url: str, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--rpc-url {url!r} is not an http(s) URL")
        self.url = url
        self._path = parts.path or "/"
        connection = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._connection = connection(parts.hostname, parts.port, timeout=timeout)

    def call(self, method: str, *params: Any) -> Any:
        [response] = self._post([{"jsonrpc": "2.0", "id": 0, "method": method, "params": list(params)}])
        return _result(method, response)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of `calls`, in order; the first error raises."""
        return [_result(calls[i][0], r) for i, r in enumerate(self.batch_responses(calls))]

    def batch_responses(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[dict]:
        """The raw responses to `calls`, in order, errors included."""
        responses: list[dict] = []
        for start in range(0, len(calls), MAX_BATCH):
            chunk = [{"jsonrpc": "2.0", "id": start + i, "method": m, "params": list(p)}
                     for i, (m, p) in enumerate(calls[start:start + MAX_BATCH])]
            by_id = {r.get("id"): r for r in self._post(chunk, batch=True)}
            responses += [by_id.get(request["id"], {"error": {"message": "no response"}}) for request in chunk]
        return responses

    def close(self) -> None:
        self._connection.close()

    def _post(self, requests: list[dict], batch: bool = False) -> list[dict]:
        body = json.dumps(requests if batch else requests[0]).encode()
        for attempt in (1, 2):  # a kept-alive connection the node has closed is reopened once
            try:
                self._connection.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = self._connection.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._connection.close()
                if attempt == 2:
                    raise NodeUnreachable(f"the node at {self.url} closed the connection: {exc}") from None
            except (OSError, socket.timeout, http.client.HTTPException) as exc:
                self._connection.close()
                raise NodeUnreachable(f"no JSON-RPC answer from {self.url}: {exc}") from None
        try:
            decoded = json.loads(payload)
        except ValueError:
            raise NodeUnreachable(f"{self.url} answered HTTP {response.status} without JSON-RPC") from None
        if isinstance(decoded, dict) and "id" not in decoded and "error" in decoded:
            raise RpcError(requests[0]["method"], decoded["error"])  # a refused batch as a whole
        return decoded if isinstance(decoded, list) else [decoded]


def _result(method: str, response: dict) -> Any:
    if "error" in response:
        raise RpcError(method, response["error"])
    return response.get("result")
