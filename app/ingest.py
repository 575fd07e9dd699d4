"""Reading a large scenario document in a process of its own: `python -m app.ingest`.

Decoding 25 MB of JSON is one call into orjson that holds the interpreter for ~250 ms, so in a
thread it would still stop every connection that long. A child process decodes and checks the
document and hands back the validated Scenario, whose data are float64 arrays that pickle as
plain bytes. The child imports the scenario model and nothing of the server.
"""

import base64
import hashlib
import pickle
import sys

import orjson

from app import scenario as sc

ID_CHARS = 26  # base32 of the SHA-256: 130 bits


class NotJSON(ValueError):
    """The bytes are not a JSON document."""


def ingest(data: bytes) -> tuple[str, sc.Scenario, int]:
    """Scenario JSON bytes -> (content id, validated scenario, canonical size in bytes).

    Raises NotJSON, or ScenarioError naming every field at fault.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise NotJSON(f"the body is not valid JSON: {e}") from None
    scenario = sc.parse(doc)
    canonical = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    key = base64.b32encode(hashlib.sha256(canonical).digest()).decode().lower()[:ID_CHARS]
    return key, scenario, len(canonical)


def main() -> None:
    """stdin: the document's bytes; stdout: pickled ("ok", (id, scenario, size)) or ("error", exception)."""
    try:
        answer: tuple[str, object] = ("ok", ingest(sys.stdin.buffer.read()))
    except (NotJSON, sc.ScenarioError) as e:
        answer = ("error", e)
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    from app.ingest import main as run  # as app.ingest, so that its exceptions unpickle by that name

    run()
