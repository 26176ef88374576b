// safetensors reader/writer. The reader trusts nothing in the file: every offset is checked
// against the mapping before a pointer is handed out.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "runtime/errors.h"

namespace mm {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
constexpr uint64_t kMaxHeader = 100ull * 1000 * 1000;

struct DTypeRow {
  DType d;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4},   {DType::F16, "F16", 2},   {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4},   {DType::I16, "I16", 2},   {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1}, {DType::U16, "U16", 2},   {DType::U32, "U32", 4},
    {DType::U64, "U64", 8},
};

const DTypeRow& row(DType d) {
  for (const auto& r : kDTypes)
    if (r.d == d) return r;
  throw InputError("invalid DType value " + std::to_string(int(d)));
}

const char* kCorruptHint = "the file is damaged, truncated or not a safetensors file; re-download or re-export it";

[[noreturn]] void corrupt(const std::string& path, const std::string& what, const char* hint = kCorruptHint) {
  throw CheckpointError("safetensors file '" + path + "': " + what, hint);
}

// numel of a shape with overflow detection; false on a negative dim or overflow.
bool checked_numel(const std::vector<int64_t>& shape, int64_t& out) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return false;
  out = n;
  return true;
}

bool checked_nbytes(const std::vector<int64_t>& shape, DType d, uint64_t& out) {
  int64_t n = 0;
  return checked_numel(shape, n) && !__builtin_mul_overflow(uint64_t(n), uint64_t(dtype_size(d)), &out);
}

bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

}  // namespace

size_t dtype_size(DType d) { return row(d).size; }
const char* dtype_name(DType d) { return row(d).name; }

DType parse_dtype(const std::string& s) {
  for (const auto& r : kDTypes)
    if (s == r.name) return r.d;
  throw CheckpointError("unknown safetensors dtype '" + s + "'",
                        "supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 U32 U64; "
                        "re-export the checkpoint with one of them");
}

int64_t TensorInfo::numel() const {
  int64_t n = 0;
  return checked_numel(shape, n) ? n : -1;
}
uint64_t TensorInfo::nbytes() const { return end - begin; }

