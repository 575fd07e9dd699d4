"""The computation graph: every grad is the engine's delta or dE/dw for that example, and a
central finite difference of the example's loss agrees with it."""

from typing import Any

import numpy as np
import pytest

from app.nn import graph
from app.nn.losses import LOSSES
from app.nn.network import Network
from tests import engine_helpers as h

CASES = {
    "tanh-sigmoid squared": h.doc(),
    "relu-sigmoid bce": h.doc(activations=["relu", "sigmoid"], loss="binary_cross_entropy"),
    "tanh-softmax ce": h.on_points(
        [[0.5, -1.0], [1.0, 0.2]], [[1.0, 0.0], [0.0, 1.0]], activations=["tanh", "softmax"], loss="cross_entropy"
    ),
    "deep sigmoid": h.doc(layers=[2, 3, 2, 1], activations=["sigmoid", "sigmoid", "sigmoid"]),
}


def example_loss(net: Network, x: np.ndarray, y: np.ndarray, loss: str) -> float:
    zs, as_ = net.forward(x[None, :])
    return float(LOSSES[loss].e(zs[-1], as_[-1], y[None, :])[0])


def central(net: Network, x: np.ndarray, y: np.ndarray, loss: str, arr: np.ndarray, idx: tuple[int, ...]) -> float:
    eps, v = 1e-6, float(arr[idx])
    arr[idx] = v + eps
    up = example_loss(net, x, y, loss)
    arr[idx] = v - eps
    down = example_loss(net, x, y, loss)
    arr[idx] = v
    return (up - down) / (2 * eps)


def by_id(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in nodes}


@pytest.mark.parametrize("case", list(CASES))
def test_every_grad_is_the_engines_delta_and_dE_dw(case: str) -> None:
    t = h.trainer(CASES[case])
    net, n = t.net, 1
    x, y = t.x[n], t.y[n]
    zs, as_ = net.forward(x[None, :])
    deltas, grad_w, grad_b = net.backward(zs, as_, y[None, :], t.loss)  # m = 1: the example's own
    for l in range(1, net.depth + 1):
        for j in range(net.layers[l]):
            nodes = by_id(graph.unit_graph(net, x, y, t.loss, l, j)[0])
            assert nodes[f"z{l}_{j}"]["grad"] == deltas[l - 1][0, j]
            assert nodes[f"b{l}_{j}"]["grad"] == grad_b[l - 1][j]
            assert nodes[f"s{l}_{j}"]["value"] + nodes[f"b{l}_{j}"]["value"] == pytest.approx(zs[l][0, j], abs=1e-15)
            for i in range(net.layers[l - 1]):
                assert nodes[f"w{l}_{j}_{i}"]["grad"] == pytest.approx(grad_w[l - 1][j, i], rel=1e-15, abs=1e-300)
                assert nodes[f"m{l}_{j}_{i}"]["grad"] == deltas[l - 1][0, j]
            assert nodes["E"]["grad"] == 1.0


@pytest.mark.parametrize("case", list(CASES))
def test_grads_agree_with_finite_differences(case: str) -> None:
    t = h.trainer(CASES[case])
    net = t.net
    for b in net.b:  # biases away from 0, and an example away from a ReLU's kink (no derivative there)
        b += 0.1
    n = next(n for n in range(len(t.x)) if all(np.abs(z[n]).min() > 1e-3 for z in net.forward(t.x)[0][1:]))
    x, y = t.x[n].copy(), t.y[n]
    nodes = by_id(graph.network_graph(net, x, y, t.loss)[0])
    for l in range(1, net.depth + 1):
        for j in range(net.layers[l]):
            assert nodes[f"b{l}_{j}"]["grad"] == pytest.approx(central(net, x, y, t.loss, net.b[l - 1], (j,)), abs=1e-8)
            for i in range(net.layers[l - 1]):
                fd = central(net, x, y, t.loss, net.w[l - 1], (j, i))
                assert nodes[f"w{l}_{j}_{i}"]["grad"] == pytest.approx(fd, abs=1e-8)
    for i in range(net.layers[0]):  # the inputs: dE/dx, the engine's delta_input
        assert nodes[f"a0_{i}"]["grad"] == pytest.approx(central(net, x, y, t.loss, x, (i,)), abs=1e-8)


def test_each_edge_passes_grad_times_local_back() -> None:
    """Reverse mode: a node's grad is the sum over its out-edges of grad(to) * local."""
    t = h.trainer(CASES["deep sigmoid"])
    nodes, edges = graph.network_graph(t.net, t.x[2], t.y[2], t.loss)
    ids = by_id(nodes)
    total = dict.fromkeys(ids, 0.0)
    for e in edges:
        total[e["from"]] += ids[e["to"]]["grad"] * e["local"]
    for n in nodes:
        if n["id"] != "E":
            assert total[n["id"]] == pytest.approx(n["grad"], rel=1e-12, abs=1e-15), n["id"]


def test_a_units_graph_holds_its_inputs_weights_products_sum_bias_z_a_and_the_loss() -> None:
    t = h.trainer(h.doc())
    nodes, edges = graph.unit_graph(t.net, t.x[0], t.y[0], t.loss, 2, 0)
    ops = [n["op"] for n in nodes]
    assert ops.count("activation") == 3 and ops.count("weight") == 3 and ops.count("mul") == 3
    assert ops[-4:] == ["bias", "add", "sigmoid", "loss"] and "sum" in ops
    names = {n["id"] for n in nodes}
    assert all(e["from"] in names and e["to"] in names for e in edges)
    assert nodes[-1]["value"] == pytest.approx(example_loss(t.net, t.x[0], t.y[0], t.loss), rel=1e-15)
