#include "widgets/conversationsdialog.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

#include "widgets/textscale.h"

#include <algorithm>

QVector<ConversationsDialog::Entry> ConversationsDialog::list(const QString& dir) {
  QVector<Entry> out;
  for (const QFileInfo& info : QDir(dir).entryInfoList({"*.json"}, QDir::Files)) {
    QFile f(info.filePath());
    if (!f.open(QIODevice::ReadOnly)) continue;
    const QJsonObject root = QJsonDocument::fromJson(f.read(64 << 20)).object();
    if (root.value("format").toString() != "mmmamba-conversation") continue;
    Entry e;
    e.path = info.filePath();
    e.modified = info.lastModified();
    const QJsonArray sides = root.value("sides").toArray();
    for (const QJsonValue& side : sides) e.models << QFileInfo(side.toObject().value("model").toString()).fileName();
    const QJsonArray messages = sides.isEmpty() ? QJsonArray() : sides[0].toObject().value("messages").toArray();
    e.messages = int(messages.size());
    for (const QJsonValue& m : messages)
      if (m.toObject().value("role").toString() == "user") {
        e.firstQuestion = m.toObject().value("text").toString().simplified();
        break;
      }
    out << e;
  }
  // Newest first; the name (a timestamp) breaks ties within a second.
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return a.modified != b.modified ? a.modified > b.modified : a.path > b.path;
  });
  return out;
}

ConversationsDialog::ConversationsDialog(const QString& dir, QWidget* parent) : QDialog(parent), m_dir(dir) {
  setWindowTitle(tr("Conversations"));
  auto* note = new QLabel(tr("Every conversation is saved here as it goes (%1).").arg(QDir::toNativeSeparators(dir)));
  note->setWordWrap(true);
  m_list = new QListWidget;
  m_list->setObjectName("conversationList");
  m_list->setAlternatingRowColors(true);  // each entry is two lines: bands tell them apart
  m_open = new QPushButton(tr("Open"));
  m_delete = new QPushButton(tr("Delete…"));
  auto* other = new QPushButton(tr("Other file…"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel);
  buttons->addButton(m_open, QDialogButtonBox::AcceptRole);
  buttons->addButton(m_delete, QDialogButtonBox::ActionRole);
  buttons->addButton(other, QDialogButtonBox::ActionRole);
  connect(other, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Load conversation"), {}, tr("JSON (*.json)"));
    if (f.isEmpty()) return;
    m_chosen = f;
    accept();
  });
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(note);
  layout->addWidget(m_list, 1);
  layout->addWidget(buttons);
  resize(ui::scaledPx(620), ui::scaledPx(420));

  auto open = [this] {
    const int row = m_list->currentRow();
    if (row < 0 || row >= m_entries.size()) return;
    m_chosen = m_entries[row].path;
    accept();
  };
  connect(m_open, &QPushButton::clicked, this, open);
  connect(m_list, &QListWidget::itemDoubleClicked, this, open);
  connect(m_delete, &QPushButton::clicked, this, &ConversationsDialog::removeSelected);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(m_list, &QListWidget::currentRowChanged, this, [this](int row) {
    m_open->setEnabled(row >= 0);
    m_delete->setEnabled(row >= 0);
  });
  refresh();
}

void ConversationsDialog::refresh() {
  m_entries = list(m_dir);
  m_list->clear();
  for (const Entry& e : m_entries) {
    const QString question = e.firstQuestion.isEmpty() ? tr("(no question)") : e.firstQuestion.left(80);
    m_list->addItem(tr("%1 · %2 · %3 messages\n%4")
                        .arg(QLocale().toString(e.modified, QLocale::ShortFormat), e.models.join(tr(" vs ")))
                        .arg(e.messages)
                        .arg(question));
  }
  if (!m_entries.isEmpty()) m_list->setCurrentRow(0);
  m_open->setEnabled(!m_entries.isEmpty());
  m_delete->setEnabled(!m_entries.isEmpty());
}

void ConversationsDialog::removeSelected() {
  const int row = m_list->currentRow();
  if (row < 0 || row >= m_entries.size()) return;
  const Entry& e = m_entries[row];
  if (QMessageBox::question(this, tr("Delete conversation"),
                            tr("Delete the conversation that begins \"%1\"? It cannot be brought back.")
                                .arg(e.firstQuestion.left(60))) != QMessageBox::Yes)
    return;
  QFile::remove(e.path);
  refresh();
}
