"""Affinity jobs in the shape of OpenReview's Expertise API: a group's members scored
against submissions or against another group's members, with their status and results;
OpenReview's own job configs (``from_openreview``), outputs and archives accepted as they are."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "job_config": ["DEFAULT_OUTPUT", "JOB_MODES", "JOB_SCHEMA", "OUTPUTS", "SCHEMAS", "check_job",
                   "needs_rejects", "read_job_files", "resolve_job", "writes_openreview_files"],
    "openreview_config": ["from_openreview", "is_openreview_config", "openreview_translation"],
    "archives": ["Archive", "load_archive_scorer", "read_archives"],
    "groups": ["ROLES", "group_members"],
    "publications": ["member_publications", "read_expertise_selection", "selection_pairs"],
    "reductions": ["group_group_scores", "group_submission_scores", "member_member_scores", "member_scores",
                   "member_scores_from_blocks", "sparse_scores", "submission_member_scores"],
    "scorers": ["EmbeddingScorer", "RegistryScorer", "cosine_to_unit", "load_embedding_scorer",
                "load_registry_scorer", "model_scale", "normalise_scores", "registry_model", "unit_scores"],
    "settings": ["ScorerSettings"],
    "results": ["SCORE_DECIMALS", "openreview_metadata", "results_columns", "results_document",
                "results_metadata", "score_decimals", "score_digits", "write_results"],
    "status": ["OPENREVIEW_DESCRIPTIONS", "STATES", "job_status", "new_job_id", "status_record",
               "write_status"],
    "jobs": ["affinity_scores", "run_affinity_job"],
    "job_files": ["affinity_job_file"],
})
