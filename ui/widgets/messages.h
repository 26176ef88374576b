// Errors shown without blocking the event loop (the engine keeps streaming while a message is open).
#pragma once

#include <QMessageBox>
#include <QString>
#include <QWidget>

namespace ui {

/// A window-modal error box that deletes itself when closed. The first line of message is the summary;
/// the rest (the engine's HINT included) goes into the text below it.
inline QMessageBox* showError(QWidget* parent, const QString& title, const QString& message) {
  auto* box = new QMessageBox(QMessageBox::Critical, title, message.section('\n', 0, 0), QMessageBox::Ok, parent);
  box->setInformativeText(message.section('\n', 1));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setObjectName("errorBox");
  box->open();
  return box;
}

}  // namespace ui
