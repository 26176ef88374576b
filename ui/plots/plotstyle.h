// Shared looks for the studio's plots: sizes readable on a projector, integer step ticks, powers of 2
// on context-length axes, few plain labels on log value axes, an "empty" note instead of an empty
// legend, and ranges with a margin.
#pragma once

#include <QString>
#include <QStringList>

class QObject;
class QCPAxis;
class QCPItemText;
class QCPTextElement;
class QCustomPlot;

namespace ui {

/// Larger tick labels, axis labels and legend text, thicker axes; the sizes follow the studio's text
/// size from then on, a colour scale's too.
void styleForProjector(QCustomPlot* plot);
/// A text item or element of a styled plot at the studio's font plus `plus` points (at least `min`),
/// now and whenever the text size changes.
void sizeWithPlot(QCustomPlot* plot, QObject* text, double plus, double min = 0);
/// The legend as rows above the plot, so that it never covers data: at most maxColumns entries a row,
/// fewer when the widest entry would not fit the plot's width (refitted as the plot resizes); with
/// maxRows > 0, the entries that would need more rows give way to one "+N more".
void putLegendAbove(QCustomPlot* plot, int maxColumns = 4, int maxRows = 0);
/// Shows the legend in its row above the plot, or takes it out of the layout: hidden or empty, a legend
/// in the layout kept a blank row over the data.
void showLegendAbove(QCustomPlot* plot, bool show);
/// Labels the axis with the longest of `forms` (longest first) that fits along its side of the axis
/// rect, the last when none does; chosen again at every layout of its plot (a label longer than a short
/// axis was cut at both ends).
void fitAxisLabel(QCPAxis* axis, const QStringList& forms);
/// The same for a one-line text element, across its plot's width.
void fitText(QCPTextElement* text, const QStringList& forms);
/// Ticks at whole numbers only (steps, layers): never 2.5 or 7.5.
void useIntegerTicks(QCPAxis* axis);
/// A log axis for token counts: ticks at powers of 2 labelled 128, 1K, 32K, every n-th octave when
/// the plot is too narrow for all of them.
void usePowerOfTwoTicks(QCPAxis* axis);
/// A log axis for values (losses, milliseconds, MiB) with plain-number labels that never crowd, as
/// many as its height has room for (2 to 6): powers of ten when the range spans decades (2..9 as
/// unlabelled minor ticks), else 1-2-5 or 1-2-3-5 steps, and even steps over less than a factor of 3.
void useLogTicks(QCPAxis* axis);
/// A centred grey note, shown while the plot has nothing to draw (setEmpty(note, false) when data
/// arrives). The axes' tick labels are hidden meanwhile: an empty plot showed a made-up 0.001-1 range.
QCPItemText* addEmptyNote(QCustomPlot* plot, const QString& text);
/// Shows the note and hides the tick labels of its plot's axes while empty, and the reverse.
void setEmpty(QCPItemText* note, bool empty);
/// Widens the axis's current range so points on its edges are drawn whole: x1.25 per side on a log
/// axis, 5% of the span on a linear one.
void padRange(QCPAxis* axis);

}  // namespace ui
