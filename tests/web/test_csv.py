"""CSV datasets: POST /api/datasets/csv, each kind of bad file named by line and column, and the labels."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import csvdata
from app import scenario as sc
from app.scenario import LIMITS
from app.web.main import create_app
from app.web.settings import Settings


def post(client: TestClient, text: str | bytes) -> Any:
    return client.post("/api/datasets/csv", content=text, headers={"content-type": "text/csv"})


def table(rows: int, inputs: int) -> str:
    lines = [",".join([f"x{i}" for i in range(inputs)] + ["label"])]
    lines += [",".join([str(r % 7 - 3.5)] * inputs + [str(r % 2)]) for r in range(rows)]
    return "\n".join(lines) + "\n"


BAD = [
    # (id, file, the message, or a fragment of it)
    ("empty", "", "the file is empty: it needs a header row and at least one row of data"),
    ("blank-lines", "\n \n", "the file is empty"),
    ("header-only", "a,b\n", "line 1: the file has a header but no rows of data"),
    ("no-header", "1,2\n3,4\n", "line 1: the first row must be a header naming the columns, but it holds numbers"),
    ("unnamed-column", "a,,c\n1,2,3\n", "line 1, column 2: every column needs a name in the header"),
    ("one-column", "a\n1\n", "line 1: needs at least two columns, the inputs and then the label"),
    ("text", "a,b\n1,0\n2,yes\n", "line 3, column 2 (b): 'yes' is not a number"),
    ("nan", "a,b\nnan,1\n", "line 2, column 1 (a): NaN is not a number"),
    ("inf", "a,b\n1,-inf\n", "line 2, column 2 (b): '-inf' is infinite"),
    ("empty-cell", "a,b\n1,\n", "line 2, column 2 (b): empty; every value must be a number"),
    ("too-big", "a,b\n1e7,1\n", "line 2, column 1 (a): 1e7 is beyond ±1,000,000 (max_abs_value)"),
    ("short-row", "a,b,c\n1,2,3\n1,2\n", "line 3: 2 values, but the header has 3 columns"),
    ("long-row", "a,b\n1,2,3\n", "line 2: 3 values, but the header has 2 columns"),
    ("too-many-columns", table(1, 65), "line 1: 66 columns make 65 inputs; at most 64 (max_units)"),
    ("too-many-rows", table(10_001, 2), "line 10002: more than 10000 rows of data (max_examples)"),
    (
        "several",
        "a,b\nx,1\n1,2,3\n1,nan\n1,1\n",
        "line 2, column 1 (a): 'x' is not a number; line 3: 3 values, but the header has 2 columns; "
        "line 4, column 2 (b): NaN is not a number",
    ),
    ("many", "a,b\n" + "x,y\n" * 20, "; and 35 more"),  # 40 problems, the first 5 told
]


@pytest.mark.parametrize("text, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_kind_of_bad_file_is_named(text: str, message: str) -> None:
    with pytest.raises(csvdata.CsvError) as err:
        csvdata.parse(text)
    assert message in str(err.value)


def test_the_endpoint_answers_422_with_the_message(client: TestClient) -> None:
    r = post(client, "a,b\n1,0\n2,yes\n")
    assert r.status_code == 422 and r.json()["detail"] == "line 3, column 2 (b): 'yes' is not a number"
    r = post(client, b"a,b\n\xff,1\n")
    assert r.status_code == 422 and "not UTF-8" in r.json()["detail"]


def test_a_body_over_the_upload_limit_is_413() -> None:
    with TestClient(create_app(Settings(max_upload_bytes=2048))) as c:
        assert post(c, table(50, 2)).status_code == 200
        assert post(c, table(500, 2)).status_code == 413


def test_the_largest_file_within_the_limits_is_read(client: TestClient) -> None:
    r = post(client, table(LIMITS["max_examples"], LIMITS["max_units"]))
    assert r.status_code == 200
    ds = r.json()
    assert len(ds["x"]) == 10_000 and len(ds["x"][0]) == 64 and ds["task"] == "binary"


# --- labels -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels, task, classes, y",
    [
        (["0", "1", "1"], "binary", [0, 1], [[0.0], [1.0], [1.0]]),
        (["1", "1", "1"], "binary", [1], [[1.0], [1.0], [1.0]]),
        (["-1", "2", "-1"], "binary", [-1, 2], [[0.0], [1.0], [0.0]]),
        (["3", "1", "2"], "multiclass", [1, 2, 3], [[0, 0, 1], [1, 0, 0], [0, 1, 0]]),
        (["0.5", "1", "2"], "regression", [], [[0.5], [1.0], [2.0]]),
        (["1.0", "2.0", "1e0"], "binary", [1, 2], [[0.0], [1.0], [0.0]]),
    ],
)
def test_labels_become_classes_or_targets(labels: list[str], task: str, classes: list[int], y: list[Any]) -> None:
    text = "x,label\n" + "".join(f"{k},{v}\n" for k, v in enumerate(labels))
    ds = csvdata.parse(text)
    assert (ds["task"], ds["classes"], ds["y"]) == (task, classes, y)
    assert ds["x"] == [[0.0], [1.0], [2.0]] and ds["columns"] == ["x", "label"]


def test_more_than_ten_integer_labels_are_regression_targets() -> None:
    ds = csvdata.parse("x,n\n" + "".join(f"{k},{k}\n" for k in range(11)))
    assert ds["task"] == "regression" and ds["y"][10] == [10.0]
    ds = csvdata.parse("x,n\n" + "".join(f"{k},{k}\n" for k in range(10)))
    assert ds["task"] == "multiclass" and len(ds["y"][0]) == 10


def test_quotes_spaces_a_byte_order_mark_and_blank_lines_are_fine() -> None:
    ds = csvdata.parse('\ufeff"first input", x2 ,label\n\n " 1.5", -2 ,1\n\n3,4,0\n\n')
    assert ds["columns"] == ["first input", "x2", "label"]
    assert ds["x"] == [[1.5, -2.0], [3.0, 4.0]] and ds["y"] == [[1.0], [0.0]]


@pytest.mark.parametrize(
    "labels, out, loss",
    [(["0", "1"], "sigmoid", "binary_cross_entropy"), (["0", "1", "2"], "softmax", "cross_entropy")],
)
def test_a_dataset_makes_a_valid_scenario_with_the_task_the_server_infers(
    labels: list[str], out: str, loss: str
) -> None:
    ds = csvdata.parse("a,b,label\n" + "".join(f"{k},{-k},{v}\n" for k, v in enumerate(labels)))
    n_out = len(ds["y"][0])
    doc = {
        "layers": [2, 3, n_out],
        "activations": ["tanh", out],
        "loss": loss,
        "data": {"train": {"x": ds["x"], "y": ds["y"]}},
    }
    assert sc.build(sc.parse(doc)).task == ds["task"]
