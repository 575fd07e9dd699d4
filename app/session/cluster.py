"""Rooms across worker processes and hosts, through Redis pub/sub (DELTAFLOW_REDIS_URL).

Keys (prefix `deltaflow:`), all with expiry, so a dead worker's entries go by themselves:
- alive:W — worker W is running (refreshed every TICK, gone ALIVE_MS after it stops);
- room:CODE — the directory: owner worker, session id, presenter token hash, summed viewers;
- sid:ID — the room a session id opens (a presenter reconnecting with its id);
- viewers:CODE — each worker's viewers and presenters of the room; the owner sums them;
- takeover:CODE — held by the one worker that brings back a dead owner's room;
- fork:ID — a session packed for a fork in another worker (a minute).
Channels: ev:CODE (the owner's events, app/session/fanout.py), cmd:CODE (requests to the
owner: forwarded commands, welcomes, forks, pauses), w:W (answers to worker W).
"""

import asyncio
import contextlib
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.protocol import ProtocolError
from app.session.fanout import Mirror, Relay, unpack
from app.session.requests import P, Requests, unreachable
from app.session.room import normalize_code

if TYPE_CHECKING:
    from app.session.registry import Registry
    from app.session.session import Session

log = logging.getLogger("deltaflow.cluster")
TICK = 0.5  # seconds between refreshes of this worker's keys and looks at the others'
# a worker not heard of for this long is dead and its rooms are taken over; long enough that a
# worker whose loop is busy for seconds (a machine under load) is not taken for dead
ALIVE_MS = 10_000
WELCOME_SECONDS = 5.0
ORPHAN_SECONDS = 30.0  # a dead owner's room that no worker could take over closes after this
# register (or keep) a room unless another live worker holds it; returns the owner
REGISTER = """
local o = redis.call('HGET', KEYS[1], 'owner')
if o and o ~= ARGV[1] and redis.call('EXISTS', ARGV[7] .. o) == 1 then return o end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'sid', ARGV[2], 'token', ARGV[3], 'presenter', ARGV[4],
           'viewers', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('SET', KEYS[2], ARGV[8], 'PX', ARGV[6])
return ARGV[1]
"""


