"""``tikrelay run --once`` through a proxy that refuses connections says so, on the first poll of
a creator and on later ones, with the proxy's password hidden, and tries again later."""

from __future__ import annotations

import socket

from tests.support.relayed import Relayed


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_proxy_is_reported_on_first_and_later_polls(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    world.add_creator("bob", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    first = relayed.run()  # alice's secUid is known from now on
    assert first.returncode == 0, first.stdout + first.stderr

    port = closed_port()
    dead = f"http://relay:s3cret@127.0.0.1:{port}"
    ca = str(relayed.folder / "tiktok-ca.pem")
    relayed.extra = {"network": {"proxies": [dead], "ca_bundle": ca}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}, {"tiktok": "@bob", "to": ["clips"]}]
    result = relayed.run()
    assert result.returncode == 3, result.stdout + result.stderr
    reason = f"proxy http://relay:[redacted]@127.0.0.1:{port} unreachable: connection refused"
    lines = result.stdout.splitlines()
    for creator in ("alice", "bob"):  # a later poll (the feed API) and a first one (the profile)
        assert f"source tiktok:@{creator} will retry: {reason}" in lines, result.stdout
        assert f"retry later: source tiktok:@{creator}: network: {reason}" in lines
    assert "s3cret" not in result.stdout + result.stderr
    assert "secondary user ID" not in result.stdout
