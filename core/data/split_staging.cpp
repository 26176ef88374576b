#include "data/split_staging.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "io/remove_tree.h"
#include "runtime/errors.h"

namespace fs = std::filesystem;

namespace mm::data {
namespace {

/// Whether a staging name's PID belongs to a live process (then it is another make-data at work).
bool owner_alive(const std::string& name) {
  const size_t dash = name.rfind('-');
  if (dash == std::string::npos) return false;
  char* end = nullptr;
  const long pid = std::strtol(name.c_str() + dash + 1, &end, 10);
  if (*end || pid <= 0) return false;
  return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw IoError("cannot move " + from.string() + " to " + to.string() + ": " + ec.message(), "check the permissions of the output directory");
}

/// A commit killed halfway leaves images/.<split>.old-PID (the previous pictures) behind: undo it when
/// the new pictures had not gone in yet, else finish it by moving the rest of the staged split in.
/// Either way the JSONL and the pictures it names belong together again.
void recover_killed_commit(const fs::path& out, const std::string& split) {
  std::error_code ec;
  const std::string prefix = "." + split + ".old-";
  std::vector<fs::path> olds;
  for (const auto& e : fs::directory_iterator(out / "images", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && !owner_alive(name)) olds.push_back(e.path());
  }
  const fs::path live = out / "images" / split;
  for (const fs::path& old : olds) {
    const std::string pid = old.filename().string().substr(prefix.size());
    const fs::path staged = out / (".staging-" + split + "-" + pid);
    if (!fs::exists(live, ec)) {
      rename_or_throw(old, live);  // killed before the new pictures went in: the old split is whole again
      continue;
    }
    std::vector<fs::path> files;  // the new pictures are in: the JSONL (and the rest) follow them
    for (const auto& e : fs::directory_iterator(staged, ec))
      if (e.is_regular_file()) files.push_back(e.path());
    for (const fs::path& f : files) rename_or_throw(f, out / f.filename());
    mm::io::remove_tree(old, ec);
  }
}

}  // namespace

SplitStaging::SplitStaging(const std::string& out_dir, const std::string& split) : out_(out_dir), split_(split) {
  std::error_code ec;
  fs::create_directories(out_, ec);
  if (ec) throw IoError("cannot create " + out_ + ": " + ec.message(), "check the permissions of the output directory");
  recover_killed_commit(out_, split_);
  const std::string prefix = ".staging-" + split_ + "-";
  std::vector<fs::path> stale;  // listed first: removing while iterating is unspecified
  for (const auto& e : fs::directory_iterator(out_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && !owner_alive(name)) stale.push_back(e.path());
  }
  for (const fs::path& p : stale) mm::io::remove_tree(p, ec);
  dir_ = (fs::path(out_) / (prefix + std::to_string(::getpid()))).string();
  mm::io::remove_tree(dir_, ec);
  fs::create_directories(fs::path(dir_) / "images" / split_, ec);
  if (ec) throw IoError("cannot create " + dir_ + ": " + ec.message(), "check the permissions of the output directory");
}

SplitStaging::~SplitStaging() {
  std::error_code ec;
  if (!committed_) mm::io::remove_tree(dir_, ec);
}

void SplitStaging::commit() {
  const fs::path out(out_), staged(dir_), images = fs::path(out_) / "images" / split_;
  const fs::path old = fs::path(out_) / "images" / ("." + split_ + ".old-" + std::to_string(::getpid()));
  std::error_code ec;
  mm::io::remove_tree(old, ec);
  fs::create_directories(images.parent_path(), ec);
  const bool had_old = fs::exists(images, ec);
  if (had_old) rename_or_throw(images, old);
  try {
    rename_or_throw(staged / "images" / split_, images);
  } catch (...) {
    if (had_old) fs::rename(old, images, ec);  // put the old split back
    throw;
  }
  std::vector<fs::path> files;  // <split>.jsonl and whatever else the split has
  for (const auto& e : fs::directory_iterator(staged))
    if (e.is_regular_file()) files.push_back(e.path());
  for (const fs::path& f : files) rename_or_throw(f, out / f.filename());
  committed_ = true;
  mm::io::remove_tree(old, ec);
  mm::io::remove_tree(staged, ec);
}

}  // namespace mm::data
