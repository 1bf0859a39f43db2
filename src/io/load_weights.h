#pragma once
// Filling a module's parameters and buffers from a checkpoint, matched by dotted name ("blocks.0.attn1.to_q.
// weight"), the names diffusers gives them, so a diffusers checkpoint loads unchanged.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <string>

#include "parallel/sharded_weights.h"
#include "src/io/weight_source.h"

namespace tessera::io {

// The dtype a floating-point tensor is loaded as, by its dotted name.
using DtypeOf = std::function<c10::ScalarType(const std::string& name)>;

// Replaces the data of every parameter and buffer of `module` (recursively) with the tensor of the same
// name in `source`, read straight into its final dtype on `device` (one copy: a parameter made on the meta
// device, parameters.h, had no memory before). Floating-point tensors become dtype_of(name); others keep the
// module's dtype. Everything is checked before anything is loaded, so a failure leaves the module untouched:
// one error lists the tensors the module needs but `source` lacks and those `source` holds but the module
// does not have; another lists shape mismatches and stored dtypes that cannot be the parameter's (an integer
// tensor for a floating-point parameter is never converted silently), naming each tensor and its file.
void load_weights(torch::nn::Module& module, const WeightSource& source, const DtypeOf& dtype_of,
                  c10::Device device);
// The same, checked the same, except that a parameter named in `shares` is read only in part, into its piece (this
// rank's share of sharded weights, parallel/sharded_weights.h), and the module's tensor is left as it is.
void load_weights(torch::nn::Module& module, const WeightSource& source, const DtypeOf& dtype_of,
                  c10::Device device, const std::map<std::string, LocalPiece>& shares);
// Every floating-point tensor as `dtype`.
void load_weights(torch::nn::Module& module, const WeightSource& source, c10::ScalarType dtype,
                  c10::Device device);

}  // namespace tessera::io
