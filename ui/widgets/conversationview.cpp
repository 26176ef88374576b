#include "widgets/conversationview.h"

#include <QApplication>
#include <QBuffer>
#include <QLocale>
#include <QScrollBar>

#include <algorithm>
#include <cmath>

#include "eval/evaluate.h"
#include "widgets/textscale.h"

namespace {

QString imageHtml(const QImage& img) {
  QByteArray png;
  QBuffer buf(&png);
  buf.open(QIODevice::WriteOnly);
  img.scaled(img.width() < 160 ? img.size() * 2 : QSize(240, 240), Qt::KeepAspectRatio).save(&buf, "PNG");
  return QString("<img src=\"data:image/png;base64,%1\"><br>").arg(QString::fromLatin1(png.toBase64()));
}

QString escapeText(const QString& s) { return s.toHtmlEscaped().replace('\n', "<br>"); }

}  // namespace

ConversationView::ConversationView(QWidget* parent) : QTextBrowser(parent) {
  setOpenLinks(false);
  m_renderTimer.setSingleShot(true);
  m_renderTimer.setInterval(16);
  connect(&m_renderTimer, &QTimer::timeout, this, &ConversationView::render);
  ui::onTextScaleChanged(this, [this] { fitText(); });  // its own font: the studio's text size by hand
}

void ConversationView::resizeEvent(QResizeEvent* event) {
  fitText();
  QTextBrowser::resizeEvent(event);
}

void ConversationView::fitText() {
  // By the width in the studio's text: a pane as wide at a larger text size gains less (0.1 steps: few relayouts).
  const double scale = std::clamp(std::round(width() / (48.0 * ui::textScale())) / 10.0, 1.0, 1.5);
  QFont f = QApplication::font();  // what the view would have without its own size
  f.setPointSizeF(f.pointSizeF() * scale);
  m_scale = scale;
  if (f != font()) setFont(f);  // the document's default font: headings and stats scale with it
}

void ConversationView::setTitle(const QString& title) {
  m_title = title;
  scheduleRender();
}

void ConversationView::addUser(const QString& text, const QImage& image) {
  Message m;
  m.user = true;
  m.text = text;
  m.image = image;
  m_messages << m;
  m_versions.clear();  // the previous reply is settled: a new exchange begins
  m_version = 0;
  scheduleRender();
}

ConversationView::Message* ConversationView::lastReply() {
  return m_messages.isEmpty() || m_messages.back().user ? nullptr : &m_messages.back();
}

void ConversationView::replyChanged() {
  if (m_version < m_versions.size() && lastReply()) m_versions[m_version] = *lastReply();
  scheduleRender();
}

void ConversationView::beginReply(bool regenerate) {
  Message m;
  m.streaming = true;
  m.speaker = m_title;
  if (regenerate && lastReply()) {
    if (m_versions.isEmpty()) m_versions << *lastReply();  // e.g. a loaded conversation's reply
    m_messages.back() = m;
  } else {
    m_messages << m;
    m_versions.clear();
  }
  m_versions << m;
  m_version = int(m_versions.size()) - 1;
  scheduleRender();
}

bool ConversationView::showVersion(int i) {
  if (i < 0 || i >= m_versions.size() || !lastReply()) return false;
  m_version = i;
  m_messages.back() = m_versions[i];
  scheduleRender();
  return true;
}

void ConversationView::setReplyTruth(const QString& truth) {
  if (Message* m = lastReply()) {
    m->truth = truth;
    replyChanged();
  }
}

bool ConversationView::matchesTruth(const Message& m) {
  return !m.truth.isEmpty() && mm::normalise_answer(m.text.toStdString()) == mm::normalise_answer(m.truth.toStdString());
}

void ConversationView::appendToReply(const QString& delta) {
  if (Message* m = lastReply()) {
    m->text += delta;
    replyChanged();
  }
}

