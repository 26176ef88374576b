#include "io/remove_tree.h"

#include <ftw.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

namespace mm::io {
namespace {

// nftw's callback takes no user data; one walk runs per thread at a time.
thread_local std::size_t removed_count = 0;
thread_local int first_errno = 0;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  if (std::remove(path) == 0) ++removed_count;
  else if (first_errno == 0) first_errno = errno;
  return 0;  // keep going: remove what can be removed
}

}  // namespace

std::size_t remove_tree(const std::string& path, std::error_code& ec) {
  ec.clear();
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) ec = std::error_code(errno, std::generic_category());
    return 0;
  }
  removed_count = 0;
  first_errno = 0;
  // FTW_DEPTH: children before their directory; FTW_PHYS: links are entries, not followed.
  if (::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && first_errno == 0) first_errno = errno;
  if (first_errno != 0) ec = std::error_code(first_errno, std::generic_category());
  return removed_count;
}

}  // namespace mm::io
