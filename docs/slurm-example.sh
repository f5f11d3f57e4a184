#!/bin/sh
# slurm-example.sh: calibration, spectra and perplexity of a model as one Slurm job of
# rankscope-mpi (docs/mpi.md).  Submit with:  sbatch docs/slurm-example.sh
# Adapt the partition, node count and paths; everything below the #SBATCH lines is plain sh.
#SBATCH --job-name=rankscope
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=8          # one rank per core: one BLAS thread each
#SBATCH --cpus-per-task=1
#SBATCH --mem=0                      # all of each node's memory: ranks share the mapped weights
#SBATCH --time=04:00:00
#SBATCH --output=rankscope-%j.out
set -eu

# Shared storage every node sees: the model (mapped by every rank) and the cache (the hand-over).
MODEL=/shared/models/Llama-2-70b-hf
CALIB=/shared/texts/calib.txt
EVAL=/shared/texts/wikitext-2-test.txt
export XDG_CACHE_HOME=/shared/$USER/rankscope-cache

# One level of parallelism: the ranks; each rank's BLAS runs one thread.
export OPENBLAS_NUM_THREADS=1

# Open MPI built with Slurm support starts the ranks with srun (or: mpirun rankscope-mpi ...).
srun rankscope-mpi -c "
	calibrate $CALIB --ctx 2048 --max-tokens 262144;
	spectra;
	spectra --kind feature;
	ppl $EVAL --ctx 2048
" "$MODEL"
