// Small file helpers: whole-file text reads and atomic text writes (temp file + fsync + rename).
#pragma once

#include <optional>
#include <string>

namespace mm {

/// Writes content to path atomically; IoError naming the path (and the disk-full case) on failure.
void write_text_atomic(const std::string& path, const std::string& content);

/// Writes bytes to path (not atomic: for files inside a staging directory), checking every write and the
/// close, so a full disk is an IoError naming the path, never a short or empty file.
void write_bytes_checked(const std::string& path, const void* data, size_t size);

/// The file's contents, or nullopt when it cannot be read.
std::optional<std::string> read_text(const std::string& path);

}  // namespace mm
