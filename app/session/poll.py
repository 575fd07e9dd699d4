"""A room's questions: `ask` opens one, `answer` records each member's last answer, the presenters
see the counts live (`poll`, at most POLLS_PER_S a second), and `reveal` closes it with the
engine's own value, computed from the live run at that moment (app/lessons/questions.py)."""

import asyncio
import secrets
import time
from typing import TYPE_CHECKING, Any

from app import lessons
from app import protocol as p
from app.lessons import questions
from app.protocol import ProtocolError, encode
from app.session import work
from app.session.outbox import Message, Outbox

if TYPE_CHECKING:
    from app.session.session import Session

POLLS_PER_S = 4


class Poll:
    """One open (or revealed) question of a room, and each member's last answer."""

    def __init__(self, qid: str, lesson: str, scene: int, question: Any) -> None:
        self.qid, self.lesson, self.scene, self.question = qid, lesson, scene, question
        self.answers: dict[Outbox, Any] = {}
        self.open = True
        self.sent_at = 0.0
        self.due = False

    def tally(self, members: dict[Outbox, Any]) -> tuple[int, dict[str, int]]:
        """How many members answered (those still here), and their answers summed up."""
        got = [v for box, v in self.answers.items() if box in members]
        return len(got), questions.counts(self.question, got)


def current(s: "Session", qid: str, kind: str) -> Poll:
    poll: Poll | None = getattr(s, "poll", None)
    if poll is None or poll.qid != qid:
        raise ProtocolError("unknown_question", f"{kind}.question: no question {qid!r} in this room", kind)
    if not poll.open:
        raise ProtocolError("closed_question", f"{kind}.question: question {qid} is closed; it was revealed", kind)
    return poll


def to_presenters(s: "Session", event: dict[str, Any]) -> None:
    msg = [Message(encode(event))]
    for box, role in list(s.room.members.items()):
        if role != "viewer":
            s.room.send(box, msg)


def send_poll(s: "Session", poll: Poll) -> None:
    poll.due = False
    poll.sent_at = time.monotonic()
    if poll.open and getattr(s, "poll", None) is poll:
        n, counts = poll.tally(s.room.members)
        to_presenters(s, {"type": "poll", "question": poll.qid, "answers": n, "counts": counts})


def polled(s: "Session", poll: Poll) -> None:
    """The answers changed: tell the presenters, at most POLLS_PER_S times a second."""
    if poll.due:
        return
    poll.due = True
    wait = max(0.0, poll.sent_at + 1 / POLLS_PER_S - time.monotonic())
    asyncio.get_running_loop().call_later(wait, send_poll, s, poll)


async def ask(s: "Session", cmd: p.Ask) -> None:
    lesson = lessons.library().get(cmd.lesson)
    if lesson is None:
        raise ProtocolError("unknown_lesson", f"ask.lesson: no lesson {cmd.lesson!r}", "ask")
    if cmd.scene >= len(lesson.scenes):
        n = len(lesson.scenes)
        raise ProtocolError("out_of_range", f"ask.scene: lesson {lesson.id} has {n} scenes (0–{n - 1})", "ask")
    q = lesson.scenes[cmd.scene].question
    if q is None:
        raise ProtocolError("no_question", f"ask.scene: scene {cmd.scene} of {lesson.id} asks no question", "ask")
    poll = Poll("q" + secrets.token_hex(4), lesson.id, cmd.scene, q)
    s.poll = poll  # a new question closes the one before
    event = {
        "type": "question",
        "question": poll.qid,
        "kind": q.kind,
        "prompt": q.prompt,
        "choices": questions.choices(q),
        "lesson": lesson.id,
        "scene": cmd.scene,
        "tolerance": getattr(q, "tolerance", None),
    }
    s.publish(event)
    send_poll(s, poll)


async def answer(s: "Session", cmd: p.Answer) -> None:
    poll = current(s, cmd.question, "answer")
    why = questions.check_answer(poll.question, cmd.value)
    if why is not None:
        raise ProtocolError("invalid_answer", why, "answer")
    poll.answers[cmd._box] = cmd.value  # one per member: the last counts
    polled(s, poll)


async def reveal(s: "Session", cmd: p.Reveal) -> None:
    poll = current(s, cmd.question, "reveal")
    c = s.cursor
    t = c.trainer_copy()
    step = t.step_count + 1
    try:
        value = await work.run(questions.truth, poll.question, t, flops=c.step_flops())
    except questions.QuestionError as e:
        raise ProtocolError("unanswerable", f"reveal: this run cannot answer it: {e}", "reveal") from None
    poll.open = False
    n, counts = poll.tally(s.room.members)
    s.publish(
        {
            "type": "reveal",
            "question": poll.qid,
            "value": value,
            "counts": counts,
            "answers": n,
            "step": step,
            "explanation": getattr(poll.question, "explanation", ""),
        }
    )
