"""The legacy form of OpenReview's expertise job configs (the job config of
``expertise.create_dataset`` / ``expertise.run``: ``match_group``, ``reviewer_ids``,
``alternate_match_group``, ``paper_invitation``, ``paper_venueid``, ``paper_id``, ``model`` a
name, ``model_params``, ``dataset`` with ``directory``, ``minimum_pub_date``,
``top_recent_pubs``) translated into the project's job (``openreview_config``)."""

from __future__ import annotations

import os
from typing import Any

from revmatch.affinity.openreview_fields import (
    ALL_STATUSES,
    LEGACY_MARKERS,
    Field,
    Translation,
    Venue,
    field_error,
    group_roles,
    id_list,
    invitation_checked,
    known_fields,
    model_name,
    model_options,
    provided_ids,
    publication_limits,
    selection_in_archives,
    venueid_status,
)

LEGACY_FIELDS = (*LEGACY_MARKERS, "name", "model", "dataset", "paper_content", "exclusion_inv",
                 "inclusion_inv", "alternate_exclusion_inv", "alternate_inclusion_inv", "use_email_ids",
                 "archives_dir")
#: fields for data this project does not read (CSV inputs, bids, paper-paper scoring)
LEGACY_UNSUPPORTED = ("csv_expertise", "csv_submissions", "bid_inv", "match_paper_invitation",
                      "match_paper_venueid", "match_paper_id", "match_paper_content",
                      "match_provided_submissions")
#: bookkeeping of a saved JobConfig and TF-IDF script settings: no effect here
LEGACY_IGNORED = ("max_workers", "user_id", "job_id", "cloud_id", "job_dir", "cdate", "mdate", "status",
                  "description", "baseurl", "baseurl_v2", "machine_type", "experiment_dir",
                  "min_count_for_vocab", "random_seed", "max_num_keyphrases", "do_lower_case")
#: ``model_params`` for OpenReview's machines and files: no effect on the scores here
MODEL_HINTS = ("skip_specter", "use_cuda", "use_redis", "batch_size", "specter_batch_size", "mfr_batch_size",
               "work_dir", "scores_path", "publications_path", "submissions_path", "specter_dir",
               "mfr_feature_vocab_file", "mfr_checkpoint_dir", "mfr_epochs", "merge_alpha",
               "feature_vocab_file", "model_checkpoint_dir", "epochs", "workers", "skip_bm25", "dump_p2p")
SELECTION_FIELDS = ("exclusion_inv", "inclusion_inv", "alternate_exclusion_inv", "alternate_inclusion_inv")
PAPER_SOURCES = ("paper_invitation", "paper_venueid", "paper_id", "provided_submissions")


def translate_legacy(config: dict, venue: Venue, out: Translation) -> None:
    """A legacy config into ``out``: match_group (or reviewer_ids) against the submissions
    (paper_invitation, paper_venueid, paper_id, provided_submissions) or against
    alternate_match_group; archives from ``dataset.directory``."""
    known_fields([k for k in config if k not in LEGACY_IGNORED], (*LEGACY_FIELDS, *LEGACY_UNSUPPORTED), "")
    for key in LEGACY_UNSUPPORTED:
        if config.get(key):
            raise field_error(key, "not supported here (the conference's members and submissions and the "
                                   "members' archives are scored)")
    if config.get("use_email_ids"):
        raise field_error("use_email_ids", "results name members by their id here")
    if config.get("paper_content"):
        raise field_error("paper_content", "submissions are not filtered by content fields here")
    job = out.job
    job["schema"] = "legacy"
    dataset = config.get("dataset") or {}
    if not isinstance(dataset, dict):
        raise field_error("dataset", f"an object, got {dataset!r}")
    if config.get("archives_dir"):
        job["archives_dir"] = str(config["archives_dir"])
    elif dataset.get("directory"):
        job["archives_dir"] = os.path.join(str(dataset["directory"]), "archives")
    for key in SELECTION_FIELDS:
        if config.get(key):
            selection_in_archives(key, config, out)
    group = _legacy_group(config, venue)
    if config.get("alternate_match_group"):
        sources = [key for key in PAPER_SOURCES if config.get(key)]
        if sources:
            raise field_error(sources[0], "give submissions or alternate_match_group, not both")
        alternate = group_roles(config["alternate_match_group"], "alternate_match_group", venue)
        job.update(mode="group_group", group=group, alternate_group={"role": alternate})
    else:
        statuses, ids = _legacy_papers(config, venue, out)
        if "members" in group:
            job.update(mode="user_subset", members=group["members"])
        else:
            job.update(mode="paper_subset" if ids else "group_submissions", group=group)
        job["submission_status"] = statuses
        if ids:
            job["submissions"] = ids
    _legacy_model(config.get("model"), config.get("model_params"), out)
    _legacy_dataset(dataset, out)


