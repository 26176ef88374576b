// Typed engine errors. The engine never exits the process: environment and user errors are
// thrown as one of these, with a hint that says what to do next; jobs turn them into values.
#pragma once

#include <stdexcept>
#include <string>

namespace mm {

enum class ErrorKind { config, checkpoint, input, io, cancelled, out_of_memory, diverged, internal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what, std::string hint = {})
      : std::runtime_error(what), kind_(kind), hint_(std::move(hint)) {}
  ErrorKind kind() const { return kind_; }
  /// What the user can do about it; may be empty.
  const std::string& hint() const { return hint_; }
  /// "what" followed by "\nHINT: hint" when there is a hint.
  std::string full_message() const {
    return hint_.empty() ? std::string(what()) : std::string(what()) + "\nHINT: " + hint_;
  }

 private:
  ErrorKind kind_;
  std::string hint_;
};

struct ConfigError : Error {
  explicit ConfigError(const std::string& w, std::string h = {}) : Error(ErrorKind::config, w, std::move(h)) {}
};
struct CheckpointError : Error {
  explicit CheckpointError(const std::string& w, std::string h = {}) : Error(ErrorKind::checkpoint, w, std::move(h)) {}
};
struct InputError : Error {
  explicit InputError(const std::string& w, std::string h = {}) : Error(ErrorKind::input, w, std::move(h)) {}
};
struct IoError : Error {
  explicit IoError(const std::string& w, std::string h = {}) : Error(ErrorKind::io, w, std::move(h)) {}
};
/// Training produced a NaN or Inf; the last good checkpoint is kept.
struct DivergedError : Error {
  explicit DivergedError(const std::string& w, std::string h = {}) : Error(ErrorKind::diverged, w, std::move(h)) {}
};
struct Cancelled : Error {
  Cancelled() : Error(ErrorKind::cancelled, "cancelled") {}
};

}  // namespace mm
