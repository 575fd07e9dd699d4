"""The computation graph of one example, as reverse-mode automatic differentiation sees it.

Unit j of layer l computes, node by node: the products w_ji * a_i of its weights and inputs,
their sum, z_j = sum + b_j, then a_j = f(z_j); the example's loss E depends on a_j. Every node
carries its value and its grad, the total derivative dE/d(node), which the engine's backward
pass gives: dE/dz_j = delta_j, dE/dw_ji = delta_j a_i, dE/db_j = delta_j, dE/da_j = (delta_(l+1)
W_(l+1))_j (at the output, dE/da of the loss). Each edge carries the local derivative
d(to)/d(from); reverse mode passes grad(to) * local back to `from` (Rumelhart, Hinton and
Williams 1986; Baydin et al. 2018, "Automatic differentiation in machine learning: a survey").

E is the example's loss alone: a regularization penalty is not part of the graph.
"""

from typing import Any

import numpy as np

from app.nn.losses import LOSSES
from app.nn.network import Network

Array = np.ndarray
Node = dict[str, Any]
Edge = dict[str, Any]
Graph = tuple[list[Node], list[Edge]]


Lists = tuple[list[Array], list[Array], list[Array], list[Array]]


def _derivatives(net: Network, x: Array, y: Array, loss: str) -> Lists:
    """For one example (1 x n0, 1 x nL): zs, as_, deltas (dE/dz, at [l-1]) and dE/da for l = 0..L."""
    zs, as_ = net.forward(x)
    deltas, _, _ = net.backward(zs, as_, y, loss)
    da = [deltas[l] @ net.w[l] for l in range(net.depth)]  # dE/da_l from layer l+1, l = 0..L-1
    da.append(LOSSES[loss].de(as_[-1], y))
    return zs, as_, deltas, da


def _unit(net: Network, l: int, j: int, d: Lists) -> Graph:
    """The nodes and edges of unit j of layer l, from its weights to a_j (the inputs a_(l-1) are
    not included)."""
    zs, as_, deltas, da = d
    w, b, a_in = net.w[l - 1][j], net.b[l - 1][j], as_[l - 1][0]
    dz = float(deltas[l - 1][0, j])
    z, a = float(zs[l][0, j]), float(as_[l][0, j])
    name = net.activations[l - 1]
    if name == "softmax":  # its Jacobian is full: show the diagonal, the part from z_j itself
        local = a * (1.0 - a)
    else:
        local = float(net.acts[l - 1].df(zs[l][:, j : j + 1], as_[l][:, j : j + 1])[0, 0])
    s_id, z_id, a_id = f"s{l}_{j}", f"z{l}_{j}", f"a{l}_{j}"
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i in range(len(a_in)):
        w_id, m_id = f"w{l}_{j}_{i}", f"m{l}_{j}_{i}"
        nodes.append(_node(w_id, "weight", w[i], dz * a_in[i], l, j, f"w[{l}][{j}][{i}]"))
        nodes.append(_node(m_id, "mul", w[i] * a_in[i], dz, l, j, f"w·a [{l}][{j}][{i}]"))
        edges += [_edge(w_id, m_id, a_in[i]), _edge(f"a{l - 1}_{i}", m_id, w[i]), _edge(m_id, s_id, 1.0)]
    nodes.append(_node(s_id, "sum", float(w @ a_in), dz, l, j, f"Σ w·a [{l}][{j}]"))
    nodes.append(_node(f"b{l}_{j}", "bias", b, dz, l, j, f"b[{l}][{j}]"))
    nodes.append(_node(z_id, "add", z, dz, l, j, f"z[{l}][{j}]"))
    nodes.append(_node(a_id, name, a, float(da[l][0, j]), l, j, f"a[{l}][{j}]"))
    edges += [_edge(s_id, z_id, 1.0), _edge(f"b{l}_{j}", z_id, 1.0), _edge(z_id, a_id, local)]
    return nodes, edges


def _inputs(l: int, as_: list[Array], da: list[Array]) -> list[Node]:
    op = "input" if l == 0 else "activation"
    return [_node(f"a{l}_{i}", op, v, float(da[l][0, i]), l, i, f"a[{l}][{i}]") for i, v in enumerate(as_[l][0])]


def _loss(net: Network, zs: list[Array], as_: list[Array], y: Array, loss: str) -> Node:
    e = float(LOSSES[loss].e(zs[-1], as_[-1], y)[0])
    return _node("E", "loss", e, 1.0, net.depth + 1, None, f"E ({loss})")


def unit_graph(net: Network, x: Array, y: Array, loss: str, l: int, j: int) -> Graph:
    """One unit's graph for one example (x: n0, y: nL): its inputs a_(l-1), weights, products,
    sum, bias, z and activation, and the loss E. The edge a_j -> E stands for the rest of the
    network: its local derivative is the total dE/da_j. The inputs' grads are total too (they
    include the paths through the layer's other units)."""
    d = _derivatives(net, x[None, :], y[None, :], loss)
    zs, as_, _, da = d
    nodes, edges = _unit(net, l, j, d)
    end = _loss(net, zs, as_, y[None, :], loss)
    edges.append(_edge(f"a{l}_{j}", "E", float(da[l][0, j])))
    return [*_inputs(l - 1, as_, da), *nodes, end], edges


def network_graph(net: Network, x: Array, y: Array, loss: str) -> Graph:
    """The whole network's graph for one example: every unit's nodes, the inputs, and E fed by
    the outputs (each edge a^L_j -> E carries dE/da^L_j)."""
    d = _derivatives(net, x[None, :], y[None, :], loss)
    zs, as_, _, da = d
    nodes, edges = _inputs(0, as_, da), []
    for l in range(1, net.depth + 1):
        for j in range(net.layers[l]):
            n, e = _unit(net, l, j, d)
            nodes += n
            edges += e
    nodes.append(_loss(net, zs, as_, y[None, :], loss))
    edges += [_edge(f"a{net.depth}_{j}", "E", float(da[-1][0, j])) for j in range(net.layers[-1])]
    return nodes, edges


def _node(id_: str, op: str, value: Any, grad: Any, layer: int, unit: int | None, label: str) -> Node:
    return {
        "id": id_,
        "op": op,
        "value": float(value),
        "grad": float(grad),
        "layer": layer,
        "unit": unit,
        "label": label,
    }


def _edge(frm: str, to: str, local: Any) -> Edge:
    return {"from": frm, "to": to, "local": float(local)}
