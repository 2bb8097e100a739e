import csv
import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from revmatch import affinity
from revmatch.corpus import papers_frame, write_papers
from revmatch.io import InputError, write_jsonl
from revmatch.model import index_corpus_file, load_registry_model, paper_scores, submission_texts
from tests.conftest import REPO

DIM = 16
LEGACY_META_KEYS = [
    "no_profile", "no_profile_submission", "no_publications", "no_publications_count", "submission_count"
]


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reviewer(rid, ids, *, ac=False, sac=False, tracks=(), ac_tracks=(), sac_tracks=()):
    return {
        "id": rid, "name": rid.title(), "email": f"{rid}@uni.edu", "ids": list(ids), "startUsername": rid,
        "tracks": list(tracks), "areaChair": ac, "ac_tracks": list(ac_tracks),
        "seniorAreaChair": sac, "sac_tracks": list(sac_tracks), "emergency": False,
    }


@pytest.fixture
def conference():
    """12 corpus papers, 6 people (one without papers), 5 submissions, random unit embeddings."""
    rng = np.random.default_rng(7)
    authorship = {  # corpus row -> (year, author ids)
        0: (2015, ["1"]), 1: (2018, ["1", "2"]), 2: (2021, ["1"]), 3: (2019, ["2"]),
        4: (2020, ["3"]), 5: (2022, ["3", "4"]), 6: (None, ["4"]), 7: (2017, ["5"]),
        8: (2019, ["5", "1"]), 9: (2020, ["99"]), 10: (2021, ["6"]), 11: (2016, [""]),
    }
    papers = papers_frame(
        [
            {
                "paper_id": f"p{row:02d}", "title": f"T{row}", "abstract": "A.", "year": year, "venue": "ACL",
                "authors": [{"id": a, "name": f"N{a}"} for a in ids], "acl_id": None,
            }
            for row, (year, ids) in authorship.items()
        ]
    )
    reviewers = [
        reviewer("rev1", ["1"], tracks=["MT"]),
        reviewer("rev2", ["2"], tracks=["Dialogue"]),
        reviewer("rev3", ["42"], tracks=["MT"]),  # no corpus papers
        reviewer("ac1", ["3"], ac=True, ac_tracks=["MT"]),
        reviewer("ac2", ["4", "5"], ac=True, ac_tracks=["Dialogue"]),
        reviewer("sac1", ["6"], sac=True, sac_tracks=["MT", "Dialogue"]),
    ]
    submissions = [{"id": f"s{i}", "title": f"S{i}", "track": "MT"} for i in range(1, 6)]
    return {
        "papers": papers, "reviewers": reviewers, "submissions": submissions,
        "corpus_embeddings": unit(rng, len(papers)), "submission_embeddings": unit(rng, len(submissions)),
    }


def naive_max(sub_emb, corpus_emb, member_rows):
    """Max cosine over each member's papers, one submission and member at a time."""
    out = np.full((len(member_rows), len(sub_emb)), np.nan)
    for m, rows in enumerate(member_rows):
        for s, vec in enumerate(sub_emb):
            if rows:
                out[m, s] = max(float(vec @ corpus_emb[r]) for r in rows)
    return out


def run(conference, **job):
    """The job's document, in the project's output (7 decimals, per-member archives) unless it
    says otherwise, so that scores compare exactly."""
    c = conference
    return affinity.run_affinity_job(
        {"output": "project", **job}, c["reviewers"], c["submissions"], c["papers"],
        affinity.EmbeddingScorer(c["corpus_embeddings"], c["submission_embeddings"]),
    )


def scores_by_pair(document, a_key, b_key):
    return {(e[a_key], e[b_key]): e["score"] for e in document["results"]}


# ---------------------------------------------------------------- publications


def test_member_publications(conference):
    members = conference["reviewers"]
    incidence, no_pubs = affinity.member_publications(members, conference["papers"])
    rows = [incidence[i].indices.tolist() for i in range(len(members))]
    assert rows == [[0, 1, 2, 8], [1, 3], [], [4, 5], [5, 6, 7, 8], [10]]
    assert no_pubs == ["rev3"]
    recent, _ = affinity.member_publications(members, conference["papers"], max_papers=2)
    recent_rows = [recent[i].indices.tolist() for i in range(len(members))]
    assert recent_rows == [[2, 8], [1, 3], [], [4, 5], [5, 8], [10]]
    since, no_pubs = affinity.member_publications(members, conference["papers"], since_year=2020)
    assert [since[i].indices.tolist() for i in range(len(members))] == [[2], [], [], [4, 5], [5], [10]]
    assert no_pubs == ["rev2", "rev3"]


# ---------------------------------------------------------------- reductions


def test_group_submission_scores_match_naive_reductions():
    rng = np.random.default_rng(0)
    pub_scores = rng.uniform(-1, 1, size=(7, 30)).astype(np.float32)
    member_rows = [[0, 3, 9], [], [4], list(range(10, 30)), [1, 2], []]
    indptr = np.cumsum([0] + [len(r) for r in member_rows])
    columns = np.concatenate([r for r in member_rows if r])
    incidence = sp.csr_matrix((np.ones(indptr[-1]), columns, indptr), shape=(6, 30))
    def weighted_top3(v):
        best = np.sort(v)[::-1][:3]
        return float(np.sum(best / np.arange(1, len(best) + 1)))

    checks = {
        "max": np.max, "mean": np.mean, "weighted_top3": weighted_top3,
        "min": np.min, "p75": lambda v: np.percentile(v, 75), "median": np.median,
    }
    for reduce, fn in checks.items():
        got = affinity.group_submission_scores(pub_scores, incidence, reduce)
        assert got.shape == (7, 6)
        for m, rows in enumerate(member_rows):
            for s in range(7):
                if rows:
                    expected = float(fn(pub_scores[s, rows].astype(np.float64)))
                    assert got[s, m] == pytest.approx(expected, abs=1e-6), (reduce, s, m)
                else:
                    assert np.isnan(got[s, m])
    with pytest.raises(ValueError, match="unknown reduce"):
        affinity.group_submission_scores(pub_scores, incidence, "top3")


def test_group_group_scores_max_over_pairs(conference):
    emb = conference["corpus_embeddings"]
    inc, _ = affinity.member_publications(conference["reviewers"], conference["papers"])
    got = affinity.group_group_scores(emb, inc[:3], emb, inc[3:], "max", block_rows=2)
    rows_a = [inc[i].indices.tolist() for i in range(3)]
    rows_b = [inc[i].indices.tolist() for i in range(3, 6)]
    for a, ra in enumerate(rows_a):
        for b, rb in enumerate(rows_b):
            if ra and rb:
                best = max(float(emb[i] @ emb[j]) for i in ra for j in rb)
                assert got[a, b] == pytest.approx(best, abs=1e-6)
            else:
                assert np.isnan(got[a, b])
    mean = affinity.group_group_scores(emb, inc[:1], emb, inc[3:4], "mean")
    assert mean[0, 0] == pytest.approx(float(np.mean(emb[rows_a[0]] @ emb[rows_b[0]].T)), abs=1e-6)


def test_normalise_scores():
    scores = np.array([[0.2, np.nan], [-0.4, 0.8]])
    got = affinity.normalise_scores(scores)
    np.testing.assert_allclose(got, [[0.5, np.nan], [0.0, 1.0]])
    constant = np.array([[0.3, 0.3], [np.nan, 0.3]])
    np.testing.assert_array_equal(affinity.normalise_scores(constant), [[0, 0], [np.nan, 0]])
    assert affinity.normalise_scores(np.empty((0, 3))).shape == (0, 3)
    np.testing.assert_allclose(affinity.cosine_to_unit(np.array([-1.0, 0.0, 1.0])), [0.0, 0.5, 1.0])


# ---------------------------------------------------------------- jobs


def test_group_submissions_legacy_schema(conference):
    doc = run(conference, mode="group_submissions", group={"role": "reviewer"}, normalize=False)
    assert list(doc) == ["metadata", "results"]
    assert list(doc["metadata"]) == LEGACY_META_KEYS
    assert doc["metadata"] == {
        "no_profile": [], "no_profile_submission": [], "no_publications": ["rev3"],
        "no_publications_count": 1, "submission_count": 5,
    }
    assert all(list(e) == ["submission", "user", "score"] for e in doc["results"])
    assert len(doc["results"]) == 2 * 5  # rev3 has no papers: no entries
    got = scores_by_pair(doc, "user", "submission")
    inc, _ = affinity.member_publications(conference["reviewers"][:2], conference["papers"])
    expected = naive_max(conference["submission_embeddings"], conference["corpus_embeddings"],
                         [inc[i].indices.tolist() for i in range(2)])
    for m, member in enumerate(["rev1", "rev2"]):
        for s in range(5):
            assert got[(member, f"s{s + 1}")] == pytest.approx((expected[m, s] + 1) / 2, abs=1e-6)


