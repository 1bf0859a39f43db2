#include "src/io/tensor_names.h"

#include <algorithm>

#include "common/check.h"
#include "src/io/safetensors.h"

namespace tessera::io {

void check_tensor_names(const SafetensorsFile& file, const std::vector<std::string>& accepted,
                        const std::string& reader, const std::string& reads) {
  for (const auto& name : file.names()) {
    TESSERA_CHECK(std::find(accepted.begin(), accepted.end(), name) != accepted.end(), file.path(),
                  " holds a tensor '", name, "' that ", reader, " does not read; it reads ", reads);
  }
}

}  // namespace tessera::io
