import json

import numpy as np
import pandas as pd
import pytest

from revmatch import io


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with io.atomic_path(target) as tmp:
        tmp.write_text("hello")
        assert not target.exists()
    assert target.read_text() == "hello"
    assert list(target.parent.iterdir()) == [target]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_jsonl_roundtrip_with_numpy_values(tmp_path):
    path = tmp_path / "x.jsonl"
    n = io.write_jsonl([{"a": np.int64(1), "b": np.float32(0.5)}, {"c": [np.bool_(True)]}], path)
    assert n == 2
    assert io.read_jsonl(path) == [{"a": 1, "b": 0.5}, {"c": [True]}]


def test_read_jsonl_names_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(io.InputError) as err:
        io.read_jsonl(path)
    assert err.value.row == 2
    assert str(path) in str(err.value)


def test_input_error_message_names_file_row_column():
    err = io.InputError("f.csv", "expected an integer", row=7, column="Quota")
    assert str(err) == "f.csv, row 7, column 'Quota': expected an integer"


def test_npy_csv_parquet_json_writers(tmp_path):
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    io.save_npy(arr, tmp_path / "a.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), arr)
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    io.write_csv(frame, tmp_path / "f.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "f.csv"), frame, check_dtype=False)
    io.write_parquet(frame, tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "f.parquet"), frame, check_dtype=False)
    io.write_json({"k": np.int32(3)}, tmp_path / "j.json")
    assert json.loads((tmp_path / "j.json").read_text()) == {"k": 3}
    assert io.write_lines(["a", "b"], tmp_path / "l.txt") == 2
    assert io.read_lines(tmp_path / "l.txt") == ["a", "b"]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
