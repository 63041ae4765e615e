#!/usr/bin/env bash
# imflow over a Slurm job array: each array task runs its part of the inputs
# (`--shard auto` reads SLURM_ARRAY_TASK_ID, _MIN and _MAX/_COUNT) and all of them write
# one store on object storage, so no task recomputes another's outputs and a re-run
# task is all cache hits. Submit, then gather once every task has finished:
#
#     job=$(sbatch --parsable docs/slurm-array.sh)
#     sbatch --dependency=afterok:$job --wrap "bash docs/slurm-array.sh gather"
#
# A task that fails or is killed (preemption, time limit) is simply run again
# (`sbatch --array=<id> docs/slurm-array.sh`): what it finished is kept, nothing it left
# half-written is visible. Credentials come from the environment Slurm passes on
# (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION; AWS_ENDPOINT_URL for MinIO or
# Ceph). On a shared file system, plain folders work the same (--out /lab/results).
#
#SBATCH --job-name=imflow-nuclei
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=01:00:00
set -euo pipefail

INPUT="${IMFLOW_INPUT:-s3://lab/raw/}"
OUT="${IMFLOW_OUT:-s3://lab/results/nuclei}"

if [[ "${1:-run}" == gather ]]; then
    # Lists every output of every task; fails, naming them, if any is missing.
    imflow gather -i "$INPUT" --op gaussian:sigma=2 --op threshold:method=otsu --out "$OUT"
else
    imflow run -i "$INPUT" --op gaussian:sigma=2 --op threshold:method=otsu --out "$OUT" \
        --shard auto --jobs "${SLURM_CPUS_PER_TASK:-4}"
fi
