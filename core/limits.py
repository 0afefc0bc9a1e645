"""Send limits: a token bucket per channel (e.g. Telegram ~30/s per bot) and one per chat (~1/s
with a small burst), consulted by the outbox right before each request.

- `LocalLimits`: in-process buckets. Right for one process; with N processes and no Redis each
  takes a conservative 1/N share of every limit (`share`), so the fleet stays under the limit.
- `RedisLimits`: the same buckets in Redis, shared by every worker: one Lua script takes a token
  from the channel's bucket and the chat's together, in one round trip, on Redis's clock. A 429's
  retry_after pauses the channel's bucket for the whole fleet. When Redis does not answer, sends
  go on through a `LocalLimits` with the 1/N share (logged once; Redis is tried again after a
  few seconds): limits are kept conservatively, nothing is lost. docs/scaling.md says why Redis
  rather than PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Protocol

log = logging.getLogger("jaring.limits")

CHAT_BURST = 3


class Bucket:
    """Token bucket; `wait()` sleeps until a token is free. `pause()` blocks it for a while."""

    __slots__ = ("rate", "cap", "tokens", "stamp", "paused_until")

    def __init__(self, rate: float, burst: float):
        self.rate, self.cap = rate, max(1.0, burst)
        self.tokens, self.stamp, self.paused_until = self.cap, time.monotonic(), 0.0

    async def wait(self) -> None:
        while True:
            now = time.monotonic()
            if now < self.paused_until:
                await asyncio.sleep(self.paused_until - now)
                continue
            self.tokens = min(self.cap, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def idle_full(self) -> bool:
        return (
            time.monotonic() >= self.paused_until
            and self.tokens + (time.monotonic() - self.stamp) * self.rate >= self.cap
        )


class Limits(Protocol):
    def register(self, channel: str, rate_global: float, rate_per_chat: float) -> None: ...

    async def take(self, channel: str, chat: str) -> None:
        """Wait until both the channel's and the chat's bucket give a token."""

    def pause(self, channel: str, seconds: float) -> None:
        """The channel said "too many requests, retry after `seconds`": slow all its sends."""

    def forget_idle(self) -> None:
        """Drop the state of chats that are idle (memory)."""

    async def close(self) -> None: ...


class LocalLimits:
    """In-process buckets, each at `share` of the configured rate (1 for a single process)."""

    def __init__(self, share: float = 1.0):
        self.share = share
        self._rates: dict[str, tuple[float, float]] = {}
        self._global: dict[str, Bucket] = {}
        self._chats: dict[tuple[str, str], Bucket] = {}

    def register(self, channel: str, rate_global: float, rate_per_chat: float) -> None:
        g, c = rate_global * self.share, rate_per_chat * self.share
        self._rates[channel] = (g, c)
        self._global[channel] = Bucket(g, burst=g)

    async def take(self, channel: str, chat: str) -> None:
        bucket = self._chats.get((channel, chat))
        if bucket is None:
            bucket = self._chats[(channel, chat)] = Bucket(
                self._rates[channel][1], burst=CHAT_BURST
            )
        await bucket.wait()
        await self._global[channel].wait()

    def pause(self, channel: str, seconds: float) -> None:
        if channel in self._global:
            self._global[channel].pause(seconds)

    def forget_idle(self) -> None:
        for key in [k for k, b in self._chats.items() if b.idle_full()]:
            del self._chats[key]

    async def close(self) -> None:
        return None


# KEYS[1]: the channel's bucket, KEYS[2]: the chat's. ARGV: rate and burst of each, the keys'
# time to live. Returns "0" with a token taken from both, else the seconds to wait (nothing
# taken). Redis's own clock (TIME) is used: the workers' clocks never meet here.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function level(key, rate, burst)
  local v = redis.call('HMGET', key, 'tokens', 'stamp', 'paused')
  local tokens = tonumber(v[1]) or burst
  local stamp = tonumber(v[2]) or now
  local paused = tonumber(v[3]) or 0
  return math.min(burst, tokens + math.max(0, now - stamp) * rate), paused
end
local rg, bg, rc, bc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local gt, gp = level(KEYS[1], rg, bg)
local ct, cp = level(KEYS[2], rc, bc)
local wait = 0
if gp > now then wait = gp - now end
if cp > now then wait = math.max(wait, cp - now) end
if gt < 1 then wait = math.max(wait, (1 - gt) / rg) end
if ct < 1 then wait = math.max(wait, (1 - ct) / rc) end
if wait > 0 then return tostring(wait) end
redis.call('HSET', KEYS[1], 'tokens', tostring(gt - 1), 'stamp', tostring(now))
redis.call('HSET', KEYS[2], 'tokens', tostring(ct - 1), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return '0'
"""
# KEYS[1]: a channel's bucket; ARGV[1]: seconds. Pauses it (never shortens a pause).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'paused')) or 0
if until_ > cur then redis.call('HSET', KEYS[1], 'paused', tostring(until_)) end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])) + 60)
return 1
"""

# After Redis failed, how long sends use the local share before Redis is tried again.
RETRY_REDIS = 5.0
KEY_TTL = 120


class RedisLimits:
    """The buckets in Redis, shared by the fleet; `fallback` (the 1/N local share) while Redis
    is away."""

    def __init__(self, url: str, *, fallback: LocalLimits, prefix: str = "jaring:limits"):
        import redis.asyncio as redis  # only when configured

        self.client: Any = redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
        )
        self.prefix = prefix
        self.fallback = fallback
        self._rates: dict[str, tuple[float, float]] = {}
        self._take = self.client.register_script(_TAKE)
        self._pause = self.client.register_script(_PAUSE)
        self._down_until = 0.0  # monotonic: use the fallback until then
        self._down = False
        self._pauses: set[asyncio.Task] = set()

    def register(self, channel: str, rate_global: float, rate_per_chat: float) -> None:
        self._rates[channel] = (rate_global, rate_per_chat)
        self.fallback.register(channel, rate_global, rate_per_chat)

    def _chat_key(self, channel: str, chat: str) -> str:
        # Chat addresses may be phone numbers: only a digest goes to Redis.
        digest = hashlib.blake2b(chat.encode(), digest_size=10).hexdigest()
        return f"{self.prefix}:{channel}:chat:{digest}"

    def _failed(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + RETRY_REDIS
        if not self._down:
            self._down = True
            log.warning(
                "Redis send limits unavailable (%s): using this worker's local share until it "
                "answers again",
                type(exc).__name__,
            )

    async def take(self, channel: str, chat: str) -> None:
        rate_g, rate_c = self._rates[channel]
        keys = [f"{self.prefix}:{channel}", self._chat_key(channel, chat)]
        args = [rate_g, max(1.0, rate_g), rate_c, CHAT_BURST, KEY_TTL]
        while True:
            if time.monotonic() < self._down_until:
                await self.fallback.take(channel, chat)
                return
            try:
                wait = float(await self._take(keys=keys, args=args))
            except Exception as exc:  # noqa: BLE001 - Redis away: the local share, not a lost send
                self._failed(exc)
                continue
            if self._down:
                self._down = False
                log.info("Redis send limits answer again")
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def pause(self, channel: str, seconds: float) -> None:
        self.fallback.pause(channel, seconds)
        if time.monotonic() < self._down_until:
            return
        task = asyncio.get_running_loop().create_task(self._pause_fleet(channel, seconds))
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    async def _pause_fleet(self, channel: str, seconds: float) -> None:
        try:
            await self._pause(keys=[f"{self.prefix}:{channel}"], args=[seconds])
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def forget_idle(self) -> None:
        self.fallback.forget_idle()

    async def close(self) -> None:
        if self._pauses:
            await asyncio.wait(self._pauses, timeout=1)
        try:
            await self.client.aclose()
        except Exception:  # noqa: BLE001 - closing: nothing to keep
            pass
