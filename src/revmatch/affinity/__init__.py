"""Affinity jobs in the shape of OpenReview's Expertise API: a group's members scored
against submissions or against another group's members, with their status and results."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "job_config": ["JOB_MODES", "JOB_SCHEMA", "SCHEMAS", "check_job", "needs_rejects", "read_job_files"],
    "groups": ["ROLES", "group_members"],
    "publications": ["member_publications", "read_expertise_selection", "selection_pairs"],
    "reductions": ["group_group_scores", "group_submission_scores", "member_member_scores", "member_scores",
                   "member_scores_from_blocks", "submission_member_scores"],
    "scorers": ["EmbeddingScorer", "RegistryScorer", "cosine_to_unit", "load_embedding_scorer",
                "load_registry_scorer", "model_scale", "normalise_scores", "unit_scores"],
    "settings": ["ScorerSettings"],
    "results": ["SCORE_DECIMALS", "results_columns", "results_document", "results_metadata", "score_digits",
                "write_results"],
    "status": ["STATES", "job_status", "status_record", "write_status"],
    "jobs": ["affinity_job_file", "affinity_scores", "run_affinity_job"],
})
