"""Data rows: checked as strictly as JSON numbers, kept as float64 arrays, encoded byte for byte
as the lists would be."""

import orjson
import pytest

from app import rows
from app import scenario as sc
from app.session.cursor import STATE_DATA_BYTES, data_json


def given(x: object, y: object) -> dict:
    return {"layers": [2, 1], "activations": ["sigmoid"], "data": {"train": {"x": x, "y": y}}}


@pytest.mark.parametrize(
    "x, where",
    [
        ([[0, True]], "data.train.x[0][1]: must be a number, got bool"),
        ([[0, "1"]], "data.train.x[0][1]: must be a number, got str"),
        ([[0, None]], "data.train.x[0][1]: must be a number, got NoneType"),
        ([[0, 1], [1]], "data.train.x[1]: every row must have the same length (2), this one has 1"),
        ([[0, 1], [2, 2e6]], "data.train.x[1][1]: Input should be less than or equal to 1000000"),
        ([[0, 10**400]], "a number is too large"),
        ([[0, -2e6]], "data.train.x[0][1]: Input should be greater than or equal to -1000000"),
        ("rows", "data.train.x: must be a list of rows"),
    ],
)
def test_a_bad_value_is_named_by_row_and_column(x: object, where: str) -> None:
    with pytest.raises(sc.ScenarioError) as err:
        sc.parse(given(x, [[1]] * (len(x) if isinstance(x, list) else 1)))
    assert where in str(err.value)


def test_rows_become_a_read_only_float64_array_and_dump_back_to_lists() -> None:
    s = sc.parse(given([[0, 1], [2, 0.5]], [[1], [0]]))
    x = s.data.train.x
    assert x.dtype.name == "float64" and x.shape == (2, 2) and not x.flags.writeable
    assert s.model_dump(mode="json")["data"]["train"]["x"] == [[0.0, 1.0], [2.0, 0.5]]
    assert sc.parse(s.model_dump()).data.train.x.tolist() == x.tolist()  # arrays validate too


def test_pieces_encode_exactly_as_the_whole_lists() -> None:
    n = rows.CHUNK_ROWS * 2 + 5  # across piece boundaries
    x = [[i / 7, -i * 1e-9] for i in range(n)]
    y = [[i % 2] for i in range(n)]
    doc = given(x, y)
    doc["data"]["test"] = {"x": [[1.5, 2]], "y": [[1]]}
    s = sc.parse(doc)
    whole = orjson.dumps(s.data.model_dump(mode="json", exclude_none=True))
    assert data_json(s.data, len(whole)) == whole
    assert data_json(s.data, len(whole) - 100) is None
    assert len(whole) < STATE_DATA_BYTES


def test_a_document_gives_back_what_its_author_wrote() -> None:
    doc = given([[0, 1], [2, 0.5]], [[1], [0]])
    doc["optimizer"] = {"type": "adam", "learning_rate": 0.01}
    assert orjson.loads(sc.document(sc.parse(doc))) == doc
    gen = sc.preset("circle")
    assert orjson.loads(sc.document(sc.parse(gen))) == gen


def test_the_dataset_message_is_the_dataset_event_encoded() -> None:
    from app.protocol import encode
    from app.session.cursor import Cursor, Options

    for doc in (sc.preset("circle"), sc.preset("xor")):
        c = Cursor(sc.parse(doc), Options())
        assert c.dataset_message() == encode(c.dataset())
    n = rows.CHUNK_ROWS * 3 + 1  # more rows than a dataset event carries: trimmed, with `size`
    x = [[i / 3] * 40 for i in range(n)]
    big = {"layers": [40, 1], "activations": ["sigmoid"], "data": {"train": {"x": x, "y": [[i % 2] for i in range(n)]}}}
    c = Cursor(sc.parse(big), Options())
    assert c.dataset_message() == encode(c.dataset()) and b'"size":3073' in c.dataset_message()
