#pragma once
// Once per forward instead of once per attention call. PAB and FasterCache decide at every attention call; a
// collective per call costs an all-reduce (and, on a GPU, a host sync) per attention. A rank's local decision
// depends on the timestep, on counters and cached outputs (the same on every rank while every past decision
// was), and on whether its cached outputs fit its shard, whose shapes follow from the model's inputs. So when
// the ranks see one timestep and no rank's model inputs changed shape since this context's previous forward,
// every call's local decision is every rank's decision; the ranks check that once, at the model's entry, and
// otherwise (the first forward, a new shape on some rank, another timestep) decide every call together.
#include <cstdint>
#include <vector>

namespace tessera {

class Args;
class Communicator;
struct AttentionReuseState;

// The shapes of every tensor argument, in order: what "the model's inputs changed shape" compares.
std::vector<int64_t> input_signature(const Args& args);

struct ForwardAgreement {
  bool calls_agree = false;  // every call's local decision may be taken as the group's, this forward
  bool reuse = false;        // `reuse_here` held on every rank (as reuse_on_every_rank)
};

// One small all-reduce over `group` (none without a group or for a group of one, where calls always agree).
// Every rank of the group must call it at the same point, once per forward.
ForwardAgreement agree_for_forward(Communicator* group, double timestep, bool inputs_changed_here, bool reuse_here);

// What PAB and FasterCache do at the model's entry: compare this forward's input signature with the one `state`
// kept at this context's previous forward (and keep the new one), agree over `group`, and set
// state.calls_agree.
ForwardAgreement agree_at_model_entry(AttentionReuseState& state, const Args& args, Communicator* group,
                                      double timestep, bool reuse_here);

}  // namespace tessera
