"""One Redis client per process and URL, safe across a fork."""

from __future__ import annotations

import os

from hauler import broker


def test_one_client_per_url_and_connect_reuses_it(redis_url: str):
    # given the process's client for a URL
    client = broker.shared(redis_url)
    # when it is asked for again, directly or through connect's PING check
    # then it is the same client (one connection pool)
    assert broker.shared(redis_url) is client
    assert broker.connect(redis_url) is client


def test_a_forked_child_gets_its_own_connection_and_the_parent_keeps_its_own(redis_url: str):
    # given the shared client in use in this process
    client = broker.shared(redis_url)
    parent_id = client.client_id()
    read, write = os.pipe()
    # when a forked child uses the same shared client
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, str(broker.shared(redis_url).client_id()).encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    child_id = int(os.read(read, 64))
    # then the child talked over a connection of its own, and the parent's still works as before
    assert child_id != parent_id
    assert client.client_id() == parent_id
