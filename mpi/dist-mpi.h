/* dist-mpi.h: the distribution layer (dist.h) over MPI_COMM_WORLD, and the job's fault
 * report.  Compiled into rankscope-mpi only; the core library never sees MPI.
 *
 * Fault report: each rank keeps a status record (state, pid, step) in a small file of the
 * job, "mpi-<job>-rank<r>.status" under a directory all ranks share (the cache directory).
 * When a rank dies (killed, out of memory), Open MPI sends SIGTERM to the others; their handler
 * marks them stopped, waits a moment for the other survivors to do the same, and the lowest
 * surviving rank prints ONE line naming each rank that was neither stopped nor finished, with
 * the step it had recorded.  A rank that fails by itself (dist->abort) prints its own line and
 * is not reported again. */
#ifndef RS_DIST_MPI_H
#define RS_DIST_MPI_H

#include "dist.h"

/* MPI_Init (with *argc, *argv), then fill d; status_dir: where the status files go (NULL: no
 * fault report).  Non-zero with a message on stderr when MPI cannot start. */
int rs_dist_mpi_init(struct rs_dist *d, int *argc, char ***argv, const char *status_dir);

/* Record a normal end, remove the status file, MPI_Finalize. */
void rs_dist_mpi_finish(struct rs_dist *d);

#endif
