// Chat jobs: tiles for the preview, streamed tokens, and the reply's statistics.
// ATen before Qt: Qt's `slots` macro breaks ATen headers.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "config/plan_stats.h"
#include "controller/enginecontroller.h"
#include "controller/enginestate.h"
#include "image/model_tiles.h"
#include "runtime/errors.h"
#include "widgets/text.h"

namespace {

using ui::qs;

mm::SamplingOptions samplingOptions(const SamplingSettings& s) {
  mm::SamplingOptions o;
  o.temperature = s.temperature;
  o.top_k = s.topK;
  o.top_p = s.topP;
  o.repetition_penalty = s.repetitionPenalty;
  o.max_new_tokens = s.maxNewTokens;
  o.seed = s.seed;
  mm::validate(o);
  return o;
}

/// The readable text of one token: model pieces with the word marker as a space, bytes decoded; empty
/// for an unused vocabulary slot. (A model whose head is wider than its tokenizer, e.g. `create --arch
/// tiny` with its placeholder tokenizer, samples such ids; the reply text skips them, and asking the
/// tokenizer for their text used to fail the whole reply with "token id 680 is not in the vocabulary".)
QString pieceText(const mm::Tokenizer& tok, int64_t id) {
  if (!tok.has_id(id)) return {};
  std::string t = tok.token_text(id);
  if (t.rfind("<0x", 0) == 0) return qs(tok.decode({id}));
  for (size_t p; (p = t.find("\xE2\x96\x81")) != std::string::npos;) t.replace(p, 3, " ");
  return qs(t);
}

/// The tiles of an RGB image as the model's config asks, in the model's dtype and device.
mm::ImageTiles tilesFor(const mm::VlmModel& model, const QImage& rgb) {
  return mm::tile_image_rgb(rgb.constBits(), rgb.width(), rgb.height(), int(rgb.bytesPerLine()),
                            mm::tile_options_for(model.config()));
}

TilePreview previewOf(const mm::ImageTiles& tiles, int side) {
  TilePreview p;
  p.cols = tiles.grid.cols;
  p.rows = tiles.grid.rows;
  p.thumbnail = tiles.thumbnail;
  for (int i = 0; i < int(tiles.pixels.size(0)); ++i) {
    const std::vector<uint8_t> rgb = mm::tiles_to_rgb(tiles.pixels, i);
    p.tiles << QImage(rgb.data(), side, side, side * 3, QImage::Format_RGB888).copy();
  }
  return p;
}

}  // namespace

quint64 EngineController::chat(const ChatRequest& req) {
  const QImage rgb = req.image.isNull() ? QImage() : req.image.convertToFormat(QImage::Format_RGB888);
  const mm::SamplingOptions opts = samplingOptions(req.sampling);
  const std::string path = req.modelPath.toStdString();
  return submit([this, state = m_state, req, rgb, opts, path](mm::JobContext& ctx, const Poster& post) -> GuiResult {
    c10::NoGradGuard noGrad;
    LoadedModel& m = state->load(path, ctx);
    mm::ChatSession& session = state->session(m, req.systemPrompt.toStdString());
    mm::SamplingOptions o = opts;
    o.stop_ids = session.default_stop_ids();
    ctx.progress("chat", -1, "answering");
    mm::ChatReply reply;
    if (req.regenerate) {
      reply = session.regenerate(o, ctx);
    } else {
      at::Tensor pixels;
      std::vector<int> tilesPerImage;
      if (!rgb.isNull()) {
        mm::ImageTiles tiles = tilesFor(*m.model, rgb);
        TilePreview preview = previewOf(tiles, int(m.model->config().vision.image_size));
        preview.modelPath = req.modelPath;
        post([this, preview](quint64 id) { emit tilesReady(id, preview); });
        pixels = tiles.pixels.to(m.model->options());
        tilesPerImage.push_back(int(tiles.pixels.size(0)));
      }
      reply = session.ask(req.question.toStdString(), pixels, tilesPerImage, o, ctx);
    }
    const mm::GenerationStats& st = reply.generation.stats;
    const mm::PlanStats plan = mm::compute_plan_stats(m.model->config(), m.model->options().dtype().itemsize());
    ChatReplyInfo info;
    info.modelPath = req.modelPath;
    info.text = qs(reply.text);
    for (int64_t id : reply.generation.ids) {
      info.ids << id;
      info.pieces << pieceText(*m.tokenizer, id);
    }
    info.promptTokens = st.prompt_tokens;
    info.newTokens = st.new_tokens;
    info.timeToFirstToken = st.time_to_first_token;
    info.tokensPerSecond = st.decode_tokens_per_second();
    info.cacheBytes = st.cache_bytes;
    info.kvBytesPerToken = plan.kv_bytes_per_token;
    info.stateBytes = plan.state_bytes;
    info.stopReason = qs(st.stop_reason);
    info.lastToken = reply.generation.last_token;
    return [this, info](quint64 id) { emit replyFinished(id, info); };
  });
}

quint64 EngineController::useReply(const QString& modelPath, const ChatReplyInfo& version) {
  const std::string path = modelPath.toStdString(), text = version.text.toStdString();
  const std::vector<int64_t> ids(version.ids.begin(), version.ids.end());
  const int64_t last = version.lastToken;
  return submit([state = m_state, path, text, ids, last](mm::JobContext& ctx, const Poster&) -> GuiResult {
    c10::NoGradGuard noGrad;
    auto it = state->models.find(path);
    if (it == state->models.end() || !it->second->session)
      throw mm::InputError("this model holds no conversation", "ask a question first");
    it->second->session->use_reply(ids, last, text, ctx);
    return {};
  });
}

void EngineController::resetChat(const QString& modelPath) {
  const std::string path = modelPath.toStdString();
  submit([state = m_state, path](mm::JobContext&, const Poster&) -> GuiResult {
    auto it = state->models.find(path);
    if (it != state->models.end() && it->second->session) it->second->session->reset();
    return {};
  });
}

quint64 EngineController::restoreChat(const QString& modelPath, const QString& systemPrompt,
                                      const QVector<ChatExchange>& exchanges) {
  QVector<ChatExchange> rgbExchanges = exchanges;
  for (ChatExchange& e : rgbExchanges)
    if (!e.image.isNull()) e.image = e.image.convertToFormat(QImage::Format_RGB888);
  const std::string path = modelPath.toStdString(), system = systemPrompt.toStdString();
  return submit([state = m_state, path, system, rgbExchanges](mm::JobContext& ctx, const Poster&) -> GuiResult {
    c10::NoGradGuard noGrad;
    LoadedModel& m = state->load(path, ctx);
    mm::ChatSession& session = state->session(m, system);
    session.reset();
    for (int i = 0; i < rgbExchanges.size(); ++i) {
      const ChatExchange& e = rgbExchanges[i];
      ctx.progress("restore", double(i) / rgbExchanges.size(), "reading the conversation into the model");
      at::Tensor pixels;
      std::vector<int> tilesPerImage;
      if (!e.image.isNull()) {
        pixels = tilesFor(*m.model, e.image).pixels.to(m.model->options());
        tilesPerImage.push_back(int(pixels.size(0)));
      }
      session.add_exchange(e.question.toStdString(), pixels, tilesPerImage, e.reply.toStdString(), ctx);
    }
    return {};
  });
}
