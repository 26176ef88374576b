#include "widgets/imagedrop.h"

#include <QDragEnterEvent>
#include <QFileInfo>
#include <QImageReader>
#include <QMimeData>

#include "data/scene.h"

ImageDrop::ImageDrop(QWidget* parent) : QLabel(parent) {
  setAcceptDrops(true);
  setAlignment(Qt::AlignCenter);
  setMinimumSize(160, 160);
  setFrameShape(QFrame::StyledPanel);
  setWordWrap(true);
  clear();
}

void ImageDrop::setImage(const QImage& image, const QString& source) {
  m_image = image;
  m_scene.reset();  // a scene's image sets it again after this
  setToolTip(source);
  refresh();
  emit imageChanged(m_image, source);
}

void ImageDrop::clear() {
  m_image = QImage();
  m_scene.reset();
  setPixmap(QPixmap());
  setText(tr("Drop or paste an image,\nor make a random scene"));
  setToolTip({});
}

bool ImageDrop::loadFile(const QString& path, QString* error) {
  QImageReader reader(path);
  reader.setAutoTransform(true);
  const QImage img = reader.read();
  if (img.isNull()) {
    if (error) *error = tr("%1 is not an image this build can decode (%2). Try a PNG or JPEG file.")
                            .arg(QFileInfo(path).fileName(), reader.errorString());
    return false;
  }
  setImage(img, path);
  return true;
}

void ImageDrop::makeScene(quint64 seed) {
  mm::data::SceneRng rng(seed);
  const mm::data::Scene scene = mm::data::random_scene(rng);
  std::vector<uint8_t> rgb;
  try {
    rgb = mm::data::render_scene(scene);
  } catch (const std::exception& e) {
    emit loadFailed(QString::fromUtf8(e.what()));
    return;
  }
  const QImage img(rgb.data(), scene.side, scene.side, scene.side * 3, QImage::Format_RGB888);
  setImage(img.copy(), tr("random scene %1").arg(seed));
  m_scene = scene;
}

void ImageDrop::refresh() {
  if (m_image.isNull()) return;
  setPixmap(QPixmap::fromImage(m_image.scaled(size() - QSize(8, 8), Qt::KeepAspectRatio,
                                              m_image.width() < 200 ? Qt::FastTransformation : Qt::SmoothTransformation)));
}

void ImageDrop::resizeEvent(QResizeEvent* event) {
  QLabel::resizeEvent(event);
  refresh();
}

void ImageDrop::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls() || event->mimeData()->hasImage()) event->acceptProposedAction();
}

void ImageDrop::dropEvent(QDropEvent* event) {
  const QMimeData* mime = event->mimeData();
  if (mime->hasImage()) {
    setImage(qvariant_cast<QImage>(mime->imageData()), tr("dropped image"));
    return;
  }
  for (const QUrl& url : mime->urls()) {
    QString error;
    if (!loadFile(url.toLocalFile(), &error)) emit loadFailed(error);
    break;
  }
}