def _legacy_group(config: dict, venue: Venue) -> dict:
    """The project's group of ``match_group`` (roles) or ``reviewer_ids`` (members)."""
    if config.get("match_group") and config.get("reviewer_ids"):
        raise field_error("reviewer_ids", "the union of match_group and reviewer_ids is not supported")
    if config.get("match_group"):
        return {"role": group_roles(config["match_group"], "match_group", venue)}
    if config.get("reviewer_ids"):
        return {"members": id_list(config["reviewer_ids"], "reviewer_ids")}
    raise field_error("match_group", "names no members (match_group or reviewer_ids)")


def _legacy_papers(config: dict, venue: Venue, out: Translation) -> tuple[list[str], list[str]]:
    """(submission statuses, listed ids) of the legacy paper fields."""
    if config.get("paper_id") and (config.get("paper_invitation") or config.get("paper_venueid")):
        raise field_error("paper_id", "the union of paper_id and paper_invitation / paper_venueid is not "
                                      "supported")
    if config.get("paper_id"):
        return list(ALL_STATUSES), id_list([config["paper_id"]], "paper_id")
    if config.get("provided_submissions"):
        return list(ALL_STATUSES), provided_ids(config["provided_submissions"], "provided_submissions", out)
    if not config.get("paper_invitation") and not config.get("paper_venueid"):
        reason = "names no submissions (paper_invitation, paper_venueid, paper_id or alternate_match_group)"
        raise field_error("paper_invitation", reason)
    if config.get("paper_invitation"):
        invitation_checked(config["paper_invitation"], "paper_invitation", venue)
    if config.get("paper_venueid"):
        return [venueid_status(config["paper_venueid"], "paper_venueid", venue)], []
    return ["active"], []


def _legacy_model(model: Any, params: Any, out: Translation) -> None:
    """``model`` (a name) and ``model_params``."""
    if model is not None and not isinstance(model, str):
        raise field_error("model", f"a model name, got {model!r}")
    model_name(model, "model", out)
    params = params or {}
    if not isinstance(params, dict):
        raise field_error("model_params", f"an object, got {params!r}")
    allowed = ("use_title", "use_abstract", "average_score", "max_score", "sparse_value", "percentile_select",
               "normalize_scores", "compute_paper_paper", *MODEL_HINTS)
    known_fields(params, allowed, "model_params.")
    if params.get("compute_paper_paper"):
        raise field_error("model_params.compute_paper_paper", "paper-paper scoring is not supported")
    # As OpenReview's predictors: average_score wins, else max_score (true by default).
    reduce = None
    if params.get("average_score"):
        reduce = "mean"
    elif "max_score" in params:
        if not params["max_score"]:
            raise field_error("model_params.max_score", "one of average_score and max_score must be true")
        reduce = "max"
    model_options(
        out, reduce, Field("model_params.percentile_select", params.get("percentile_select")),
        Field("model_params.sparse_value", params.get("sparse_value")),
        [Field("model_params.use_title", params.get("use_title")),
         Field("model_params.use_abstract", params.get("use_abstract"))],
        Field("model_params.normalize_scores", params.get("normalize_scores")),
    )


def _legacy_dataset(dataset: dict, out: Translation) -> None:
    """``dataset``: minimum_pub_date and top_recent_pubs (their AND; not ``or``); ``directory``
    (the archives) is read by ``translate_legacy``; bid settings are ignored."""
    allowed = ("directory", "minimum_pub_date", "top_recent_pubs", "or", "weight_specification", "with_title",
               "with_abstract", "bid_values", "positive_bid_values", "bid_as_expertise", "bid_invitation")
    known_fields(dataset, allowed, "dataset.")
    for key, reason in (("or", "the union of minimum_pub_date and top_recent_pubs is not supported"),
                        ("weight_specification", "publications are not weighted by venue here"),
                        ("with_title", "publications are not filtered by their fields here"),
                        ("with_abstract", "publications are not filtered by their fields here"),
                        ("bid_as_expertise", "bids are not expertise here")):
        if dataset.get(key):
            raise field_error(f"dataset.{key}", reason)
    publication_limits(Field("dataset.minimum_pub_date", dataset.get("minimum_pub_date")),
                       Field("dataset.top_recent_pubs", dataset.get("top_recent_pubs")), out)