class Cluster(Requests):
    """This worker's place among the others: owns some rooms, mirrors others."""

    def __init__(self, url: str, registry: "Registry", worker: str | None = None) -> None:
        self.url, self.registry, self.options = url, registry, registry.options
        self.me = worker or secrets.token_hex(6)
        self.redis: Any = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.pubsub = self.redis.pubsub()
        self.owned: dict[str, Session] = {}
        self.mirrors: dict[str, Mirror] = {}
        self.missing: dict[str, int] = {}  # mirrored rooms the directory lacks, ticks in a row
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.finding: dict[str, asyncio.Lock] = {}
        self.out: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.down = False  # Redis could not be reached at the last try
        self.tasks: list[asyncio.Task[None]] = []
        self.room_ms = int(registry.rooms.idle_seconds * 1000) + ALIVE_MS
        self._register = self.redis.register_script(REGISTER)

    # --- running ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and subscribe; RedisError (with the URL's host) when Redis cannot be reached."""
        await self.redis.set(f"{P}alive:{self.me}", 1, px=ALIVE_MS)
        await self.pubsub.subscribe(f"{P}w:{self.me}")
        self.registry.rooms.remote = self
        self.tasks = [asyncio.create_task(t) for t in (self._listen(), self._publish(), self._tick())]

    async def close(self) -> None:
        """Stop; other workers take this one's rooms over from their saved state at once."""
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(f"{P}alive:{self.me}")
        with contextlib.suppress(RedisError, OSError, RuntimeError):
            await self.pubsub.aclose()
        await self.redis.aclose()

    def _failed(self, what: str, e: BaseException) -> None:
        if not self.down:
            log.warning("Redis at %s: %s failed (%s); rooms in other workers wait for it", self.url, what, e)
        self.down = True

    def _recovered(self) -> None:
        if self.down:
            self.down = False
            log.warning("Redis at %s answers again", self.url)
            for m in self.mirrors.values():  # events were lost meanwhile
                m.resync()

    def send(self, channel: str, data: bytes) -> None:
        """Queue a publish; messages leave in order."""
        if self.out.qsize() > 10_000:  # Redis stalls: drop, the mirrors resync when it is back
            return
        self.out.put_nowait((channel, data))

    async def _publish(self) -> None:
        while True:
            batch = [await self.out.get()]
            while not self.out.empty() and len(batch) < 256:
                batch.append(self.out.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except (RedisError, OSError) as e:
                self._failed("publishing", e)
            except Exception:
                log.exception("publishing to Redis failed")

    async def _listen(self) -> None:
        while True:
            try:
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (RedisError, OSError) as e:
                self._failed("listening", e)
                await self._resubscribe()
                continue
            if msg is None or msg["type"] != "message":
                continue
            channel = msg["channel"].decode()[len(P) :]
            kind, _, name = channel.partition(":")
            try:
                if kind == "ev" and name in self.mirrors:
                    self.mirrors[name].receive(msg["data"])
                elif kind == "cmd" and name in self.owned:
                    asyncio.create_task(self._request(self.owned[name], msg["data"]))
                elif kind == "w":
                    head = orjson.loads(unpack(msg["data"])[1][0].data)
                    fut = self.waiting.pop(head["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(head)
            except Exception:
                log.exception("could not handle a message on %s", channel)

    async def _resubscribe(self) -> None:
        """A new subscription to every channel this worker needs, once Redis answers again;
        mirrors then start their members again, since events were lost meanwhile."""
        while True:
            await asyncio.sleep(TICK)
            fresh = self.redis.pubsub()
            try:
                channels = [
                    f"{P}w:{self.me}",
                    *(f"{P}cmd:{c}" for c in self.owned),
                    *(f"{P}ev:{c}" for c in self.mirrors),
                ]
                await fresh.subscribe(*channels)
            except (RedisError, OSError):
                with contextlib.suppress(RedisError, OSError, RuntimeError):
                    await fresh.aclose()
                continue
            old, self.pubsub = self.pubsub, fresh
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                await old.aclose()
            for m in self.mirrors.values():
                m.resync()
            return

    async def _tick(self) -> None:
        while True:
            try:
                await self.redis.set(f"{P}alive:{self.me}", 1, px=ALIVE_MS)
                await self._own()
                await self._follow()
                self._recovered()
            except (RedisError, OSError) as e:
                self._failed("refreshing the directory", e)
            except Exception:  # never stop the heartbeat: other workers would take this one's rooms
                log.exception("refreshing the room directory failed")
            await asyncio.sleep(TICK)

    # --- rooms this worker owns ------------------------------------------------------------
    async def register(self, s: "Session") -> bool:
        """Enter `s`'s room in the directory as this worker's; False if a live worker has it."""
        code = s.room.code
        assert code is not None
        token = s.room.token_hash.hex() if s.room.token_hash else ""
        owner = await self._register(
            keys=[f"{P}room:{code}", f"{P}sid:{s.id}"],
            args=[self.me, s.id, token, int(s.room.presenting), s.room.viewers, self.room_ms, f"{P}alive:", code],
        )
        if owner.decode() != self.me:
            return False
        if code not in self.owned:
            self.owned[code] = s
            s.room.relay = Relay(lambda data: self.send(f"{P}ev:{code}", data), s.viewer_welcome)
            await self.pubsub.subscribe(f"{P}cmd:{code}")
        return True

    async def _own(self) -> None:
        rooms = self.registry.rooms.rooms
        for code, s in list(self.owned.items()):
            if rooms.get(code) is not s:  # closed (idle) or replaced: its viewers elsewhere go too
                await self._release(code, s, closed=True)
        for code, s in list(rooms.items()):
            if not await self.register(s):  # another worker has it: this copy gives way
                log.warning("room %s is owned by another worker; dropping this worker's copy", code)
                await self._release(code, s, closed=False)
                self.registry.drop_copy(s)
                continue
            counts = await self.redis.hgetall(f"{P}viewers:{code}")
            alive = await self._alive({w.decode() for w in counts})
            viewers = presenters = 0
            for w, vp in counts.items():
                if w.decode() in alive and w.decode() != self.me:
                    v, _, p = vp.decode().partition(",")
                    viewers, presenters = viewers + int(v), presenters + int(p or 0)
            if (viewers, presenters) != (s.room.elsewhere, s.room.presenters_elsewhere):
                s.room.elsewhere, s.room.presenters_elsewhere = viewers, presenters
                s.room.counted()

    async def _release(self, code: str, s: "Session", closed: bool) -> None:
        self.owned.pop(code, None)
        if s.room.relay is not None:
            if closed:
                s.room.relay.closed()
            s.room.relay = None
        with contextlib.suppress(RedisError, OSError):
            await self.pubsub.unsubscribe(f"{P}cmd:{code}")
        if closed:
            await self.redis.delete(f"{P}room:{code}", f"{P}sid:{s.id}", f"{P}viewers:{code}")

    async def _alive(self, workers: set[str]) -> set[str]:
        workers = {w for w in workers if w}
        if not workers:
            return set()
        ws = sorted(workers)
        found = await self.redis.mget([f"{P}alive:{w}" for w in ws])
        return {w for w, v in zip(ws, found, strict=True) if v is not None} | {self.me}

    # --- rooms other workers own -----------------------------------------------------------
    async def _follow(self) -> None:
        for code, m in list(self.mirrors.items()):
            if m.closed or (not m.room.members and time.monotonic() - m.last_seen > 10):
                await self._unmirror(code)
                continue
            if m.base is None:
                m.ask_welcome()  # the last ask, or its answer, was lost
            local = f"{m.room.count('viewer')},{len(m.room.members) - m.room.count('viewer')}"
            await self.redis.hset(f"{P}viewers:{code}", self.me, local)
            await self.redis.pexpire(f"{P}viewers:{code}", self.room_ms)
            info = await self.redis.hgetall(f"{P}room:{code}")
            if not info:  # closed, or Redis lost it and its owner has not told it again yet
                self.missing[code] = self.missing.get(code, 0) + 1
                if self.missing[code] > 6:
                    m.close("room_closed", f"room {code} closed: its presenter left")
                continue
            self.missing.pop(code, None)
            room = {k.decode(): v.decode() for k, v in info.items()}
            m.room.total, m.presenting = int(room.get("viewers", 0)), room.get("presenter") == "1"
            m.room.token_hash = bytes.fromhex(room["token"]) if room.get("token") else None
            if room["owner"] == m.owner:
                if m.owner in await self._alive({m.owner}):
                    m.orphaned = 0.0
                elif await self._take_over(code, room["sid"]) is None:
                    m.orphaned = m.orphaned or time.monotonic()
                    if time.monotonic() - m.orphaned > ORPHAN_SECONDS:  # no worker has its saved state
                        await self.redis.delete(f"{P}room:{code}", f"{P}sid:{room['sid']}")
                        m.close("room_closed", f"room {code} closed: the server that ran it stopped")
            else:  # taken over: the new owner's welcome follows
                m.owner = room["owner"]
                m.resync()

    async def _unmirror(self, code: str) -> None:
        self.mirrors.pop(code, None)
        self.missing.pop(code, None)
        await self.redis.hdel(f"{P}viewers:{code}", self.me)
        await self.pubsub.unsubscribe(f"{P}ev:{code}")

    async def _take_over(self, code: str, sid: str) -> "Session | None":
        """Bring back a dead owner's room from the saved state, if this worker wins the race.
        Its members here reconnect (and find it local); other workers' mirrors follow it."""
        if not await self.redis.set(f"{P}takeover:{code}", self.me, nx=True, px=10_000):
            return None
        self.registry.rooms.stored[code] = sid
        s = await self.registry.find(sid)
        if s is None or s.room.code != code or not await self.register(s):
            log.warning("room %s could not be taken over here: its saved state is not in this database", code)
            await self.redis.delete(f"{P}takeover:{code}")  # a worker on the owner's host may have it
            return None
        log.info("took over room %s from a worker that stopped", code)
        m = self.mirrors.get(code)
        if m is not None:
            m.close("busy", f"room {code} moved to another server process; reconnecting")
            await self._unmirror(code)
        s.room.relay.welcome(reset=True)
        return s

    async def find_room(self, code: str) -> "Session | Mirror | None":
        """The room `code`: owned here, mirrored here, or found in the directory (and mirrored);
        a dead owner's room is taken over. ProtocolError `busy` while Redis is unreachable."""
        code = normalize_code(code)
        if code in self.registry.rooms.rooms:
            return self.registry.rooms.rooms[code]
        lock = self.finding.setdefault(code, asyncio.Lock())
        try:
            async with lock:  # one look-up per room at a time: one mirror, one takeover
                return await self._find_room(code)
        finally:
            if not lock.locked():
                self.finding.pop(code, None)

    async def _find_room(self, code: str) -> "Session | Mirror | None":
        rooms = self.registry.rooms
        if code in rooms.rooms:
            return rooms.rooms[code]
        m = self.mirrors.get(code)
        if m is not None and not m.closed and m.base is not None:
            return m
        try:
            info = {k.decode(): v.decode() for k, v in (await self.redis.hgetall(f"{P}room:{code}")).items()}
            if not info:
                if code not in rooms.stored or not await self.redis.set(
                    f"{P}takeover:{code}", self.me, nx=True, px=10_000
                ):
                    return None
                s = rooms.get(code)  # saved here, its owner gone with Redis's memory of it
                return s if s is not None and await self.register(s) else None
            if info["owner"] == self.me or info["owner"] not in await self._alive({info["owner"]} - {self.me}):
                return await self._take_over(code, info["sid"])
            if m is None or m.closed:
                m = Mirror(self, code, info["sid"], info["owner"], bytes.fromhex(info["token"]) or None)
                m.room.total = int(info.get("viewers", 0))
                m.presenting = info.get("presenter") == "1"
                self.mirrors[code] = m
                await self.pubsub.subscribe(f"{P}ev:{code}")
                m.ask_welcome(force=True)
            await asyncio.wait_for(m.ready.wait(), WELCOME_SECONDS)
        except TimeoutError:  # before OSError, of which it is one
            raise ProtocolError("busy", f"room {code}: its server did not answer; try again in a moment") from None
        except (RedisError, OSError) as e:
            self._failed("looking up a room", e)
            raise unreachable() from None
        return m

    async def find_session(self, sid: str) -> "Session | Mirror | None":
        """A session by id: a room's (wherever it lives), else this worker's (or the saved one)."""
        if sid not in self.registry.sessions:
            try:
                code = await self.redis.get(f"{P}sid:{sid}")
            except (RedisError, OSError) as e:
                self._failed("looking up a session", e)
                raise unreachable() from None
            if code is not None:
                found = await self.find_room(code.decode())
                if found is not None and found.id == sid:
                    return found
        return await self.registry.find(sid)
