"""One live training session: a run (its cursor), how it plays, and the room that follows it."""

import asyncio
import logging
import time
from typing import Any

from app import scenario as sc
from app.codec import encode_in_pieces
from app.protocol import encode
from app.session import branch, commands, memory, offload, play, replica, work
from app.session.breakpoints import Paused, Reason, reason
from app.session.cursor import OUTPUT_ROWS, SMALL_SET, Cursor, Event, Options
from app.session.outbox import Message, Outbox, Sent
from app.session.play import quiet
from app.session.room import Hosted, Role, Room

__all__ = ["SMALL_SET", "Options", "Session"]

log = logging.getLogger("deltaflow.session")


class Session(Hosted):
    """A run that a room of members follows; commands change it, events tell them how."""

    def __init__(
        self, sid: str, doc: dict[str, Any] | None, options: Options, scheduler: Any, cursor: Cursor | None = None
    ) -> None:
        self.id, self.options, self.scheduler = sid, options, scheduler
        self.room = Room(self._welcome, options.viewer_bytes_per_s)
        self.playing: str | None = None
        self.paused_reason: Reason | None = None
        self.fps = options.frame_rate
        self.speed = 4.0
        self.rate: float | None = None  # train mode's steps per second; None: flat out
        self.rate_from = (0.0, 0)  # (time, step) the rate counts from
        self.lock = asyncio.Lock()
        self.interrupt = False  # set by `pause` to stop a long command at its next slice
        self.last_seen = time.monotonic()
        self.animation: asyncio.Task[None] | None = None
        self.next_frame = 0.0
        self._maps_due = False
        self._maps_task: asyncio.Task[None] | None = None
        self.frame_task: asyncio.Task[None] | None = None  # a heavy slice or frame, off the loop
        self.slicing = False  # a heavy slice's thread is training the run
        self.health_at = 0.0  # when the last health event went with a train frame
        self.unread_since: float | None = None  # since when no member has taken a train frame
        self.dirty = True  # changed since it was last saved (app/session/persist.py)
        self.poll: Any = None  # the room's question (app/session/poll.py)
        self.cursor = cursor if cursor is not None else Cursor(sc.parse(doc), options)
        self.branch: Any = None  # run b beside this run (app/session/branch.py), not saved

    def fork(self, sid: str) -> "Session":
        """A private session at exactly this one's state: weights, optimizer, phase cursor, history."""
        s = Session(sid, None, self.options, self.scheduler, self.cursor.fork())
        s.speed, s.fps = self.speed, self.fps
        return s

    # the scenario, trainer and history of the run now
    @property
    def scenario(self) -> sc.Scenario:
        return self.cursor.scenario

    @property
    def trainer(self) -> Any:
        return self.cursor.trainer

    @property
    def history(self) -> Any:
        return self.cursor.history

    def load(self, s: sc.Scenario) -> None:
        """A new run of `s` from step 0; every member starts again from its welcome."""
        self.install(Cursor(s, self.options))  # may raise; nothing is replaced until it succeeds

    def install(self, cursor: Cursor) -> None:
        """Replace the run by `cursor`'s; every member starts again from its welcome."""
        self.stop()
        if self.branch is not None:
            self.publish({"type": "branch_closed", "kept": "a", "reason": "a new run was loaded"})
        cursor.breakpoints.set(self.cursor.breakpoints.on, cursor.trainer)  # they outlast a load or reset
        self.cursor = cursor
        self.branch = None
        self.paused_reason = None
        if cursor.step_flops() >= replica.REMOTE_FLOPS:
            replica.warm()
        for box in list(self.room.members):
            self.room.send(box, self._welcome(box))
        if self.room.relay is not None:  # other workers' members start again too
            self.room.relay.welcome(reset=True)

    # --- members ----------------------------------------------------------------------------
    def detach(self, box: Outbox, close: bool = True) -> None:
        super().detach(box, close)
        if not self.room.members:
            memory.release_soon()  # what the connection's answers took, back to the machine
        if not self.room.members and not self.room.elsewhere and self.playing:
            # nobody is watching: don't spend a core on it until someone reconnects
            self.stop()
            self.paused_reason = reason("disconnected", "Paused while no one was connected.", self.cursor.step_shown())

    def _welcome(self, box: Outbox | None = None, as_role: Role | None = None) -> list[Message]:
        """What a new (or resynchronized) member needs: state, dataset, curve start, maps."""
        c = self.cursor
        role = as_role or (self.room.role(box) if box is not None else None)
        state = self.room.state_for(self.state(), role or "owner")
        out = [Message(encode(state)), Message(c.dataset_message()), Message(encode(c.initial_epoch))]
        if self.outputs_flops() >= work.INLINE_FLOPS:
            self.publish_maps()  # they follow from a worker thread, to every member
        else:
            out.extend(self._maps_messages())
        if self.branch is not None:
            out.append(Message(encode(self.branch.event(c))))
        return out

    def welcome(self) -> list[Message]:
        return self._welcome()

    def welcome_for(self, box: Outbox) -> list[Message]:
        return self._welcome(box)

    def viewer_welcome(self) -> list[Message]:
        """A viewer's welcome, for viewers connected to other workers."""
        return self._welcome(None, "viewer")

    # --- events -----------------------------------------------------------------------------
    def state(self) -> Event:
        c = self.cursor
        _, step, epoch = c.shown()
        weights, biases = c.params_json()
        return {
            "type": "state",
            "session": self.id,
            "step": step,
            "epoch": epoch,
            "phase": c.phase(),
            "scenario": c.scenario_doc(),
            "weights": weights,
            "biases": biases,
            "history": {"first": c.history.first, "last": c.history.last},
            "playing": self.playing,
            "paused_reason": self.paused_reason,
            "breakpoints": c.breakpoints.entries(),
            "selected": c.selected,
            "task": c.task,
            "curve": c.thin_curve(),
            "room": None,  # the room fills in each member's own
        }

    def publish(self, *events: Event) -> None:
        self.room.publish(*events)

    async def publish_heavy(self, events: list[Event], flops: int) -> None:
        """publish() for the events of a large traced step: encoded in a worker thread (hundreds
        of kilobytes of JSON), `state` excepted, which is encoded per role."""
        if flops < work.INLINE_FLOPS:
            self.publish(*events)
            return

        def encoded() -> list[Event | Message]:
            return [
                e.message if isinstance(e, Sent) else e if e["type"] == "state" else Message(encode_in_pieces(e))
                for e in events
            ]

        self.room.publish(*await work.in_thread(encoded))

    def publish_maps(self) -> None:
        """Send the outputs and maps soon after, so a step's events leave before they are computed.

        Heavy maps are computed in a worker thread, holding the session's lock so that no
        command changes the network meanwhile."""
        if self._maps_due:
            return
        self._maps_due = True
        if self.outputs_flops() < work.INLINE_FLOPS:
            asyncio.get_running_loop().call_soon(self._send_maps)
        else:
            self._maps_task = asyncio.get_running_loop().create_task(self._send_heavy_maps())

    def outputs_flops(self) -> int:
        """What the outputs (of the examples table) and the maps cost to compute."""
        c = self.cursor
        rows = min(OUTPUT_ROWS, len(c.trainer.x)) if c.tabled else 0
        return work.forward_flops(c.trainer.net.layers, rows) + c.maps_flops()

    def _maps_messages(self) -> list[Message]:
        c = self.cursor
        with quiet():
            return self._outputs_messages() + ([Message(c.maps(), True)] if c.points is not None else [])

    def _outputs_messages(self) -> list[Message]:
        c = self.cursor
        return [Message(encode(c.outputs()))] if c.tabled else []

    def _send_maps(self) -> None:
        self._maps_due = False
        self.room.put(self._maps_messages())

    async def _send_heavy_maps(self) -> None:
        async def body() -> list[Message] | None:
            self._maps_due = False
            try:
                with quiet():
                    msgs = await work.in_thread(self._outputs_messages)
                    if self.cursor.points is not None:
                        msgs.append(Message(await offload.maps_message(self.cursor), True))
            except replica.Busy:
                raise
            except Exception:  # the next step's maps may do; the run itself is unharmed
                log.exception("maps failed")
                return None
            return msgs

        msgs = await play.in_turn(self, self.cursor.maps_flops(), body)  # no command changes the network meanwhile
        if msgs is not None:
            self.room.put(msgs)

    # --- commands ---------------------------------------------------------------------------
    async def handle(self, cmd: Any) -> None:
        """Carry out one command; ProtocolError leaves the session unchanged."""
        self.last_seen = time.monotonic()
        try:
            with quiet():
                await commands.HANDLERS[cmd.type](self, cmd)
                if self.branch is not None and cmd.type in branch.FOLLOWS and self.playing != "train":
                    await branch.follow(self, force=cmd.type in ("pause", "seek"))
        except Paused as e:
            self.fail(e.reason)
            self.publish_maps()
        finally:
            self.dirty = True

    # --- playing ----------------------------------------------------------------------------
    def stop(self) -> None:
        play.stop(self)

    def train_slice(self) -> None:
        play.train_slice(self)

    def fail(self, why: Reason) -> None:
        """Stop playing for a reason the user should see."""
        self.stop()
        self.paused_reason = why
        self.publish(self.state())
