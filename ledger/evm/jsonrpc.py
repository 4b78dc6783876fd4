"""The Ethereum JSON-RPC client of the rpc and anvil engines and the dev node: JSON over one kept-alive
HTTP/1.1 connection (each request written in one piece, Nagle off; http.client reads the answer), with
batch requests, so that a whole block's receipts come back in one round trip, and pipelined ones (send,
then answers), so that the node works on a request while the caller prepares the next. This module only
maps what can go wrong to the project's errors, one line each.

Hand-written over http.client because every transaction of a run on a node is one request: web3's
HTTPProvider over requests took about 1.6 ms a request on loopback (headers and body sent apart, the
second held back by Nagle's algorithm until the first was acknowledged), this about 0.15 ms
(bench/throughput.py)."""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import ssl
import sys
import time
from typing import Any, Sequence
from urllib.parse import urlsplit

from ledger.errors import ConfigError, LedgerError

MAX_BATCH = 500  # Besu refuses batches above 1024 requests by default
PIPELINE_DEPTH = 256  # requests written ahead of their answers: the answers waiting stay well within a socket's buffer
MAX_ANSWER_BYTES = 256 * 2**20  # a block's traces on a market-scale run are a few MB
JSON_RECURSION_LIMIT = 5000


class RpcError(LedgerError):
    """The node answered one request with a JSON-RPC error."""

    def __init__(self, method: str, error: object) -> None:
        error = error if isinstance(error, dict) else {"message": str(error)}
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
        self._address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._timeout = timeout
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._head = (f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                      "Content-Length: ").encode()
        self._socket: socket.socket | None = None
        self._reader: _KeptReader | None = None
        self._ids = itertools.count(1)
        self._unanswered: list[dict] = []  # pipelined requests whose answers are not read yet, oldest first
        self._answered: list[dict] = []  # and the answers read, in the same order

    def send(self, method: str, *params: Any) -> None:
        """Writes the request now and leaves its answer for answers(): a node answers the requests of one
        connection in order (HTTP/1.1 pipelining), so several can be on their way at once."""
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        if len(self._unanswered) >= PIPELINE_DEPTH:
            self._read_unanswered(1)
        if self._socket is None:
            self._open()
        try:
            self._socket.sendall(self._message(request))
        except OSError as exc:
            self.close()
            raise NodeUnreachable(f"no JSON-RPC answer from {self.url}: {_why(exc)}") from None
        self._unanswered.append(request)

    def answers(self) -> list[dict]:
        """The raw responses to the requests sent since the last answers(), in order, errors included."""
        self._read_unanswered(len(self._unanswered))
        answered, self._answered = self._answered, []
        return answered

    def call(self, method: str, *params: Any) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        response = self._post(request)
        if not isinstance(response, dict) or response.get("id") != request["id"]:
            raise NodeUnreachable(f"{self.url} did not answer {method} with its JSON-RPC response")
        return _result(method, response)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of `calls`, in order; the first error raises."""
        return [_result(calls[i][0], r) for i, r in enumerate(self.batch_responses(calls))]

    def batch_responses(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[dict]:
        """The raw responses to `calls`, in order, errors included."""
        responses: list[dict] = []
        for start in range(0, len(calls), MAX_BATCH):
            chunk = [{"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
                     for method, params in calls[start:start + MAX_BATCH]]
            answered = self._post(chunk)
            if isinstance(answered, dict) and "error" in answered:  # a batch refused as a whole
                raise RpcError(chunk[0]["method"], answered["error"])
            by_id = {r["id"]: r for r in answered if isinstance(r, dict) and isinstance(r.get("id"), int)} \
                if isinstance(answered, list) else {}
            if len(by_id) != len(chunk) or any(request["id"] not in by_id for request in chunk):
                raise NodeUnreachable(f"{self.url} did not answer a batch of {len(chunk)} requests with their "
                                      "JSON-RPC responses")
            responses += [by_id[request["id"]] for request in chunk]  # a node may answer in any order
        return responses

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = self._reader = None
        self._unanswered = []  # their answers are lost with the connection

    def _read_unanswered(self, count: int) -> None:
        """Reads the answers of the `count` oldest pipelined requests."""
        for _ in range(count):
            if not self._unanswered:  # the node closed the connection after an earlier answer
                raise NodeUnreachable(f"{self.url} closed the connection before answering every request")
            request = self._unanswered[0]
            try:
                status, payload, closing = self._answer()
            except (http.client.HTTPException, OSError, ValueError) as exc:
                self.close()
                raise NodeUnreachable(f"no JSON-RPC answer from {self.url}: {_why(exc)}") from None
            except NodeUnreachable:
                self.close()
                raise
            if status != 200:
                self.close()
                raise NodeUnreachable(f"{self.url} answered HTTP {status} without JSON-RPC")
            response = _parse(payload, self.url)
            if not isinstance(response, dict) or response.get("id") != request["id"]:
                self.close()
                raise NodeUnreachable(f"{self.url} did not answer {request['method']} with its JSON-RPC response")
            self._unanswered.pop(0)
            self._answered.append(response)
            if closing:
                self.close()

    def _message(self, request: object) -> bytes:
        """The request as one write: no wait on Nagle's algorithm between head and body."""
        body = json.dumps(request, separators=(",", ":")).encode()
        return self._head + str(len(body)).encode() + b"\r\n\r\n" + body

    def _open(self) -> None:
        try:
            self._socket = self._connect()
        except OSError as exc:
            raise NodeUnreachable(f"no JSON-RPC answer from {self.url}: {_why(exc)}") from None
        self._reader = _KeptReader(self._socket.makefile("rb"))

    def _post(self, request: object) -> Any:
        if self._unanswered:  # the connection's answers come in order: the pipelined ones first
            self._read_unanswered(len(self._unanswered))
        message = self._message(request)
        for attempt in (1, 2):  # a kept-alive connection the node has closed is opened again, once
            fresh = self._socket is None
            try:
                if fresh:
                    self._open()
                self._socket.sendall(message)
                status, payload, closing = self._answer()
            except NodeUnreachable:
                self.close()
                raise
            except (http.client.HTTPException, OSError, ValueError) as exc:
                self.close()
                if fresh or attempt == 2:
                    raise NodeUnreachable(f"no JSON-RPC answer from {self.url}: {_why(exc)}") from None
                continue
            if closing:
                self.close()
            if status != 200:
                raise NodeUnreachable(f"{self.url} answered HTTP {status} without JSON-RPC")
            return _parse(payload, self.url)

    def _answer(self) -> tuple[int, bytes, bool]:
        """The status, body and whether the node closes the connection, read within the time limit and
        MAX_ANSWER_BYTES (a node that trickles its answer or sends without end is cut off)."""
        deadline = time.monotonic() + self._timeout
        response = http.client.HTTPResponse(self._reader, method="POST")
        response.begin()
        if (response.length or 0) > MAX_ANSWER_BYTES:
            raise NodeUnreachable(f"{self.url} answered with {response.length:,} bytes, more than "
                                  f"{MAX_ANSWER_BYTES:,}")
        parts, size = [], 0
        while chunk := response.read1(1 << 20):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise NodeUnreachable(f"{self.url} answered with more than {MAX_ANSWER_BYTES:,} bytes")
            if time.monotonic() > deadline:
                raise NodeUnreachable(f"{self.url} took more than {self._timeout:.0f} s to answer")
        return response.status, b"".join(parts), response.will_close

    def _connect(self) -> socket.socket:
        connection = socket.create_connection(self._address, timeout=self._timeout)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._tls.wrap_socket(connection, server_hostname=self._address[0]) if self._tls else connection


class _KeptReader:
    """The connection's one buffered reader, lent to each answer's http.client.HTTPResponse (which asks its
    "socket" for a file and closes it when done): what was read ahead, the start of the next pipelined
    answer, stays for that answer."""

    def __init__(self, reader) -> None:
        self._file = reader

    def makefile(self, mode: str) -> "_KeptReader":
        return self

    def close(self) -> None:
        pass  # the connection closes it

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def _why(exc: Exception) -> str:
    """The cause of a failed request in a few words, e.g. `[Errno 111] Connection refused`."""
    return str(exc) or type(exc).__name__


def _parse(payload: bytes, url: str) -> Any:
    """The JSON of an answer. py-evm raises Python's recursion limit far past what the C stack holds, so JSON
    nested deep enough would crash the process: it is parsed under a limit of its own."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(min(limit, JSON_RECURSION_LIMIT))
    try:
        return json.loads(payload, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise NodeUnreachable(f"{url} answered without JSON-RPC") from None
    finally:
        sys.setrecursionlimit(limit)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _result(method: str, response: dict) -> Any:
    if response.get("error") is not None:
        raise RpcError(method, response["error"])
    return response.get("result")