def test_group_submissions_normalised_with_track(conference):
    doc = run(conference, mode="group_submissions", group={"role": "area_chair", "track": "MT"})
    assert {e["user"] for e in doc["results"]} == {"ac1"}
    scores = np.array([e["score"] for e in doc["results"]])
    assert scores.min() == 0.0 and scores.max() == 1.0
    doc = run(conference, mode="group_submissions", group={"role": "all", "track": "Dialogue"})
    assert {e["user"] for e in doc["results"]} == {"rev2", "ac2", "sac1"}


def test_paper_subset_reports_unknown_submissions(conference):
    wanted = ["s2", "s9", "s4", "s2"]
    doc = run(conference, mode="paper_subset", group={"role": "area_chair"}, submissions=wanted)
    assert doc["metadata"]["no_profile_submission"] == ["s9"]
    assert doc["metadata"]["submission_count"] == 2
    pairs = [(e["submission"], e["user"]) for e in doc["results"]]
    assert pairs == [("s2", "ac1"), ("s4", "ac1"), ("s2", "ac2"), ("s4", "ac2")]
    assert all(0.0 <= e["score"] <= 1.0 for e in doc["results"])


def test_user_subset_reports_unknown_members(conference):
    doc = run(conference, mode="user_subset", members=["rev2", "ghost", "AC1@UNI.EDU", "rev3"], max_papers=1)
    meta = doc["metadata"]
    assert meta["no_profile"] == ["ghost"]
    assert meta["no_publications"] == ["rev3"] and meta["no_publications_count"] == 1
    assert {e["user"] for e in doc["results"]} == {"rev2", "ac1"}
    assert len(doc["results"]) == 2 * 5
    assert all(0.0 <= e["score"] <= 1.0 for e in doc["results"])


def test_group_group_legacy_and_current(conference):
    job = {"mode": "group_group", "group": {"role": "reviewer"}, "alternate_group": {"role": "area_chair"}}
    doc = run(conference, **job, normalize=False)
    assert all(list(e) == ["match_member", "submission_member", "score"] for e in doc["results"])
    assert doc["metadata"]["no_publications"] == ["rev3"]
    assert doc["metadata"]["submission_count"] == 2
    got = scores_by_pair(doc, "match_member", "submission_member")
    assert set(got) == {(a, b) for a in ("rev1", "rev2") for b in ("ac1", "ac2")}
    emb = conference["corpus_embeddings"]
    best = max(float(emb[i] @ emb[j]) for i in (1, 3) for j in (4, 5))
    assert got[("rev2", "ac1")] == pytest.approx((best + 1) / 2, abs=1e-6)
    current = run(conference, **job, schema="current")
    assert list(current["metadata"]) == [*LEGACY_META_KEYS, "archives_count"]
    assert current["metadata"]["archives_count"] == {"rev1": 4, "rev2": 2, "rev3": 0, "ac1": 2, "ac2": 4}
    assert all(list(e) == ["entityA", "entityB", "score"] for e in current["results"])
    assert all(0.0 <= e["score"] <= 1.0 for e in current["results"])


def test_current_schema_for_submissions(conference):
    group = {"members": ["ac1", "sac1"]}
    doc = run(conference, mode="group_submissions", group=group, schema="current", reduce="mean")
    assert list(doc["metadata"]) == [*LEGACY_META_KEYS, "archives_count"]
    assert all(list(e) == ["entityA", "entityB", "score"] for e in doc["results"])
    assert {e["entityA"] for e in doc["results"]} == {"ac1", "sac1"}
    assert {e["entityB"] for e in doc["results"]} == {f"s{i}" for i in range(1, 6)}


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"mode": "everything"}, "mode"),
        ({"mode": "paper_subset", "group": {"role": "reviewer"}}, "submissions"),
        ({"mode": "group_group", "group": {"role": "reviewer"}}, "alternate_group"),
        ({"mode": "user_subset"}, "members"),
        ({"mode": "group_submissions", "group": {"role": "chair"}}, "role"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "submission_status": "rejected"},
         "submission_status"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "submission_status": "withdrawn"},
         "no submission"),
        ({"mode": "group_submissions", "group": {"role": "area_chair", "track": "Nowhere"}}, "empty"),
        ({"mode": "user_subset", "members": ["ghost"]}, "empty"),
        ({"mode": "user_subset", "members": ["rev1", "ghost"], "on_unknown_member": "error"}, "ghost"),
        ({"mode": "user_subset", "members": ["rev3"]}, "no member of the group has publications"),
        ({"mode": "paper_subset", "group": {"role": "reviewer"}, "submissions": ["s99"]}, "s99"),
        ({"mode": "group_submissions", "group": {"role": "reviewer", "colour": "red"}}, "colour"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "schema": "v3"}, "schema"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "colour": 1}, "unknown"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "reduce": "weighted_top3",
          "normalize": False}, "normalize"),
    ],
)
def test_bad_jobs_raise(conference, job, message):
    with pytest.raises(ValueError, match=message):
        run(conference, **job)


# ---------------------------------------------------------------- files


def write_inputs(tmp_path, conference):
    paths = {
        "reviewers_jsonl": tmp_path / "reviewers.jsonl",
        "submissions_jsonl": tmp_path / "submissions.jsonl",
        "papers_parquet": tmp_path / "papers.parquet",
        "corpus_embeddings_npy": tmp_path / "corpus_embeddings.npy",
        "submission_embeddings_npy": tmp_path / "submission_embeddings.npy",
    }
    write_jsonl(conference["reviewers"], paths["reviewers_jsonl"])
    write_jsonl(conference["submissions"], paths["submissions_jsonl"])
    write_papers(conference["papers"], paths["papers_parquet"])
    np.save(paths["corpus_embeddings_npy"], conference["corpus_embeddings"])
    np.save(paths["submission_embeddings_npy"], conference["submission_embeddings"])
    return paths


@pytest.mark.parametrize(
    ("job", "header"),
    [
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "output": "project"},
         ["submission", "user", "score"]),
        ({"mode": "group_group", "group": {"role": "reviewer"}, "alternate_group": {"role": "area_chair"},
          "output": "project"}, ["match_member", "submission_member", "score"]),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "schema": "current", "output": "project"},
         ["entityA", "entityB", "score"]),
    ],
)
def test_affinity_job_file_writes_json_and_csv(tmp_path, conference, job, header):
    paths = write_inputs(tmp_path, conference)
    out_json, out_csv = tmp_path / "job" / "results.json", tmp_path / "job" / "results.csv"
    status = affinity.affinity_job_file(job, **paths, out_json=out_json, out_csv=out_csv)
    assert status["status"] == "Completed" and status["name"] == "job" and status["request"] == job
    expected = run(conference, **job)
    written = json.loads(out_json.read_text())
    assert written == expected
    with open(out_csv, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == header
    assert [r[:2] for r in rows[1:]] == [[str(e[k]) for k in header[:2]] for e in expected["results"]]
    assert [float(r[2]) for r in rows[1:]] == [e["score"] for e in expected["results"]]
    assert all(re.fullmatch(r"[01]\.\d{7}", r[2]) for r in rows[1:])
    assert len(rows) > 1
    assert sorted(p.name for p in out_json.parent.iterdir()) == ["results.csv", "results.json", "status.json"]
    assert json.loads((out_json.parent / "status.json").read_text()) == status


def test_write_results_escapes_ids_and_skips_missing_scores(tmp_path):
    scores = np.array([[0.25, np.nan, 1.0], [np.nan, np.nan, np.nan], [1e-7, 0.5, 0.0]])
    rows, cols = ['quote"d', "plain", "comma,user"], ["s1", "new\nline", "ü"]
    metadata = {
        "no_profile": [], "no_profile_submission": ["s9"], "no_publications": ["plain"], "submission_count": 3
    }
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    n = affinity.write_results(
        scores, rows, cols, "paper_subset", metadata, "legacy", out_json, out_csv, block_entries=5
    )
    expected = affinity.results_document(scores, rows, cols, "paper_subset", metadata, "legacy")
    assert n == len(expected["results"]) == 5
    assert json.loads(out_json.read_text(encoding="utf-8")) == expected
    with open(out_csv, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["submission"], r["user"], float(r["score"])) for r in table] == [
        (e["submission"], e["user"], e["score"]) for e in expected["results"]
    ]
    metadata["archives_count"] = {}
    empty = affinity.write_results(
        np.full((2, 2), np.nan), rows[:2], cols[:2], "group_group", metadata, "current",
        tmp_path / "e.json", tmp_path / "e.csv",
    )
    assert empty == 0
    assert json.loads((tmp_path / "e.json").read_text())["results"] == []
    assert (tmp_path / "e.csv").read_text() == "entityA,entityB,score\n"