// ---- SafetensorsFile

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw CheckpointError("cannot open safetensors file '" + path + "': " + std::strerror(errno),
                          "check that the path exists and is readable");
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const uint64_t size = regular ? uint64_t(st.st_size) : 0;
  void* m = size >= 8 ? ::mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  const int map_errno = errno;
  ::close(fd);
  if (!regular) corrupt(path, "not a regular file", "pass the path of a .safetensors file or a checkpoint directory");
  if (size < 8) corrupt(path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  if (m == MAP_FAILED)
    throw CheckpointError("cannot map safetensors file '" + path + "': " + std::strerror(map_errno),
                          "check free memory and address-space limits (ulimit -v)");
  f->map_ = m;
  f->map_size_ = size_t(size);

  const auto* bytes = static_cast<const uint8_t*>(m);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeader)
    corrupt(path, "header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  if (header_len > size - 8)
    corrupt(path, "header length " + std::to_string(header_len) + " is larger than the file (" +
                      std::to_string(size) + " bytes)");
  f->data_start_ = bytes + 8 + header_len;
  f->data_size_ = size - 8 - header_len;
  f->parse_header(header_len);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

void SafetensorsFile::parse_header(uint64_t header_len) {
  const auto* h = static_cast<const uint8_t*>(map_) + 8;
  const json doc = json::parse(h, h + header_len, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) corrupt(path_, "header is not valid JSON");
  if (!doc.is_object()) corrupt(path_, "header JSON is not an object");

  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) corrupt(path_, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          corrupt(path_, "__metadata__ value for '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + key + "': ";
    if (!v.is_object()) corrupt(path_, where + "entry is not an object");
    auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
    if (dt == v.end() || sh == v.end() || off == v.end())
      corrupt(path_, where + "entry lacks dtype, shape or data_offsets");
    TensorInfo t;
    t.name = key;
    if (!dt->is_string()) corrupt(path_, where + "dtype is not a string");
    try {
      t.dtype = parse_dtype(dt->get<std::string>());
    } catch (const CheckpointError& e) {
      corrupt(path_, where + e.what(), "re-export the checkpoint with a supported dtype (F32, F16, BF16, ...)");
    }
    if (!sh->is_array()) corrupt(path_, where + "shape is not an array");
    for (const json& d : *sh) {
      if (!d.is_number_integer()) corrupt(path_, where + "shape has a non-integer dimension");
      if (!d.is_number_unsigned()) corrupt(path_, where + "shape has a negative dimension");
      if (d.get<uint64_t>() > uint64_t(INT64_MAX)) corrupt(path_, where + "shape element count overflows");
      t.shape.push_back(d.get<int64_t>());
    }
    uint64_t want = 0;
    if (!checked_nbytes(t.shape, t.dtype, want)) corrupt(path_, where + "shape element count overflows");
    if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      corrupt(path_, where + "data_offsets is not a pair of non-negative integers");
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end) corrupt(path_, where + "data_offsets begin is after end");
    if (t.end > data_size_)
      corrupt(path_, where + "data_offsets end " + std::to_string(t.end) + " is past the data section (" +
                         std::to_string(data_size_) + " bytes)");
    if (t.end - t.begin != want)
      corrupt(path_, where + "data_offsets span " + std::to_string(t.end - t.begin) + " bytes but shape and dtype need " +
                         std::to_string(want));
    tensors_.push_back(std::move(t));
  }

  // Non-empty byte ranges must not overlap; gaps are fine.
  std::vector<const TensorInfo*> by_pos;
  for (const auto& t : tensors_)
    if (t.end > t.begin) by_pos.push_back(&t);
  std::sort(by_pos.begin(), by_pos.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_pos.size(); ++i)
    if (by_pos[i]->begin < by_pos[i - 1]->end)
      corrupt(path_, "tensors '" + by_pos[i - 1]->name + "' and '" + by_pos[i]->name +
                         "' have overlapping data_offsets");
  std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return (it != tensors_.end() && it->name == name) ? &*it : nullptr;
}

const uint8_t* SafetensorsFile::data(const TensorInfo& t) const {
  if (t.begin > t.end || t.end > data_size_)
    corrupt(path_, "tensor '" + t.name + "': byte range outside the data section",
            "pass a TensorInfo that belongs to this file");
  return data_start_ + t.begin;
}

// ---- SafetensorsDir

SafetensorsDir SafetensorsDir::open(const std::string& dir_or_file) {
  SafetensorsDir d;
  d.root_ = dir_or_file;
  const std::string& root = dir_or_file;
  const std::string index_path = root + "/model.safetensors.index.json";
  std::error_code ec;
  std::vector<std::string> shards;
  json weight_map;
  if (is_file(root)) {
    shards.push_back(root);
  } else if (!fs::is_directory(root, ec)) {
    throw CheckpointError("checkpoint '" + root + "' does not exist",
                          "pass a .safetensors file or a directory holding model.safetensors or "
                          "model.safetensors.index.json");
  } else if (is_file(index_path)) {
    std::ifstream in(index_path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    const json idx = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    auto bad_index = [&](const std::string& what) {
      throw CheckpointError("index '" + index_path + "': " + what,
                            "the index is damaged; re-download it, or delete it to load the shards directly");
    };
    if (!in || idx.is_discarded() || !idx.is_object()) bad_index("not a readable JSON object");
    auto wm = idx.find("weight_map");
    if (wm == idx.end() || !wm->is_object() || wm->empty()) bad_index("no weight_map object with entries");
    std::set<std::string> files;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string()) bad_index("weight_map entry for '" + it.key() + "' is not a string");
      const std::string f = it.value().get<std::string>();
      if (f.empty() || f[0] == '/' || f.find("..") != std::string::npos)
        bad_index("shard name '" + f + "' is not a plain file name");
      files.insert(f);
    }
    for (const auto& f : files) {
      if (!is_file(root + "/" + f))
        throw CheckpointError("shard '" + root + "/" + f + "' named by '" + index_path + "' is missing",
                              "the download is incomplete; fetch every model-*.safetensors shard");
      shards.push_back(root + "/" + f);
    }
    weight_map = *wm;
  } else if (is_file(root + "/model.safetensors")) {
    shards.push_back(root + "/model.safetensors");
  } else {
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".safetensors" && is_file(it->path().string()))
        shards.push_back(root + "/" + it->path().filename().string());
    std::sort(shards.begin(), shards.end());
    if (shards.empty())
      throw CheckpointError("no safetensors weights in '" + root + "'",
                            "expected model.safetensors, model.safetensors.index.json with its shards, "
                            "or *.safetensors files in that directory");
  }

  for (const auto& p : shards) d.files_.push_back(SafetensorsFile::open(p));
  for (const auto& f : d.files_)
    for (const auto& t : f->tensors()) {
      auto [it, fresh] = d.index_.emplace(t.name, Entry{f.get(), &t});
      if (!fresh)
        throw CheckpointError("tensor '" + t.name + "' is present in both '" + it->second.file->path() + "' and '" +
                                  f->path() + "'",
                              "the checkpoint mixes shards of different exports; re-download it");
    }
  for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
    const std::string shard = root + "/" + it.value().get<std::string>();
    auto e = d.index_.find(it.key());
    if (e == d.index_.end() || e->second.file->path() != shard)
      throw CheckpointError("tensor '" + it.key() + "' is listed in the index but absent from shard '" + shard + "'",
                            "the index and shards disagree; re-download the checkpoint");
  }
  return d;
}

