"""Data rows: checked as strictly as JSON numbers, kept as float64 arrays, encoded byte for byte
as the lists would be."""

import numpy as np
import orjson
import pytest

from app import scenario as sc
from app.codec import piece_rows
from app.session.encoded import STATE_DATA_BYTES, data_json


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
    n = piece_rows(2) * 2 + 5  # across piece boundaries
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
    n = 3073  # more rows than a dataset event carries (and than a piece): trimmed, with `size`
    assert n > piece_rows(40)
    x = [[i / 3] * 40 for i in range(n)]
    big = {"layers": [40, 1], "activations": ["sigmoid"], "data": {"train": {"x": x, "y": [[i % 2] for i in range(n)]}}}
    c = Cursor(sc.parse(big), Options())
    assert c.dataset_message() == encode(c.dataset()) and b'"size":3073' in c.dataset_message()


def test_a_large_event_encoded_in_pieces_is_byte_for_byte_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import codec

    rng = np.random.default_rng(3)
    big = rng.normal(size=(3000, 7)) * 10.0 ** rng.integers(-300, 300, size=(3000, 7))
    big.flat[::5], big.flat[::7], big.flat[::11] = np.nan, -0.0, -np.inf
    event = {
        "type": "forward",
        "z": [big, big[::2], big.T],  # a view and a non-contiguous array too
        "a": (1, big.ravel()),
        "small": big[:3],
        "nested": {"w": big.reshape(3, 1000, 7)},
    }
    whole = codec.encode(event)
    sizes: list[int] = []
    real = codec.encode

    def counting(e: object) -> bytes:
        sizes.append(e.size if isinstance(e, np.ndarray) else 0)
        return real(e)  # type: ignore[arg-type]

    monkeypatch.setattr(codec, "encode", counting)
    assert codec.encode_in_pieces(event) == whole
    assert max(sizes) <= codec.PIECE_NUMBERS and len(sizes) > 5 * big.size // codec.PIECE_NUMBERS


def test_large_weights_are_encoded_once_per_change_of_their_bits() -> None:
    from app.codec import PIECE_NUMBERS, ArraysJson, encode

    rng = np.random.default_rng(5)
    w = [rng.normal(size=(64, 64)), np.zeros((1, 64)), rng.normal(size=(64, 64))]
    cache = ArraysJson()
    first = cache(w)
    assert encode({"w": first}) == encode({"w": w})
    assert cache(w) is first  # unchanged: the same bytes, not encoded again
    for change in (-0.0, np.nan, 1e-300):  # each changes bits; -0.0 == 0.0 all the same
        w[1][0, 3] = change
        again = cache(w)
        assert again is not first and encode({"w": again}) == encode({"w": w})
        first = again
    small = [np.ones((2, 2))]
    assert cache(small) is small and sum(a.size for a in small) <= PIECE_NUMBERS
