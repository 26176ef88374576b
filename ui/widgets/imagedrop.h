// An image well: drop a file, paste, open, or generate a random scene; shows what is attached.
#pragma once

#include <QImage>
#include <QLabel>

#include <optional>

#include "data/scene.h"

class ImageDrop : public QLabel {
  Q_OBJECT
 public:
  explicit ImageDrop(QWidget* parent = nullptr);
  const QImage& image() const { return m_image; }
  void setImage(const QImage& image, const QString& source);
  void clear();
  /// Loads an image file; false (with a reason in error) when it cannot be decoded.
  bool loadFile(const QString& path, QString* error);
  /// A random scene from the demo data generator (deterministic in seed).
  void makeScene(quint64 seed);
  /// The scene the image shows when makeScene drew it (its objects answer questions), else none.
  const std::optional<mm::data::Scene>& scene() const { return m_scene; }

 signals:
  void imageChanged(const QImage& image, const QString& source);
  void loadFailed(const QString& message);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  void refresh();
  QImage m_image;
  std::optional<mm::data::Scene> m_scene;
};
