// safetensors: round trips through LibTorch (every dtype, sharded), strict rejection of malformed
// files with helpful messages, and atomic writes that never damage an existing file.
// ATen first: Qt's `slots` macro would break its headers.
#include "io/remove_tree.h"
#include "io/safetensors.h"
#include "io/tensor_io.h"
#include "runtime/errors.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "test_support.h"

using namespace mm;
using mm::test::temp_path;

namespace {

// Runs f and returns the full message of the expected error type, or a marker when it did not throw it.
template <class E = CheckpointError, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.full_message();
  } catch (const std::exception& e) {
    return std::string("WRONG ERROR TYPE: ") + e.what();
  }
  return "NO ERROR";
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A hand-built file: 8-byte little-endian header length (or a forced one), header, data.
std::string raw_file(const std::string& header, const std::string& data, uint64_t forced_len = 0) {
  const uint64_t len = forced_len ? forced_len : header.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(uint8_t(len >> (8 * i)));
  return out + header + data;
}

bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.scalar_type() == cb.scalar_type() && ca.sizes() == cb.sizes() && ca.nbytes() == cb.nbytes() &&
         (ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0);
}

// Random bit patterns (NaNs, denormals, ...) for any dtype; bools stay 0/1.
at::Tensor random_bits(c10::ScalarType t, at::IntArrayRef shape) {
  if (t == at::kBool) return at::randint(0, 2, shape, at::kByte).to(at::kBool);
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(t));
  const at::Tensor bytes = at::randint(0, 256, {int64_t(out.nbytes())}, at::kByte);
  if (out.nbytes()) std::memcpy(out.data_ptr(), bytes.data_ptr(), out.nbytes());
  return out;
}

}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT
 private slots:
  void roundTripEveryDtype() {
    QTemporaryDir tmp;
    const std::string path = temp_path(tmp, "all.safetensors");
    const c10::ScalarType types[] = {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong,
                                     at::kInt,    at::kShort, at::kChar, at::kByte,     at::kBool};
    std::vector<std::pair<std::string, at::Tensor>> in;
    for (auto t : types) {
      const std::string n = c10::toString(t);
      in.push_back({n + ".mat", random_bits(t, {3, 5})});
      in.push_back({n + ".scalar", random_bits(t, {})});
      in.push_back({n + ".empty", random_bits(t, {0, 4})});
    }
    in.push_back({"transposed", random_bits(at::kFloat, {4, 6}).t()});  // non-contiguous input
    const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "héllo \"quoted\""}};
    write_tensors(path, in, meta);

    auto file = SafetensorsFile::open(path);
    QCOMPARE(file->metadata(), meta);
    QCOMPARE(file->tensors().size(), in.size());
    for (size_t i = 1; i < file->tensors().size(); ++i) QVERIFY(file->tensors()[i - 1].name < file->tensors()[i].name);
    const std::string bytes = slurp(path);
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    QCOMPARE(header_len % 8, uint64_t(0));  // data section starts 8-aligned

    const SafetensorsDir dir = SafetensorsDir::open(path);
    QCOMPARE(dir.names().size(), in.size());
    for (const auto& [name, t] : in) {
      const at::Tensor back = read_tensor(dir, name);
      QVERIFY2(same_bytes(back, t), name.c_str());
      QCOMPARE(from_scalar_type(back.scalar_type()), dir.find(name)->dtype);
    }
    QCOMPARE(read_tensor(dir, "Float.scalar").dim(), int64_t(0));
    QCOMPARE(read_tensor(dir, "Float.empty").numel(), int64_t(0));
    QVERIFY(has(error_of([&] { read_tensor(dir, "nope"); }), "'nope'"));
  }

  void unsignedDtypesReadRawButNotAsTensors() {
    QTemporaryDir tmp;
    const std::string path = temp_path(tmp, "u16.safetensors");
    const uint16_t v[3] = {1, 65535, 7};
    write_safetensors(path, {{"u", DType::U16, {3}, v, sizeof v}});
    auto f = SafetensorsFile::open(path);
    QCOMPARE(std::memcmp(f->data(*f->find("u")), v, sizeof v), 0);
    const std::string msg = error_of([&] { read_tensor(*f, *f->find("u")); });
    QVERIFY2(has(msg, "U16") && has(msg, "'u'") && has(msg, "HINT"), msg.c_str());
    QCOMPARE(parse_dtype("BF16"), DType::BF16);
    QCOMPARE(std::string(dtype_name(DType::BOOL)), std::string("BOOL"));
    QCOMPARE(dtype_size(DType::U64), size_t(8));
  }

  // The checkpoint retention and make-data's staging clean-up rely on it (fs::remove_all crashes in the
  // CUDA build). Nested trees go, links are removed and never followed, a missing path is no error.
  void removeTreeRemovesNestedTreesButNotLinkTargets() {
    namespace fs = std::filesystem;
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString()), tree = root / "ckpt-000500", keep = root / "outside";
    fs::create_directories(tree / "train_state" / "deep");
    fs::create_directories(keep);
    std::ofstream(tree / "model.safetensors") << "weights";
    std::ofstream(tree / "train_state" / "deep" / "state.json") << "{}";
    std::ofstream(keep / "precious") << "keep me";
    fs::create_directory_symlink(keep, tree / "link-to-outside");
    std::error_code ec;
    QCOMPARE(io::remove_tree(tree.string(), ec), std::size_t(6));  // 3 directories, 2 files, 1 link
    QVERIFY2(!ec, ec.message().c_str());
    QVERIFY(!fs::exists(tree));
    QVERIFY(fs::exists(keep / "precious"));
    QCOMPARE(io::remove_tree((root / "never-there").string(), ec), std::size_t(0));
    QVERIFY(!ec);
    std::ofstream(root / "plain-file") << "x";
    QCOMPARE(io::remove_tree((root / "plain-file").string(), ec), std::size_t(1));
    QVERIFY(!fs::exists(root / "plain-file"));
  }

  void shardedRoundTrip() {
    QTemporaryDir tmp;
    const std::string out = temp_path(tmp, "ckpt");  // does not exist yet
    std::vector<std::pair<std::string, at::Tensor>> in;
    for (int i = 0; i < 10; ++i) in.push_back({"layer." + std::to_string(i) + ".w", random_bits(at::kFloat, {64})});
    write_tensors_sharded(out, in, {{"format", "pt"}}, 600);  // 256 B each -> 2 per shard -> 5 shards

    QVERIFY(QFile::exists(QString::fromStdString(out + "/model.safetensors.index.json")));
    QVERIFY(QFile::exists(QString::fromStdString(out + "/model-00005-of-00005.safetensors")));
    QVERIFY(!QFile::exists(QString::fromStdString(out + "/model.safetensors")));
    QVERIFY(QDir(QString::fromStdString(out)).entryList({"*.tmp-*"}, QDir::Files).isEmpty());
    const std::string index = slurp(out + "/model.safetensors.index.json");
    QVERIFY2(has(index, "\"total_size\": 2560") && has(index, "weight_map"), index.c_str());

    const SafetensorsDir dir = SafetensorsDir::open(out);
    QCOMPARE(dir.names().size(), in.size());
    QCOMPARE(dir.metadata().at("format"), std::string("pt"));
    std::set<std::string> shards;
    for (const auto& [name, t] : in) {
      QVERIFY2(same_bytes(read_tensor(dir, name), t), name.c_str());
      shards.insert(dir.file_of(name).path());
    }
    QVERIFY(shards.size() >= 3);

    // Rewriting as one shard replaces the index so it cannot shadow the new file.
    write_tensors_sharded(out, in, {}, 0);
    QVERIFY(QFile::exists(QString::fromStdString(out + "/model.safetensors")));
    QVERIFY(!QFile::exists(QString::fromStdString(out + "/model.safetensors.index.json")));
    QCOMPARE(SafetensorsDir::open(out).file_of("layer.3.w").path(), out + "/model.safetensors");
  }

  void emptyDataSection() {
    QTemporaryDir tmp;
    const std::string a = temp_path(tmp, "a.safetensors"), b = temp_path(tmp, "b.safetensors");
    write_safetensors(a, {}, {{"k", "v"}});
    QVERIFY(SafetensorsFile::open(a)->tensors().empty());
    write_safetensors(b, {{"e", DType::F32, {0}, nullptr, 0}});
    auto f = SafetensorsFile::open(b);
    QCOMPARE(f->tensors().size(), size_t(1));
    QCOMPARE(read_tensor(*f, f->tensors()[0]).numel(), int64_t(0));
  }

  void malformedFilesAreRejected() {
    QTemporaryDir tmp;
    const std::string p = temp_path(tmp, "bad.safetensors");
    auto check = [&](const std::string& bytes, std::initializer_list<const char*> parts) {
      spit(p, bytes);
      const std::string msg = error_of([&] { SafetensorsFile::open(p); });
      bool ok = has(msg, "bad.safetensors") && has(msg, "HINT");
      for (const char* part : parts) ok = ok && has(msg, part);
      QVERIFY2(ok, msg.c_str());
    };
    const std::string f4(16, '\x01');  // room for four F32
    auto one = [](const std::string& entry) { return "{\"w\":" + entry + "}"; };

    check(std::string("\x05\0\0", 3), {"shorter than"});
    check(raw_file("{}", "", 1ull << 40), {"100 MB"});
    check(raw_file("{}", "", 1000), {"larger than the file"});
    check(raw_file("{not json", ""), {"JSON"});
    check(raw_file("[1,2]", ""), {"not an object"});
    check(raw_file(one("[1]"), f4), {"'w'", "not an object"});
    check(raw_file(one(R"({"dtype":"F32","shape":[4]})"), f4), {"'w'", "data_offsets"});
    check(raw_file(one(R"({"dtype":"Q7","shape":[4],"data_offsets":[0,16]})"), f4), {"'w'", "Q7"});
    check(raw_file(one(R"({"dtype":"F32","shape":[-4],"data_offsets":[0,16]})"), f4), {"'w'", "negative"});
    check(raw_file(one(R"({"dtype":"F32","shape":[4.5],"data_offsets":[0,16]})"), f4), {"'w'", "non-integer"});
    check(raw_file(one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]})"), f4),
          {"'w'", "overflow"});
    check(raw_file(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,-16]})"), f4), {"'w'", "data_offsets"});
    check(raw_file(one(R"({"dtype":"F32","shape":[4],"data_offsets":[16,0]})"), f4), {"'w'", "begin is after end"});
    check(raw_file(one(R"({"dtype":"F32","shape":[4],"data_offsets":[16,32]})"), f4), {"'w'", "past the data"});
    check(raw_file(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), f4.substr(0, 9)),  // truncated
          {"'w'", "past the data"});
    check(raw_file(one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,16]})"), f4), {"'w'", "need 12"});
    check(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   f4),
          {"'a'", "'b'", "overlapping"});
    check(raw_file(R"({"__metadata__":{"a":1}})", ""), {"__metadata__", "'a'"});
    check(raw_file(R"({"__metadata__":[]})", ""), {"__metadata__"});

    // Gaps between tensors are fine; a zero-size tensor overlaps nothing.
    spit(p, raw_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                     R"("b":{"dtype":"U8","shape":[2],"data_offsets":[8,10]},)"
                     R"("z":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}})",
                     "ABCDEFGHIJ"));
    auto f = SafetensorsFile::open(p);
    QCOMPARE(char(f->data(*f->find("b"))[1]), 'J');
  }

  void randomCorruptionNeverCrashes() {
    QTemporaryDir tmp;
    const std::string good = temp_path(tmp, "good.safetensors"), p = temp_path(tmp, "fuzz.safetensors");
    write_tensors(good, {{"a", at::arange(6, at::kFloat)}, {"b", at::ones({2, 2}, at::kHalf)}}, {{"k", "v"}});
    const std::string base = slurp(good);
    std::mt19937 rng(1234);
    int rejected = 0;
    for (int i = 0; i < 120; ++i) {
      std::string bytes = base;
      if (i % 3 == 0) bytes.resize(rng() % bytes.size());
      for (int k = 0, n = 1 + int(rng() % 4); k < n && !bytes.empty(); ++k)
        bytes[rng() % bytes.size()] = char(rng() % 4 == 0 ? rng() : "0123456789,:[]{}\"-"[rng() % 18]);
      spit(p, bytes);
      try {
        auto f = SafetensorsFile::open(p);
        for (const auto& t : f->tensors()) (void)f->data(t);
      } catch (const CheckpointError&) {
        ++rejected;
      }
    }
    QVERIFY(rejected > 0);
  }

  void directoryLayouts() {
    QTemporaryDir tmp;
    auto dir_error = [](const std::string& d) { return error_of([&] { SafetensorsDir::open(d); }); };
    const std::string root = tmp.path().toStdString();
    const float v[2] = {1, 2};

    QDir(tmp.path()).mkdir("empty");
    std::string msg = dir_error(root + "/empty");
    QVERIFY2(has(msg, "no safetensors") && has(msg, "model.safetensors.index.json"), msg.c_str());
    QVERIFY(has(dir_error(root + "/nowhere"), "does not exist"));

    // Plain *.safetensors files in a directory; the same tensor in two of them is an error.
    QDir(tmp.path()).mkdir("loose");
    write_safetensors(root + "/loose/x.safetensors", {{"a", DType::F32, {2}, v, 8}});
    write_safetensors(root + "/loose/y.safetensors", {{"b", DType::F32, {2}, v, 8}});
    QCOMPARE(SafetensorsDir::open(root + "/loose").names(), (std::vector<std::string>{"a", "b"}));
    write_safetensors(root + "/loose/z.safetensors", {{"a", DType::F32, {2}, v, 8}});
    msg = dir_error(root + "/loose");
    QVERIFY2(has(msg, "'a'") && has(msg, "x.safetensors") && has(msg, "z.safetensors"), msg.c_str());

    // An index naming a missing shard, then one naming a tensor its shard lacks.
    QDir(tmp.path()).mkdir("idx");
    const std::string idx = root + "/idx";
    write_safetensors(idx + "/model-00001-of-00002.safetensors", {{"a", DType::F32, {2}, v, 8}});
    spit(idx + "/model.safetensors.index.json",
         R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
    msg = dir_error(idx);
    QVERIFY2(has(msg, "model-00002-of-00002.safetensors") && has(msg, "missing"), msg.c_str());
    spit(idx + "/model.safetensors.index.json",
         R"({"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}})");
    msg = dir_error(idx);
    QVERIFY2(has(msg, "'c'") && has(msg, "absent"), msg.c_str());
    spit(idx + "/model.safetensors.index.json", R"({"weight_map":{"a":"../x.safetensors"}})");
    QVERIFY(has(dir_error(idx), "plain file name"));
    spit(idx + "/model.safetensors.index.json", "{oops");
    QVERIFY(has(dir_error(idx), "JSON"));
  }

  void failedWritesLeaveOldFileIntact() {
    QTemporaryDir tmp;
    const std::string path = temp_path(tmp, "keep.safetensors");
    write_tensors(path, {{"a", at::arange(4, at::kFloat)}});
    const std::string before = slurp(path);
    const float v[2] = {1, 2};

    std::string msg = error_of<InputError>(
        [&] { write_safetensors(path, {{"x", DType::F32, {2}, v, 8}, {"x", DType::F32, {2}, v, 8}}); });
    QVERIFY2(has(msg, "duplicate") && has(msg, "'x'"), msg.c_str());
    msg = error_of<InputError>([&] { write_safetensors(path, {{"x", DType::F32, {3}, v, 8}}); });
    QVERIFY2(has(msg, "'x'") && has(msg, "12"), msg.c_str());
    msg = error_of<InputError>([&] { write_tensors(path, {{"a", at::ones({2})}, {"a", at::ones({3})}}); });
    QVERIFY2(has(msg, "duplicate"), msg.c_str());
    msg = error_of<InputError>([&] { write_tensors_sharded(tmp.path().toStdString(), {{"z", at::ones({2}, at::kComplexFloat)}}, {}, 0); });
    QVERIFY2(has(msg, "cannot be stored"), msg.c_str());
    QCOMPARE(slurp(path), before);

    msg = error_of<InputError>([&] { write_safetensors(path, {{"bad\xff", DType::F32, {2}, v, 8}}); });
    QVERIFY2(has(msg, "UTF-8"), msg.c_str());
    QCOMPARE(slurp(path), before);

    msg = error_of<IoError>([&] { write_safetensors(temp_path(tmp, "no/such/dir/x.safetensors"), {}); });
    QVERIFY2(has(msg, "HINT"), msg.c_str());

    // A write that fails midway (file-size limit standing in for a full disk) removes its temp file.
    rlimit old_limit{};
    QVERIFY(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    if (old_limit.rlim_cur == RLIM_INFINITY || old_limit.rlim_cur > 4096) {
      const std::vector<uint8_t> big(1 << 16, 7);
      auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
      rlimit small = old_limit;
      small.rlim_cur = 4096;
      QVERIFY(::setrlimit(RLIMIT_FSIZE, &small) == 0);
      msg = error_of<IoError>([&] { write_safetensors(path, {{"big", DType::U8, {1 << 16}, big.data(), big.size()}}); });
      ::setrlimit(RLIMIT_FSIZE, &old_limit);
      std::signal(SIGXFSZ, old_handler);
      QVERIFY2(has(msg, "cannot write") && has(msg, "file-size limit"), msg.c_str());
      QCOMPARE(slurp(path), before);
    }
    QCOMPARE(QDir(tmp.path()).entryList(QDir::Files), QStringList{"keep.safetensors"});  // no temp files
  }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
