"""OpenReview's Expertise API served by revmatch: ``openreview-py``'s client computes
affinity scores against a local service that runs the project's affinity jobs on a finished
conference run (``create_app``, ``serve``; jobs on disk in ``JobStore``, run by
``JobRunner``)."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "app": ["DEFAULT_PORT", "create_app", "serve"],
    "store": ["STATES", "JobStore"],
    "worker": ["ConferenceFiles", "JobRunner", "run_job"],
    "expertise_request": ["BadRequest", "check_envelope", "translate"],
})
