"""Bring a model in, take it out: the network's parameters as safetensors, .npz, or a
standalone PyTorch or numpy script, and weights read back from safetensors or .npz.

Tensors are named as the scenario names parameters: W1, b1, W2, b2, ... with W<l> of shape
n_l x n_(l-1) (into unit j from unit i) and b<l> of n_l, in float64. Nothing here ever
unpickles: .npz is read with allow_pickle=False, and pickles (.pt, .pkl) are refused.
"""

import io
import json
import zipfile
from typing import Any

import numpy as np
import safetensors.numpy

from app.nn.network import Network
from app.scenario import LIMITS

Array = np.ndarray
FORMATS = ("safetensors", "npz", "torch", "numpy")
MEDIA = {
    "safetensors": "application/octet-stream",
    "npz": "application/octet-stream",
    "torch": "text/x-python",
    "numpy": "text/x-python",
}
SUFFIX = {"safetensors": ".safetensors", "npz": ".npz", "torch": "_torch.py", "numpy": "_numpy.py"}
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")
WHY_NOT_PICKLE = (
    "it is a Python pickle, and loading a pickle can run any code it contains; "
    "save the weights as safetensors or .npz (numpy.savez) and import that"
)


class WeightsError(ValueError):
    """A weights file that cannot be imported; the message names the file's problem or the tensor."""


def tensors(net: Network) -> dict[str, Array]:
    """{"W1": n1 x n0, "b1": n1, ...}: copies of the network's parameters, C-contiguous float64."""
    out: dict[str, Array] = {}
    for l, (w, b) in enumerate(zip(net.w, net.b), start=1):
        out[f"W{l}"] = np.ascontiguousarray(w, dtype=np.float64)
        out[f"b{l}"] = np.ascontiguousarray(b, dtype=np.float64)
    return out


def metadata(net: Network, name: str) -> dict[str, str]:
    layers, acts = json.dumps(net.layers), json.dumps(net.activations)
    return {"format": "deltaflow", "name": name, "layers": layers, "activations": acts}


def export(net: Network, fmt: str, name: str = "network") -> bytes:
    """The network in format `fmt` (one of FORMATS); ValueError for another."""
    if fmt == "safetensors":
        return safetensors.numpy.save(tensors(net), metadata=metadata(net, name))
    if fmt == "npz":
        buf = io.BytesIO()
        np.savez(buf, **tensors(net))  # type: ignore[arg-type]
        return buf.getvalue()
    if fmt == "torch":
        return torch_script(net, name).encode()
    if fmt == "numpy":
        return numpy_script(net, name).encode()
    raise ValueError(f"format: {fmt!r} is none of {', '.join(FORMATS)}")


def _literal(a: Array) -> str:
    # repr of a Python float round-trips exactly, so the script holds the very same weights
    return json.dumps(a.tolist()).replace("NaN", "float('nan')").replace("Infinity", "float('inf')")


TORCH_ACTS = {
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "relu": "nn.ReLU()",
    "leaky_relu": "nn.LeakyReLU(0.01)",
    "linear": None,
    "softmax": "nn.Softmax(dim=1)",
}


def torch_script(net: Network, name: str = "network") -> str:
    """A standalone script: nn.Sequential of Linear layers and activations holding these weights
    (float32, PyTorch's default). `python script.py` prints the outputs for inputs read from stdin."""
    lines = [
        f'"""{name}: a {"-".join(map(str, net.layers))} network exported from Deltaflow, as a PyTorch model."""',
        "",
        "import json",
        "import sys",
        "",
        "import torch",
        "from torch import nn",
        "",
        "layers = []",
    ]
    for l, (w, b, act) in enumerate(zip(net.w, net.b, net.activations), start=1):
        n_in, n_out = net.layers[l - 1], net.layers[l]
        lines += [
            f"linear = nn.Linear({n_in}, {n_out})",
            "with torch.no_grad():",
            f"    linear.weight.copy_(torch.tensor({_literal(w)}))  # W{l}: {n_out} x {n_in}",
            f"    linear.bias.copy_(torch.tensor({_literal(b)}))  # b{l}",
            "layers.append(linear)",
        ]
        if TORCH_ACTS[act]:
            lines.append(f"layers.append({TORCH_ACTS[act]})  # {act}")
    lines += [
        "model = nn.Sequential(*layers)",
        "",
        "",
        "def predict(x):",
        f'    """Outputs for a list of input rows (each of length {net.layers[0]})."""',
        "    with torch.no_grad():",
        "        return model(torch.tensor(x, dtype=torch.float32)).tolist()",
        "",
        "",
        'if __name__ == "__main__":',
        "    # a JSON list of input rows on stdin, a JSON list of output rows on stdout",
        "    print(json.dumps(predict(json.load(sys.stdin))))",
        "",
    ]
    return "\n".join(lines)


NUMPY_ACTS = {
    "sigmoid": "np.exp(-np.logaddexp(0.0, -z))",
    "tanh": "np.tanh(z)",
    "relu": "np.maximum(z, 0.0)",
    "leaky_relu": "np.where(z > 0, z, 0.01 * z)",
    "linear": "z",
    "softmax": "softmax(z)",
}


