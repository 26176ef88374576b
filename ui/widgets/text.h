// Small string helpers shared by the pages: std::string to QString, and quoting for shown CLI commands.
#pragma once

#include <QRegularExpression>
#include <QString>

#include <string>

namespace ui {

inline QString qs(const std::string& s) { return QString::fromStdString(s); }

/// s as one shell word: unchanged when it is plain, else single-quoted.
inline QString shellQuote(const QString& s) {
  static const QRegularExpression special("[^A-Za-z0-9_./:,=-]");
  if (!s.isEmpty() && !s.contains(special)) return s;
  return "'" + QString(s).replace("'", "'\\''") + "'";
}

}  // namespace ui
