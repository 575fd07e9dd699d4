"""Requests between workers over Redis: a presenter's command, a welcome, a pause or a fork
sent to a room's owner (channel cmd:CODE), and the owner's answer (channel w:WORKER).

Cluster (app/session/cluster.py) inherits these; `self.redis`, `self.me`, `self.send`,
`self.waiting`, `self.registry` and `self.options` are its.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import RedisError

from app.protocol import ProtocolError, parse_command
from app.session import persist, work
from app.session.fanout import Mirror, pack, unpack
from app.session.outbox import Message
from app.session.store import Row

if TYPE_CHECKING:
    from app.session.session import Session

log = logging.getLogger("deltaflow.cluster")
P = "deltaflow:"
LONG = frozenset({"step", "epoch", "play", "gradcheck", "slice"})  # what a `pause` stops (app/web/ws.py)
ANSWER_SECONDS = 120.0  # the longest a forwarded command may take (a 10 s gradcheck, a large load)


def unreachable() -> ProtocolError:
    return ProtocolError("busy", "the room directory (Redis) cannot be reached right now; try again in a moment")


class Requests:
    """Both ends of a request: the asking worker's and the owner's."""

    redis: Any
    me: str
    options: Any
    registry: Any
    waiting: dict[str, "asyncio.Future[dict[str, Any]]"]

    # given by the class that mixes this in (Cluster): publish on a channel; log a failure
    send: Callable[[str, bytes], None]
    _failed: Callable[[str, BaseException], None]

    # --- the owner's side --------------------------------------------------------------------
    async def _request(self, s: "Session", data: bytes) -> None:
        """A request from another worker to a room this worker owns."""
        _, msgs = unpack(data)
        head = orjson.loads(msgs[0].data)
        op, answer = head["op"], {"id": head["id"]}
        try:
            if op == "welcome":
                if s.room.relay is not None:
                    s.room.relay.welcome()
                return
            if op == "interrupt":
                if s.lock.locked():
                    s.interrupt = True
                return
            if op == "fork":
                async with s.lock:
                    cap = persist.capture(s, persist.Record())
                blob = await work.in_thread(pack_capture, cap)
                key = f"{P}fork:{head['id']}"
                await self.redis.set(key, blob, px=60_000)
                answer["key"] = key
            elif op == "cmd":
                cmd = parse_command(msgs[1].data)
                if cmd.type == "load" and cmd.ref is not None:
                    cmd._stored = msgs[2].data  # the stored scenario, found where the presenter is
                self.registry.used(s)
                if cmd.type in LONG and not s.lock.locked():
                    s.interrupt = False
                async with s.lock:
                    await s.handle(cmd)
        except ProtocolError as e:
            answer["error"] = e.event()
        except Exception:
            log.exception("a forwarded %s failed", op)
            answer["error"] = ProtocolError("internal", f"the server could not carry out this {op}").event()
        self.send(f"{P}w:{head['from']}", pack(b"A", [Message(orjson.dumps(answer))]))

    # --- the asking side ---------------------------------------------------------------------
    async def _ask(self, m: Mirror, head: dict[str, Any], extra: list[Message] | None = None) -> dict[str, Any]:
        rid = secrets.token_hex(8)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[rid] = fut
        data = pack(b"Q", [Message(orjson.dumps({**head, "id": rid, "from": self.me})), *(extra or [])])
        try:
            if not await self.redis.publish(f"{P}cmd:{m.code}", data):
                raise ProtocolError("busy", f"room {m.code}: its server is not answering; try again in a moment")
            return await asyncio.wait_for(fut, ANSWER_SECONDS)
        except TimeoutError:
            raise ProtocolError("busy", f"room {m.code}: its server did not answer in time") from None
        except (RedisError, OSError) as e:
            self._failed("forwarding a command", e)
            raise unreachable() from None
        finally:
            self.waiting.pop(rid, None)

    async def forward(self, m: Mirror, cmd: Any) -> None:
        """Carry out a presenter's command at the owner, as if sent there."""
        body = orjson.dumps(cmd.model_dump(mode="json", exclude_unset=True, by_alias=True))
        extra = [Message(body)]
        if cmd.type == "load" and cmd.ref is not None:
            extra.append(Message(cmd._stored or b""))
        answer = await self._ask(m, {"op": "cmd"}, extra)
        if answer.get("error"):
            e = answer["error"]
            raise ProtocolError(e["code"], e["message"], e.get("request"))

    def request_welcome(self, m: Mirror) -> None:
        head = {"op": "welcome", "id": "", "from": self.me}
        self.send(f"{P}cmd:{m.code}", pack(b"Q", [Message(orjson.dumps(head))]))

    def interrupt(self, m: Mirror) -> None:
        head = {"op": "interrupt", "id": "", "from": self.me}
        self.send(f"{P}cmd:{m.code}", pack(b"Q", [Message(orjson.dumps(head))]))

    async def fetch_cursor(self, m: Mirror) -> Any:
        """The room's run at its current state, packed by the owner and rebuilt here."""
        answer = await self._ask(m, {"op": "fork"})
        if answer.get("error"):
            e = answer["error"]
            raise ProtocolError(e["code"], e["message"], "fork")
        try:
            blob = await self.redis.getdel(answer["key"])
        except (RedisError, OSError) as e:
            self._failed("fetching a fork", e)
            raise unreachable() from None
        if blob is None:
            raise ProtocolError("busy", "fork: the room's state did not arrive; try again", "fork")
        return await work.in_thread(persist.rebuild, unpack_row(blob), self.options)


def pack_capture(cap: persist.Capture) -> bytes:
    """A captured session as one blob: what persist.rebuild reads back (run in a thread)."""
    scenario = persist.pack_scenario(*cap.scenario) if cap.scenario else None
    assert scenario is not None  # a fresh Record captures the scenario
    state = persist.pack_state(cap)
    parts = [scenario, state] + [persist.pack(persist.config_out(snap)) for snap in cap.new]
    steps = [snap["step"] for snap in cap.new]
    msgs = [Message(orjson.dumps({"id": cap.sid, "steps": steps}))]
    for skeleton, arrays in parts:
        msgs += [Message(skeleton), Message(b"".join(bytes(a) for a in arrays))]
    return pack(b"S", msgs)


def unpack_row(blob: bytes) -> Row:
    _, msgs = unpack(blob)
    head = orjson.loads(msgs[0].data)
    d = [m.data for m in msgs[1:]]
    cps = [(step, d[4 + 2 * i], d[5 + 2 * i]) for i, step in enumerate(head["steps"])]
    return Row(head["id"], time.time(), (d[0], d[1]), (d[2], d[3]), cps, None, None)
