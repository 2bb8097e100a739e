"""START (SoftConf) exports -> reviewers, submissions, rejects, bids and quotas, with an
extraction report; every output is written or none.

Divergences from the reference tool's ``softconf_extract.py``, on purpose:

- ``manager:committee`` (programme chair) and an empty ``Roles`` do not make a reviewer
  (the reference's ACL-2021 rule counts every role that is not ``Author`` and not AC/SAC);
- withdrawn submissions (``Acceptance Status`` containing ``Withdraw``) are set aside like
  desk rejects (the reference only checks for ``Reject``);
- bids rows are matched to submissions by id, not by position, and bid cells may be
  numbers; ``bids.npy`` holds the bids only: authorship COIs are merged by
  :mod:`revmatch.conference.coi`, not written into the bids matrix;
- an AC's ``ac_tracks`` never contain the ``committee`` prefix, and a role without a
  track gives ``[]`` rather than ``['']``;
- no reviewer or no submission to match stops the extraction; a submissions row cut
  before its status is refused; an author whose e-mail and username name two profiles is
  both people (the reference takes the e-mail's only).
"""

from __future__ import annotations

import logging

import numpy as np

from revmatch.conference.bids import BID_MAYBE, read_bids
from revmatch.conference.profiles import _profile_records
from revmatch.conference.quotas import read_quotas, with_quotas
from revmatch.conference.submissions import _submission_records
from revmatch.conference.writing import write_all_or_nothing
from revmatch.io import InputError, PathLike, save_npy, write_csv, write_json, write_jsonl

logger = logging.getLogger(__name__)


def extract_softconf(
    profiles_csv: PathLike,
    submissions_csv: PathLike,
    bids_csv: PathLike | None,
    out_reviewers: PathLike,
    out_submissions: PathLike,
    out_rejects: PathLike,
    out_bids_npy: PathLike,
    out_non_reviewers: PathLike,
    out_multi_track_csv: PathLike,
    out_report_json: PathLike,
    quotas_csv: PathLike | None = None,
) -> dict:
    """START exports -> reviewers, submissions, rejects, bids matrix and an extraction report.

    Everything is read and checked before anything is written, so bad input leaves no
    output behind. A quotas file sets the reviewers' ``quota`` (over a profile's
    ``Quota for Review``). Returns the report.

    Empty inputs stop here, before any matrix is computed: no profile with a reviewer, AC or
    SAC role, or no submission left to match (none in the file, or every one set aside), is
    an ``InputError``, and so is a bids file that holds no bid (an empty or wrong export). No
    bids file is legitimate for a venue that does not bid: every pair is Maybe (2), and the
    report's ``warnings`` (and the log) say so.
    A bids file none of whose rows names a submission (or none of whose columns a reviewer) of
    the conference is refused by :func:`~revmatch.conference.bids.read_bids`.

    The report keeps every reader's counts (rows shorter than the header, authors whose
    e-mail and username name two profiles: ``submissions.identity_conflicts``) and lists what
    a chair should look at in ``warnings``.
    """
    reviewers, non_reviewers, multi_track, profile_stats = _profile_records(profiles_csv)
    _raise_if_no_reviewers(profiles_csv, reviewers, profile_stats)
    quota_report: dict = {"file": None}
    if quotas_csv is not None:
        quotas, quota_stats = read_quotas(quotas_csv, [r["id"] for r in reviewers])
        quota_report = {"file": str(quotas_csv), **quota_stats, "replaced": with_quotas(reviewers, quotas)}
    submissions, rejects, submission_stats = _submission_records(submissions_csv, reviewers + non_reviewers)
    _raise_if_no_submissions(submissions_csv, submission_stats)
    submission_ids = [s["id"] for s in submissions]
    reviewer_ids = [r["id"] for r in reviewers]
    if bids_csv is None:
        bids = np.full((len(submission_ids), len(reviewer_ids)), BID_MAYBE, dtype=np.int8)
        bid_report: dict = {"file": None, "bids_given": 0}
    else:
        all_ids = submission_ids + [r["startSubmissionId"] for r in rejects]
        bids, bid_report = read_bids(bids_csv, submission_ids, reviewer_ids, all_ids)
        bid_report = {"file": str(bids_csv), **bid_report}
    report = {
        "profiles": {"file": str(profiles_csv), **profile_stats},
        "submissions": {"file": str(submissions_csv), **submission_stats},
        "bids": bid_report,
        "quotas": quota_report,
        "shape": {"submissions": len(submission_ids), "reviewers": len(reviewer_ids)},
    }
    report["warnings"] = _warnings(report)
    for warning in report["warnings"]:
        logger.warning("extraction: %s", warning)
    write_all_or_nothing([
        (out_reviewers, lambda p: write_jsonl(reviewers, p)),
        (out_submissions, lambda p: write_jsonl(submissions, p)),
        (out_rejects, lambda p: write_jsonl(rejects, p)),
        (out_bids_npy, lambda p: save_npy(bids, p)),
        (out_non_reviewers, lambda p: write_jsonl(non_reviewers, p)),
        (out_multi_track_csv, lambda p: write_csv(multi_track, p)),
        (out_report_json, lambda p: write_json(report, p)),
    ])
    return report


def _raise_if_no_reviewers(path: PathLike, reviewers: list[dict], stats: dict) -> None:
    """``InputError`` when no profile is a reviewer, an area chair or a senior area chair."""
    if reviewers:
        return
    what = "the file has a header but no profile" if not stats["rows"] else (
        f"none of its {stats['rows']} profiles has a reviewer, area chair or senior area chair role "
        f"({stats['programme_chairs']} programme chairs, {stats['non_reviewers']} authors and other roles)"
    )
    raise InputError(path, f"no reviewer: {what}; nothing can be matched", column="Roles")


def _raise_if_no_submissions(path: PathLike, stats: dict) -> None:
    """``InputError`` when no submission is left to match."""
    if stats["kept"]:
        return
    if not stats["rows"]:
        what = "the file has a header but no submission"
    else:
        what = (
            f"every one of its {stats['rows']} submissions is set aside ({stats['desk_rejected']} desk "
            f"rejected, {stats['withdrawn']} withdrawn)"
        )
    raise InputError(path, f"no submission to match: {what}", column=stats["status_column"])


def _warnings(report: dict) -> list[str]:
    """What a chair should look at: no bids file (a bids file without a bid is an
    ``InputError``) and identity conflicts. (Rows shorter than the header are counted in each file's part of the
    report, not warned about: START leaves out trailing empty cells.)"""
    warnings = []
    bids = report["bids"]
    if not bids["bids_given"]:
        if bids["file"] is not None:
            raise InputError(bids["file"], "holds no bid of a submission to match (an empty or wrong export?); "
                                           "leave softconf.bids out for a conference without bidding")
        warnings.append("no bids file: every submission-reviewer pair is Maybe")
    conflicts = report["submissions"]["identity_conflicts"]
    if conflicts:
        warnings.append(
            f"{conflicts} author(s) of {report['submissions']['file']} name one profile by e-mail and "
            "another by username: both are conflicts of interest (submissions.identity_conflict_list)"
        )
    return warnings
