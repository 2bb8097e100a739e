from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.calibration import calibrate_reviews_file

p = snakemake.params
calibrate_reviews_file(
    snakemake.input[0],
    snakemake.output.submissions,
    snakemake.output.reviewers,
    snakemake.output.expertise,
    snakemake.output.posterior,
    snakemake.output.diagnostics,
    columns=p.columns,
    n_levels=p.n_levels,
    n_expertise=p.n_expertise,
    score_map=p.score_map,
    expertise_map=p.expertise_map,
    method=p.method,
    sampler=p.sampler,
    draws=p.draws,
    tune=p.tune,
    chains=p.chains,
    seed=p.seed,
    hyper=p.hyper,
    fail_on_bad_convergence=p.fail_on_bad_convergence,
    cores=snakemake.threads,
    advi_iterations=p.advi_iterations,
    max_rhat=p.max_rhat,
    min_ess=p.min_ess,
)
