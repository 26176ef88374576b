#include "plots/exportplot.h"

#include <QSaveFile>
#include <qcustomplot.h>

#if MM_HAVE_QT_SVG
#include <QSvgGenerator>
#endif

namespace ui {

bool exportPlot(QCustomPlot* plot, const QString& path, QString* error) {
  const QString lower = path.toLower();
  plot->replot();  // queued replots may still be pending
  bool ok = false;
  if (lower.endsWith(".png")) {
    ok = plot->savePng(path, 0, 0, 2.0);
  } else if (lower.endsWith(".pdf")) {
    ok = plot->savePdf(path);
  } else if (lower.endsWith(".svg")) {
#if MM_HAVE_QT_SVG
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(plot->size());
    svg.setViewBox(QRect(QPoint(0, 0), plot->size()));
    QCPPainter painter;
    ok = painter.begin(&svg);
    if (ok) {
      plot->toPainter(&painter, plot->width(), plot->height());
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

bool writeTextFile(const QString& path, const QString& text, QString* error) {
  QSaveFile f(path);
  if (f.open(QIODevice::WriteOnly) && f.write(text.toUtf8()) >= 0 && f.commit()) return true;
  if (error) *error = QObject::tr("Cannot write %1: %2").arg(path, f.errorString());
  return false;
}

}  // namespace ui
