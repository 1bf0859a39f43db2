#pragma once
// Filling a module's parameters and buffers from a checkpoint, matched by dotted name ("blocks.0.attn1.to_q.
// weight"), the names diffusers gives them, so a diffusers checkpoint loads unchanged.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include "src/io/weight_source.h"

namespace tessera::io {

// Replaces the data of every parameter and buffer of `module` (recursively) with the tensor of the same
// name in `source`, placed on `device`. Floating-point tensors become `dtype`; others keep the module's
// dtype. Everything is checked before anything is loaded, so a failure leaves the module untouched: one
// error lists the tensors the module needs but `source` lacks and those `source` holds but the module does
// not have; another lists shape mismatches, naming each tensor, its file and both shapes.
void load_weights(torch::nn::Module& module, const WeightSource& source, c10::ScalarType dtype,
                  c10::Device device);

}  // namespace tessera::io
