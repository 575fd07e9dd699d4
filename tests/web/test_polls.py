"""A class poll: a presenter asks, 30 viewers answer, the presenter sees the counts live, and the
reveal brings everyone the engine's own value."""

import time
from contextlib import ExitStack

from fastapi.testclient import TestClient

from app import lessons
from app.session.poll import POLLS_PER_S
from tests.lessons.trace_values import trace_value, traced_step
from tests.web.conftest import Conn
from tests.web.test_rooms import open_room

VIEWERS = 30


def test_thirty_viewers_answer_a_poll_and_see_the_reveal(client: TestClient) -> None:
    room = open_room(client, preset="worked-example")
    code = room["room"]
    scene = lessons.library().lessons["worked-example"].scenes[1]  # z of the first hidden unit
    truth = trace_value(traced_step(lessons.scene_document(scene), 1), {"quantity": "z"})
    with ExitStack() as stack:
        p = Conn(stack.enter_context(client.websocket_connect(f"/ws?room={code}")))
        p.welcome()
        p.send({"type": "claim", "token": room["presenter_token"]})
        p.until("state")
        viewers = []
        for _ in range(VIEWERS):
            v = Conn(stack.enter_context(client.websocket_connect(f"/ws?room={code}")))
            v.welcome()
            viewers.append(v)
        viewers[0].send({"type": "ask", "lesson": "worked-example", "scene": 1})
        assert viewers[0].until("error")["code"] == "read_only"  # only the presenter asks

        p.send({"type": "ask", "lesson": "worked-example", "scene": 1})
        q = p.until("question")
        qid = q["question"]
        for v in viewers:
            got = v.until("question")
            assert got == q and got["kind"] == "number" and got["prompt"] == scene.question.prompt
        assert p.until("poll")["answers"] == 0

        start = time.monotonic()
        answers = {}
        for k, v in enumerate(viewers):
            first = 0.5 if k % 3 == 0 else truth  # a third change their mind: the last answer counts
            v.send({"type": "answer", "question": qid, "value": first})
            answers[k] = first
        for k, v in enumerate(viewers):
            if k % 3 == 0:
                v.send({"type": "answer", "question": qid, "value": truth if k % 2 == 0 else 1.5})
                answers[k] = truth if k % 2 == 0 else 1.5
        v = viewers[1]
        v.send({"type": "answer", "question": "q00000000", "value": 1.0})
        assert v.until("error")["code"] == "unknown_question"
        v.send({"type": "answer", "question": qid, "value": "up"})
        assert v.until("error")["code"] == "invalid_answer"

        polls = []
        while not polls or polls[-1]["answers"] < VIEWERS or sum(polls[-1]["counts"].values()) < VIEWERS:
            polls.append(p.until("poll"))
        elapsed = time.monotonic() - start
        # coalesced: never more than POLLS_PER_S a second (plus the first, sent at once)
        assert len(polls) <= 2 + POLLS_PER_S * elapsed
        assert all(e["question"] == qid for e in polls)
        last = polls[-1]["counts"]
        right = sum(1 for a in answers.values() if a == truth)
        assert sum(last.values()) == VIEWERS and max(last.values()) == right

        p.send({"type": "reveal", "question": qid})
        r = p.until("reveal")
        assert r["value"] == truth and r["answers"] == VIEWERS and r["counts"] == last
        for k, v in enumerate(viewers):
            got = v.until("reveal")
            assert got == r
            # each viewer judges its own answer against the tolerance the question carries
            assert (abs(answers[k] - got["value"]) <= q["tolerance"]) == (answers[k] == truth)
        viewers[2].send({"type": "answer", "question": qid, "value": truth})
        assert viewers[2].until("error")["code"] == "closed_question"
