"""The JSON-RPC client against a node that answers badly (a node a genesis record names may be anyone's):
every answer that is not the request's JSON-RPC response is one NodeUnreachable line, never a crash, a
hang or a read without end."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import eth  # noqa: F401  (py-evm raises Python's recursion limit, as in every run)
from ledger.evm import jsonrpc
from ledger.evm.jsonrpc import JsonRpcClient, NodeUnreachable, RpcError


def serve(answer: bytes | None = None, trickle: bool = False) -> str:
    """A node on a loopback port that answers every request with `answer` (an HTTP body), or trickles a
    chunked body a byte every 0.3 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def run() -> None:
        while True:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                try:
                    if trickle:
                        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                        for _ in range(40):
                            connection.sendall(b"1\r\n[\r\n")
                            time.sleep(0.3)
                    else:
                        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
                except OSError:
                    pass

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize("answer", [
    b"[" * 100_000 + b"]" * 100_000,  # nested past what the C stack holds under py-evm's recursion limit
    b"7", b"null", b'"text"', b"[1, 2]",  # not a response object
    b'{"jsonrpc":"2.0","id":12345,"result":"0x1"}',  # another request's answer
    b'{"jsonrpc":"2.0","id":1,"result":NaN}',  # not JSON
    b"\xff\xfe not utf-8",
])
def test_a_bad_answer_is_one_line(answer: bytes) -> None:
    client = JsonRpcClient(serve(answer), timeout=5)
    for ask in (lambda: client.call("eth_chainId"), lambda: client.batch([("eth_chainId", [])])):
        with pytest.raises(NodeUnreachable):
            ask()


def test_an_error_that_is_not_an_object_is_still_an_rpc_error() -> None:
    client = JsonRpcClient(serve(b'{"jsonrpc":"2.0","id":1,"error":"boom"}'))
    with pytest.raises(RpcError, match="boom"):
        client.call("eth_chainId")


def test_a_trickled_answer_is_cut_off_at_the_time_limit() -> None:
    client = JsonRpcClient(serve(trickle=True), timeout=1)
    started = time.monotonic()
    with pytest.raises(NodeUnreachable, match="took more than 1 s"):
        client.call("eth_chainId")
    assert time.monotonic() - started < 5


def test_an_answer_past_the_size_bound_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(jsonrpc, "MAX_ANSWER_BYTES", 1000)
    client = JsonRpcClient(serve(b'{"jsonrpc":"2.0","id":1,"result":"' + b"0" * 5000 + b'"}'))
    with pytest.raises(NodeUnreachable, match="more than 1,000"):
        client.call("eth_chainId")
