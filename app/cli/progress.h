// Training progress on stderr: a live bar with loss and ETA on a terminal, plain periodic lines otherwise.
#pragma once

#include "runtime/job.h"

namespace mm::cli {

/// Prints one event; keeps the bar's state between calls (one job at a time).
void print_progress_event(const Event& e);

}  // namespace mm::cli
