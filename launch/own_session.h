#pragma once
// Each rank in a session of its own, as torchrun starts its workers (start_new_session). On kernels with autogroup
// scheduling (/proc/sys/kernel/sched_autogroup_enabled) a session is a scheduling group, and CPU time is shared
// between groups first: ranks left in mpirun's session share one group's share with everything else started from
// that terminal, so beside two busy processes a 1-rank forward took 1.91 s instead of 1.36 s
// (docs/performance.md). mpirun makes each rank a process-group leader, which setsid() refuses; so the rank forks
// once: the child takes a new session and runs tessera (MPI included), the parent forwards the signals it gets to
// it and exits as it did. The child dies with the parent (PR_SET_PDEATHSIG), so a rank killed outright leaves
// nothing behind. TESSERA_OWN_SESSION=0 keeps every rank in mpirun's session.
namespace tessera {

// Call first in main, before any thread or MPI exists. Returns in the process that goes on to run tessera: the
// same one where nothing is to be done (not under mpirun, autogroup off, already a session leader, or
// TESSERA_OWN_SESSION=0), else the child; the parent never returns.
void continue_in_own_session();

// Whether this process leads its own session (what `tessera info` reports for each rank).
bool runs_in_own_session();

}  // namespace tessera
