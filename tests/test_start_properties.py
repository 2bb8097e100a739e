"""Property-based checks of the START readers: malformed rows, odd encodings, shuffled columns.

Every input either parses to the same records as the clean file or fails with an
``InputError`` naming the file, the row and the column; a failed extraction leaves no
output file behind.
"""

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from revmatch.conference import (
    extract_softconf,
    read_bids,
    read_coi_pairs,
    read_profiles,
    read_quotas,
    read_submissions,
)
from revmatch.io import InputError

SUBMISSION_HEADER = [
    "Submission ID", "Title", "Track", "Submission Type", "Abstract", "Authors", "All Author Emails",
    "Acceptance Status", "1: Username", "2: Username",
]
SUBMISSION_ROWS = [
    ["101", "Neural MT", "Machine Translation", "Long Paper", 'We translate, "carefully",\nacross lines.',
     "Frank Fox and Alice Smith", "frank@x.org; alice@uni.edu", "", "frank", "alice"],
    ["102", "Parsing für alle", "Syntax", "Short paper", "Trees, and forests.", "Zoë Ünal, Bob Jones",
     "zoe@nowhere.org; bob@x.org", "", "zoe", ""],
    ["103", "Withdrawn one", "Syntax", "Long", "W.", "Gina Gray", "gina@x.org", "Withdrawn", "gina", ""],
    ["104", "Rejected", "Machine Translation", "long", "R.", "Hank Hill", "hank@x.org", "Desk Reject", "hank", ""],
]
PROFILE_HEADER = ["Username", "Email", "First Name", "Last Name", "Semantic Scholar ID", "Roles", "Affiliation"]
PROFILE_ROWS = [
    ["alice", "alice@uni.edu", "Alice", "Smith", "https://www.semanticscholar.org/author/A-S/111",
     "committee:Machine Translation", "Université A"],
    ["bob", "bob@x.org", "Bob", "Jones", "222", "committee:Syntax", "X Corp"],
    ["frank", "frank@x.org", "Frank", "Fox", "", "Author", ""],
]
BID_HEADER = ["Submission ID/Username", "alice", "bob", "ghost"]
BID_ROWS = [["101", "1", "4", ""], ["102", "", "3", "2"]]
QUOTA_HEADER = ["Username", "Quota for Review"]
QUOTA_ROWS = [["alice", "3"], ["bob", "None"]]
PAIR_HEADER = ["Username", "Submission ID"]
PAIR_ROWS = [["bob", "101"], ["alice", "102"]]

ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "utf-16"]
NEWLINES = ["\n", "\r\n"]


def csv_text(header, rows, newline="\n", trailing_empty_column=False):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    extra = [""] if trailing_empty_column else []
    writer.writerow(header + extra)
    writer.writerows(row + extra for row in rows)
    return buffer.getvalue()


def encodable(text, encoding):
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


# ------------------------------------------------------------------ how each reader reads


def submissions_of(path):
    profiles, non_reviewers, _ = read_profiles(PROFILES_FILE)
    return read_submissions(path, profiles + non_reviewers)


def profiles_of(path):
    reviewers, non_reviewers, multi = read_profiles(path)
    return reviewers, non_reviewers, multi.to_dict("records")


def bids_of(path):
    bids, report = read_bids(path, ["101", "102"], ["alice", "bob"])
    return bids.tolist(), report["unknown_usernames"]


def quotas_of(path):
    return read_quotas(path, ["alice", "bob"])[0]


def pairs_of(path):
    pairs, kind = read_coi_pairs(path)
    return sorted(zip(pairs["person"], pairs["other"])), kind


READERS = {
    "submissions": (SUBMISSION_HEADER, SUBMISSION_ROWS, submissions_of),
    "profiles": (PROFILE_HEADER, PROFILE_ROWS, profiles_of),
    "bids": (BID_HEADER, BID_ROWS, bids_of),
    "quotas": (QUOTA_HEADER, QUOTA_ROWS, quotas_of),
    "coi_pairs": (PAIR_HEADER, PAIR_ROWS, pairs_of),
}
PROFILES_FILE = None


@pytest.fixture(autouse=True)
def profiles_file(tmp_path_factory):
    global PROFILES_FILE
    PROFILES_FILE = tmp_path_factory.mktemp("profiles") / "Profile_Information.csv"
    PROFILES_FILE.write_text(csv_text(PROFILE_HEADER, PROFILE_ROWS), encoding="utf-8")
    yield


