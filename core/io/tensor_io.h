// LibTorch bridge for safetensors: dtype mapping, reading into fresh CPU tensors, writing tensors.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace mm {

/// Throws CheckpointError for U16/U32/U64, which LibTorch cannot represent.
c10::ScalarType to_scalar_type(DType d);
/// Throws InputError for dtypes safetensors cannot store (complex, quantized, ...).
DType from_scalar_type(c10::ScalarType t);

/// A fresh, contiguous CPU tensor holding a copy of the stored bytes, in the stored dtype.
/// Throws CheckpointError naming the tensor when it is absent.
at::Tensor read_tensor(const SafetensorsDir& dir, const std::string& name);
at::Tensor read_tensor(const SafetensorsFile& file, const TensorInfo& info);

/// Writes tensors (any device/layout; copied to contiguous CPU, dtype kept) to one file.
void write_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                   const std::map<std::string, std::string>& metadata = {});
/// Same, split into shards under dir (see write_safetensors_sharded).
void write_tensors_sharded(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                           const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes);

}  // namespace mm