def test_affinity_job_file_checks_embedding_rows(tmp_path, conference):
    paths = write_inputs(tmp_path, conference)
    np.save(paths["corpus_embeddings_npy"], conference["corpus_embeddings"][:-1])
    status = affinity.affinity_job_file(
        {"mode": "group_submissions", "group": {"role": "reviewer"}}, **paths,
        out_json=tmp_path / "r.json", out_csv=tmp_path / "r.csv",
    )
    assert status["status"] == "Data Error"
    assert "corpus_embeddings.npy" in status["description"]
    assert not (tmp_path / "r.json").exists()


# ---------------------------------------------------------------- selection, ensembles, statuses


def selection_frame(rows):
    frame = pd.DataFrame(rows, columns=["member", "paper_id", "action"])
    frame["line"] = np.arange(len(frame)) + 2
    frame.attrs["path"] = "selection.csv"
    return frame


def test_expertise_selection_includes_and_excludes(conference):
    reviewers, papers = conference["reviewers"], conference["papers"]
    table = selection_frame([
        ["rev1", "p08", "exclude"],          # rev1: papers 0, 1, 2 (8 excluded)
        ["AC2@uni.edu", "p06", "include"],   # ac2 by e-mail: only papers 6 and 9 (9 not authored)
        ["ac2", "p09", "include"],
        ["rev3", "p00", "include"],          # rev3 (no papers of their own) gets paper 0
    ])
    pairs = affinity.selection_pairs(table, reviewers, papers["paper_id"].tolist())
    assert pairs.to_dict("list") == {
        "reviewer": [0, 4, 4, 2], "paper": [8, 6, 9, 0], "include": [False, True, True, True]
    }
    selection = pairs.rename(columns={"reviewer": "member"})
    incidence, no_pubs = affinity.member_publications(reviewers, papers, selection=selection)
    rows = [incidence[i].indices.tolist() for i in range(len(reviewers))]
    assert rows == [[0, 1, 2], [1, 3], [0], [4, 5], [6, 9], [10]]
    assert no_pubs == []
    recent, _ = affinity.member_publications(
        reviewers, papers, max_papers=1, since_year=2019, selection=selection
    )
    assert [recent[i].indices.tolist() for i in range(len(reviewers))] == [[2], [3], [], [5], [9], [10]]


@pytest.mark.parametrize(
    ("row", "column"), [(["ghost", "p01", "include"], "member"), (["rev1", "p99", "exclude"], "paper_id")]
)
def test_expertise_selection_unknown_member_or_paper(conference, row, column):
    table = selection_frame([["rev1", "p01", "exclude"], row])
    with pytest.raises(InputError, match=f"selection.csv, row 3, column '{column}'"):
        affinity.selection_pairs(table, conference["reviewers"], conference["papers"]["paper_id"].tolist())


def test_read_expertise_selection(tmp_path):
    path = tmp_path / "selection.csv"
    path.write_text("member,paper_id,action\nrev1, p01 ,Include\nrev2,p03,exclude\n")
    frame = affinity.read_expertise_selection(path)
    assert frame[["member", "paper_id", "action", "line"]].values.tolist() == [
        ["rev1", "p01", "include", 2], ["rev2", "p03", "exclude", 3]
    ]
    path.write_text("member,paper_id,action\nrev1,p01,include\nrev2,p03,maybe\n")
    with pytest.raises(InputError, match="row 3, column 'action'"):
        affinity.read_expertise_selection(path)
    path.write_text("member,paper\nrev1,p01\n")
    with pytest.raises(InputError, match="missing columns"):
        affinity.read_expertise_selection(path)


def test_score_digits_match_string_formatting():
    values = np.array([0.0, 1.0, 0.5, 1e-7, 0.12345675, 0.99999996, 0.3333333333])
    got = [bytes(row).decode() for row in affinity.score_digits(values)]
    assert got == [f"{round(v, affinity.SCORE_DECIMALS):.7f}" for v in values]


def test_rejected_submissions_by_status(conference):
    rng = np.random.default_rng(1)
    rejects = [
        {"startSubmissionId": "r1", "title": "R1", "reason": "desk reject"},
        {"startSubmissionId": "w1", "title": "W1", "reason": "withdrawn"},
    ]
    c = conference
    embeddings = np.concatenate([c["submission_embeddings"], unit(rng, 2)])
    def job(status, **extra):
        spec = {"mode": "group_submissions", "group": {"role": "area_chair"}, "submission_status": status,
                "output": "project"}
        spec |= extra
        return affinity.run_affinity_job(
            spec, c["reviewers"], c["submissions"], c["papers"],
            affinity.EmbeddingScorer(c["corpus_embeddings"], embeddings), rejects,
        )
    assert {e["submission"] for e in job("desk_rejected")["results"]} == {"r1"}
    assert {e["submission"] for e in job(["withdrawn", "desk_rejected"])["results"]} == {"r1", "w1"}
    both = job(["active", "withdrawn"])
    assert both["metadata"]["submission_count"] == 6
    listed = job("active", mode="paper_subset", submissions=["s1", "w1"])
    assert listed["metadata"]["no_profile_submission"] == ["w1"]
    # The reject's score equals the one computed from its embedding as an active submission.
    alone = affinity.run_affinity_job(
        {"mode": "group_submissions", "group": {"role": "area_chair"}, "normalize": False, "output": "project"},
        c["reviewers"], [{"id": "r1"}], c["papers"], affinity.EmbeddingScorer(c["corpus_embeddings"], embeddings[5:6]),
    )
    raw = job("desk_rejected", normalize=False)
    assert scores_by_pair(raw, "user", "submission") == {
        (u, "r1"): v for (u, _), v in scores_by_pair(alone, "user", "submission").items()
    }


def test_group_group_is_symmetric_when_a_is_b(conference):
    for reduce in ("max", "mean"):
        for normalize in (True, False):
            doc = run(conference, mode="group_group", group={"role": "all"}, alternate_group={"role": "all"},
                      reduce=reduce, normalize=normalize)
            got = scores_by_pair(doc, "match_member", "submission_member")
            assert len(got) == 5 * 5
            assert all(got[(a, b)] == got[(b, a)] for a, b in got)


def test_job_status(tmp_path):
    path = tmp_path / "status.json"
    queued = affinity.job_status(path, "j", {"mode": "group_submissions"})
    assert queued["status"] == "Queued" and queued["request"] == {"mode": "group_submissions"}
    with pytest.raises(FileNotFoundError, match="no affinity job 'j'"):
        affinity.job_status(path, "j")
    first = affinity.write_status(path, "j", "Initialized", "reading", {})
    later = affinity.write_status(path, "j", "Running Expertise", "scoring", {})
    assert later["cdate"] == first["cdate"] and later["mdate"] >= first["mdate"]
    assert affinity.job_status(path, "j") == later
    with pytest.raises(ValueError, match="status must be one of"):
        affinity.write_status(path, "j", "Done", "", {})


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"group": {"members_file": "missing.txt"}}, "missing.txt: id list file not found"),
        ({"expertise_selection": "nowhere.csv"}, "nowhere.csv: expertise selection file not found"),
        ({"group": {"members": ["ghost", "rev1"]}, "on_unknown_member": "error"}, "not in the conference"),
        ({"group": {"role": "area_chair", "track": "Nowhere"}}, "group is empty"),
        ({"papers_parquet": "gone.parquet"}, "gone.parquet: publications (corpus) file not found"),
    ],
)
def test_bad_input_ends_in_data_error(tmp_path, conference, monkeypatch, extra, reason):
    monkeypatch.chdir(tmp_path)
    paths = write_inputs(tmp_path, conference)
    if "papers_parquet" in extra:
        paths["papers_parquet"] = tmp_path / extra.pop("papers_parquet")
    job = {"mode": "group_submissions", "group": {"role": "reviewer"}, **extra}
    out = tmp_path / "job"
    status = affinity.affinity_job_file(
        job, **paths, out_json=out / "results.json", out_csv=out / "results.csv"
    )
    assert status["status"] == "Data Error"
    assert reason in status["description"]
    assert json.loads((out / "status.json").read_text()) == status
    assert sorted(p.name for p in out.iterdir()) == ["status.json"]


def test_unexpected_failure_ends_in_error(tmp_path, conference):
    paths = write_inputs(tmp_path, conference)
    out = tmp_path / "job"
    (out / "results.json").mkdir(parents=True)  # the result cannot be written
    with pytest.raises(OSError):
        affinity.affinity_job_file(
            {"mode": "group_submissions", "group": {"role": "reviewer"}}, **paths,
            out_json=out / "results.json", out_csv=out / "results.csv",
        )
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "Error" and "results.json" in status["description"]