def baseline(tmp_path, name):
    header, rows, read = READERS[name]
    path = tmp_path / f"{name}_clean.csv"
    path.write_text(csv_text(header, rows), encoding="utf-8")
    return read(path)


def assert_located(err, path):
    assert err.path == str(path)
    assert err.row is not None, err
    assert err.column is not None, err


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------ shuffled columns, encodings, dialects


@SETTINGS
@given(
    name=st.sampled_from(sorted(READERS)),
    data=st.data(),
    encoding=st.sampled_from(ENCODINGS),
    newline=st.sampled_from(NEWLINES),
    trailing=st.booleans(),
)
def test_shuffled_columns_encodings_and_dialects_give_the_same_records(tmp_path, name, data, encoding, newline, trailing):
    header, rows, read = READERS[name]
    # the bids matrix and the pair files keep their first column (the submission id / username)
    fixed = 1 if name in ("bids",) else 0
    order = list(range(fixed)) + data.draw(st.permutations(range(fixed, len(header))))
    shuffled_header = [header[i] for i in order]
    shuffled_rows = [[row[i] for i in order] for row in rows]
    text = csv_text(shuffled_header, shuffled_rows, newline, trailing and name != "bids")
    if not encodable(text, encoding):
        encoding = "utf-8"
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        path = Path(work) / f"{name}.csv"
        path.write_bytes(text.encode(encoding))
        assert read(path) == baseline(Path(work), name)


@SETTINGS
@given(name=st.sampled_from(sorted(READERS)), cut=st.integers(1, 5))
def test_short_rows_are_padded(tmp_path, name, cut):
    header, rows, read = READERS[name]
    # drop trailing empty fields, as START does
    short = []
    for row in rows:
        row = list(row)
        while row and row[-1] == "" and len(row) > len(header) - cut:
            row.pop()
        short.append(row)
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        path = Path(work) / f"{name}.csv"
        path.write_text(csv_text(header, short), encoding="utf-8")
        assert read(path) == baseline(Path(work), name)


# ------------------------------------------------------------------ malformed rows

FILLER = st.text(
    alphabet=st.characters(blacklist_characters='",\r\n\x00', blacklist_categories=("Cs",)), max_size=6
)
KINDS = ["blank", "separators", "extra", "open_quote", "quote_junk", "nul", "duplicate_key", "empty_key"]


@st.composite
def malformed_line(draw, name):
    header, rows, _ = READERS[name]
    n = len(header)
    kind = draw(st.sampled_from(KINDS))
    fields = ["k" + draw(FILLER)] + [draw(FILLER) for _ in range(n - 1)]
    if kind == "blank":
        return kind, ""
    if kind == "separators":
        return kind, "," * draw(st.integers(0, n + 2))
    if kind == "extra":
        return kind, ",".join(fields + ["x" + draw(FILLER) for _ in range(draw(st.integers(1, 3)))])
    if kind == "open_quote":
        k = draw(st.integers(0, n - 1))
        return kind, ",".join(fields[:k] + ['"' + fields[k]] + fields[k + 1 :])
    if kind == "quote_junk":
        k = draw(st.integers(0, n - 1))
        return kind, ",".join(fields[:k] + ['"' + fields[k] + '"x'] + fields[k + 1 :])
    if kind == "nul":
        k = draw(st.integers(0, n - 1))
        return kind, ",".join(fields[:k] + [fields[k] + "\x00"] + fields[k + 1 :])
    if kind == "duplicate_key":
        return kind, ",".join([draw(st.sampled_from([r[0] for r in rows]))] + fields[1:])
    return kind, ",".join(["", "v" + fields[1]] + fields[2:])


