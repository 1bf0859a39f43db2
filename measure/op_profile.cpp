#include "measure/op_profile.h"

#include <ATen/record_function.h>

#include <chrono>
#include <memory>
#include <mutex>

namespace tessera {
namespace {

using Clock = std::chrono::steady_clock;

std::mutex times_mutex;
std::map<std::string, OpTime> op_times;
thread_local int depth = 0;

// Carries the start of a top-level op from its start callback to its end callback.
struct OpStart : at::ObserverContext {
  Clock::time_point start;
  bool top_level = false;
};

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& /*function*/) {
  auto context = std::make_unique<OpStart>();
  context->top_level = depth++ == 0;
  if (context->top_level) context->start = Clock::now();
  return context;
}

void on_end(const at::RecordFunction& function, at::ObserverContext* context) {
  --depth;
  auto* op = static_cast<OpStart*>(context);
  if (op == nullptr || !op->top_level) return;
  const double seconds = std::chrono::duration<double>(Clock::now() - op->start).count();
  const std::lock_guard<std::mutex> lock(times_mutex);
  OpTime& entry = op_times[function.name()];
  ++entry.calls;
  entry.seconds += seconds;
}

}  // namespace

OpProfile::OpProfile() {
  {
    const std::lock_guard<std::mutex> lock(times_mutex);
    op_times.clear();
  }
  handle_ = at::addGlobalCallback(
      at::RecordFunctionCallback(on_start, on_end).scopes({at::RecordScope::FUNCTION}));
}

OpProfile::~OpProfile() { at::removeCallback(handle_); }

std::map<std::string, OpTime> OpProfile::times() const {
  const std::lock_guard<std::mutex> lock(times_mutex);
  return op_times;
}

}  // namespace tessera