def test_members_file_and_submissions_file(tmp_path, conference, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = write_inputs(tmp_path, conference)
    (tmp_path / "members.txt").write_text("# area chairs\nac1\n\nghost\n")
    (tmp_path / "subs.txt").write_text("s3\ns1\n")
    job = {"mode": "paper_subset", "group": {"members_file": "members.txt"}, "submissions_file": "subs.txt"}
    out = tmp_path / "job"
    status = affinity.affinity_job_file(
        job, **paths, out_json=out / "results.json", out_csv=out / "results.csv"
    )
    assert status["status"] == "Completed", status
    doc = json.loads((out / "results.json").read_text())
    assert doc["metadata"]["no_profile"] == ["ghost"]
    assert [(e["submission"], e["user"]) for e in doc["results"]] == [("s3", "ac1"), ("s1", "ac1")]


def test_member_scores_from_blocks_equal_embedding_scores(conference):
    """A model that scores block by block (the registry's shape) gives the same member scores."""
    c = conference
    incidence, _ = affinity.member_publications(c["reviewers"], c["papers"])
    used = np.unique(incidence.indices)
    subs, corpus_emb = c["submission_embeddings"], c["corpus_embeddings"]
    blocks = ((slice(lo, lo + 2), subs[lo : lo + 2] @ corpus_emb[used].T) for lo in range(0, len(subs), 2))
    got = affinity.member_scores_from_blocks(blocks, len(subs), incidence[:, used], "p75")
    expected = affinity.submission_member_scores(subs, corpus_emb, incidence, "p75")
    np.testing.assert_allclose(got, expected, atol=1e-6)


# ---------------------------------------------------------------- registry models


WORDS = ("parsing translation speech dialogue sentiment summarization grammar alignment retrieval "
         "entity relation question answer embedding attention decoder lexicon morphology").split()


def texted(conference, seed=11):
    """The conference with real-looking texts: each corpus paper and submission a bag of words."""
    rng = np.random.default_rng(seed)
    def text(n):
        return " ".join(rng.choice(WORDS, size=n))
    papers = conference["papers"].assign(title=[text(4) for _ in range(len(conference["papers"]))],
                                         abstract=[text(12) for _ in range(len(conference["papers"]))])
    submissions = [{**s, "title": text(4), "paperAbstract": text(12)} for s in conference["submissions"]]
    corpus_texts = [f"{t}. {a}" for t, a in zip(papers["title"], papers["abstract"], strict=True)]
    return {**conference, "papers": papers, "submissions": submissions, "corpus_texts": corpus_texts}


def registry_scorer(c, spec):
    model = load_registry_model(spec)
    index = model.index(c["corpus_texts"])
    texts = submission_texts(c["submissions"])
    return affinity.RegistryScorer(model, index, texts, c["corpus_texts"]), model, index


@pytest.mark.parametrize("reduce", ["max", "mean", "p75"])
def test_ensemble_job_is_the_mean_of_member_z_scores_reduced(conference, reduce):
    c = texted(conference)
    scorer, model, indexes = registry_scorer(c, "tfidf+bm25")
    texts = submission_texts(c["submissions"])
    z = [index.calibration.normalise(paper_scores(member, index, texts)).astype(np.float64)
         for member, index in zip(model.members, indexes, strict=True)]
    mean_z = (z[0] + z[1]) / 2  # submissions x corpus
    job = {"mode": "group_submissions", "model": "tfidf+bm25", "group": {"role": "all"}, "reduce": reduce,
           "output": "project"}
    doc = affinity.run_affinity_job(job, c["reviewers"], c["submissions"], c["papers"], scorer)
    incidence, _ = affinity.member_publications(c["reviewers"], c["papers"])
    how = {"max": np.max, "mean": np.mean, "p75": lambda v: np.percentile(v, 75)}[reduce]
    raw = {(c["reviewers"][m]["id"], s["id"]): how(mean_z[k, incidence[m].indices])
           for m in range(len(c["reviewers"])) if incidence[m].nnz
           for k, s in enumerate(c["submissions"])}
    low, high = min(raw.values()), max(raw.values())
    expected = {pair: (value - low) / (high - low) for pair, value in raw.items()}
    got = scores_by_pair(doc, "user", "submission")
    assert got.keys() == expected.keys()
    assert all(got[p] == pytest.approx(expected[p], abs=2e-6) for p in got)
    # Not the mean of raw similarities (the old meaning of "a+b").
    raw_mean = (paper_scores(model.members[0], indexes[0], texts)
                + paper_scores(model.members[1], indexes[1], texts)) / 2
    assert not np.allclose(np.corrcoef(raw_mean.ravel(), mean_z.ravel())[0, 1], 1.0, atol=1e-9)


def test_ensemble_of_bounded_models_without_normalize_is_a_fixed_map_of_its_mean_z_score(conference):
    """normalize: false with tfidf+minilm: (z - low) / (high - low), ``low`` and ``high`` the
    mean z-scores of the members' own bounds ([0, 1] for tfidf, [-1, 1] for the encoder); the
    same scores whichever submissions the job takes (a paper subset agrees with the whole)."""
    from revmatch.model import score_bounds

    c = texted(conference)
    scorer, model, indexes = registry_scorer(c, "tfidf+minilm")
    low, high = score_bounds(model, indexes)
    ends = [index.calibration.normalise(np.array([bounds], dtype=np.float32))[0]
            for bounds, index in zip([(0.0, 1.0), (-1.0, 1.0)], indexes, strict=True)]
    assert (low, high) == pytest.approx(tuple(np.mean(ends, axis=0)), abs=1e-6) and low < 0 < high
    texts = submission_texts(c["submissions"])
    mean_z = sum(index.calibration.normalise(paper_scores(member, index, texts)).astype(np.float64)
                 for member, index in zip(model.members, indexes, strict=True)) / 2
    base = {"model": "tfidf+minilm", "group": {"role": "reviewer"}, "normalize": False, "output": "project"}
    whole = affinity.run_affinity_job({**base, "mode": "group_submissions"}, c["reviewers"], c["submissions"],
                                      c["papers"], scorer)
    got = scores_by_pair(whole, "user", "submission")
    # rev1 has corpus papers 0, 1, 2 and 8.
    expected = {s["id"]: (mean_z[k, [0, 1, 2, 8]].max() - low) / (high - low)
                for k, s in enumerate(c["submissions"])}
    assert {sub: v for (user, sub), v in got.items() if user == "rev1"} == pytest.approx(expected, abs=2e-7)
    subset = affinity.run_affinity_job({**base, "mode": "paper_subset", "submissions": ["s2", "s4"]},
                                       c["reviewers"], c["submissions"], c["papers"], scorer)
    assert scores_by_pair(subset, "user", "submission") == {k: v for k, v in got.items() if k[1] in ("s2", "s4")}
    assert score_bounds(*registry_scorer(c, "tfidf+bm25")[1:]) is None


@pytest.mark.parametrize("normalize", [True, False])
def test_tfidf_group_group_is_exactly_symmetric_when_a_is_b(conference, normalize):
    c = texted(conference)
    scorer, _, _ = registry_scorer(c, "tfidf")
    for reduce in ("max", "mean"):
        job = {"mode": "group_group", "model": "tfidf", "group": {"role": "all"},
               "alternate_group": {"role": "all"}, "reduce": reduce, "normalize": normalize}
        doc = affinity.run_affinity_job(job, c["reviewers"], c["submissions"], c["papers"], scorer)
        got = scores_by_pair(doc, "match_member", "submission_member")
        assert len(got) == 5 * 5
        assert all(got[(a, b)] == got[(b, a)] for a, b in got)
        assert len(set(got.values())) > 5


def test_tfidf_job_without_normalize_gives_cosines(conference):
    c = texted(conference)
    scorer, model, index = registry_scorer(c, "tfidf")
    job = {"mode": "group_submissions", "model": "tfidf", "group": {"role": "reviewer"}, "normalize": False,
           "output": "project"}
    doc = affinity.run_affinity_job(job, c["reviewers"], c["submissions"], c["papers"], scorer)
    cosines = paper_scores(model, index, submission_texts(c["submissions"]))
    # rev1 has corpus papers 0, 1, 2 and 8.
    expected = {s["id"]: round(float(cosines[k, [0, 1, 2, 8]].max()), 7) for k, s in enumerate(c["submissions"])}
    got = {sub: v for (user, sub), v in scores_by_pair(doc, "user", "submission").items() if user == "rev1"}
    assert got == pytest.approx(expected, abs=1e-7)


def test_model_scales_and_checks():
    assert [affinity.model_scale(m) for m in ("avg", "minilm", "tfidf", "bm25", "avg+tfidf", "avg+bm25")] == [
        "cosine", "cosine", "unit", "relative", "bounded", "relative"]
    np.testing.assert_array_equal(affinity.unit_scores(np.array([-0.5, 0.25, np.nan]), "unit"), [0.0, 0.25, np.nan])
    np.testing.assert_array_equal(affinity.unit_scores(np.array([-3.0, 1.0, 9.0, np.nan]), "bounded", (-3.0, 5.0)),
                                  [0.0, 0.5, 1.0, np.nan])
    with pytest.raises(ValueError, match="no fixed map"):
        affinity.unit_scores(np.zeros(2), "relative")
    with pytest.raises(ValueError, match="no fixed map"):
        affinity.unit_scores(np.zeros(2), "bounded")  # without the model's bounds
    with pytest.raises(ValueError, match="'avg\\+bm25' has no fixed \\[0, 1\\] scale"):
        affinity.check_job({"mode": "user_subset", "members": ["a"], "model": "avg+bm25", "normalize": False})
    with pytest.raises(ValueError, match="malformed model spec"):
        affinity.check_job({"mode": "user_subset", "members": ["a"], "model": "avg+"})


def test_scores_must_come_from_the_jobs_model(conference):
    c = texted(conference)
    scorer, _, _ = registry_scorer(c, "tfidf")
    with pytest.raises(ValueError, match="the job's model is 'avg', the scores given are 'tfidf''s"):
        affinity.run_affinity_job({"mode": "group_submissions", "group": {"role": "reviewer"}},
                                  c["reviewers"], c["submissions"], c["papers"], scorer)


def test_registry_job_file_with_rejects(tmp_path, conference):
    """A tfidf job on files: the rejects' texts are scored; a wrong index is a Data Error."""
    c = texted(conference)
    paths = write_inputs(tmp_path, c)
    rejects = [{"startSubmissionId": "r1", "title": "speech grammar", "reason": "desk reject"}]
    write_jsonl(rejects, tmp_path / "rejects.jsonl")
    for name in ("tfidf", "bm25"):
        index_corpus_file(name, paths["papers_parquet"], tmp_path / f"{name}.npz")
    job = {"mode": "group_submissions", "model": "tfidf", "group": {"role": "reviewer"},
           "submission_status": ["active", "desk_rejected"], "schema": "current"}
    files = {k: v for k, v in paths.items() if "embeddings" not in k}
    status = affinity.affinity_job_file(
        job, **files, out_json=tmp_path / "job/results.json", out_csv=tmp_path / "job/results.csv",
        index_npzs=[tmp_path / "tfidf.npz"], rejects_jsonl=tmp_path / "rejects.jsonl",
    )
    assert status["status"] == "Completed", status
    doc = json.loads((tmp_path / "job/results.json").read_text())
    assert {e["entityB"] for e in doc["results"]} == {*(s["id"] for s in c["submissions"]), "r1"}
    wrong = affinity.affinity_job_file(
        job, **files, out_json=tmp_path / "bad/results.json", out_csv=tmp_path / "bad/results.csv",
        index_npzs=[tmp_path / "bm25.npz"], rejects_jsonl=tmp_path / "rejects.jsonl",
    )
    assert wrong["status"] == "Data Error" and "corpus index of model 'bm25', expected 'tfidf'" in wrong["description"]


# ---------------------------------------------------------------- job config and settings


def validated_config() -> dict:
    """The demo config as the rules see it: validated, the schema's defaults filled in."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def workflow_schema() -> dict:
    """workflow/schemas/config.schema.yaml (``affinity_jobs`` entries: ``if`` mode, ``then`` the
    project's job, ``else`` an OpenReview config)."""
    return yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_job_schema_names_the_keys_and_values_of_the_workflows_schema():
    """``JOB_SCHEMA`` (what ``check_job`` accepts) and ``affinity_jobs`` of the config schema agree."""
    entry = workflow_schema()["properties"]["affinity_jobs"]["additionalProperties"]
    workflow_job = entry["then"]["properties"]
    job = affinity.JOB_SCHEMA["properties"]
    assert set(workflow_job) == set(job)
    for key in ("mode", "schema", "on_unknown_member", "output"):
        assert workflow_job[key]["enum"] == job[key]["enum"], key
    role = workflow_job["group"]["properties"]["role"]
    roles = [kind.get("enum") or kind["items"]["enum"] for kind in role["oneOf"]]
    assert roles == [list(affinity.ROLES)] * 2
    assert set(workflow_job["group"]["properties"]) == set(job["group"]["properties"])

    def statuses(schema):
        kinds = schema["submission_status"]["oneOf"]
        return [kind["enum"] if "enum" in kind else kind["items"]["enum"] for kind in kinds]

    assert statuses(workflow_job) == statuses(job)
    defaults = {key: spec["default"] for key, spec in workflow_job.items() if "default" in spec}
    assert defaults == {key: job[key]["default"] for key in defaults}


def test_check_job_fills_defaults_and_accepts_the_demo_jobs():
    config = validated_config()
    for name, entry in config["affinity_jobs"].items():
        checked = affinity.check_job({"model": config["model"]["matching_model"], **entry})
        assert checked["mode"] == entry["mode"] and isinstance(checked["submission_status"], tuple), name
    job = {"mode": "user_subset", "members": ["a"], "submission_status": ["active", "active"]}
    checked = affinity.check_job(job)
    assert checked == {
        "mode": "user_subset", "members": ["a"], "model": "avg", "reduce": "max", "normalize": True,
        "max_papers": None, "since_year": None, "schema": "legacy", "submission_status": ("active",),
        "on_unknown_member": "report", "output": "openreview", "sparse_value": None,
    }
    assert affinity.check_job(checked) == checked  # a checked job (tuples) passes again
    assert affinity.needs_rejects(affinity.check_job({**checked, "submission_status": "withdrawn"}))
    assert not affinity.needs_rejects(checked)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (None, "an affinity job is a mapping, got None"),
        ({"group": {"role": "all"}}, "job mode must be one of .*, got None"),
        ({"mode": "user_subset", "members": "rev1"}, "'members' must be a list of ids, not one string"),
        ({"mode": "group_submissions", "group": {}},
         "group is a mapping with 'role' \\(and 'track'\\) or 'members'"),
        ({"mode": "group_submissions", "group": {"role": "chair"}}, "group role must be one of"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "max_papers": 0},
         "max_papers must be at least 1, got 0"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "normalize": "no"},
         "affinity job key normalize: 'no' is not of type 'boolean'"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "on_unknown_member": "ignore"},
         "on_unknown_member must be report or error, got 'ignore'"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "submission_status": []},
         "submission_status must be some of"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "model": "bm25", "normalize": False},
         "model 'bm25' has no fixed \\[0, 1\\] scale"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "reduce": "weighted_topk",
          "normalize": False},
         "reduce 'weighted_topk' sums similarities beyond \\[-1, 1\\]; use it with normalize: true"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "reduce": "p101"}, "unknown reduce 'p101'"),
    ],
)
def test_check_job_refuses_bad_jobs_naming_what_is_wrong(job, message):
    with pytest.raises(ValueError, match=message):
        affinity.check_job(job)


