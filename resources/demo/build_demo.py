"""Build the embedded demo conference (``resources/demo/``) from ACL Anthology metadata.

    python resources/demo/build_demo.py --source /work/shared/data/acl-anthology --out resources/demo

Writes a local Semantic Scholar dump in the legacy open-corpus format (``s2/``), the
START/SoftConf exports of an invented conference whose people are real Anthology authors
(``start/``), and reviews simulated from the calibration model with their ground truth
(``reviews.csv``, ``reviews_truth/``). Only Anthology material from 2016 on is used (CC BY
4.0). The same inputs and seed give byte-identical outputs: every random draw comes from
one seeded generator, every collection is visited in sorted order, gzip headers carry no
name and mtime 0.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import logging
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.io import atomic_path

logger = logging.getLogger("revmatch.demo")

SEED = 2022

TRACKS: tuple[str, ...] = (
    "Machine Translation",
    "Dialogue and Interactive Systems",
    "Information Extraction",
    "Sentiment Analysis, Stylistic Analysis, and Argument Mining",
    "Resources and Evaluation",
)

# Keyword heuristics of the tracks: (word prefixes, exact word bigrams).
TRACK_KEYWORDS: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (
        ("translat", "nmt", "bleu", "bilingual", "multilingual"),
        frozenset({
            "parallel corpus", "parallel corpora", "parallel data", "source language", "target language",
            "language pair", "language pairs", "source sentence", "target sentence",
        }),
    ),
    (
        ("dialog", "conversation", "chatbot", "utterance", "interlocutor"),
        frozenset({
            "task-oriented", "response generation", "chit-chat", "spoken language", "dialogue state",
            "user simulator",
        }),
    ),
    (
        ("ner",),
        frozenset({
            "information extraction", "relation extraction", "relation classification", "named entity",
            "named entities", "entity linking", "entity recognition", "entity typing", "event extraction",
            "event detection", "event argument", "slot filling", "open ie", "knowledge base",
            "knowledge graph", "coreference resolution", "entity resolution", "relational facts",
        }),
    ),
    (
        ("sentiment", "opinion", "emotion", "stance", "argument", "sarcas", "irony", "ironic", "polarity",
         "stylistic", "persuas", "offensive"),
        frozenset({"hate speech", "style transfer", "aspect-based", "aspect based", "argument mining"}),
    ),
    (
        ("treebank", "crowdsourc", "annotator"),
        frozenset({
            "annotation scheme", "annotation guidelines", "annotated corpus", "annotated dataset",
            "new dataset", "new corpus", "new benchmark", "evaluation metric", "evaluation metrics",
            "human evaluation", "language resource", "language resources", "lexical resource", "we release",
            "publicly available", "inter-annotator agreement", "corpus of", "dataset of",
        }),
    ),
)

# Venue tags of ACL events and SIG/ACL workshops (CC BY 4.0 from 2016 on; COLING states
# CC BY 4.0 itself). LREC (ELRA) and other co-hosted non-ACL venues are left out.
CORPUS_VENUES = frozenset({
    "acl", "emnlp", "naacl", "eacl", "aacl", "findings", "tacl", "cl", "conll", "coling", "semeval",
    "starsem", "wmt", "sigdial", "inlg", "wnut", "bea", "repl4nlp", "blackboxnlp", "wassa", "argmining",
    "iwslt", "sigmorphon", "textgraphs", "bionlp", "figlang", "gebnlp", "law", "mwe", "cmcl", "clpsych",
    "alw", "nlpcss", "sdp", "ngt", "louhi", "wat", "winlp",
})
FILL_VENUES = frozenset({"acl", "emnlp", "naacl", "eacl", "aacl", "findings", "tacl", "coling", "conll"})
SUBMISSION_VENUES = frozenset({"acl", "emnlp", "naacl"})
SUBMISSION_VOLUMES = ("-long", "-short", "-main")

VENUE_NAMES = {
    "acl": "ACL", "emnlp": "EMNLP", "naacl": "NAACL", "eacl": "EACL", "aacl": "AACL",
    "findings": "FINDINGS", "tacl": "Transactions of the Association for Computational Linguistics",
    "cl": "Computational Linguistics", "conll": "CoNLL", "coling": "COLING", "semeval": "SemEval",
    "starsem": "*SEM", "wmt": "WMT", "sigdial": "SIGDIAL", "inlg": "INLG",
}
JOURNAL_VENUES = frozenset({"tacl", "cl"})

GENERIC_DOMAINS = (
    "cs.northfield.edu", "ling.eastbrook.ac.uk", "informatik.uni-westheim.de", "nlp.lakeside-univ.edu",
    "cs.kaito-u.ac.jp", "lst.southmoor.edu.au",
)
INDUSTRY = (
    "google", "microsoft", "amazon", "facebook", "meta", "ibm", "baidu", "tencent", "alibaba", "huawei",
    "apple", "salesforce", "samsung", "bytedance", "nvidia", "sony", "naver", "yahoo", "bloomberg",
    "adobe", "intel", "jd", "kakao", "linkedin", "netflix", "sap", "spotify", "twitter", "uber",
)
ACADEMIC = ("univ", "college", "institut", "school", "academy", "ecole", "universit", "polytechn")
DOMAIN_STOPWORDS = frozenset({
    "the", "of", "and", "for", "at", "in", "de", "di", "der", "du", "la", "le", "des", "del", "university",
    "universitat", "universite", "universidad", "universita", "universiteit", "institute", "institut",
    "college", "school", "department", "dept", "laboratory", "lab", "labs", "research", "center",
    "centre", "national", "technology", "technologies", "science", "sciences", "computer", "computing",
    "engineering", "language", "information", "state", "group", "co", "ltd", "inc", "corp", "ai",
})
STOPWORDS = frozenset(
    "a an the of and or in on for to with from by as at is are was were be been being this that these "
    "those we our us it its their they them which who whom whose what when where how than then also "
    "can could may might will would should such not no but if into over under between both each more "
    "most other some any all only new using use used based show shows paper propose proposed approach "
    "method methods model models results task tasks data work via two one three however while has have "
    "had do does did through across well first further large different existing state art performance "
    "significantly outperforms experiments experimental demonstrate effective".split()
)

S2_FIELDS = (
    "id", "title", "paperAbstract", "entities", "s2Url", "pdfUrls", "s2PdfUrl", "authors", "inCitations",
    "outCitations", "year", "venue", "journalName", "journalVolume", "journalPages", "sources", "doi",
    "doiUrl", "pmid", "fieldsOfStudy", "magId",
)
PROFILE_COLUMNS = (
    "Username", "Email", "First Name", "Middle Name", "Last Name", "Affiliation", "Affiliation Type",
    "Semantic Scholar ID", "Google Scholar ID", "Roles", "PCRole", "emergencyReviewer", "Year of Graduation",
)

WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
CLEAN_NAME = re.compile(r"^[^\W\d_][^\d@/()\[\]]*$")
SENTENCE_END = re.compile(r"(?<=[.!?]) (?=[A-Z])")


@dataclass(frozen=True)
class DemoSizes:
    """How many of each thing the demo holds."""

    corpus_papers: int = 4000
    acl_without_abstract: int = 12
    synthetic_records: int = 300
    synthetic_without_abstract: int = 90
    chunks: int = 5
    reviewers_per_track: int = 46
    area_chairs_per_track: int = 5
    emergency_per_track: int = 2
    two_track_reviewers: int = 12
    without_s2_id: int = 10
    recent_only_reviewers: int = 8
    older_only_reviewers: int = 7
    author_only: int = 24
    short_profile_rows: int = 30
    submissions_per_track: tuple[int, ...] = (34, 30, 28, 32, 26)
    self_authored_per_track: int = 3
    desk_rejects: int = 4
    withdrawals: int = 3
    quotas: int = 40
    bids_mean: int = 15
    reviews_per_submission: int = 3
    max_papers_per_reviewer: int = 6


# ------------------------------------------------------------------ text and tracks


def words(text: str) -> list[str]:
    """Lower-cased word tokens (hyphenated words kept whole)."""
    return WORD.findall(text.lower())


def track_scores(title: str, abstract: str) -> np.ndarray:
    """Keyword hits of each track; a title hit counts three times an abstract hit."""
    out = np.zeros(len(TRACKS))
    for weight, text in ((3.0, title), (1.0, abstract)):
        tokens = words(text)
        bigrams = [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        for t, (prefixes, phrases) in enumerate(TRACK_KEYWORDS):
            hits = sum(1 for tok in tokens if tok.startswith(prefixes)) + sum(1 for b in bigrams if b in phrases)
            out[t] += weight * hits
    return out


def clear_track(scores: np.ndarray, min_hits: float = 3.0) -> np.ndarray:
    """Track index per row of ``scores`` when one track clearly wins (twice the runner-up), else -1."""
    top2 = np.sort(scores, axis=1)[:, -2:]
    clear = (top2[:, 1] >= min_hits) & (top2[:, 1] >= 2.0 * top2[:, 0])
    return np.where(clear, scores.argmax(axis=1), -1)


def ascii_fold(text: str) -> str:
    """ASCII letters of ``text`` (accents stripped)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ loading and indexing