void ConversationView::finishReply(const ChatReplyInfo& r) {
  Message* reply = lastReply();
  if (!reply) return;
  Message& m = *reply;
  m.streaming = false;
  m.text = r.text;
  m.pieces = r.pieces;
  m.ids = r.ids;
  m.lastToken = r.lastToken;
  const QLocale loc;
  const QString cache = r.kvBytesPerToken > 0
                            ? tr("cache %1, KV grows %2/token").arg(loc.formattedDataSize(r.cacheBytes),
                                                                    loc.formattedDataSize(r.kvBytesPerToken))
                            : tr("cache %1, constant state").arg(loc.formattedDataSize(r.cacheBytes));
  m.stats = tr("first token %1 s · %2 tok/s · %3 · prompt %4 · %5%6")
                .arg(r.timeToFirstToken, 0, 'f', 3)
                .arg(r.tokensPerSecond, 0, 'f', 1)
                .arg(r.newTokens == 1 ? tr("1 token") : tr("%1 tokens").arg(r.newTokens))
                .arg(r.promptTokens)
                .arg(cache)
                .arg(r.stopReason == "cancelled"       ? tr(" · stopped")
                     : r.stopReason == "max_tokens"    ? tr(" · length limit")
                     : r.stopReason == "max_positions" ? tr(" · the model's context is full")
                                                       : "");
  replyChanged();
}

double ConversationView::markAgreement(const QVector<qint64>& reference) {
  Message* reply = lastReply();
  if (!reply) return 0;
  Message& m = *reply;
  m.agreement.clear();
  int same = 0;
  for (int i = 0; i < m.ids.size(); ++i) {
    const bool agrees = i < reference.size() && reference[i] == m.ids[i];
    m.agreement << int(agrees);
    same += agrees;
  }
  const int n = std::max(m.ids.size(), reference.size());
  const double share = n ? double(same) / n : 1.0;
  // The colours explained where they are seen (before, only in Help): agreement, not right or wrong.
  m.stats += tr(" · agreement %1% (blue: same token as the other model, amber: another)").arg(100 * share, 0, 'f', 0);
  replyChanged();
  return share;
}

void ConversationView::failReply(const QString& message) {
  Message* m = lastReply();
  if (!m) return;
  m->streaming = false;
  m->failed = true;
  m->stats = tr("<font color=#b00>failed: %1</font>").arg(message.toHtmlEscaped());
  replyChanged();
}

void ConversationView::clearAll() {
  m_messages.clear();
  m_versions.clear();
  m_version = 0;
  scheduleRender();
}

void ConversationView::setMessages(const QVector<Message>& messages) {
  m_messages = messages;
  m_versions.clear();
  m_version = 0;
  scheduleRender();
}

void ConversationView::scheduleRender() {
  if (!m_renderTimer.isActive()) m_renderTimer.start();
}

void ConversationView::render() {
  QString html = QString("<h3>%1</h3>").arg(m_title.toHtmlEscaped());
  for (const Message& m : std::as_const(m_messages)) {
    if (m.user) {
      html += "<p style='background:#e8eef8; color:#111; padding:6px'><b>You</b><br>" +
              (m.image.isNull() ? QString() : imageHtml(m.image)) + escapeText(m.text) + "</p>";
      continue;
    }
    QString body;
    if (!m.agreement.isEmpty()) {
      for (int i = 0; i < m.pieces.size(); ++i)
        body += QString("<span style='background:%1'>%2</span>")
                    // blue: the other model chose this token too; amber: it chose another. Neither
                    // means right or wrong, so no green/red.
                    .arg(m.agreement.value(i) ? "#cfe0f7" : "#fbe3b8", escapeText(m.pieces[i]));
    } else {
      body = escapeText(m.text) + (m.streaming ? " ▌" : "");
    }
    const QString who = !m.speaker.isEmpty() ? m.speaker : !m_title.isEmpty() ? m_title : tr("Model");
    // The last reply names its version once regenerate made more than one.
    const bool last = &m == &m_messages.constLast();
    const QString version = last && m_versions.size() > 1
                                ? tr(" <span style='color:#555'>· version %1 of %2%3</span>")
                                      .arg(m_version + 1).arg(m_versions.size()).arg(m.streaming ? tr(", writing…") : "")
                                : QString();
    // The known answer, and whether the reply is right: marked apart from the agreement colours.
    QString truth;
    if (!m.truth.isEmpty())
      truth = "<br>" + tr("truth: <b>%1</b>").arg(m.truth.toHtmlEscaped()) +
              (m.streaming || m.failed ? QString()
               : matchesTruth(m) ? tr(" <span style='color:#1a7f37'>✓ right</span>")
                                 : tr(" <span style='color:#b00'>✗ wrong</span>"));
    html += "<p><b>" + who.toHtmlEscaped() + "</b>" + version + "<br>" + body + truth + "<br><span style='color:#555'>" +
            m.stats + "</span></p>";  // full size: read from the back of a room
  }
  QScrollBar* bar = verticalScrollBar();
  const bool atEnd = bar->value() >= bar->maximum() - 4;
  setHtml(html);
  if (atEnd) bar->setValue(bar->maximum());
}
