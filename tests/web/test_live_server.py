"""A real uvicorn server with two clients, one training flat out and one stepping."""

import asyncio
import json

import websockets

from tests.live import serve

STEPS = 100


async def trainer(url: str, stop: asyncio.Event) -> int:
    frames = 0
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        await ws.send(json.dumps({"type": "play", "mode": "train", "fps": 30}))
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            if isinstance(msg, str) and msg.startswith('{"type":"frame"'):
                frames += 1
    return frames


async def stepper(url: str) -> int:
    """Steps worked-example STEPS times, each time waiting for the step's epoch event."""
    done = 0
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        await ws.send(json.dumps({"type": "load", "preset": "worked-example"}))
        for _ in range(STEPS):
            await ws.send(json.dumps({"type": "step"}))
            while True:
                msg = await ws.recv()
                if isinstance(msg, str) and msg.startswith('{"type":"epoch"') and '"step":0' not in msg:
                    break
            done += 1
    return done


async def both(base: str) -> tuple[int, int]:
    url = base.replace("http", "ws") + "/ws"
    stop = asyncio.Event()
    train = asyncio.create_task(trainer(url, stop))
    await asyncio.sleep(0.5)  # the trainer is flat out before stepping starts
    done = await asyncio.wait_for(stepper(url), 60)
    await asyncio.sleep(0.5)
    stop.set()
    return done, await train


def test_neither_a_training_nor_a_stepping_client_starves() -> None:
    with serve() as base:
        done, frames = asyncio.run(both(base))
    assert done == STEPS  # every step answered while the other session trained
    assert frames >= 10  # and the trainer kept getting frames meanwhile