def test_scorer_settings_from_the_demo_config():
    config = validated_config()
    settings = affinity.ScorerSettings.from_config(config)
    assert settings == affinity.ScorerSettings(
        text_fields=("title", "abstract"), bm25=config["model"]["bm25"], device=config["model"]["gpu"])
    # A job's model narrows them: bm25's only with a bm25 member, the encoders' only with an encoder.
    assert settings.for_model(["tfidf"]).as_params() == {
        "text_fields": ["title", "abstract"], "sentence_transformers": {}, "bm25": {}, "device": "auto"}
    folders = {"tuned": "results/model/encoders/tuned"}
    encoders = {"sentence_transformers": folders, "encoder": {"batch_size": 32}, "versions": {}}
    params = settings.for_model(["tuned", "bm25"], encoders).as_params()
    assert params == {"text_fields": ["title", "abstract"], "sentence_transformers": folders,
                      "bm25": config["model"]["bm25"], "device": "auto", "encoder": {"batch_size": 32}}
    assert list(params) == ["text_fields", "sentence_transformers", "bm25", "device", "encoder"]


def test_scorer_settings_round_trip_through_params():
    settings = affinity.ScorerSettings(("abstract",), {"mine": "/models/mine"}, {"k1": 1.5, "b": 0.5}, "cpu",
                                       {"batch_size": 16, "runtime": "onnx"})
    params = settings.as_params()
    assert all(isinstance(value, (list, dict, str)) for value in params.values())
    assert affinity.ScorerSettings.from_params(params) == settings
    assert affinity.ScorerSettings.from_params({**params, "versions": {"mine": "x==1"}}) == settings
    assert affinity.ScorerSettings.from_params({}) == affinity.ScorerSettings()  # avg alone
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.device = "cuda"


# ---------------------------------------------------------------- OpenReview's job configs


VENUE = "ACL.org/2026/Conference"
CURRENT = {
    "name": "reviewers_affinity",
    "entityA": {"type": "Group", "memberOf": f"{VENUE}/Reviewers"},
    "entityB": {"type": "Note", "withVenueid": f"{VENUE}/Submission"},
    "model": {"name": "specter2+scincl", "useTitle": True, "useAbstract": True, "skipSpecter": False,
              "scoreComputation": "max"},
}


