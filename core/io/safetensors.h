// Torch-free safetensors reading (mmap, strict header validation) and atomic writing.
// Format: u64 little-endian header length, a JSON header, then the raw tensor bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mm {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, U16, U32, U64 };

/// Bytes per element.
size_t dtype_size(DType d);
/// The safetensors spelling: "F32", "BF16", "BOOL", ...
const char* dtype_name(DType d);
/// Inverse of dtype_name; throws CheckpointError on an unknown name.
DType parse_dtype(const std::string& s);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets relative to the data section
  int64_t numel() const;
  uint64_t nbytes() const;
};

/// One safetensors file, mapped read-only for its lifetime.
class SafetensorsFile {
 public:
  /// Maps and validates the file; throws CheckpointError when it cannot be opened or is malformed.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  /// All tensors, sorted by name.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  /// nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  /// Start of the tensor's bytes inside the mapping (may be misaligned).
  const uint8_t* data(const TensorInfo& t) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  void parse_header(uint64_t header_len);

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_start_ = nullptr;  // first byte of the data section
  uint64_t data_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// A checkpoint: one file, a sharded directory with an index, or a directory of shards.
class SafetensorsDir {
 public:
  /// Accepts a .safetensors file, or a directory holding model.safetensors.index.json,
  /// model.safetensors, or otherwise some *.safetensors files.
  static SafetensorsDir open(const std::string& dir_or_file);

  /// All tensor names, sorted.
  std::vector<std::string> names() const;
  /// nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  /// Bytes of a tensor; throws CheckpointError when absent.
  const uint8_t* data(const std::string& name) const;
  /// Metadata merged from all shards (first shard wins on conflicts).
  std::map<std::string, std::string> metadata() const;
  /// The shard holding a tensor; throws CheckpointError when absent.
  const SafetensorsFile& file_of(const std::string& name) const;

 private:
  struct Entry {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };
  const Entry& entry(const std::string& name) const;

  std::string root_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry> index_;
};

/// A tensor to write: raw bytes in row-major order.
struct TensorBlob {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t nbytes = 0;
};

/// Writes one file atomically (temp file, fsync, rename). Validation errors are InputError and
/// happen before the disk is touched; write errors are IoError and leave any old file intact.
void write_safetensors(const std::string& path, const std::vector<TensorBlob>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// Writes dir/model.safetensors, or, when the tensors exceed max_shard_bytes, numbered shards
/// plus model.safetensors.index.json (written last). Creates dir if missing.
void write_safetensors_sharded(const std::string& dir, const std::vector<TensorBlob>& tensors,
                               const std::map<std::string, std::string>& metadata,
                               uint64_t max_shard_bytes);

}  // namespace mm
