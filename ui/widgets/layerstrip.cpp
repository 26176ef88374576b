#include "widgets/layerstrip.h"

#include <QHelpEvent>
#include <QLocale>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include "widgets/palette.h"
#include "widgets/textscale.h"

namespace {
constexpr int kCell = 34, kGap = 4, kStackGap = 18, kTop = 18, kLegend = 22;  ///< px at the starting text size
int px(int v) { return ui::scaledPx(v); }
}

LayerStrip::LayerStrip(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

LayerStrip::Look LayerStrip::lookForStage(const QString& stage, bool teacher) {
  if (teacher) return Look::teacher;
  if (stage == "stage3") return Look::distilled;
  if (stage == "stage2") return Look::stage2;
  if (stage == "stage1") return Look::stage1;
  return Look::seeded;
}

void LayerStrip::setLayers(const mm::ModelConfig& config, Look look) {
  m_config = config;
  m_stats = mm::compute_layer_stats(config);
  m_look = look;
  updateGeometry();
  update();
}

QRect LayerStrip::cellRect(int layer) const {
  const int he = int(m_config.he.n_layers);
  const int x = px(8) + layer * px(kCell + kGap) + (layer >= he ? px(kStackGap) : 0);
  return QRect(x, px(kTop), px(kCell), px(kCell));
}

int LayerStrip::cellAt(const QPoint& pos) const {
  for (int i = 0; i < int(m_config.n_layers()); ++i)
    if (cellRect(i).contains(pos)) return i;
  return -1;
}

QSize LayerStrip::sizeHint() const {
  const int n = int(m_config.n_layers());
  return QSize(n ? cellRect(n - 1).right() + px(9) : px(200), px(kTop + kCell + kLegend + 6));
}
QSize LayerStrip::minimumSizeHint() const { return QSize(120, sizeHint().height()); }

void LayerStrip::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const int n = int(m_config.n_layers()), he = int(m_config.he.n_layers);
  if (n == 0) {
    p.drawText(rect(), Qt::AlignCenter, tr("no model"));
    return;
  }
  QFont small = font();
  small.setPointSizeF(small.pointSizeF() * 0.85);
  p.setFont(small);
  p.setPen(palette().color(QPalette::WindowText));
  if (he > 0) {  // the label fits the embedding cells (elided when they are few)
    const int width = cellRect(he - 1).right() - cellRect(0).left();
    p.drawText(cellRect(0).topLeft() + QPoint(0, -6), p.fontMetrics().elidedText(tr("embedding"), Qt::ElideRight, width));
  }
  if (n > he) p.drawText(cellRect(he).topLeft() + QPoint(0, -6), tr("LLM"));
  for (int i = 0; i < n; ++i) {
    const bool attention = m_config.layer_kinds[size_t(i)] == mm::LayerKind::attention;
    const QRect r = cellRect(i);
    QColor fill = attention ? ui::kAttentionColor : ui::kMambaColor;
    if (m_look != Look::teacher && attention) fill = fill.lighter(135);  // frozen in the student
    p.setBrush(fill);
    p.setPen(QPen(fill.darker(140), 1.2));
    p.drawRoundedRect(r, 5, 5);
    if (m_look != Look::teacher && m_look != Look::distilled && !attention) {  // still to train: a bright edge
      p.setPen(QPen(ui::kTrainableEdge, 2.4));
      p.setBrush(Qt::NoBrush);
      p.drawRoundedRect(r.adjusted(1, 1, -1, -1), 4, 4);
    }
    p.setPen(Qt::white);
    QFont bold = small;
    bold.setBold(true);
    p.setFont(bold);
    p.drawText(r, Qt::AlignCenter, QString("%1\n%2").arg(attention ? "A" : "M").arg(i));
    p.setFont(small);
  }
  // Legend.
  int x = px(8);
  const int y = px(kTop + kCell + 8), box = px(12);
  auto legend = [&](const QColor& c, const QString& text, bool edge) {
    p.setBrush(c);
    p.setPen(edge ? QPen(ui::kTrainableEdge, 2) : QPen(c.darker(140)));
    p.drawRoundedRect(QRect(x, y, box, box), 3, 3);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QPoint(x + box + px(4), y + box - 1), text);
    x += box + px(10) + p.fontMetrics().horizontalAdvance(text);
  };
  switch (m_look) {
    case Look::teacher:
      legend(ui::kAttentionColor, tr("attention (teacher)"), false);
      legend(ui::kMambaColor, tr("Mamba-2"), false);
      break;
    case Look::distilled:
      legend(ui::kAttentionColor.lighter(135), tr("attention, kept from the teacher"), false);
      legend(ui::kMambaColor, tr("Mamba-2, distilled (stage 3 done)"), false);
      break;
    default:
      legend(ui::kAttentionColor.lighter(135), tr("attention, kept and frozen"), false);
      legend(ui::kMambaColor, m_look == Look::seeded ? tr("Mamba-2, seeded and trainable")
                              : m_look == Look::stage1 ? tr("Mamba-2, after stage 1, trainable")
                                                       : tr("Mamba-2, after stage 2, trainable"), true);
  }
  if (m_editable) legend(palette().color(QPalette::Window), tr("click a cell to plan it yourself"), false);
}

QString LayerStrip::tooltipFor(int i) const {
  const mm::LayerStats& s = m_stats[size_t(i)];
  const bool attention = m_config.layer_kinds[size_t(i)] == mm::LayerKind::attention;
  const QLocale loc;
  const QString state = m_look == Look::teacher ? tr("teacher layer")
                        : attention ? tr("attention, restored from the teacher, frozen")
                        : m_look == Look::distilled ? tr("seeded from attention, distilled in stages 1-3")
                                                    : tr("seeded from attention, trained in stages 1-3");
  QString cache = attention ? tr("KV cache %1 per token").arg(loc.formattedDataSize(s.kv_bytes_per_token))
                            : tr("state %1, constant").arg(loc.formattedDataSize(s.state_bytes));
  return tr("<b>layer %1</b> (%2)<br>%3<br>%4 parameters<br>%5")
      .arg(i)
      .arg(i < m_config.he.n_layers ? tr("embedding") : tr("LLM"))
      .arg(state)
      .arg(loc.toString(qlonglong(s.params)))
      .arg(cache);
}

bool LayerStrip::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(e);
    const int i = cellAt(help->pos());
    if (i >= 0) QToolTip::showText(help->globalPos(), tooltipFor(i), this, cellRect(i));
    else QToolTip::hideText();
    return true;
  }
  return QWidget::event(e);
}

void LayerStrip::mousePressEvent(QMouseEvent* event) {
  const int i = cellAt(event->position().toPoint());
  if (i >= 0 && m_editable) emit layerClicked(i);
}
