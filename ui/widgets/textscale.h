// The studio's text size for a projector: the application font times one factor, which the window sets
// from its size (a 1920x1080 projector gets larger forms, tables and plots than a 1024x700 laptop
// screen) and the user's View menu setting. Fixed pixel sizes chosen at the starting font scale with it.
#pragma once

#include <QSize>

#include <functional>

class QObject;
class QWidget;

namespace ui {

/// The factor the application font has now over the one it started with (1 before any setTextScale).
double textScale();
/// The application font becomes the starting one times factor (clamped to 0.5..3). Every widget that
/// does not set its own font follows; each gets QEvent::ApplicationFontChange to redo what it sized.
void setTextScale(double factor);
/// A pixel size chosen at the starting font, at the current text size.
int scaledPx(int px);
/// Calls changed after every change of the text size while context lives, once every widget that
/// inherits its font has the new one. (A widget with a font of its own, a QCustomPlot too, hears of
/// it only here: Qt tells windows and the widgets whose font changed.)
void onTextScaleChanged(QObject* context, std::function<void()> changed);
/// Calls fit now and after every change of the text size (then again from the event loop, when every
/// size hint is new): for the sizes a widget fixes from its font or in pixels.
void followTextSize(QWidget* widget, std::function<void()> fit);
/// The factor for a window of this size: 1 up to 1280x800, then min(w/1280, h/800) in 0.1 steps down,
/// at most 1.5. A page that fits 1024x700 at 1 then fits the window at its factor.
double textScaleFor(QSize window);

}  // namespace ui
