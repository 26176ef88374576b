// Asynchronous 16-byte copies from global to shared memory (sm_80+): a thread issues all of its pieces of
// a tile before any arrives, so a tile load costs about one memory latency instead of one per piece.
#pragma once

#include <cstdint>

namespace mm::kern {

/// Starts copying 16 bytes from src to the shared address dst; with valid false, writes 16 zero bytes and
/// reads nothing (src may then be out of bounds).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const unsigned s = unsigned(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(src), "r"(valid ? 16 : 0) : "memory");
}

/// Closes the group of copies this thread has issued since the last commit.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

/// Waits until at most `pending` of this thread's committed groups are still in flight. Other threads'
/// copies are visible only after a barrier that follows their wait.
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(pending) : "memory");
}

}  // namespace mm::kern
