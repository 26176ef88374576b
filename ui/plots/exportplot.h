// Saving plots (PNG, SVG, PDF by file extension) and text files atomically.
#pragma once

#include <QString>

class QCustomPlot;

namespace ui {

/// False with a reason when the format is unknown or the file cannot be written.
bool exportPlot(QCustomPlot* plot, const QString& path, QString* error);
/// Temp file + rename.
bool writeTextFile(const QString& path, const QString& text, QString* error);

}  // namespace ui
