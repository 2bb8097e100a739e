"""The matching stage: the paper matrix (submissions x corpus papers, cached by content),
reviewer scores by aggregation, the exact HiGHS assignment with its certificate, the exports
(JSONL, CSV, START upload, text, xlsx) and the assignment's evaluation."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "settings": ["AggregateSettings", "AssignmentSettings", "MatchingSettings", "PaperMatrixSettings"],
    "authorship": ["authorship_matrix", "corpus_author_ids", "reviewer_paper_ids", "reviewer_papers_file"],
    "paper_matrix": ["ComputedPaperMatrix", "RegistryPaperMatrix", "normalize_rows"],
    "paper_cache": ["PaperMatrix", "cached_paper_matrix", "rows_for_budget"],
    "paper_matrix_files": ["paper_matrix_file", "registry_matrix_part", "registry_paper_matrix_file"],
    "aggregate": ["aggregate_computed_file", "aggregate_registry_file", "aggregate_scores_file",
                  "aggregate_uncached_file", "gather_rows_file"],
    "problem": ["InfeasibleAssignment"],
    "senior": ["senior_group", "senior_reviewers"],
    "side_rows": ["FloorRows", "GroupRows"],
    "lp": ["AssignmentProgram", "solve_assignment"],
    "pruning": ["solve_program"],
    "attributes": ["constraint_groups", "reviewer_attribute"],
    "fairness": ["solve_fair"],
    "resolve": ["solve_resolve"],
    "randomized": ["sample_assignment"],
    "season": ["SeasonInputs", "season_mode"],
    "pair_files": ["read_pair_file", "read_previous_assignment", "read_reviewer_attributes", "read_reviewer_list"],
    "conference_assignment": ["assign_conference", "solve_conference"],
    "matcher_inputs": ["add_matcher_arguments", "read_matcher_inputs"],
    "openreview_matcher": ["match_files", "write_matcher_outputs"],
    "table": ["read_assignment"],
    "assignment_file": ["solve_assignment_file"],
    "export": ["export_assignments_file"],
    "evaluation": ["evaluate_file"],
})
