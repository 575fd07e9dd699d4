"""After a weight or bias typed by hand, every loss the page is sent is at the new weights."""

import numpy as np
import pytest

from app import scenario as sc
from tests.web.conftest import Conn


def losses_at(name: str, steps: int, edit: tuple[int, int, int, float]) -> tuple[float, float | None]:
    """The training and test loss of preset `name` after `steps` steps and then the edit, by the engine."""
    t = sc.build(sc.parse(sc.preset(name))).trainer
    t.train(steps)
    layer, to, frm, value = edit
    t.net.w[layer - 1][to, frm] = value
    train, _ = t.evaluate(t.x, t.y)
    test, _ = t.evaluate(t.x_test, t.y_test)
    assert train is not None
    return train, test


@pytest.mark.parametrize("name", ["xor", "circle"])
def test_the_curve_after_a_typed_weight_is_at_the_new_weights(conn: Conn, name: str) -> None:
    conn.load(name)
    conn.send({"type": "step", "count": 3})
    before = conn.until("state")["curve"][-1]
    conn.send({"type": "set_weight", "layer": 1, "to": 0, "from": 1, "value": 2.5})
    st = conn.until("state")
    train, test = losses_at(name, 3, (1, 0, 1, 2.5))
    row = st["curve"][-1]
    assert row[0] == 3 == st["step"]  # the same step, its row replaced
    assert row[2] == pytest.approx(train, rel=1e-12)
    assert row[2] != pytest.approx(before[2], rel=1e-6)
    if test is not None:
        assert row[3] == pytest.approx(test, rel=1e-12)
    assert np.isclose(st["weights"][0][0][1], 2.5)
