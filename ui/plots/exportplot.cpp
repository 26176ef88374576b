#include "plots/exportplot.h"

#include <QSaveFile>
#include <qcustomplot.h>

#if MM_HAVE_QT_SVG
#include <QSvgGenerator>
#endif

namespace ui {
namespace {

const QSize kExportMinimum(800, 450);  ///< px (PNG at twice that)

bool savePlot(QCustomPlot* plot, const QString& path, QString* error);

/// A title row above the plot for as long as it lives.
class ExportTitle {
 public:
  ExportTitle(QCustomPlot* plot, const QString& title) : m_plot(plot) {
    if (title.isEmpty()) return;
    QFont font = plot->xAxis->labelFont();  // the projector size at the studio's text size
    font.setBold(true);
    font.setPointSizeF(font.pointSizeF() * 1.15);
    plot->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(plot, title, font);
    plot->plotLayout()->addElement(0, 0, m_title);
  }
  ~ExportTitle() {
    if (!m_title) return;
    m_plot->plotLayout()->remove(m_title);  // deletes it
    m_plot->plotLayout()->simplify();       // drops the empty row
    m_plot->replot();
  }
  ExportTitle(const ExportTitle&) = delete;
  ExportTitle& operator=(const ExportTitle&) = delete;

 private:
  QCustomPlot* m_plot;
  QCPTextElement* m_title = nullptr;
};

}  // namespace

bool exportPlot(QCustomPlot* plot, const QString& path, const QString& title, QString* error) {
  const ExportTitle titled(plot, title);
  return savePlot(plot, path, error);
}

namespace {

bool savePlot(QCustomPlot* plot, const QString& path, QString* error) {
  const QString lower = path.toLower();
  plot->replot();  // queued replots may still be pending
  // At least a slide's share of room: a plot squeezed on a 1024x700 screen keeps its legend, its titles
  // and a readable data area in the file.
  const QSize size = plot->size().expandedTo(kExportMinimum);
  bool ok = false;
  if (lower.endsWith(".png")) {
    ok = plot->savePng(path, size.width(), size.height(), 2.0);
  } else if (lower.endsWith(".pdf")) {
    ok = plot->savePdf(path, size.width(), size.height());
  } else if (lower.endsWith(".svg")) {
#if MM_HAVE_QT_SVG
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(size);
    svg.setViewBox(QRect(QPoint(0, 0), size));
    QCPPainter painter;
    ok = painter.begin(&svg);
    if (ok) {
      plot->toPainter(&painter, size.width(), size.height());
      ok = painter.end();
    }
#else
    if (error) *error = QObject::tr("This build has no SVG support (Qt SVG was not found). Export PNG or PDF instead.");
    return false;
#endif
  } else {
    if (error) *error = QObject::tr("Unknown plot format for %1: use .png, .svg or .pdf.").arg(path);
    return false;
  }
  if (!ok && error) *error = QObject::tr("Cannot write %1.").arg(path);
  return ok;
}

}  // namespace

bool writeTextFile(const QString& path, const QString& text, QString* error) {
  QSaveFile f(path);
  if (f.open(QIODevice::WriteOnly) && f.write(text.toUtf8()) >= 0 && f.commit()) return true;
  if (error) *error = QObject::tr("Cannot write %1: %2").arg(path, f.errorString());
  return false;
}

}  // namespace ui
