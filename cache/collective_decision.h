#pragma once
// The one rule by which every cache turns a rank's own decision into the decision of its context-parallel
// group. Reducing the metric is not enough: ranks may round the same double differently, see a different
// timestep or a shard whose shape changed, and ranks that branch differently then wait in different
// collectives (or silently compute different things).
namespace tessera {

class Communicator;

// True on every rank when `reuse_here` (skip, broadcast, extrapolate, forecast) is true on every rank of
// `group`; a single rank that must compute makes all of them compute, since computing is always correct.
// One small all-reduce (none without a group or for a group of one). Every rank of the group must call it
// at the same point, so each cache calls it once per decision, whatever the local decision is.
bool reuse_on_every_rank(Communicator* group, bool reuse_here);

}  // namespace tessera