def read_gz_jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class Anthology:
    """Papers (not withdrawn), people by id, and per-person paper lists in file order."""

    papers: list[dict]
    people: dict[str, dict]
    papers_of: dict[str, list[int]]
    ambiguous: frozenset[str]


def index_anthology(papers: list[dict], people: list[dict]) -> Anthology:
    """Drop withdrawn papers; map each person to their papers; flag names shared by several ids."""
    withdrawn = sum(1 for p in papers if p.get("withdrawn"))
    kept = [p for p in papers if not p.get("withdrawn")]
    logger.info("anthology: %d papers (%d withdrawn skipped), %d people", len(kept), withdrawn, len(people))
    papers_of: dict[str, list[int]] = defaultdict(list)
    for i, paper in enumerate(kept):
        for author in paper.get("authors", []):
            papers_of[author["id"]].append(i)
    by_name: dict[str, list[str]] = defaultdict(list)
    for person in people:
        by_name[re.sub(r"[^a-z]", "", ascii_fold(person["name"]).lower())].append(person["id"])
    ambiguous = frozenset(i for ids in by_name.values() if len(ids) > 1 for i in ids)
    return Anthology(kept, {p["id"]: p for p in people}, dict(papers_of), ambiguous)


def is_corpus_paper(paper: dict) -> bool:
    """An ACL paper of 2016-2021 with an abstract."""
    return 2016 <= paper["year"] <= 2021 and bool(paper.get("abstract")) and bool(
        CORPUS_VENUES.intersection(paper["venues"])
    )


def is_submission_candidate(paper: dict) -> bool:
    """A 2022 ACL/EMNLP/NAACL main-conference paper with an abstract and at most 10 authors."""
    return (
        paper["year"] == 2022
        and bool(paper.get("abstract"))
        and bool(SUBMISSION_VENUES.intersection(paper["venues"]))
        and paper["volume_id"].endswith(SUBMISSION_VOLUMES)
        and 1 <= len(paper.get("authors", [])) <= 10
    )


def is_clean_person(person: dict | None, max_papers: int = 50) -> bool:
    """A person whose id is safe to use: a real name, not a homonym, not a huge merged id."""
    if person is None or person.get("explicit_id") or person.get("similar"):
        return False
    first, last = person.get("first", ""), person.get("last", "")
    return (
        bool(first) and bool(last) and bool(CLEAN_NAME.match(first)) and bool(CLEAN_NAME.match(last))
        and ascii_fold(last).strip() != "" and person.get("n_papers", 0) <= max_papers
    )


def latest_affiliations(papers: list[dict]) -> dict[str, str]:
    """Each person's affiliation on their most recent paper that states one."""
    best: dict[str, tuple[int, str]] = {}
    for paper in papers:
        for author in paper.get("authors", []):
            aff = author.get("affiliation")
            if aff and paper["year"] >= best.get(author["id"], (0, ""))[0]:
                best[author["id"]] = (paper["year"], aff.strip())
    return {pid: aff for pid, (_, aff) in best.items()}


# ------------------------------------------------------------------ people and roles


@dataclass
class Person:
    """One row of the profiles export, before formatting."""

    id: str
    role: str  # reviewer, area_chair, senior_area_chair, programme_chair, author
    tracks: tuple[int, ...]
    emergency: bool = False
    first: str = ""
    last: str = ""
    s2_id: str = ""
    username: str = ""
    email: str = ""
    affiliation: str = ""


