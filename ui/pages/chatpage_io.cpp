// Saving and loading conversations: JSON with the images inline as base64 PNG.
#include <QBuffer>
#include <QComboBox>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QSaveFile>

#include "controller/enginecontroller.h"
#include "pages/chatpage.h"
#include "widgets/conversationview.h"

namespace {

constexpr int kFormatVersion = 1;

QString pngBase64(const QImage& img) {
  QByteArray png;
  QBuffer buf(&png);
  buf.open(QIODevice::WriteOnly);
  img.save(&buf, "PNG");
  return QString::fromLatin1(png.toBase64());
}

}  // namespace

bool ChatPage::saveConversation(const QString& path, QString* error) {
  QJsonArray sides;
  for (int s = 0; s < (m_right->isVisible() ? 2 : 1); ++s) {
    QJsonArray messages;
    for (const ConversationView::Message& m : view(s)->messages()) {
      QJsonObject o{{"role", m.user ? "user" : "assistant"}, {"text", m.text}};
      if (!m.image.isNull()) o["image_png_base64"] = pngBase64(m.image);
      messages.append(o);
    }
    sides.append(QJsonObject{{"model", modelPath(s)}, {"messages", messages}});
  }
  const QJsonObject root{{"format", "mmmamba-conversation"}, {"version", kFormatVersion},
                         {"system_prompt", m_system->toPlainText()}, {"sides", sides}};
  QSaveFile f(path);  // temp file + rename
  if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(root).toJson()) < 0 || !f.commit()) {
    if (error) *error = tr("Cannot write %1: %2").arg(path, f.errorString());
    return false;
  }
  m_unsaved = false;
  m_savedPath = path;
  return true;
}

bool ChatPage::loadConversation(const QString& path, QString* error) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    if (error) *error = tr("Cannot read %1: %2").arg(path, f.errorString());
    return false;
  }
  QJsonParseError parseError;
  const QJsonDocument doc = QJsonDocument::fromJson(f.read(64 << 20), &parseError);
  const QJsonObject root = doc.object();
  if (doc.isNull() || root.value("format").toString() != "mmmamba-conversation") {
    if (error) *error = tr("%1 is not a saved mmMamba conversation (%2).").arg(path, parseError.errorString());
    return false;
  }
  if (busy()) stop();
  m_system->setPlainText(root.value("system_prompt").toString());
  const QJsonArray sides = root.value("sides").toArray();
  setSideBySide(sides.size() > 1);
  for (int s = 0; s < std::min<int>(2, sides.size()); ++s) {
    const QJsonObject side = sides[s].toObject();
    const QString model = side.value("model").toString();
    if (!model.isEmpty()) {
      addModel(QFileInfo(model).fileName(), model);
      QComboBox* box = s == 0 ? m_model : m_second;
      box->setCurrentIndex(box->findData(model));
    }
    QVector<ConversationView::Message> messages;
    QVector<ChatExchange> exchanges;
    for (const QJsonValue& v : side.value("messages").toArray()) {
      const QJsonObject o = v.toObject();
      ConversationView::Message m;
      m.user = o.value("role").toString() == "user";
      m.text = o.value("text").toString();
      const QByteArray png = QByteArray::fromBase64(o.value("image_png_base64").toString().toLatin1());
      if (!png.isEmpty()) m.image = QImage::fromData(png, "PNG");
      messages << m;
      if (m.user) exchanges.push_back({m.text, m.image, {}});
      else if (!exchanges.isEmpty()) exchanges.back().reply = m.text;
    }
    view(s)->setMessages(messages);
    if (!exchanges.isEmpty() && exchanges.back().reply.isNull()) exchanges.removeLast();  // unanswered
    if (!exchanges.isEmpty() && !modelPath(s).isEmpty())
      m_engine->restoreChat(modelPath(s), m_system->toPlainText(), exchanges);
  }
  m_unsaved = false;
  m_savedPath = path;
  // The loaded images' scenes are not known: no truth for questions about them.
  bool images = false;
  for (int s = 0; s < 2; ++s)
    for (const ConversationView::Message& m : view(s)->messages()) images |= !m.image.isNull();
  m_scenes = images ? std::nullopt : std::optional<std::vector<mm::data::Scene>>(std::vector<mm::data::Scene>{});
  m_truth.clear();
  updateButtons();
  return true;
}
