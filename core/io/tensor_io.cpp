// safetensors <-> at::Tensor. Reads copy bytes out of the mapping (offsets may be misaligned),
// so returned tensors never alias the file.
#include "io/tensor_io.h"

#include <cstring>

#include "runtime/errors.h"

namespace mm {

c10::ScalarType to_scalar_type(DType d) {
  switch (d) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::BOOL: return at::kBool;
    case DType::U16:
    case DType::U32:
    case DType::U64: break;
  }
  throw CheckpointError(std::string("safetensors dtype ") + dtype_name(d) + " has no LibTorch equivalent",
                        "convert the checkpoint's unsigned tensors to a signed or floating dtype and re-export it");
}

DType from_scalar_type(c10::ScalarType t) {
  switch (t) {
    case at::kDouble: return DType::F64;
    case at::kFloat: return DType::F32;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kLong: return DType::I64;
    case at::kInt: return DType::I32;
    case at::kShort: return DType::I16;
    case at::kChar: return DType::I8;
    case at::kByte: return DType::U8;
    case at::kBool: return DType::BOOL;
    default: break;
  }
  throw InputError(std::string("tensor dtype ") + c10::toString(t) + " cannot be stored in safetensors",
                   "convert the tensor to a real floating, integer or bool dtype first");
}

at::Tensor read_tensor(const SafetensorsFile& file, const TensorInfo& info) {
  at::Tensor out;
  try {
    out = at::empty(info.shape, at::TensorOptions().dtype(to_scalar_type(info.dtype)).device(at::kCPU));
  } catch (const CheckpointError& e) {
    throw CheckpointError("tensor '" + info.name + "' in '" + file.path() + "': " + e.what(), e.hint());
  }
  const uint8_t* src = file.data(info);
  const uint64_t n = info.nbytes();
  if (n != uint64_t(out.nbytes()))
    throw CheckpointError("tensor '" + info.name + "' in '" + file.path() + "': byte count does not match its shape",
                          "the file is damaged; re-download or re-export it");
  if (n == 0) return out;
  auto* dst = static_cast<uint8_t*>(out.data_ptr());
  std::memcpy(dst, src, n);
  if (info.dtype == DType::BOOL)  // LibTorch bools must be exactly 0 or 1
    for (uint64_t i = 0; i < n; ++i) dst[i] = dst[i] ? 1 : 0;
  return out;
}

at::Tensor read_tensor(const SafetensorsDir& dir, const std::string& name) {
  const TensorInfo* info = dir.find(name);
  if (!info)
    throw CheckpointError("tensor '" + name + "' not found in the checkpoint",
                          "the checkpoint does not match this model; check the model path and architecture");
  return read_tensor(dir.file_of(name), *info);
}

namespace {

// Keeps contiguous CPU copies alive while the blobs point into them.
struct Prepared {
  std::vector<at::Tensor> hold;
  std::vector<TensorBlob> blobs;
};

Prepared prepare(const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  Prepared p;
  p.hold.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw InputError("tensor '" + name + "' is undefined", "pass a defined tensor");
    const DType d = from_scalar_type(t.scalar_type());
    at::Tensor c = (t.layout() == at::kStrided ? t : t.to_dense()).to(at::kCPU).contiguous();
    p.hold.push_back(c);
    p.blobs.push_back({name, d, c.sizes().vec(), c.data_ptr(), uint64_t(c.nbytes())});
  }
  return p;
}

}  // namespace

void write_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                   const std::map<std::string, std::string>& metadata) {
  const Prepared p = prepare(tensors);
  write_safetensors(path, p.blobs, metadata);
}

void write_tensors_sharded(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                           const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes) {
  const Prepared p = prepare(tensors);
  write_safetensors_sharded(dir, p.blobs, metadata, max_shard_bytes);
}

}  // namespace mm
