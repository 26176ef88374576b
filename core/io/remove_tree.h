#pragma once
// Removes a file or a directory tree without std::filesystem::remove_all.
//
// Why: PyTorch's CUDA wheels carry their own copy of parts of libstdc++'s std::filesystem, which
// libtorch_cpu.so exports; in a process linked against them our calls to remove_all bind to that copy
// and crash on any non-empty directory (seen on the H200: every third checkpoint's retention, and
// make-data's staging clean-up). This walks the tree with POSIX nftw instead. Symbolic links are
// removed, never followed. A path that does not exist is not an error.
#include <string>
#include <system_error>

namespace mm::io {

// Returns the number of entries removed; on failure sets ec to the first error and goes on.
std::size_t remove_tree(const std::string& path, std::error_code& ec);

}  // namespace mm::io
