#pragma once
// The embedded default model and the tiny test model use the library as any user's model would: they live outside
// it (target tessera_embedded) and register their classes with it.
#include <string>

namespace tessera {

// Registers the TesseraShapesPipeline family (pipeline_registry.h) and the TinyDiTModel class (model_registry.h).
// Idempotent; the CLI calls it before anything loads a model.
void register_embedded_model();

// The pipeline folder of the embedded default model: $TESSERA_MODEL_DIR's tessera-shapes, else the copy installed
// beside the executable (../share/tessera/models/tessera-shapes), else the source tree's models/tessera-shapes.
// Throws naming every place it looked.
std::string embedded_model_dir();

}  // namespace tessera
