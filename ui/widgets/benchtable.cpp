#include "widgets/benchtable.h"

#include <QEvent>
#include <QHeaderView>
#include <QLocale>
#include <QStyle>

#include <utility>

#include "bench/benchmark.h"
#include "widgets/text.h"
#include "widgets/textscale.h"

namespace {
constexpr int kModelColumn = 200;  ///< px at most for the model's name
constexpr int kColumns = 11;
/// The note cell: the row's error, or for an op-timed prefill the op that took most of its time (its path
/// and the other ops are in the time cell's tooltip).
QString opNote(const mm::BenchRow& row) {
  if (!row.error.empty() || row.op_times.empty() || row.op_times_wall <= 0) return ui::qs(row.error);
  const mm::OpTime& top = row.op_times.front();  // slowest first
  return QObject::tr("slowest op: %1, %2%").arg(ui::qs(top.op)).arg(100.0 * top.seconds / row.op_times_wall, 0, 'f', 0);
}

}  // namespace

BenchTable::BenchTable(QWidget* parent) : QTableWidget(0, kColumns, parent) {
  const std::pair<QString, QString> columns[kColumns] = {
      {tr("model"), tr("The model measured (a saved sweep's in [brackets])")},
      {tr("length"), tr("Context length in tokens")},
      {tr("phase"), tr("prefill: the whole prompt at once · decode: one token at a time over that context")},
      {tr("time"), tr("Prefill: seconds for the prompt · decode: milliseconds per token (mean over repeats)")},
      {tr("± sd"), tr("Standard deviation over the repeats")},
      {tr("floor"), tr("Decode floor: the time to read the weights and the cache once at the device's memory "
                       "bandwidth (– where the bandwidth is not known, as on a CPU)")},
      {tr("× floor"), tr("Measured decode time over the floor: 1.00 is as fast as memory allows")},
      {tr("peak"), tr("Measured peak bytes of this model's tensors, weights included (GPU: the CUDA allocator's)")},
      {tr("pred."), tr("Predicted: the weights plus the cache (or state) at this length, from the plan")},
      {tr("RSS"), tr("CPU: the whole process's peak resident set, for comparison")},
      {tr("note"), tr("Errors and out-of-memory messages; with \"Time each op\", the op that took most of a "
                      "prefill (hover the time for every op)")}};
  for (int c = 0; c < kColumns; ++c) {
    auto* header = new QTableWidgetItem(columns[c].first);
    header->setToolTip(columns[c].second);
    setHorizontalHeaderItem(c, header);
  }
  horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  horizontalHeader()->setSectionResizeMode(0, QHeaderView::Interactive);  // sized in addRow
  horizontalHeader()->setStretchLastSection(true);
  setTextElideMode(Qt::ElideMiddle);
  verticalHeader()->hide();
  verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);  // compact rows
  setEditTriggers(QAbstractItemView::NoEditTriggers);
}

void BenchTable::addRow(const QString& key, const mm::BenchRow& row) {
  const int r = rowCount();
  insertRow(r);
  const bool decode = row.phase == "decode";
  auto time = [&](double s) { return s <= 0 ? QString("–") : decode ? QString("%1 ms").arg(1e3 * s, 0, 'f', 3) : QString("%1 s").arg(s, 0, 'f', 4); };
  const QStringList cells = {key, QString::number(row.length), ui::qs(row.phase), row.oom ? tr("out of memory") : time(row.seconds),
                             row.oom ? "" : time(row.stddev), time(row.floor_seconds),
                             row.floor_ratio() > 0 ? QString::number(row.floor_ratio(), 'f', 2) : "–",
                             row.peak_bytes >= 0 ? QLocale().formattedDataSize(row.peak_bytes) : "–",
                             row.predicted_bytes > 0 ? QLocale().formattedDataSize(row.predicted_bytes) : "–",
                             row.rss_peak_bytes >= 0 ? QLocale().formattedDataSize(row.rss_peak_bytes) : "–", opNote(row)};
  for (int c = 0; c < cells.size(); ++c) {
    auto* item = new QTableWidgetItem(cells[c]);
    if (c == 0 || c == kColumns - 1) item->setToolTip(cells[c]);  // the cells that can be elided
    setItem(r, c, item);
  }
  if (!row.op_times.empty()) item(r, 3)->setToolTip(ui::qs(mm::format_op_times(row)).trimmed());
  // The model column as wide as its longest name, up to kModelColumn px.
  const int want = fontMetrics().horizontalAdvance(key) + 2 * style()->pixelMetric(QStyle::PM_FocusFrameHMargin) + 12;
  if (want > columnWidth(0)) setColumnWidth(0, std::min(want, ui::scaledPx(kModelColumn)));
  scrollToBottom();
}

void BenchTable::fitModelColumn() {
  // As addRow sizes it, over every row at the new text size.
  int want = horizontalHeader()->sectionSizeHint(0);
  for (int r = 0; r < rowCount(); ++r)
    if (const QTableWidgetItem* it = item(r, 0))
      want = std::max(want, fontMetrics().horizontalAdvance(it->text()) + 2 * style()->pixelMetric(QStyle::PM_FocusFrameHMargin) + 12);
  setColumnWidth(0, std::min(want, ui::scaledPx(kModelColumn)));
}

void BenchTable::changeEvent(QEvent* event) {
  QTableWidget::changeEvent(event);
  if (event->type() != QEvent::FontChange) return;
  verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
  fitModelColumn();
}
