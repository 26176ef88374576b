// Saving plots (PNG, SVG, PDF by file extension) and text files atomically.
#pragma once

#include <QString>

class QCustomPlot;

namespace ui {

/// Saves PLOT with TITLE above it (the title is in the file only, not left on screen), at its size on
/// screen or 800x450 where that is smaller (PNG at twice the pixels). False with a
/// reason when the format is unknown or the file cannot be written.
bool exportPlot(QCustomPlot* plot, const QString& path, const QString& title, QString* error);
/// Temp file + rename.
bool writeTextFile(const QString& path, const QString& text, QString* error);

}  // namespace ui
