#include "parallel/gather_text.h"

#include <ATen/ATen.h>

#include "parallel/communicator.h"

namespace tessera {

std::vector<std::string> all_gather_text(Communicator& communicator, const std::string& text) {
  const at::Tensor local =
      at::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())}, at::kByte).clone();
  const std::vector<int64_t> sizes = communicator.all_gather_sizes(local.size(0));
  const at::Tensor bytes = communicator.all_gather(local, 0, sizes);
  std::vector<std::string> texts;
  const char* cursor = static_cast<const char*>(bytes.data_ptr());
  for (const int64_t size : sizes) {
    texts.emplace_back(cursor, size);
    cursor += size;
  }
  return texts;
}

}  // namespace tessera
