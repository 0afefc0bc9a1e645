"""Send limits shared by several workers through Redis (core/limits.py, docs/scaling.md): two
limiters (two workers) together stay under one channel limit; a 429 pause reaches the other
worker; with Redis away sends go on at the local share, logged once. Skipped without a Redis
server on 127.0.0.1:6379 (db 11, keys under a prefix of this test run, deleted afterwards)."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest

from core.limits import LocalLimits, RedisLimits

REDIS = "redis://127.0.0.1:6379/11"


def _redis_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
async def prefix():
    p = f"jaring-test:{os.getpid()}:{time.monotonic_ns()}"
    yield p
    import redis.asyncio as redis

    client = redis.from_url(REDIS)
    keys = [k async for k in client.scan_iter(f"{p}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _count(limits, seconds: float, chat_of) -> int:
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await limits.take("tg", chat_of(n))
        n += 1
    return n


async def test_two_workers_share_one_channel_limit(prefix):
    a = RedisLimits(REDIS, fallback=LocalLimits(0.5), prefix=prefix)
    b = RedisLimits(REDIS, fallback=LocalLimits(0.5), prefix=prefix)
    for lim in (a, b):
        lim.register("tg", 20.0, 1000.0)
    try:
        started = time.monotonic()
        counts = await asyncio.gather(
            _count(a, 1.0, lambda n: f"a{n}"), _count(b, 1.0, lambda n: f"b{n}")
        )
        took = time.monotonic() - started
        # burst 20 + 20/s: one worker alone with its own bucket would reach ~40, the two ~80
        assert sum(counts) <= 20 + 20 * took + 2, counts
        assert min(counts) >= 5, counts  # both got a share
    finally:
        await a.close()
        await b.close()


async def test_one_chat_limit_across_workers(prefix):
    a = RedisLimits(REDIS, fallback=LocalLimits(0.5), prefix=prefix)
    b = RedisLimits(REDIS, fallback=LocalLimits(0.5), prefix=prefix)
    for lim in (a, b):
        lim.register("tg", 1000.0, 2.0)
    try:
        started = time.monotonic()
        counts = await asyncio.gather(
            _count(a, 1.0, lambda n: "same"), _count(b, 1.0, lambda n: "same")
        )
        took = time.monotonic() - started
        assert sum(counts) <= 3 + 2 * took + 1, counts  # burst 3, then 2/s, for both together
    finally:
        await a.close()
        await b.close()


async def test_a_429_pause_reaches_the_other_worker(prefix):
    a = RedisLimits(REDIS, fallback=LocalLimits(0.5), prefix=prefix)
    b = RedisLimits(REDIS, fallback=LocalLimits(0.5), prefix=prefix)
    for lim in (a, b):
        lim.register("tg", 1000.0, 1000.0)
    try:
        a.pause("tg", 0.6)
        await asyncio.wait_for(asyncio.gather(*a._pauses), 2)
        started = time.monotonic()
        await b.take("tg", "x")
        assert time.monotonic() - started >= 0.5
    finally:
        await a.close()
        await b.close()


async def test_redis_down_falls_back_to_the_local_share_and_logs_once(caplog):
    lim = RedisLimits("redis://127.0.0.1:1/0", fallback=LocalLimits(0.5))
    lim.register("tg", 20.0, 1000.0)  # local share: 10/s, burst 10
    caplog.set_level(logging.WARNING, "jaring.limits")
    try:
        started = time.monotonic()
        n = await asyncio.wait_for(_count(lim, 1.0, lambda n: f"c{n}"), 10)
        took = time.monotonic() - started
        assert 5 <= n <= 10 + 10 * took + 1  # sends go on, at the conservative share
        warnings = [r for r in caplog.records if "Redis send limits unavailable" in r.message]
        assert len(warnings) == 1
    finally:
        await lim.close()
