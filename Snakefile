# revmatch: the whole season of a conference as one workflow.
#   corpus -> expertise model -> conference data -> matrices -> assignment -> exports
#   -> evaluation; reviews -> calibration; affinity jobs.
# Run the demo:  snakemake --cores 2       (config/config.yaml is the demo conference)
# Your conference: snakemake --cores 2 --configfile my-conference.yaml

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/conference.smk"
include: "workflow/rules/matching.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/affinity.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
