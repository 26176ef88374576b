#pragma once
// Removes a file or a directory tree without std::filesystem::remove_all.
//
// Why: in the CUDA build (PyTorch 2.11's LibTorch, GCC 13) remove_all crashed with SIGSEGV on every
// non-empty directory (seen on the H200: each third checkpoint's retention, make-data's staging
// clean-up), while the CPU build ran the same calls clean; the cause inside the library was not pinned
// down. This walks the tree with POSIX nftw instead. Symbolic links are removed, never followed. A path that does not exist is not an error.
#include <string>
#include <system_error>

namespace mm::io {

// Returns the number of entries removed; on failure sets ec to the first error and goes on.
std::size_t remove_tree(const std::string& path, std::error_code& ec);

}  // namespace mm::io
