"""The Ethereum JSON-RPC client of the rpc engine and the dev node: web3's HTTPProvider, raw (no
formatters or middleware: the engine reads the node's own JSON), over one kept-alive session, with
batch requests so that a whole block's receipts come back in one round trip. This module only maps
what can go wrong to the project's errors, one line each."""

from __future__ import annotations

import json
from typing import Any, Sequence
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from web3 import HTTPProvider

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
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc from the environment, as a node is addressed directly
        # A kept-alive connection the node has closed is reopened once, whatever the request; web3's own
        # retries (several, with back-off, for some methods only) are off.
        retry = Retry(total=1, connect=1, read=1, status=0, other=0, allowed_methods=None, raise_on_status=False)
        self._session.mount(f"{parts.scheme}://", HTTPAdapter(max_retries=retry))
        self._provider = HTTPProvider(url, request_kwargs={"timeout": timeout}, session=self._session,
                                      exception_retry_configuration=None)

    def call(self, method: str, *params: Any) -> Any:
        return _result(method, self._answer(self._provider.make_request, method, list(params)))

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of `calls`, in order; the first error raises."""
        return [_result(calls[i][0], r) for i, r in enumerate(self.batch_responses(calls))]

    def batch_responses(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[dict]:
        """The raw responses to `calls`, in order, errors included."""
        responses: list[dict] = []
        for start in range(0, len(calls), MAX_BATCH):
            chunk = [(method, list(params)) for method, params in calls[start:start + MAX_BATCH]]
            answered = self._answer(self._provider.make_batch_request, chunk)
            if isinstance(answered, dict):  # a batch refused as a whole
                raise RpcError(chunk[0][0], answered.get("error", answered))
            if len(answered) != len(chunk):
                raise NodeUnreachable(f"{self.url} answered {len(answered)} of a batch of {len(chunk)} requests")
            responses += answered  # web3 puts them back in request order (by id)
        return responses

    def close(self) -> None:
        self._session.close()

    def _answer(self, send, *request) -> Any:
        try:
            return send(*request)
        except requests.HTTPError as exc:
            raise NodeUnreachable(f"{self.url} answered HTTP {exc.response.status_code} without JSON-RPC") from None
        except (requests.RequestException, OSError) as exc:
            raise NodeUnreachable(f"no JSON-RPC answer from {self.url}: {_why(exc)}") from None
        except (ValueError, json.JSONDecodeError):
            raise NodeUnreachable(f"{self.url} answered without JSON-RPC") from None


def _why(exc: Exception) -> str:
    """The cause of a failed request without urllib3's pool and retry wrapping, e.g. `Failed to establish a
    new connection: [Errno 111] Connection refused`."""
    reason = str(getattr(exc.args[0], "reason", exc.args[0]) if exc.args else exc)
    return reason.split("): ", 1)[-1]


def _result(method: str, response: dict) -> Any:
    if "error" in response:
        raise RpcError(method, response["error"])
    return response.get("result")