def person_track_profiles(
    paper_ids: dict[str, list[int]], paper_tracks: dict[int, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per person, the sum over their papers of the normalised track scores."""
    out = {}
    for pid in sorted(paper_ids):
        rows = [paper_tracks[i] / max(paper_tracks[i].sum(), 1.0) for i in paper_ids[pid]]
        out[pid] = np.sum(rows, axis=0)
    return out


def pick_committee(
    candidates: dict[str, np.ndarray], n_corpus: dict[str, int], people: dict[str, dict],
    sizes: DemoSizes, rng: np.random.Generator,
) -> list[Person]:
    """Programme chair, senior area chairs, area chairs and reviewers of every track.

    Chairs are senior (many corpus papers); reviewers have 3-9 corpus papers and a clear
    main track; a few reviewers with a strong second track review for both.
    """
    ids = sorted(candidates)
    profile = np.array([candidates[i] for i in ids])
    total = profile.sum(axis=1)
    purity = profile.max(axis=1) / np.maximum(total, 1e-9)
    main = profile.argmax(axis=1)
    count = np.array([n_corpus[i] for i in ids])
    n_all = np.array([people[i].get("n_papers", 0) for i in ids])
    order = rng.permutation(len(ids))
    taken: set[str] = set()
    committee: list[Person] = []

    def take(mask: np.ndarray, n: int, track: int | None) -> list[int]:
        chosen = []
        for k in order:
            if len(chosen) == n:
                break
            if mask[k] and ids[k] not in taken and (track is None or main[k] == track):
                chosen.append(k)
                taken.add(ids[k])
        if len(chosen) < n:
            raise RuntimeError(f"only {len(chosen)} of {n} candidates for track {track}")
        return chosen

    senior = (count >= 6) & (count <= 14) & (n_all >= 15) & (purity >= 0.5)
    (chair,) = take((count >= 6) & (count <= 14) & (n_all >= 20), 1, None)
    committee.append(Person(ids[chair], "programme_chair", ()))
    for t in range(len(TRACKS)):
        (sac,) = take(senior, 1, t)
        committee.append(Person(ids[sac], "senior_area_chair", (t,)))
        for k in take(senior, sizes.area_chairs_per_track, t):
            committee.append(Person(ids[k], "area_chair", (t,)))
    junior = (count >= 3) & (count <= 9) & (purity >= 0.55) & (total >= 1.5)
    reviewers = []
    for t in range(len(TRACKS)):
        chosen = take(junior, sizes.reviewers_per_track, t)
        for n, k in enumerate(chosen):
            reviewers.append((k, Person(ids[k], "reviewer", (t,), emergency=n < sizes.emergency_per_track)))
    second = np.argsort(profile, axis=1)[:, -2]
    second_share = np.sort(profile, axis=1)[:, -2] / np.maximum(total, 1e-9)
    regular = [(k, p) for k, p in reviewers if not p.emergency]
    by_share = sorted(regular, key=lambda kp: (-second_share[kp[0]], kp[1].id))
    for k, person in by_share[: sizes.two_track_reviewers]:
        person.tracks = (int(main[k]), int(second[k]))
    committee.extend(p for _, p in reviewers)
    return committee


def pick_outside_reviewers(
    anthology: Anthology, exclude: set[str], submission_authors: list[str], sizes: DemoSizes,
    rng: np.random.Generator,
) -> list[Person]:
    """Reviewers with no paper in the corpus years: authors whose papers are all from 2022
    (taken among the submissions' authors) or all from before 2016 (track from titles)."""
    papers = anthology.papers
    out: list[Person] = []
    recent = []
    for pid in submission_authors:
        years = {papers[i]["year"] for i in anthology.papers_of.get(pid, [])}
        if pid not in exclude and years == {2022} and is_clean_person(anthology.people.get(pid)):
            recent.append(pid)
    recent = sorted(set(recent))
    for k in rng.permutation(len(recent))[: sizes.recent_only_reviewers]:
        pid = recent[k]
        scores = np.sum([track_scores(papers[i]["title"], papers[i].get("abstract", ""))
                         for i in anthology.papers_of[pid]], axis=0)
        out.append(Person(pid, "reviewer", (int(scores.argmax()),)))
    older = []
    for pid in sorted(anthology.papers_of):
        rows = anthology.papers_of[pid]
        if len(rows) < 4 or pid in exclude or not is_clean_person(anthology.people.get(pid)):
            continue
        if max(papers[i]["year"] for i in rows) < 2016 and min(papers[i]["year"] for i in rows) >= 2000:
            scores = np.sum([track_scores(papers[i]["title"], "") for i in rows], axis=0)
            if clear_track(scores[None, :], min_hits=6.0)[0] >= 0:
                older.append((pid, int(scores.argmax())))
    for k in rng.permutation(len(older))[: sizes.older_only_reviewers]:
        pid, track = older[k]
        out.append(Person(pid, "reviewer", (track,)))
    return out


def coauthor_links(
    committee: list[Person], corpus_papers_of: dict[str, list[int]], papers: list[dict]
) -> Counter:
    """How many committee members each person co-wrote a corpus paper with."""
    links: Counter = Counter()
    for person in committee:
        ids = {a["id"] for i in corpus_papers_of.get(person.id, []) for a in papers[i]["authors"]}
        links.update(ids - {person.id})
    return links


def pick_author_profiles(
    submission_authors: list[list[str]], exclude: set[str], links: Counter, people: dict[str, dict], n: int,
    rng: np.random.Generator,
) -> list[Person]:
    """``Author``-only profiles: per submission (in random order) the author with most
    committee co-authors, until ``n``; so that co-authorship conflicts can be found."""
    chosen: list[str] = []
    for k in rng.permutation(len(submission_authors)):
        ranked = sorted(
            (a for a in submission_authors[k]
             if a not in exclude and a not in chosen and links[a] and is_clean_person(people.get(a), 200)),
            key=lambda a: (-links[a], a),
        )
        if ranked:
            chosen.append(ranked[0])
        if len(chosen) == n:
            break
    return [Person(pid, "author", ()) for pid in chosen]


def username_for(person: dict, taken: set[str], rng: np.random.Generator) -> str:
    """START-style username: first initial, last name, two digits; unique."""
    first = re.sub(r"[^a-z]", "", ascii_fold(person["first"]).lower())[:1] or "x"
    last = re.sub(r"[^a-z]", "", ascii_fold(person["last"]).lower())[:12] or "user"
    while True:
        name = f"{first}{last}{int(rng.integers(10, 100))}"
        if name not in taken:
            taken.add(name)
            return name


def affiliation_domain(affiliation: str) -> str | None:
    """An e-mail domain made up from an affiliation string, or None when nothing usable."""
    parts = [p.strip() for p in re.split(r"[,;(]", affiliation) if p.strip()]
    parts.sort(key=lambda p: not any(a in p.lower() for a in ACADEMIC))
    for part in parts:
        tokens = re.findall(r"[a-z]+", ascii_fold(part).lower())
        industry = [t for t in tokens if t in INDUSTRY]
        if industry:
            return f"{industry[0]}.com"
        kept = [t for t in tokens if t not in DOMAIN_STOPWORDS and len(t) > 1][:2]
        if kept:
            tld = "edu" if any(a in part.lower() for a in ACADEMIC) else "org"
            return f"{''.join(kept)}.{tld}"
    return None


def affiliation_type(affiliation: str) -> str:
    low = affiliation.lower()
    if not low:
        return ""
    if any(a in low for a in ACADEMIC):
        return "Academia"
    return "Industry" if any(re.search(rf"\b{w}\b", low) for w in INDUSTRY) else "Other"


def roles_string(person: Person) -> str:
    """START ``Roles`` value for a person."""
    names = [TRACKS[t] for t in person.tracks]
    if person.role == "programme_chair":
        return "manager:committee"
    if person.role == "author":
        return "Author"
    if person.role == "area_chair":
        return f"committee:{names[0]}:Meta Reviewer"
    if person.role == "senior_area_chair":
        return f"committee:{names[0]}:{names[0]} (manager 1)"
    return "committee:" + ":".join(names)


def fill_accounts(
    persons: list[Person], people: dict[str, dict], affiliations: dict[str, str], no_id: set[str],
    rng: np.random.Generator,
) -> None:
    """Names, usernames, e-mails, affiliations and Semantic Scholar ids (bare id, profile URL,
    or empty for ``no_id`` and some authors) of every person, in place."""
    taken: set[str] = set()
    for person in persons:
        record = people[person.id]
        person.first, person.last = record["first"], record["last"]
        person.username = username_for(record, taken, rng)
        person.affiliation = affiliations.get(person.id, "")
        domain = affiliation_domain(person.affiliation)
        draw = rng.random()
        if draw < 0.06:
            domain = "gmail.com"
        elif domain is None:
            domain = GENERIC_DOMAINS[int(rng.integers(len(GENERIC_DOMAINS)))]
        person.email = f"{person.username}@{domain}"
        style = rng.random()
        if person.id in no_id or (person.role == "author" and style < 0.25):
            person.s2_id = ""
        elif style < 0.6:
            person.s2_id = person.id
        elif style < 0.95:
            person.s2_id = f"https://www.semanticscholar.org/author/{person.id}"
        else:
            slug = re.sub(r"[^A-Za-z]+", "-", ascii_fold(record["name"])).strip("-")
            person.s2_id = f"https://www.semanticscholar.org/author/{slug}/{person.id}"


def profile_rows(persons: list[Person], n_short: int, rng: np.random.Generator) -> list[list[str]]:
    """Rows of ``Profile_Information.csv`` (header first); ``n_short`` of the rows that end
    in empty fields lose them, as in START exports."""
    rows = []
    for person in persons:
        committee = person.role != "author"
        if person.role in ("programme_chair", "senior_area_chair", "area_chair"):
            grad = str(int(rng.integers(1998, 2016)))
        elif committee and rng.random() < 0.6:
            grad = str(int(rng.integers(2008, 2024)))
        else:
            grad = ""
        emergency = "Yes" if person.emergency else ("No" if committee and rng.random() < 0.5 else "")
        pc_role = "no" if person.emergency else ("yes" if committee else "")
        row = [
            person.username, person.email, person.first, "", person.last, person.affiliation,
            affiliation_type(person.affiliation), person.s2_id, "", roles_string(person), pc_role,
            emergency, grad,
        ]
        rows.append(row)
    trailing = np.flatnonzero([row[-1] == "" for row in rows])
    for k in rng.choice(trailing, size=min(n_short, len(trailing)), replace=False):
        while rows[k] and rows[k][-1] == "":
            rows[k].pop()
    return [list(PROFILE_COLUMNS), *rows]


# ------------------------------------------------------------------ submissions


def author_list(names: Sequence[str]) -> str:
    """START ``Authors``: ``A, B and C``."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def with_paragraph_break(abstract: str) -> str:
    """The abstract with a paragraph break at its middle sentence boundary."""
    cuts = [m.start() for m in SENTENCE_END.finditer(abstract)]
    if not cuts:
        return abstract
    cut = cuts[len(cuts) // 2]
    return abstract[:cut] + "\n\n" + abstract[cut + 1:]


def plain_quotes(text: str) -> str:
    """Curly double quotes as straight ones, as text pasted into a web form often has."""
    return text.replace("\u201c", '"').replace("\u201d", '"')


def invented_email(author: dict, rng: np.random.Generator) -> str:
    first = re.sub(r"[^a-z]", "", ascii_fold(author.get("first", "")).lower())
    last = re.sub(r"[^a-z]", "", ascii_fold(author.get("last", "")).lower()) or "author"
    domain = affiliation_domain(author.get("affiliation", "")) or GENERIC_DOMAINS[
        int(rng.integers(len(GENERIC_DOMAINS)))
    ]
    local = f"{first}.{last}" if first and rng.random() < 0.5 else f"{first[:1]}{last}"
    return f"{local}@{domain}"


def pick_submissions(
    candidates: list[int], tracks: np.ndarray, authors_of: list[list[str]], reviewer_ids: set[str],
    coauthors: set[str], sizes: DemoSizes, rng: np.random.Generator,
) -> list[tuple[int, int]]:
    """(paper index, track) of the submissions: per track a few written by reviewers,
    more with a reviewer's co-author, the rest at random; in START (shuffled) order."""
    chosen: list[tuple[int, int]] = []
    for t, n in enumerate(sizes.submissions_per_track):
        pool = [c for c, tr in zip(candidates, tracks, strict=True) if tr == t]
        pool = [pool[k] for k in rng.permutation(len(pool))]
        own = [c for c in pool if reviewer_ids.intersection(authors_of[c])][: sizes.self_authored_per_track]
        linked = [c for c in pool if c not in own and coauthors.intersection(authors_of[c])]
        linked = linked[: int(0.6 * n)]
        rest = [c for c in pool if c not in own and c not in linked][: n - len(own) - len(linked)]
        picked = own + linked + rest
        if len(picked) < n:
            raise RuntimeError(f"track {TRACKS[t]!r}: only {len(picked)} of {n} submission candidates")
        chosen.extend((c, t) for c in picked)
    return [chosen[k] for k in rng.permutation(len(chosen))]


def submission_rows(
    submissions: list[tuple[int, int]], papers: list[dict], persons: dict[str, Person],
    status: list[str], rng: np.random.Generator,
) -> list[list[str]]:
    """Rows of ``Submission_Information.csv`` (header first)."""
    width = max(len(papers[i]["authors"]) for i, _ in submissions)
    header = ["Submission ID", "Title", "Track", "Submission Type", "Abstract", "Authors",
              "All Author Emails", "Acceptance Status"] + [f"{k}: Username" for k in range(1, width + 1)]
    rows = [header]
    for n, ((i, t), state) in enumerate(zip(submissions, status, strict=True), start=1):
        paper = papers[i]
        volume = paper["volume_id"]
        kind = "Short Paper" if volume.endswith("-short") or (
            volume.endswith("-main") and rng.random() < 0.25) else "Long Paper"
        abstract = plain_quotes(paper["abstract"])
        if n % 9 == 4:
            abstract = with_paragraph_break(abstract)
        authors = paper["authors"]
        known = [persons.get(a["id"]) for a in authors]
        emails = [p.email if p else invented_email(a, rng) for a, p in zip(authors, known, strict=True)]
        usernames = [p.username if p else "" for p in known]
        rows.append(
            [str(n), plain_quotes(paper["title"]), TRACKS[t], kind, abstract, author_list([a["name"] for a in authors]),
             "; ".join(emails), state] + usernames + [""] * (width - len(authors))
        )
    return rows


def acceptance_status(n: int, sizes: DemoSizes, rng: np.random.Generator) -> list[str]:
    """Mostly empty or ``Awaiting Decision``; a few desk rejects and withdrawals."""
    status = np.where(rng.random(n) < 0.35, "Awaiting Decision", "").astype(object)
    special = rng.choice(n, size=sizes.desk_rejects + sizes.withdrawals, replace=False)
    status[special[: sizes.desk_rejects]] = "Desk Reject"
    status[special[sizes.desk_rejects:]] = "Withdrawn"
    return [str(s) for s in status]


# ------------------------------------------------------------------ bids


def tfidf(docs: list[str]) -> sp.csr_matrix:
    """L2-normalised tf-idf rows of the content words of ``docs``."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for r, doc in enumerate(docs):
        for tok in words(doc):
            if len(tok) > 2 and tok not in STOPWORDS and not tok.isdigit():
                rows.append(r)
                cols.append(vocab.setdefault(tok, len(vocab)))
    counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(docs), len(vocab)))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=len(vocab))
    weighted = counts.multiply(np.log((1 + len(docs)) / (1 + df)) + 1.0).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)))
    return weighted.multiply(1.0 / np.maximum(norms, 1e-12)).tocsr()


def bid_codes(
    similarity: np.ndarray, in_track: np.ndarray, conflict: np.ndarray, declared: np.ndarray,
    sizes: DemoSizes, rng: np.random.Generator,
) -> np.ndarray:
    """START bid codes (0 = no bid, 1 Yes, 2 Maybe, 3 No, 4 COI), submissions x bidders.

    Each bidder bids on about ``bids_mean`` submissions of their tracks, chosen with
    probability growing with the topical similarity; the code follows the similarity plus
    noise. Declared conflicts get code 4.
    """
    n_sub, n_bid = similarity.shape
    masked = np.where(in_track, similarity, np.nan)
    mean = np.nanmean(np.where(in_track, masked, np.nan), axis=0, keepdims=True)
    std = np.nanstd(masked, axis=0, keepdims=True)
    z = np.where(in_track, (similarity - mean) / np.where(std > 0, std, 1.0), -np.inf)
    logits = 2.0 * z + rng.gumbel(size=z.shape)
    rank = np.argsort(np.argsort(-logits, axis=0, kind="stable"), axis=0, kind="stable")
    wanted = np.clip(rng.poisson(sizes.bids_mean, size=n_bid), 5, 25)
    wanted[rng.random(n_bid) < 0.08] = 0
    chosen = (rank < np.minimum(wanted, in_track.sum(axis=0))[None, :]) & in_track
    noisy = np.where(np.isfinite(z), z, 0.0) + rng.normal(0.0, 0.7, size=z.shape)
    codes = np.where(noisy > 0.8, 1, np.where(noisy > -0.3, 2, 3))
    out = np.where(chosen, codes, 0)
    return np.where(declared & conflict, 4, out).astype(np.int8)


def bid_rows(sub_ids: list[str], usernames: list[str], codes: np.ndarray) -> list[list[str]]:
    """Rows of ``Bid_Information.csv``: header ends with an unnamed empty column."""
    text = np.where(codes > 0, codes.astype(str), "")
    rows = [["Submission ID/Username", *usernames, ""]]
    rows.extend([sid, *row.tolist(), ""] for sid, row in zip(sub_ids, text, strict=True))
    return rows


# ------------------------------------------------------------------ reviews


def review_pairs(
    active: np.ndarray, allowed: np.ndarray, preference: np.ndarray, capacity: np.ndarray, k: int,
) -> list[tuple[int, int]]:
    """(submission, reviewer) pairs: ``k`` allowed reviewers per active submission, least
    loaded first, then by preference; no reviewer over capacity."""
    load = np.zeros(allowed.shape[1], dtype=int)
    pairs = []
    for i in np.flatnonzero(active):
        free = allowed[i] & (load < capacity)
        if free.sum() < k:
            raise RuntimeError(f"submission row {i}: only {free.sum()} allowed reviewers left")
        key = np.lexsort((np.arange(len(load)), -preference[i], load))
        picked = [j for j in key if free[j]][:k]
        load[picked] += 1
        pairs.extend((int(i), int(j)) for j in sorted(picked))
    return pairs


# ------------------------------------------------------------------ S2 records


def s2_record(paper: dict, abstract: str | None = None) -> dict:
    """A legacy S2 open-corpus record for an Anthology paper."""
    pid = paper["paper_id"]
    rid = sha1_hex(f"acl-anthology:{pid}")
    newer = paper["year"] >= 2020 and int(rid[-1], 16) % 2 == 0
    pdf = f"https://aclanthology.org/{pid}.pdf" if newer else f"https://www.aclweb.org/anthology/{pid}.pdf"
    tags = [v for v in paper["venues"] if v in VENUE_NAMES] or paper["venues"]
    journal = next((VENUE_NAMES[v] for v in paper["venues"] if v in JOURNAL_VENUES), "")
    doi = paper.get("doi", "")
    values = {
        "id": rid,
        "title": paper["title"],
        "paperAbstract": paper.get("abstract", "") if abstract is None else abstract,
        "entities": [],
        "s2Url": f"https://www.semanticscholar.org/paper/{rid}",
        "pdfUrls": [pdf],
        "s2PdfUrl": "",
        "authors": [{"name": a["name"], "ids": [a["id"]]} for a in paper["authors"]],
        "inCitations": [],
        "outCitations": [],
        "year": paper["year"],
        "venue": VENUE_NAMES.get(tags[0], tags[0].upper()),
        "journalName": journal,
        "journalVolume": "",
        "journalPages": paper.get("pages", "") if journal else "",
        "sources": ["DBLP"],
        "doi": doi,
        "doiUrl": f"https://doi.org/{doi}" if doi else "",
        "pmid": "",
        "fieldsOfStudy": ["Computer Science"],
        "magId": "",
    }
    return {k: values[k] for k in S2_FIELDS}


SYNTHETIC_TOPICS = (
    "protein folding kinetics", "urban traffic forecasting", "soil moisture estimation",
    "galaxy cluster photometry", "battery degradation", "crop yield prediction",
    "seismic event localisation", "retail demand planning", "coral reef imaging", "power grid stability",
)


def synthetic_records(n: int, n_empty: int, rng: np.random.Generator) -> list[dict]:
    """Clearly synthetic non-ACL records (arXiv-style links, a made-up journal) that the
    ACL filter must drop; ``n_empty`` of them have no abstract."""
    empty = set(rng.choice(n, size=n_empty, replace=False).tolist())
    out = []
    for k in range(n):
        topic = SYNTHETIC_TOPICS[k % len(SYNTHETIC_TOPICS)]
        rid = sha1_hex(f"synthetic:{k}")
        year = int(rng.integers(2016, 2022))
        arxiv = f"{year % 100:02d}{int(rng.integers(1, 13)):02d}.{int(rng.integers(0, 100000)):05d}"
        journal = k % 3 != 0
        abstract = "" if k in empty else (
            f"This is synthetic filler record {k} about {topic}. It is not an ACL Anthology paper and "
            f"describes no real study; it exists so that corpus filters have non-ACL records to drop. "
            f"The {topic} setting, its measurements and its conclusions are all invented."
        )
        values = {
            "id": rid,
            "title": f"Synthetic filler record {k:03d}: a placeholder study of {topic}",
            "paperAbstract": abstract,
            "entities": [],
            "s2Url": f"https://www.semanticscholar.org/paper/{rid}",
            "pdfUrls": [f"https://arxiv.org/pdf/{arxiv}.pdf"],
            "s2PdfUrl": "",
            "authors": [
                {"name": f"Synthetic Author {a:03d}", "ids": [str(90_000_000 + a)]}
                for a in sorted(rng.choice(120, size=int(rng.integers(1, 5)), replace=False).tolist())
            ],
            "inCitations": [],
            "outCitations": [],
            "year": year,
            "venue": "Journal of Synthetic Examples" if journal else "ArXiv",
            "journalName": "Journal of Synthetic Examples" if journal else "ArXiv",
            "journalVolume": str(year - 2010) if journal else "",
            "journalPages": f"{k + 1}-{k + 9}" if journal else "",
            "sources": [] if journal else ["arXiv"],
            "doi": "",
            "doiUrl": "",
            "pmid": "",
            "fieldsOfStudy": ["Physics" if k % 2 else "Engineering"],
            "magId": "",
        }
        out.append({key: values[key] for key in S2_FIELDS})
    return out


# ------------------------------------------------------------------ serialisation


def gzip_jsonl_bytes(records: list[dict]) -> bytes:
    """JSON lines, gzipped without a file name and with mtime 0 (byte-stable)."""
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def csv_bytes(rows: list[list[str]]) -> bytes:
    """Rows as CSV (minimal quoting, ``\\n`` line ends); rows may be shorter than the header."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def frame_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.6f").encode("utf-8")


# ------------------------------------------------------------------ the build


@dataclass
class Slices:
    """The Anthology papers the demo draws from, with their track scores."""

    corpus_rows: list[int]
    submission_pool: list[int]
    scores: dict[int, np.ndarray]
    corpus_papers_of: dict[str, list[int]]


def slice_anthology(anthology: Anthology) -> Slices:
    """Corpus-eligible papers (2016-2021), submission candidates (2022), their track
    scores, and each person's corpus-eligible papers."""
    papers = anthology.papers
    corpus_rows = [i for i, p in enumerate(papers) if is_corpus_paper(p)]
    pool = [i for i, p in enumerate(papers) if is_submission_candidate(p)]
    scores = {i: track_scores(papers[i]["title"], papers[i]["abstract"]) for i in corpus_rows + pool}
    eligible = set(corpus_rows)
    corpus_papers_of = {}
    for pid, rows in sorted(anthology.papers_of.items()):
        kept = [i for i in rows if i in eligible]
        if kept:
            corpus_papers_of[pid] = kept
    logger.info("%d corpus-eligible papers, %d submission candidates", len(corpus_rows), len(pool))
    return Slices(corpus_rows, pool, scores, corpus_papers_of)


def cast_conference(
    anthology: Anthology, slices: Slices, sizes: DemoSizes, rng: np.random.Generator
) -> tuple[list[Person], list[tuple[int, int]]]:
    """The people (in profile order, accounts filled in) and the submissions
    ((paper, track) in submission order)."""
    papers = anthology.papers
    eligible = {
        pid: rows for pid, rows in slices.corpus_papers_of.items()
        if pid not in anthology.ambiguous and is_clean_person(anthology.people.get(pid))
    }
    committee = pick_committee(
        person_track_profiles(eligible, slices.scores), {p: len(r) for p, r in eligible.items()},
        anthology.people, sizes, rng,
    )
    committee_ids = {p.id for p in committee}
    links = coauthor_links(committee, slices.corpus_papers_of, papers)
    pool_tracks = clear_track(np.array([slices.scores[i] for i in slices.submission_pool]))
    authors_of = [[a["id"] for a in p["authors"]] for p in papers]
    submissions = pick_submissions(
        slices.submission_pool, pool_tracks, authors_of, {p.id for p in committee if p.role == "reviewer"},
        set(links) - committee_ids, sizes, rng,
    )
    sub_authors = [pid for i, _ in submissions for pid in authors_of[i]]
    outside = pick_outside_reviewers(anthology, committee_ids, sub_authors, sizes, rng)
    authors_only = pick_author_profiles(
        [authors_of[i] for i, _ in submissions], committee_ids | {p.id for p in outside}, links,
        anthology.people, sizes.author_only, rng,
    )
    persons = committee + outside + authors_only
    persons = [persons[k] for k in rng.permutation(len(persons))]
    mapped = sorted(p.id for p in committee if p.role == "reviewer")
    no_id = {mapped[k] for k in rng.choice(len(mapped), size=sizes.without_s2_id, replace=False)}
    fill_accounts(persons, anthology.people, latest_affiliations(papers), no_id, rng)
    return persons, submissions


def corpus_records(
    anthology: Anthology, slices: Slices, persons: list[Person], sizes: DemoSizes, rng: np.random.Generator
) -> list[dict]:
    """S2 records: every corpus paper of the committee, a random fill-up, a few ACL papers
    without an abstract and the synthetic non-ACL records; shuffled."""
    papers = anthology.papers
    own = sorted({i for p in persons if p.role != "author" for i in slices.corpus_papers_of.get(p.id, [])})
    if len(own) > sizes.corpus_papers:
        raise RuntimeError(f"committee papers ({len(own)}) exceed the corpus size {sizes.corpus_papers}")
    logger.info("corpus: %d papers of the committee, filled up to %d", len(own), sizes.corpus_papers)
    taken = set(own)
    fill = [i for i in slices.corpus_rows if i not in taken and FILL_VENUES.intersection(papers[i]["venues"])]
    picked = rng.choice(len(fill), size=sizes.corpus_papers - len(own), replace=False)
    no_abstract = [
        i for i, p in enumerate(papers)
        if p["year"] == 2016 and not p.get("abstract") and {"acl", "emnlp", "naacl"} & set(p["venues"])
        and p["volume_id"].endswith(("-1", "-2"))
    ]
    empty = sorted(rng.choice(len(no_abstract), size=sizes.acl_without_abstract, replace=False))
    records = [s2_record(papers[i]) for i in sorted(own + [fill[k] for k in picked])]
    records += [s2_record(papers[no_abstract[k]], abstract="") for k in empty]
    records += synthetic_records(sizes.synthetic_records, sizes.synthetic_without_abstract, rng)
    return [records[k] for k in rng.permutation(len(records))]


def conflict_matrices(
    submissions: list[tuple[int, int]], bidders: list[Person], papers: list[dict],
    corpus_papers_of: dict[str, list[int]],
) -> dict[str, np.ndarray]:
    """Real conflicts, submissions x bidders: ``self`` (the bidder wrote it), ``coauthor``
    (a corpus co-author of the bidder wrote it), ``affiliation`` (an author shares the
    bidder's latest affiliation)."""
    author_sets = [{a["id"] for a in papers[i]["authors"]} for i, _ in submissions]
    affiliations = [{a.get("affiliation", "").strip() for a in papers[i]["authors"]} - {""} for i, _ in submissions]
    coauthors = [
        {a["id"] for i in corpus_papers_of.get(b.id, []) for a in papers[i]["authors"]} - {b.id} for b in bidders
    ]
    return {
        "self": np.array([[b.id in s for b in bidders] for s in author_sets]),
        "coauthor": np.array([[bool(c & s) for c in coauthors] for s in author_sets]),
        "affiliation": np.array([[bool(b.affiliation) and b.affiliation in a for b in bidders] for a in affiliations]),
    }


def topical_similarity(
    submissions: list[tuple[int, int]], bidders: list[Person], papers: list[dict],
    corpus_papers_of: dict[str, list[int]],
) -> np.ndarray:
    """tf-idf cosine of each submission to each bidder's corpus papers (0 without papers)."""
    def text(i: int) -> str:
        return papers[i]["title"] + " " + papers[i]["abstract"]

    docs = [text(i) for i, _ in submissions] + [
        " ".join(text(i) for i in corpus_papers_of.get(b.id, [])) for b in bidders
    ]
    vectors = tfidf(docs)
    return (vectors[: len(submissions)] @ vectors[len(submissions):].T).toarray()


def simulated_reviews(
    pairs: list[tuple[int, int]], sub_ids: list[str], usernames: list[str], seed: int
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Reviews of ``pairs`` simulated from the calibration model: the START-style review
    export and the ground truth frames."""
    from revmatch.calibration import simulate_reviews

    sub_rows = sorted({i for i, _ in pairs})
    rev_cols = sorted({j for _, j in pairs})
    sub_pos = {i: k for k, i in enumerate(sub_rows)}
    rev_pos = {j: k for k, j in enumerate(rev_cols)}
    reviews, truth = simulate_reviews(
        len(sub_rows), len(rev_cols), seed=seed,
        submission_ids=[sub_ids[i] for i in sub_rows], reviewer_ids=[usernames[j] for j in rev_cols],
        pairs=np.array([(sub_pos[i], rev_pos[j]) for i, j in pairs]),
    )
    export = pd.DataFrame({
        "Submission ID": reviews["submission_id"].astype(str),
        "Reviewer Username": reviews["reviewer_id"].astype(str),
        "Overall Recommendation": reviews["score"].astype(int) + 1,
        "Reviewer Expertise": reviews["expertise"].astype(int),
    })
    return export, truth


def check_feasible(track_of: np.ndarray, reviewer_tracks: np.ndarray, capacity: np.ndarray, k: int) -> None:
    """Every track's reviewer capacity (``reviewer_tracks``: tracks x reviewers) covers ``k``
    reviews of each of its submissions, and so does the whole committee."""
    for t, name in enumerate(TRACKS):
        need = k * int((track_of == t).sum())
        have = int(capacity[reviewer_tracks[t]].sum())
        if have < need:
            raise RuntimeError(f"track {name!r}: reviewer capacity {have} below the {need} reviews needed")
    if capacity[reviewer_tracks.any(axis=0)].sum() < k * len(track_of):
        raise RuntimeError("committee capacity below the reviews needed")


def demo_files(papers: list[dict], people: list[dict], seed: int = SEED, sizes: DemoSizes | None = None) -> dict[str, bytes]:
    """Every demo file (path relative to the demo folder -> content) from the Anthology
    papers and people records."""
    sizes = sizes or DemoSizes()
    rng = np.random.default_rng(seed)
    anthology = index_anthology(papers, people)
    slices = slice_anthology(anthology)
    persons, submissions = cast_conference(anthology, slices, sizes, rng)
    files: dict[str, bytes] = {}

    records = corpus_records(anthology, slices, persons, sizes, rng)
    for c, chunk in enumerate(np.array_split(np.arange(len(records)), sizes.chunks)):
        files[f"s2/s2-corpus-{c:03d}.jsonl.gz"] = gzip_jsonl_bytes([records[k] for k in chunk])

    files["start/Profile_Information.csv"] = csv_bytes(profile_rows(persons, sizes.short_profile_rows, rng))
    status = acceptance_status(len(submissions), sizes, rng)
    by_id = {p.id: p for p in persons}
    files["start/Submission_Information.csv"] = csv_bytes(
        submission_rows(submissions, anthology.papers, by_id, status, rng)
    )
    sub_ids = [str(n) for n in range(1, len(submissions) + 1)]

    bidders = [p for p in persons if p.role in ("reviewer", "area_chair")]
    usernames = [b.username for b in bidders]
    in_track = np.array([[t in b.tracks for b in bidders] for _, t in submissions])
    conflicts = conflict_matrices(submissions, bidders, anthology.papers, slices.corpus_papers_of)
    conflict = conflicts["self"] | conflicts["coauthor"] | conflicts["affiliation"]
    declared = (
        (conflicts["self"] & (rng.random(conflict.shape) < 0.7))
        | (conflicts["coauthor"] & (rng.random(conflict.shape) < 0.3))
        | conflicts["affiliation"]
    )
    logger.info(
        "conflicts: %d self-authored, %d co-authored, %d same-affiliation pairs; %d declared in bids",
        *(int(m.sum()) for m in conflicts.values()), int(declared.sum()),
    )
    similarity = topical_similarity(submissions, bidders, anthology.papers, slices.corpus_papers_of)
    codes = bid_codes(similarity, in_track, conflict, declared, sizes, rng)
    files["start/Bid_Information.csv"] = csv_bytes(bid_rows(sub_ids, usernames, codes))

    is_reviewer = np.array([b.role == "reviewer" for b in bidders])
    quota_idx = np.sort(rng.choice(np.flatnonzero(is_reviewer), size=sizes.quotas, replace=False))
    quota_values = rng.integers(2, sizes.max_papers_per_reviewer + 1, size=len(quota_idx))
    files["start/quotas.csv"] = csv_bytes(
        [["Username", "Quota for Review"]]
        + [[usernames[k], str(int(q))] for k, q in zip(quota_idx, quota_values, strict=True)]
    )
    capacity = np.full(len(bidders), sizes.max_papers_per_reviewer)
    capacity[quota_idx] = quota_values
    reviewer_tracks = in_track_matrix(bidders, is_reviewer)
    check_feasible(np.array([t for _, t in submissions]), reviewer_tracks, capacity, sizes.reviews_per_submission)

    active = np.array([s in ("", "Awaiting Decision") for s in status])
    allowed = in_track & is_reviewer[None, :] & ~conflict & (codes != 4)
    preference = np.select([codes == 1, codes == 2, codes == 0], [3, 2, 1], 0)
    pairs = review_pairs(active, allowed, preference, capacity, sizes.reviews_per_submission)
    reviews, truth = simulated_reviews(pairs, sub_ids, usernames, seed)
    files["reviews.csv"] = frame_bytes(reviews)
    for name in ("submissions", "reviewers", "expertise"):
        files[f"reviews_truth/{name}.csv"] = frame_bytes(truth[name])

    logger.info(
        "demo: %d S2 records, %d profiles, %d submissions (%d active), %d bidders with %d bids (%d COI), "
        "%d reviews",
        len(records), len(persons), len(submissions), active.sum(), len(bidders), (codes > 0).sum(),
        (codes == 4).sum(), len(reviews),
    )
    return files


def in_track_matrix(people: list[Person], mask: np.ndarray) -> np.ndarray:
    """tracks x people: whether each (masked) person belongs to each track."""
    return np.array([[t in p.tracks for p in people] for t in range(len(TRACKS))]) & mask[None, :]


def build_demo(source: Path, out: Path, seed: int = SEED) -> dict[str, int]:
    """Build the demo from the Anthology metadata in ``source`` and write it under ``out``;
    return the size in bytes of each file written."""
    files = demo_files(read_gz_jsonl(source / "papers.jsonl.gz"), read_gz_jsonl(source / "people.jsonl.gz"), seed)
    for name, content in files.items():
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(content)
    return {name: len(content) for name, content in files.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="folder with papers.jsonl.gz, people.jsonl.gz")
    parser.add_argument("--out", type=Path, required=True, help="output folder (resources/demo)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sizes = build_demo(args.source, args.out, args.seed)
    print(f"wrote {len(sizes)} files, {sum(sizes.values()) / 1e6:.2f} MB, under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
