// Small helpers shared by the Qt Test executables.
#pragma once

#include <QTemporaryDir>
#include <QtTest>

#include <string>

namespace mm::test {

/// A fresh temporary directory that lives as long as the returned object.
inline std::string temp_path(const QTemporaryDir& dir, const char* name) {
  return dir.filePath(QString::fromUtf8(name)).toStdString();
}

}  // namespace mm::test