def ms(year, month=1, day=1):
    import datetime

    return int(datetime.datetime(year, month, day, tzinfo=datetime.UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (CURRENT, {"mode": "group_submissions", "group": {"role": "reviewer"},
                   "submission_status": ["active"], "reduce": "max"}),
        ({**CURRENT, "entityA": {"type": "Group", "memberOf": f"{VENUE}/Area_Chairs"},
          "entityB": {"type": "Note", "withVenueid": VENUE}, "model": {"scoreComputation": "avg"}},
         {"mode": "group_submissions", "group": {"role": "area_chair"}, "submission_status": ["active"],
          "reduce": "mean"}),
        ({**CURRENT, "entityB": {"type": "Note", "withVenueid": f"{VENUE}/Withdrawn_Submission"}},
         {"mode": "group_submissions", "submission_status": ["withdrawn"]}),
        ({**CURRENT, "entityB": {"type": "Note", "invitation": f"{VENUE}/-/Submission",
                                 "withVenueid": f"{VENUE}/Desk_Rejected_Submission", "withContent": None}},
         {"mode": "group_submissions", "submission_status": ["desk_rejected"]}),
        ({**CURRENT, "entityB": {"type": "Note", "invitation": f"{VENUE}/-/Submission"}},
         {"mode": "group_submissions", "submission_status": ["active"]}),
        ({**CURRENT, "entityB": {"type": "Note", "id": "s3"}},
         {"mode": "paper_subset", "group": {"role": "reviewer"}, "submissions": ["s3"],
          "submission_status": ["active", "withdrawn", "desk_rejected"]}),
        ({**CURRENT, "entityA": {"type": "Group", "reviewerIds": ["rev1", "ac2@uni.edu"]},
          "entityB": {"type": "Note", "submissions": [{"id": "s1", "title": "T", "abstract": "A"}]}},
         {"mode": "user_subset", "members": ["rev1", "ac2@uni.edu"], "submissions": ["s1"]}),
        ({**CURRENT, "entityA": {"type": "Group", "memberOf": f"{VENUE}/Senior_Area_Chairs"},
          "entityB": {"type": "Group", "memberOf": f"{VENUE}/Area_Chairs"}},
         {"mode": "group_group", "group": {"role": "senior_area_chair"},
          "alternate_group": {"role": "area_chair"}}),
        ({**CURRENT, "model": {"name": "bm25", "percentileSelect": 75, "sparseValue": 10,
                               "normalizeScores": True},
          "dataset": {"minimumPubDate": ms(2019), "topRecentPubs": 5}},
         {"model": "bm25", "reduce": "p75", "sparse_value": 10, "since_year": 2019, "max_papers": 5,
          "normalize": True}),
        ({**CURRENT, "model": {"name": "tfidf", "normalizeScores": False}},
         {"model": "tfidf", "normalize": False}),
        ({"match_group": f"{VENUE}/Reviewers", "paper_invitation": f"{VENUE}/-/Submission",
          "model_params": {"normalize_scores": False}},
         {"schema": "legacy", "mode": "group_submissions", "normalize": False}),
        ({"match_group": [f"{VENUE}/Reviewers", f"{VENUE}/Area_Chairs"],
          "paper_invitation": f"{VENUE}/-/Blind_Submission", "model": "specter+mfr",
          "model_params": {"average_score": True, "max_score": False, "use_cuda": True, "work_dir": "./"},
          "dataset": {"directory": "ds", "minimum_pub_date": ms(2017), "top_recent_pubs": 3},
          "max_workers": 4},
         {"schema": "legacy", "mode": "group_submissions", "group": {"role": ["reviewer", "area_chair"]},
          "submission_status": ["active"], "reduce": "mean", "archives_dir": "ds/archives",
          "since_year": 2017, "max_papers": 3}),
        ({"match_group": [f"{VENUE}/Reviewers", f"{VENUE}/Area_Chairs", f"{VENUE}/Senior_Area_Chairs"],
          "alternate_match_group": f"{VENUE}/Area_Chairs", "model_params": {"sparse_value": 50}},
         {"schema": "legacy", "mode": "group_group", "group": {"role": "all"},
          "alternate_group": {"role": "area_chair"}, "sparse_value": 50}),
        ({"reviewer_ids": ["rev1"], "paper_id": "s2", "paper_venueid": None, "model": "tfidf"},
         {"schema": "legacy", "mode": "user_subset", "members": ["rev1"], "submissions": ["s2"],
          "model": "tfidf"}),
    ],
)
def test_from_openreview_maps_each_field(config, expected):
    assert affinity.is_openreview_config(config)
    job = affinity.from_openreview(config, VENUE)
    defaults = {"output": "openreview", "sparse_value": 400, "schema": "current"}
    assert job == {**defaults, **{k: v for k, v in job.items() if k not in expected and k not in defaults},
                   **expected}
    assert all(job[k] == v for k, v in expected.items())
    checked = affinity.check_job(config)  # check_job translates too
    assert checked["output"] == "openreview" and checked["mode"] == expected.get("mode", job["mode"])
    assert "model" not in job or job["model"] in ("bm25", "tfidf")


def test_openreview_model_names_leave_the_model_to_the_matching_model():
    translation = affinity.openreview_translation(CURRENT, matching_model="tuned+avg")
    assert "model" not in translation.job
    assert translation.notes == [
        "model 'specter2+scincl' is OpenReview's; scored with this project's matching model 'tuned+avg'"]
    job, notes = affinity.resolve_job(CURRENT, default_model="tuned+avg")
    assert job["model"] == "tuned+avg" and notes == translation.notes
    assert affinity.check_job(CURRENT)["model"] == "avg"  # without a default: the project's default
    dated = affinity.openreview_translation({**CURRENT, "dataset": {"minimumPubDate": ms(2020, 6, 15)}})
    assert dated.job["since_year"] == 2020
    assert dated.notes[-1] == ("dataset.minimumPubDate: publications are filtered by year, from 2020 on "
                               "(the date is 2020-06-15)")


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({**CURRENT, "entityA": {"type": "Note", "withVenueid": VENUE}}, "entityA.type"),
        ({**CURRENT, "entityA": {"type": "Group", "memberOf": f"{VENUE}/Ethics_Reviewers"}},
         "entityA.memberOf"),
        ({**CURRENT, "entityA": {"type": "Group", "memberOf": "Other.org/2026/Conference/Reviewers"}},
         "entityA.memberOf"),
        ({**CURRENT, "entityA": {"type": "Group", "memberOf": f"{VENUE}/Reviewers",
                                 "expertise": {"invitation": f"{VENUE}/-/Expertise_Selection"}}},
         "entityA.expertise"),
        ({**CURRENT, "entityB": {"type": "Note", "withVenueid": f"{VENUE}/Rejected_Submission"}},
         "entityB.withVenueid"),
        ({**CURRENT, "entityB": {"type": "Note", "withVenueid": "Other.org/2026/Conference/Submission"}},
         "entityB.withVenueid"),
        ({**CURRENT, "entityB": {"type": "Note", "invitation": f"{VENUE}/-/Official_Review"}},
         "entityB.invitation"),
        ({**CURRENT, "entityB": {"type": "Note", "withVenueid": VENUE, "withContent": {"track": "MT"}}},
         "entityB.withContent"),
        ({**CURRENT, "entityB": {"type": "Note", "id": "s1", "withVenueid": VENUE}}, "entityB.id"),
        ({**CURRENT, "entityB": {"type": "Paper"}}, "entityB.type"),
        ({**CURRENT, "model": {"name": "elmo"}}, "model.name"),
        ({**CURRENT, "model": {"scoreComputation": "median"}}, "model.scoreComputation"),
        ({**CURRENT, "model": {"useAbstract": False}}, "model.useAbstract"),
        ({**CURRENT, "model": {"sparseValue": 0}}, "model.sparseValue"),
        ({**CURRENT, "model": {"temperature": 1}}, "model.temperature"),
        ({**CURRENT, "dataset": {"topRecentPubs": "10%"}}, "dataset.topRecentPubs"),
        ({**CURRENT, "dataset": {"weightSpecification": [{"prefix": "ACL", "weight": 2}]}},
         "dataset.weightSpecification"),
        ({**CURRENT, "priority": "high"}, "priority"),
        ({"match_group": f"{VENUE}/Reviewers", "paper_invitation": f"{VENUE}/-/Submission",
          "dataset": {"or": {"top_recent_pubs": 3}}}, "dataset.or"),
        ({"match_group": f"{VENUE}/Reviewers", "paper_invitation": f"{VENUE}/-/Submission",
          "exclusion_inv": f"{VENUE}/-/Expertise_Selection"}, "exclusion_inv"),
        ({"match_group": f"{VENUE}/Reviewers", "reviewer_ids": ["rev1"], "paper_id": "s1"}, "reviewer_ids"),
        ({"match_group": f"{VENUE}/Reviewers"}, "paper_invitation"),
        ({"match_group": f"{VENUE}/Reviewers", "paper_id": "s1", "csv_expertise": "e.csv"}, "csv_expertise"),
        ({"match_group": f"{VENUE}/Reviewers", "alternate_match_group": f"{VENUE}/Area_Chairs",
          "paper_id": "s1"}, "paper_id"),
        ({"match_group": f"{VENUE}/Reviewers", "paper_id": "s1", "model_params": {"max_score": False}},
         "model_params.max_score"),
        ({"match_group": f"{VENUE}/Reviewers", "paper_id": "s1",
          "model_params": {"compute_paper_paper": True}}, "model_params.compute_paper_paper"),
    ],
)
def test_fields_that_cannot_be_honoured_are_named(config, field):
    with pytest.raises(ValueError, match=f"^OpenReview field {re.escape(field)}: "):
        affinity.from_openreview(config, VENUE)
    # Without venue_id, another field may be the first to clash.
    with pytest.raises(ValueError, match="^OpenReview field "):
        affinity.check_job(config)


