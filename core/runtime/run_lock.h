// An exclusive lock on a directory: flock on DIR/.lock, held for the life of the object. The file
// names the holder's PID so a refusal can say who has it. Locks of crashed processes vanish with them.
#pragma once

#include <string>

namespace mm {

class DirLock {
 public:
  /// Takes the lock or throws ConfigError naming the PID that holds it (`what` names the thing locked
  /// in the message, e.g. "run directory").
  DirLock(const std::string& dir, const std::string& what);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mm