def numpy_script(net: Network, name: str = "network") -> str:
    """A standalone numpy script of the forward pass, a = f(a W^T + b) layer by layer, in float64.
    `python script.py` prints the outputs for inputs read from stdin."""
    lines = [
        f'"""{name}: a {"-".join(map(str, net.layers))} network exported from Deltaflow, in plain numpy."""',
        "",
        "import json",
        "import sys",
        "",
        "import numpy as np",
        "",
        "",
        "def softmax(z):",
        "    e = np.exp(z - z.max(axis=1, keepdims=True))",
        "    return e / e.sum(axis=1, keepdims=True)",
        "",
        "",
        "# W[l] is n_l x n_(l-1): into unit j from unit i",
        "W = [",
    ]
    lines += [f"    np.array({_literal(w)}),  # W{l}" for l, w in enumerate(net.w, start=1)]
    lines += ["]", "b = ["]
    lines += [f"    np.array({_literal(b)}),  # b{l}" for l, b in enumerate(net.b, start=1)]
    lines += ["]", "", "", "def predict(x):", '    """Outputs for an array of input rows."""']
    lines += ["    a = np.asarray(x, dtype=np.float64)"]
    for l, act in enumerate(net.activations):
        lines += [f"    z = a @ W[{l}].T + b[{l}]", f"    a = {NUMPY_ACTS[act]}  # {act}"]
    lines += [
        "    return a",
        "",
        "",
        'if __name__ == "__main__":',
        "    # a JSON list of input rows on stdin, a JSON list of output rows on stdout",
        "    print(json.dumps(predict(json.load(sys.stdin)).tolist()))",
        "",
    ]
    return "\n".join(lines)


# --- import ----------------------------------------------------------------------------------
def _refuse_pickle(data: bytes, filename: str) -> None:
    low = filename.lower()
    if low.endswith(PICKLE_SUFFIXES):
        raise WeightsError(f"{filename}: cannot import a {low[low.rfind('.') :]} file: {WHY_NOT_PICKLE}")
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise WeightsError(f"{filename or 'the file'}: cannot import it: {WHY_NOT_PICKLE}")


def read(data: bytes, filename: str = "") -> dict[str, Array]:
    """The tensors of a safetensors or .npz file, by name; WeightsError for anything else.

    A zip holding a pickle (a PyTorch checkpoint) is refused, never loaded.
    """
    _refuse_pickle(data, filename)
    where = filename or "the file"
    if data[:4] == b"PK\x03\x04":  # a zip: .npz
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()
        except zipfile.BadZipFile as e:
            raise WeightsError(f"{where}: not a readable .npz archive ({e})") from None
        if any(n.endswith(".pkl") for n in names):
            raise WeightsError(f"{where}: a PyTorch checkpoint (it holds {names[0]}...): {WHY_NOT_PICKLE}")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except ValueError as e:  # an object array would need unpickling
            raise WeightsError(f"{where}: cannot read it without unpickling, which is never done ({e})") from None
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise WeightsError(f"{where}: not a readable .npz archive ({e})") from None
    if len(data) >= 10 and data[8:9] == b"{":  # safetensors: u64 header size, then a JSON header
        try:
            return dict(safetensors.numpy.load(data))
        except Exception as e:  # the library's own error type is not part of its API
            raise WeightsError(f"{where}: not a readable safetensors file ({e})") from None
    raise WeightsError(f"{where}: neither safetensors nor .npz; export the weights in one of those two formats")


def fit(found: dict[str, Array], layers: list[int]) -> list[Array]:
    """The parameters [W1, b1, W2, b2, ...] for a network of `layers`, from tensors by name.

    Every problem is named per tensor: one missing, one of the wrong shape, one not finite,
    one the network has no place for.
    """
    problems = []
    params: list[Array] = []
    want: dict[str, tuple[int, ...]] = {}
    for l in range(1, len(layers)):
        want[f"W{l}"] = (layers[l], layers[l - 1])
        want[f"b{l}"] = (layers[l],)
    for name, shape in want.items():
        t = found.get(name)
        if t is None:
            problems.append(f"{name}: missing (needs shape {_shape(shape)})")
            continue
        if not np.issubdtype(t.dtype, np.number) or np.iscomplexobj(t):
            problems.append(f"{name}: holds {t.dtype}, not real numbers")
            continue
        if t.shape != shape:
            problems.append(f"{name}: shape {_shape(t.shape)}, but this network needs {_shape(shape)}")
            continue
        t = t.astype(np.float64)
        if not np.isfinite(t).all():
            problems.append(f"{name}: holds NaN or infinity")
            continue
        if np.abs(t).max(initial=0.0) > LIMITS["max_abs_value"]:
            problems.append(f"{name}: holds a value beyond ±{LIMITS['max_abs_value']:g}, the limit of a weight")
            continue
        params.append(t)
    extra = sorted(set(found) - set(want))
    if extra:
        problems.append(f"{', '.join(extra)}: no such parameter in this network (it has {', '.join(want)})")
    if problems:
        raise WeightsError("; ".join(problems))
    return params


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if len(shape) > 1 else f"({shape[0]},)" if shape else "()"


def describe(net: Network) -> dict[str, Any]:
    """Names and shapes of the tensors an import must hold."""
    return {k: list(v.shape) for k, v in tensors(net).items()}