def test_venue_id_and_the_forms_told_apart():
    with pytest.raises(ValueError, match="OpenReview field entityA.memberOf: venue 'ACL.org/2026/Conference' "
                                         "is not this conference's venue 'EMNLP'"):
        affinity.from_openreview(CURRENT, "EMNLP")
    assert affinity.from_openreview(CURRENT)["mode"] == "group_submissions"  # no venue_id: any one venue
    # The selection edges are honoured by archives OpenReview built with them.
    selected = {**CURRENT["entityA"], "expertise": {"invitation": "x"}}
    expertise = {**CURRENT, "entityA": selected, "archives_dir": "a"}
    assert affinity.from_openreview(expertise)["archives_dir"] == "a"
    assert not affinity.is_openreview_config({"mode": "user_subset", "members": ["a"]})
    assert not affinity.is_openreview_config({"name": "x"}) and not affinity.is_openreview_config(None)
    assert affinity.is_openreview_config({"paper_invitation": "x"})


def test_a_group_of_several_roles(conference):
    index, unknown = affinity.group_members(conference["reviewers"], {"role": ["area_chair", "reviewer"]})
    assert index.tolist() == [0, 1, 2, 3, 4] and unknown == []
    with pytest.raises(ValueError, match="group role must be one of"):
        affinity.group_members(conference["reviewers"], {"role": []})


# ---------------------------------------------------------------- OpenReview's outputs


def test_sparse_scores_keep_each_rows_and_columns_best():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random((9, 14)), 4)
    scores[2] = np.nan
    scores[5, 3] = np.nan
    for k in (1, 3, 20):
        got = affinity.sparse_scores(scores, k)
        ranked = np.where(np.isfinite(scores), scores, -np.inf)
        keep = np.zeros(scores.shape, dtype=bool)
        for i in range(scores.shape[0]):
            keep[i, np.argsort(-ranked[i], kind="stable")[:k]] = True
        for j in range(scores.shape[1]):
            keep[np.argsort(-ranked[:, j], kind="stable")[:k], j] = True
        keep &= np.isfinite(scores)
        np.testing.assert_array_equal(np.isfinite(got), keep)
        np.testing.assert_array_equal(got[keep], scores[keep])


def test_openreview_score_text_is_pythons_repr_of_the_rounded_score():
    values = np.concatenate([np.random.default_rng(5).random(2000), [0.0, 1.0, 0.5, 0.1, 1e-4, 0.99995]])
    for decimals in (4, 2):
        rounded = np.round(values, decimals)
        digits = affinity.score_digits(rounded, decimals, shortest=True)
        texts = [bytes(row).replace(b"\0", b"").decode() for row in digits]
        assert texts == [repr(round(float(v), decimals)) for v in rounded]


def test_openreview_status_records(tmp_path):
    path = tmp_path / "status.json"
    first = affinity.write_status(path, "j", "Initialized", None, CURRENT, openreview=True)
    assert list(first) == ["name", "tauthor", "jobId", "status", "description", "cdate", "mdate", "request"]
    assert re.fullmatch(r"[a-z][1-9a-km-z]{9}", first["jobId"])
    assert first["description"] == "Server received config and allocated space"
    later = affinity.write_status(path, "j", "Fetching Data", None, CURRENT, openreview=True)
    assert (later["jobId"], later["cdate"]) == (first["jobId"], first["cdate"])
    assert later["description"] == "Job is currently fetching data from OpenReview"
    done = affinity.write_status(path, "j", "Completed", None, CURRENT, openreview=True)
    again = affinity.write_status(path, "j", "Initialized", None, CURRENT, openreview=True)
    assert again["jobId"] != done["jobId"]  # a new run, a new job
    queued = affinity.job_status(tmp_path / "none.json", "j", CURRENT)
    assert queued["status"] == "Queued" and queued["name"] == "reviewers_affinity"
    assert queued["description"] == "Job is waiting to start fetching OpenReview data" and "jobId" in queued


def group_group_job(tmp_path, conference, **model):
    config = {"name": "sacs_vs_acs", "entityA": {"type": "Group", "memberOf": f"{VENUE}/Senior_Area_Chairs"},
              "entityB": {"type": "Group", "memberOf": f"{VENUE}/Area_Chairs"}, "model": model}
    out = tmp_path / "sacs"
    return run_file_job(config, write_inputs(tmp_path, conference), out), out


def run_file_job(job, paths, out, **kwargs):
    """``affinity_job_file`` of ``job`` on ``paths``, results in ``out``; its final status."""
    outputs = {"out_json": out / "results.json", "out_csv": out / "results.csv"}
    return affinity.affinity_job_file(job, **paths, **outputs, **kwargs)


def test_group_group_in_openreviews_shape(tmp_path, conference):
    from tests.openreview_readers import read_score_file, results_response, venue_profile_scores

    status, out = group_group_job(tmp_path, conference, name="specter2+scincl")
    assert status["status"] == "Completed", status
    body = results_response(out / "results.json")
    lines = (out / "results.csv").read_text().splitlines()
    assert all(re.fullmatch(r"sac1,ac[12],[01]\.\d{1,2}", line) for line in lines) and len(lines) == 2
    assert read_score_file(out / "results.csv", pairwise=True) == body["results"]
    assert [list(e) for e in body["results"]] == [["entityA", "entityB", "score"]] * 2
    assert venue_profile_scores(out / "results.csv") == [(e["entityA"], e["entityB"], e["score"])
                                                         for e in body["results"]]
    incidence, _ = affinity.member_publications(conference["reviewers"], conference["papers"])
    assert body["metadata"] == {"submission_count": incidence[3].nnz + incidence[4].nnz,
                                "no_publications_count": 0, "no_publications": [], "no_profile": [],
                                "archives_count": incidence[5].nnz, "no_profile_submission": []}


# ---------------------------------------------------------------- OpenReview's archives


def write_archives(folder, conference):
    """Each member's corpus papers as OpenReview archives (``<id>.jsonl``): the current API's
    ``{"value": ...}`` wrappers for even corpus rows, the legacy plain values for odd ones;
    ``cdate`` in the middle of the paper's year (none without a year)."""
    folder.mkdir(parents=True, exist_ok=True)
    papers = conference["papers"]
    incidence, _ = affinity.member_publications(conference["reviewers"], papers)
    for i, member in enumerate(conference["reviewers"]):
        lines = []
        for row in incidence[i].indices:
            paper = papers.iloc[row]
            content = {"title": paper["title"], "abstract": paper["abstract"],
                       "authorids": [f"~Author{a['id']}" for a in paper["authors"]]}
            if row % 2 == 0:
                content = {key: {"value": value} for key, value in content.items()}
            year = paper["year"]
            cdate = None if pd.isna(year) else ms(int(year), 7)
            lines.append(json.dumps({"id": paper["paper_id"], "cdate": cdate, "content": content}))
        if lines:
            (folder / f"{member['id']}.jsonl").write_text("\n".join(lines) + "\n")
    return incidence