# which malformations a reader must reject (the others may also be accepted: then the
# records must be those of the clean file)
MUST_FAIL = {"extra", "open_quote", "quote_junk", "nul"}
KEY_UNIQUE = {"submissions", "profiles", "bids", "quotas"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(READERS)), data=st.data())
def test_malformed_row_parses_to_the_same_records_or_is_located(tmp_path, name, data):
    header, rows, read = READERS[name]
    kind, line = data.draw(malformed_line(name))
    assume(not (kind == "duplicate_key" and name == "coi_pairs"))  # a new pair, not a malformed row
    position = data.draw(st.integers(0, len(rows)))
    lines = csv_text(header, rows).splitlines(keepends=True)
    # insert between records (a record may span lines: find record boundaries)
    boundaries = [0]
    buffer = ""
    for physical in lines:
        buffer += physical
        try:
            next(csv.reader(io.StringIO(buffer), strict=True))
            if buffer.count('"') % 2 == 0:
                boundaries.append(boundaries[-1] + buffer.count("\n"))
                buffer = ""
        except csv.Error:
            pass
    cut = boundaries[1 + position]
    text = "".join(lines[:cut]) + line + "\n" + "".join(lines[cut:])
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        path = Path(work) / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        try:
            records = read(path)
        except InputError as err:
            assert_located(err, path)
            if kind in ("extra", "empty_key"):
                assert err.row == 2 + position
            if kind == "duplicate_key":
                assert err.row == 2 + position or f"{2 + position}" in err.message
            return
        assert kind not in MUST_FAIL, (kind, line)
        if (kind == "empty_key" and name in KEY_UNIQUE | {"coi_pairs"}) or (
            kind == "duplicate_key" and name in KEY_UNIQUE
        ):
            pytest.fail(f"{kind} accepted by {name}: {line!r}")
        assert records == baseline(Path(work), name)


# ------------------------------------------------------------------ missing columns


@SETTINGS
@given(name=st.sampled_from(["submissions", "profiles", "quotas", "coi_pairs"]), data=st.data())
def test_missing_required_column_is_named(tmp_path, name, data):
    header, rows, read = READERS[name]
    required = {
        "submissions": ["Submission ID", "Title", "Track", "Submission Type", "Abstract", "Authors"],
        "profiles": ["Username", "Email", "First Name", "Last Name", "Semantic Scholar ID", "Roles"],
        "quotas": ["Username", "Quota for Review"],
        "coi_pairs": ["Username", "Submission ID"],
    }[name]
    dropped = data.draw(st.sampled_from(required))
    keep = [i for i, column in enumerate(header) if column != dropped]
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        path = Path(work) / f"{name}.csv"
        path.write_text(csv_text([header[i] for i in keep], [[r[i] for i in keep] for r in rows]), encoding="utf-8")
        with pytest.raises(InputError) as err:
            read(path)
        assert_located(err.value, path)
        assert err.value.row == 1
        assert dropped.split()[0] in str(err.value)


# ------------------------------------------------------------------ no partial output


@SETTINGS
@given(
    which=st.sampled_from(["profiles", "submissions", "bids", "quotas"]),
    kind=st.sampled_from(["extra", "open_quote", "duplicate_key"]),
)
def test_failed_extraction_leaves_no_output(tmp_path, which, kind):
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        work = Path(work)
        files = {}
        for name in ("profiles", "submissions", "bids", "quotas"):
            header, rows, _ = READERS[name]
            text = csv_text(header, rows)
            if name == which:
                first = rows[0]
                bad = {
                    "extra": ",".join(first + ["surplus"]),
                    "open_quote": ",".join(first[:1] + ['"open'] + first[2:]),
                    "duplicate_key": ",".join([first[0]] + first[1:]) if "\n" not in ",".join(first) else "",
                }[kind]
                if kind == "duplicate_key" and not bad:
                    bad = f"{first[0]}," + ",".join(["x"] * (len(header) - 1))
                text += bad + "\n"
            files[name] = work / f"{name}.csv"
            files[name].write_text(text, encoding="utf-8")
        out = work / "out"
        try:
            extract_softconf(
                files["profiles"], files["submissions"], files["bids"],
                out / "reviewers.jsonl", out / "submissions.jsonl", out / "rejects.jsonl", out / "bids.npy",
                out / "non_reviewers.jsonl", out / "multi.csv", out / "report.json", quotas_csv=files["quotas"],
            )
        except InputError as err:
            assert err.path == str(files[which])
            assert err.row is not None and err.column is not None
            assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
        else:
            pytest.fail(f"{kind} in {which} was accepted")


def test_reader_counts_unknown_bid_usernames(tmp_path):
    path = tmp_path / "bids.csv"
    path.write_text(csv_text(BID_HEADER, BID_ROWS, trailing_empty_column=True), encoding="utf-8")
    bids, report = read_bids(path, ["101", "102"], ["alice", "bob"])
    assert report["unknown_usernames"] == ["ghost"] and report["columns"] == 3
    np.testing.assert_array_equal(bids, [[3, 0], [2, 1]])
