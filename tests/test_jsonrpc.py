"""The JSON-RPC client against a node that answers badly (a node a genesis record names may be anyone's):
every answer that is not the request's JSON-RPC response is one NodeUnreachable line, never a crash, a
hang or a read without end."""

from __future__ import annotations

import json
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


def serve_pipelined(wrong_id_at: int | None = None) -> str:
    """A node that reads requests as they come, several in one read, and answers each (result: its id
    doubled) in one write per read, so that answers arrive several to a segment, as a busy node's do."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def run() -> None:
        connection, _ = server.accept()
        with connection:
            pending, answered = b"", 0
            while chunk := connection.recv(65536):
                pending += chunk
                out = b""
                while b"\r\n\r\n" in pending:
                    head, rest = pending.split(b"\r\n\r\n", 1)
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length")))
                    if len(rest) < length:
                        break
                    body, pending = rest[:length], rest[length:]
                    request_id = json.loads(body)["id"]
                    answered += 1
                    answer_id = request_id + 1 if answered == wrong_id_at else request_id
                    payload = json.dumps({"jsonrpc": "2.0", "id": answer_id, "result": 2 * request_id}).encode()
                    out += b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
                connection.sendall(out)

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}"


def test_pipelined_requests_are_answered_in_order_with_calls_between() -> None:
    client = JsonRpcClient(serve_pipelined(), timeout=10)
    count = jsonrpc.PIPELINE_DEPTH * 2 + 7  # past the depth: the oldest answers are read while sending
    for _ in range(count // 2):
        client.send("eth_sendRawTransaction", "0x00")
    assert client.call("eth_chainId") == 2 * (count // 2 + 1)  # behind the pipelined ones, its own answer
    for _ in range(count - count // 2):
        client.send("eth_sendRawTransaction", "0x00")
    answers = client.answers()
    ids = [a["id"] for a in answers]
    assert len(answers) == count and ids == sorted(ids) and len(set(ids)) == count
    assert all(a["result"] == 2 * a["id"] for a in answers)
    assert client.answers() == []


def test_a_pipelined_answer_to_another_request_is_one_line() -> None:
    client = JsonRpcClient(serve_pipelined(wrong_id_at=3), timeout=5)
    for _ in range(5):
        client.send("eth_sendRawTransaction", "0x00")
    with pytest.raises(NodeUnreachable, match="did not answer eth_sendRawTransaction"):
        client.answers()