std::vector<std::string> SafetensorsDir::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& kv : index_) out.push_back(kv.first);
  return out;
}

const TensorInfo* SafetensorsDir::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.info;
}

const SafetensorsDir::Entry& SafetensorsDir::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw CheckpointError("tensor '" + name + "' not found in checkpoint '" + root_ + "'",
                          "the checkpoint does not match this model architecture; check the model path");
  return it->second;
}

const uint8_t* SafetensorsDir::data(const std::string& name) const {
  const Entry& e = entry(name);
  return e.file->data(*e.info);
}

std::map<std::string, std::string> SafetensorsDir::metadata() const {
  std::map<std::string, std::string> out;
  for (const auto& f : files_) out.insert(f->metadata().begin(), f->metadata().end());
  return out;
}

const SafetensorsFile& SafetensorsDir::file_of(const std::string& name) const { return *entry(name).file; }

// ---- Writer

namespace {

struct Chunk {
  const void* data;
  uint64_t size;
};

[[noreturn]] void io_fail(const std::string& what, int err) {
  const char* hint = err == ENOSPC || err == EDQUOT ? "the disk is full; free some space or choose another output directory"
                     : err == EFBIG ? "the file exceeds a file-size limit (ulimit -f or the file system); write smaller shards"
                                    : "check that the output directory exists and is writable";
  throw IoError(what + ": " + std::strerror(err), hint);
}

// Writes chunks to path + ".tmp-<pid>", fsyncs, renames over path, fsyncs the directory.
void atomic_write(const std::string& path, const std::vector<Chunk>& chunks) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_fail("cannot create '" + tmp + "'", errno);
  auto fail = [&](const std::string& what) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    io_fail(what, err);
  };
  for (const Chunk& c : chunks) {
    const auto* p = static_cast<const char*>(c.data);
    for (uint64_t left = c.size; left > 0;) {
      const ssize_t n = ::write(fd, p, size_t(std::min<uint64_t>(left, 1u << 30)));
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) errno = ENOSPC;
      if (n <= 0) fail("cannot write '" + tmp + "'");
      p += n;
      left -= uint64_t(n);
    }
  }
  if (::fsync(fd) != 0) fail("cannot flush '" + tmp + "'");
  const int rc = ::close(fd);
  fd = -1;
  if (rc != 0) fail("cannot close '" + tmp + "'");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename '" + tmp + "' to '" + path + "'");
  const std::string parent = fs::path(path).parent_path().string();
  const int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on directories
    ::close(dfd);
  }
}

