#include "controller/opsummary.h"

#include <QObject>
#include <QStringList>

namespace ui {

QString opPathSummary(const std::vector<mm::OpPathRecord>& records) {
  QStringList fast;
  int ran = 0, reference = 0;
  for (const mm::OpPathRecord& r : records) {
    const int64_t n = r.fast_calls + r.reference_calls;
    if (n == 0) continue;
    ++ran;
    if (r.fast_calls == 0) {
      ++reference;
      continue;
    }
    const int pct = int(100.0 * double(r.fast_calls) / double(n) + 0.5);
    fast << QString("%1 %2 %3%").arg(QString::fromStdString(r.op), QString::fromStdString(r.fast_path)).arg(pct);
  }
  if (ran == 0) return QObject::tr("ops: nothing run yet");
  if (fast.isEmpty()) return QObject::tr("ops: all %1 on the reference").arg(ran);
  QString out = QObject::tr("ops: ") + fast.join(", ");
  if (reference > 0) out += QObject::tr(" · %1 on the reference").arg(reference);
  return out;
}

}  // namespace ui
