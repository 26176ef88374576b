// The status bar's short line about which op paths ran: the fast paths by name (what a speaker wants
// to point at), the ops left on the reference as a count. The full per-op table is op_path_report().
#pragma once

#include <QString>

#include <vector>

#include "ops/op_registry.h"

namespace ui {

/// "ops: attention_decode flash 100%, ssd_scan cuda 97% · 6 on the reference", "ops: all 8 on the
/// reference", or "ops: nothing run yet"; ops never called are left out.
QString opPathSummary(const std::vector<mm::OpPathRecord>& records);

}  // namespace ui