def test_read_archives(tmp_path, conference):
    incidence = write_archives(tmp_path / "archives", conference)
    (tmp_path / "archives" / "stranger.jsonl").write_text('{"id": "x", "content": {"title": "T"}}\n')
    with open(tmp_path / "archives" / "rev2.jsonl", "a") as fh:  # no text: skipped, as OpenReview skips it
        fh.write('\n{"id": "empty", "cdate": 0, "content": {"title": {"value": ""}}}\n')
    archive = affinity.read_archives(tmp_path / "archives", conference["reviewers"])
    assert sorted(archive.owners) == ["ac1", "ac2", "rev1", "rev2", "sac1"]  # stranger: no member
    papers = conference["papers"]
    assert sorted(archive.papers["paper_id"]) == sorted(papers["paper_id"].iloc[np.unique(incidence.indices)])
    p06 = archive.papers.set_index("paper_id").loc["p06"]
    assert pd.isna(p06["year"]) and np.isnan(p06["date"])
    p08 = archive.papers.set_index("paper_id").loc["p08"]  # in two archives, one paper; a wrapped record
    assert p08["title"] == papers["title"].iloc[8] and p08["year"] == 2019 and p08["date"] == ms(2019, 7)
    assert p08["authors"] == [{"id": "~Author5"}, {"id": "~Author1"}]
    authored = archive.authorship(conference["reviewers"])
    members = range(len(conference["reviewers"]))
    got = [sorted(archive.papers["paper_id"].iloc[authored[i].indices]) for i in members]
    assert got == [sorted(papers["paper_id"].iloc[incidence[i].indices]) for i in members]
    recent, _ = affinity.member_publications(conference["reviewers"], archive.papers, max_papers=2,
                                             since_year=2018, authored=authored)
    assert sorted(archive.papers["paper_id"].iloc[recent[0].indices]) == ["p02", "p08"]  # 2021, 2019
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "rev1.jsonl").write_text('{"id": "a", "content": {"title": "T"}}\n{"id": \n')
    with pytest.raises(InputError, match=r"rev1.jsonl, row 2: not a JSON line"):
        affinity.read_archives(tmp_path / "bad")
    with pytest.raises(InputError, match="archives folder not found"):
        affinity.read_archives(tmp_path / "nowhere")


def test_openreview_job_on_archives_in_openreviews_shape(tmp_path, conference):
    """A current-form job scored on the members' archives with tfidf (the matching model
    here), written in OpenReview's shape and read through OpenReview's readers."""
    from revmatch.model import paper_text
    from tests.openreview_readers import (
        machine_size,
        read_score_file,
        results_response,
        venue_matching_status,
        venue_note_scores,
        venue_stream_rows,
        wait_step,
    )

    c = texted(conference)
    write_archives(tmp_path / "ds" / "archives", c)
    paths = write_inputs(tmp_path, c)
    paths.pop("corpus_embeddings_npy")
    paths["papers_parquet"] = None  # archives only
    config = {**CURRENT, "archives_dir": str(tmp_path / "ds" / "archives"),
              "dataset": {"minimumPubDate": ms(2016)}}
    out = tmp_path / "or_job"
    status = run_file_job(config, paths, out, default_model="tfidf", venue_id=VENUE, name="ignored")
    assert status["status"] == "Completed", status
    assert status["name"] == "reviewers_affinity" and status["request"] == config
    assert status["description"] == ("Job is complete and the computed scores are ready (model "
                                     "'specter2+scincl' is OpenReview's; scored with this project's matching "
                                     "model 'tfidf')")
    assert wait_step(status) == "results"
    assert json.loads((out / "status.json").read_text()) == status
    # The scores: max over each reviewer's archive papers (from 2016 on) of the TF-IDF cosine,
    # TF-IDF fitted on the archives' texts, min-max over the job, 4 decimals.
    archive = affinity.read_archives(tmp_path / "ds" / "archives", c["reviewers"])
    texts = [paper_text(title, abstract)
             for title, abstract in zip(archive.papers["title"], archive.papers["abstract"], strict=True)]
    model = load_registry_model("tfidf")
    cosines = paper_scores(model, model.index(texts), submission_texts(c["submissions"])).astype(np.float64)
    by_id = {pid: k for k, pid in enumerate(archive.papers["paper_id"])}
    raw = {}
    for member in ("rev1", "rev2"):
        lines = (tmp_path / "ds" / "archives" / f"{member}.jsonl").read_text().splitlines()
        own = [by_id[json.loads(line)["id"]] for line in lines]
        own = [k for k in own if archive.papers["year"].iloc[k] >= 2016]
        for s, submission in enumerate(c["submissions"]):
            raw[(submission["id"], member)] = cosines[s, own].max()
    low, high = min(raw.values()), max(raw.values())
    expected = {pair: round((v - low) / (high - low), 4) for pair, v in raw.items()}
    body = results_response(out / "results.json")
    assert {(e["entityB"], e["entityA"]): e["score"] for e in body["results"]} == expected
    assert all(list(e) == ["entityB", "entityA", "score"] for e in body["results"])
    # results.csv: OpenReview's score file (no header, submission,user,score, repr of round(s, 4)).
    data = (out / "results.csv").read_bytes()
    assert read_score_file(out / "results.csv", pairwise=False) == body["results"]
    assert venue_note_scores(out / "results.csv") == [(e["entityB"], e["entityA"], e["score"])
                                                      for e in body["results"]]
    rows = [[e["entityB"], e["entityA"], repr(e["score"])] for e in body["results"]]
    assert venue_stream_rows(data) == rows
    assert body["metadata"] == {"submission_count": 5, "no_publications_count": 1,
                                "no_publications": ["rev3"], "no_profile": [],
                                "archives_count": 3 + 2}  # papers from 2016 on
    assert list(body["metadata"]) == ["submission_count", "no_publications_count", "no_publications",
                                      "no_profile", "archives_count"]
    assert machine_size(body["metadata"]) == 10
    assert venue_matching_status(body["metadata"]) == {"no_profiles": [], "no_publications": ["rev3"]}


def test_openreview_jobs_sparse_and_legacy_form(tmp_path, conference):
    """A legacy-form job (its dataset.directory holds the archives; two committees; average
    scores) keeps legacy keys; sparseValue 1 keeps each side's best pair."""
    from tests.openreview_readers import read_score_file

    c = texted(conference)
    write_archives(tmp_path / "ds" / "archives", c)
    paths = write_inputs(tmp_path, c)
    config = {"name": "legacy", "match_group": [f"{VENUE}/Reviewers", f"{VENUE}/Area_Chairs"],
              "paper_venueid": f"{VENUE}/Submission", "model": "bm25",
              "model_params": {"average_score": True, "max_score": False, "sparse_value": 1},
              "dataset": {"directory": str(tmp_path / "ds")}}
    out = tmp_path / "legacy"
    status = run_file_job(config, paths, out)
    assert status["status"] == "Completed", status
    body = json.loads((out / "results.json").read_text())
    assert all(list(e) == ["submission", "user", "score"] for e in body["results"])
    read = read_score_file(out / "results.csv", False)
    assert [(e["entityB"], e["entityA"], e["score"]) for e in read] == [
        (e["submission"], e["user"], e["score"]) for e in body["results"]]
    full = affinity.check_job({**affinity.from_openreview(config), "sparse_value": None, "model": "bm25"})
    archive = affinity.read_archives(tmp_path / "ds" / "archives", c["reviewers"])
    scorer = affinity.load_archive_scorer("bm25", archive, submission_texts(c["submissions"]))
    every = affinity.run_affinity_job(full, c["reviewers"], c["submissions"], archive.papers, scorer,
                                      archive=archive)
    members = {e["user"] for e in every["results"]}
    assert members == {"rev1", "rev2", "ac1", "ac2"}  # reviewers and area chairs with archives
    table = pd.DataFrame(every["results"]).pivot(index="user", columns="submission", values="score")
    kept = {(e["submission"], e["user"]) for e in body["results"]}
    best = {(table.loc[u].idxmax(), u) for u in table.index} | {(s, table[s].idxmax()) for s in table.columns}
    assert kept == best


def test_openreview_job_data_errors_name_the_field(tmp_path, conference):
    from tests.openreview_readers import wait_step

    paths = write_inputs(tmp_path, conference)
    out = tmp_path / "bad"
    config = {**CURRENT, "dataset": {"weightSpecification": [{"prefix": "ACL", "weight": 2}]}}
    status = run_file_job(config, paths, out)
    assert status["status"] == "Data Error" and list(status)[:3] == ["name", "tauthor", "jobId"]
    assert status["description"] == ("OpenReview field dataset.weightSpecification: publications are not "
                                     "weighted by venue here")
    assert wait_step(status) == ("raise: There was an error computing scores, description: "
                                 + status["description"])
    assert sorted(p.name for p in out.iterdir()) == ["status.json"]
    missing = run_file_job({**CURRENT, "archives_dir": str(tmp_path / "nowhere")}, paths, out)
    assert missing["status"] == "Data Error" and "archives folder not found" in missing["description"]
    unscaled = run_file_job({**CURRENT, "model": {"name": "tfidf+bm25", "normalizeScores": False}}, paths, out)
    assert unscaled["status"] == "Data Error" and unscaled["description"] == (
        "OpenReview field model.normalizeScores: false needs a model with a fixed scale; 'tfidf+bm25' has "
        "bm25 (unbounded sums)")