// JSON strings must be valid UTF-8.
void check_utf8(const std::string& s, const std::string& what) {
  try {
    (void)json(s).dump();
  } catch (const json::exception&) {
    throw InputError(what + " is not valid UTF-8", "use UTF-8 tensor names and metadata");
  }
}

// Checks names, shapes, byte counts and metadata; returns indices sorted by name.
std::vector<size_t> validate(const std::vector<TensorBlob>& tensors, const std::map<std::string, std::string>& meta) {
  for (const auto& [k, v] : meta) {
    check_utf8(k, "metadata key");
    check_utf8(v, "metadata value for '" + k + "'");
  }
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].name < tensors[b].name; });
  for (size_t k = 0; k < order.size(); ++k) {
    const TensorBlob& t = tensors[order[k]];
    if (t.name.empty() || t.name == "__metadata__")
      throw InputError("invalid tensor name '" + t.name + "'", "give every tensor a unique, non-reserved name");
    if (k > 0 && tensors[order[k - 1]].name == t.name)
      throw InputError("duplicate tensor name '" + t.name + "'", "give every tensor a unique name");
    uint64_t want = 0;
    if (!checked_nbytes(t.shape, t.dtype, want))
      throw InputError("tensor '" + t.name + "' has a negative or overflowing shape", "check the tensor shape");
    if (want != t.nbytes)
      throw InputError("tensor '" + t.name + "' has " + std::to_string(t.nbytes) + " bytes but its shape and dtype need " +
                           std::to_string(want),
                       "pass the tensor's full contiguous byte count");
    if (t.nbytes > 0 && !t.data) throw InputError("tensor '" + t.name + "' has no data", "pass a data pointer");
    check_utf8(t.name, "a tensor name");
  }
  return order;
}

// Builds the padded header for the given tensors (already validated, in order).
std::string make_header(const std::vector<TensorBlob>& tensors, const std::vector<size_t>& order,
                        const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (size_t i : order) {
    const TensorBlob& t = tensors[i];
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + t.nbytes}}};
    off += t.nbytes;
  }
  std::string s = h.dump();
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

void write_ordered(const std::string& path, const std::vector<TensorBlob>& tensors, const std::vector<size_t>& order,
                   const std::map<std::string, std::string>& metadata) {
  const std::string header = make_header(tensors, order, metadata);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  std::vector<Chunk> chunks{{len, 8}, {header.data(), header.size()}};
  for (size_t i : order)
    if (tensors[i].nbytes) chunks.push_back({tensors[i].data, tensors[i].nbytes});
  atomic_write(path, chunks);
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<TensorBlob>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_ordered(path, tensors, validate(tensors, metadata), metadata);
}

void write_safetensors_sharded(const std::string& dir, const std::vector<TensorBlob>& tensors,
                               const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes) {
  const std::vector<size_t> order = validate(tensors, metadata);
  // Greedy split in name order; max_shard_bytes == 0 means no limit. A tensor larger than the
  // limit gets a shard of its own.
  std::vector<std::vector<size_t>> shards(1);
  uint64_t cur = 0, total = 0;
  for (size_t i : order) {
    const uint64_t n = tensors[i].nbytes;
    if (max_shard_bytes && !shards.back().empty() && cur + n > max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(i);
    cur += n;
    total += n;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("cannot create directory '" + dir + "': " + ec.message(), "check the output path and permissions");

  const std::string index_path = dir + "/model.safetensors.index.json";
  if (shards.size() == 1) {
    write_ordered(dir + "/model.safetensors", tensors, shards[0], metadata);
    ::unlink(index_path.c_str());  // a stale index would shadow the new file
    return;
  }
  json weight_map = json::object();
  const size_t n = shards.size();
  for (size_t s = 0; s < n; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, n);
    write_ordered(dir + "/" + name, tensors, shards[s], metadata);
    for (size_t i : shards[s]) weight_map[tensors[i].name] = name;
  }
  const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const std::string text = index.dump(2) + "\n";
  atomic_write(index_path, {{text.data(), text.size()}});
}

}  // namespace mm
