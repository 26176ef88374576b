// Chat sessions: streaming deltas add up to the reply, regenerate replays from the snapshot without
// re-reading the prompt, cancellation stops a reply or leaves the conversation untouched, images work.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <ATen/CPUGeneratorImpl.h>

#include "generate/chat_session.h"
#include "image/image_tiles.h"
#include "models/random_init.h"
#include "text/tokenizer_files.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QTemporaryDir>
#include <QtTest>

using namespace mm;

class TestChat : public QObject {
  Q_OBJECT

  QTemporaryDir dir_;
  ModelConfig cfg_ = architecture_preset("micro");
  std::unique_ptr<VlmModel> model_;
  std::unique_ptr<Tokenizer> tok_;

  SamplingOptions greedy(int n) const {
    SamplingOptions o;
    o.max_new_tokens = n;
    o.stop_ids = {-1};  // random weights: never stop early, so lengths are predictable
    return o;
  }

 private slots:
  void initTestCase() {
    write_tokenizer_dir(dir_.path().toStdString(), int(cfg_.vocab_size), sample_scene_sentences(500, 1));
    tok_ = Tokenizer::load(dir_.path().toStdString());
    QCOMPARE(tok_->token_id(kImgContext), cfg_.img_context_token_id);
    model_ = std::make_unique<VlmModel>(cfg_, random_weights(cfg_, 3, 0.1));
  }

  void streamedDeltasMakeTheReply() {
    ChatSession s(*model_, *tok_, "You are terse.");
    std::string streamed;
    int events = 0;
    JobContext ctx;
    ctx.sink = [&](const Event& e) {
      if (auto* t = std::get_if<TokenEvent>(&e)) streamed += t->text_delta, events += t->id >= 0;
    };
    const ChatReply r = s.ask("Is there a red circle?", {}, {}, greedy(12), ctx);
    QCOMPARE(r.generation.ids.size(), size_t(12));
    QCOMPARE(events, 12);
    QCOMPARE(streamed, r.text);
    QCOMPARE(r.generation.stats.stop_reason, std::string("max_tokens"));
    QCOMPARE(s.turns().size(), size_t(2));
    QVERIFY(r.generation.stats.time_to_first_token > 0);
  }

  void regenerateReplaysFromTheSnapshot() {
    ChatSession s(*model_, *tok_, "");
    JobContext ctx;
    const ChatReply first = s.ask("How many squares?", {}, {}, greedy(8), ctx);
    const int64_t seq_after = s.cache().seq_len;
    const ChatReply again = s.regenerate(greedy(8), ctx);
    QCOMPARE(again.generation.ids, first.generation.ids);  // greedy: the same reply
    QCOMPARE(s.cache().seq_len, seq_after);
    QCOMPARE(s.turns().size(), size_t(2));
    // Sampling with a different seed draws a different reply from the same state.
    SamplingOptions hot = greedy(8);
    hot.temperature = 1.5;
    hot.seed = 99;
    const ChatReply sampled = s.regenerate(hot, ctx);
    QVERIFY(sampled.generation.ids != first.generation.ids);
    // A second turn continues the conversation.
    const ChatReply next = s.ask("And circles?", {}, {}, greedy(4), ctx);
    QCOMPARE(next.generation.ids.size(), size_t(4));
    QVERIFY(s.cache().seq_len > seq_after);
    QCOMPARE(s.turns().size(), size_t(4));
  }

  void anEarlierReplyCanBePutBack() {
    JobContext ctx;
    SamplingOptions hot = greedy(8);
    hot.temperature = 1.5;
    hot.seed = 7;
    // The first version ends on a stop token (not among its ids) or at the length limit (its last id
    // is still pending): both must be put back exactly.
    const std::vector<int64_t> probe = ChatSession(*model_, *tok_, "").ask("How many squares?", {}, {}, hot, ctx).generation.ids;
    size_t cut = 1;
    while (cut < probe.size() && std::find(probe.begin(), probe.begin() + cut, probe[cut]) != probe.begin() + cut) ++cut;
    QVERIFY(cut < probe.size());
    SamplingOptions stopping = hot;
    stopping.stop_ids = {probe[cut]};
    SamplingOptions other = hot;
    other.seed = 8;
    for (const SamplingOptions& first_opts : {hot, stopping}) {
      ChatSession a(*model_, *tok_, "");
      const ChatReply first = a.ask("How many squares?", {}, {}, first_opts, ctx);
      QCOMPARE(first.generation.stats.stop_reason, std::string(first_opts.stop_ids == stopping.stop_ids ? "stop_token" : "max_tokens"));
      const ChatReply second = a.regenerate(other, ctx);
      QVERIFY(second.generation.ids != first.generation.ids);
      a.use_reply(first.generation.ids, first.generation.last_token, first.text, ctx);
      QCOMPARE(a.turns().back().text, first.text);
      const ChatReply next = a.ask("And circles?", {}, {}, greedy(6), ctx);
      // The same conversation without the detour: the follow-up and the cache are identical.
      ChatSession b(*model_, *tok_, "");
      QCOMPARE(b.ask("How many squares?", {}, {}, first_opts, ctx).generation.ids, first.generation.ids);
      const ChatReply expected = b.ask("And circles?", {}, {}, greedy(6), ctx);
      QCOMPARE(next.generation.ids, expected.generation.ids);
      QCOMPARE(a.cache().seq_len, b.cache().seq_len);
      QCOMPARE(a.turns().size(), size_t(4));
    }
    ChatSession fresh(*model_, *tok_, "");
    QVERIFY_THROWS_EXCEPTION(InputError, fresh.use_reply({1, 2}, 2, "x", ctx));
  }

  void cancelStopsTheReply() {
    ChatSession s(*model_, *tok_, "");
    JobContext ctx;
    int tokens = 0;
    ctx.sink = [&](const Event& e) {
      auto* t = std::get_if<TokenEvent>(&e);
      if (t && t->id >= 0 && ++tokens == 3) ctx.cancel.cancel();
    };
    const ChatReply r = s.ask("Describe the image.", {}, {}, greedy(50), ctx);
    QCOMPARE(r.generation.stats.stop_reason, std::string("cancelled"));
    QCOMPARE(r.generation.ids.size(), size_t(3));
    // Cancelled before it starts: the conversation is left as it was.
    JobContext early;
    early.cancel.cancel();
    const int64_t before = s.cache().seq_len;
    QVERIFY_THROWS_EXCEPTION(Cancelled, s.ask("Another?", {}, {}, greedy(5), early));
    QCOMPARE(s.cache().seq_len, before);
    QCOMPARE(s.turns().size(), size_t(2));
  }

  void samplerOptionsBehave() {
    at::Generator g = at::detail::createCPUGenerator(1);
    const at::Tensor logits = at::tensor({1.0f, 3.0f, 2.9f, -1.0f});
    SamplingOptions o;
    QCOMPARE(sample_token(logits, {}, o, g), int64_t(1));  // greedy
    o.temperature = 1.0;
    o.top_k = 1;
    QCOMPARE(sample_token(logits, {}, o, g), int64_t(1));
    o.top_k = 0;
    o.top_p = 0.01;  // only the best token survives
    for (int i = 0; i < 20; ++i) QCOMPARE(sample_token(logits, {}, o, g), int64_t(1));
    o.top_p = 1.0;
    o.top_k = 2;  // never tokens 0 or 3
    for (int i = 0; i < 50; ++i) {
      const int64_t t = sample_token(logits, {}, o, g);
      QVERIFY(t == 1 || t == 2);
    }
    SamplingOptions rep;
    rep.repetition_penalty = 1.5;  // 3.0 / 1.5 < 2.9: the seen token loses
    QCOMPARE(sample_token(logits, {1}, rep, g), int64_t(2));
    rep.top_p = 0;
    QVERIFY_THROWS_EXCEPTION(InputError, validate(rep));
    // Issue 10: NaN and infinity are refused, not passed to the sampler.
    for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
      SamplingOptions t;
      t.temperature = bad;
      QVERIFY_THROWS_EXCEPTION(InputError, validate(t));
      SamplingOptions r;
      r.repetition_penalty = bad;
      QVERIFY_THROWS_EXCEPTION(InputError, validate(r));
    }
  }

  // Issue 10: a conversation longer than the positions the config declares is refused with a hint,
  // and the session is unharmed.
  void promptsPastTheMaximumPositionAreRefused() {
    ChatSession s(*model_, *tok_, "");
    JobContext ctx;
    std::string question;
    for (int i = 0; i < 1500; ++i) question += "red circle ";
    try {
      s.ask(question, {}, {}, greedy(2), ctx);
      QFAIL("a prompt past max_position_embeddings must be refused");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("max_position_embeddings") != std::string::npos && !e.hint().empty(), e.what());
    }
    QCOMPARE(s.turns().size(), size_t(0));
    QCOMPARE(s.ask("Is there a red circle?", {}, {}, greedy(2), ctx).generation.ids.size(), size_t(2));
  }

  // A reply never runs past the last position the config declares (it used to decode on, with RoPE
  // past its trained range): it stops there with stop_reason max_positions.
  void repliesStopAtTheMaximumPosition() {
    ModelConfig small = cfg_;
    small.he.max_position_embeddings = small.llm.max_position_embeddings = 12;
    const VlmModel model(small, random_weights(small, 3, 0.1));
    const at::Tensor ids = at::arange(1, 10, at::kLong).view({1, -1});  // (1, 9): positions 0-8
    ModelCache cache(model.config(), 1, model.options());
    const Generation g = generate(model, cache, ids, at::Tensor(), greedy(20), {});
    QCOMPARE(g.stats.stop_reason, std::string("max_positions"));
    QCOMPARE(g.ids.size(), size_t(4));  // sampled at positions 8, 9, 10, 11
    QCOMPARE(cache.seq_len, int64_t(12));
    ModelCache roomy(model.config(), 1, model.options());
    QCOMPARE(generate(model, roomy, ids, at::Tensor(), greedy(2), {}).stats.stop_reason, std::string("max_tokens"));
  }

  // A reply reserves its KV cache for the prompt and the whole reply before the prefill (in steps of
  // 1024 positions, never past the config's), so decoding never copies the cache to grow it; a turn
  // that fits in the reservation keeps the same tensors.
  void repliesReserveTheirCacheUpFront() {
    ChatSession s(*model_, *tok_, "");
    JobContext ctx;
    s.ask("How many squares?", {}, {}, greedy(20), ctx);
    const int64_t positions = max_sequence_length(cfg_);
    QVERIFY(positions >= 1024);
    std::vector<const void*> before;
    for (const LayerCache& lc : s.cache().layers) {
      if (lc.kind != LayerKind::attention) continue;
      QCOMPARE(lc.attn.k.size(2), int64_t(1024));  // the growing cache would hold 64
      before.push_back(lc.attn.k.data_ptr());
    }
    QVERIFY(!before.empty());
    s.ask("And circles?", {}, {}, greedy(20), ctx);
    size_t i = 0;
    for (const LayerCache& lc : s.cache().layers)
      if (lc.kind == LayerKind::attention) QCOMPARE(lc.attn.k.data_ptr(), before[i++]);
    QCOMPARE(s.cache().layers[0].attn.len, s.cache().seq_len);
  }

  void imagesAreExpandedAndSeen() {
    // A 2:1 image of two colours -> a 2x1 grid + thumbnail = 3 tiles of 56 px.
    std::vector<uint8_t> rgb(112 * 56 * 3);
    for (int y = 0; y < 56; ++y)
      for (int x = 0; x < 112; ++x) rgb[(y * 112 + x) * 3 + (x < 56 ? 0 : 2)] = 255;
    TileOptions o;
    o.image_size = int(cfg_.vision.image_size);
    o.max_num = 4;
    const ImageTiles tiles = tile_image_rgb(rgb.data(), 112, 56, 112 * 3, o);
    QCOMPARE(tiles.pixels.size(0), int64_t(3));
    ChatSession with(*model_, *tok_, ""), without(*model_, *tok_, "");
    JobContext ctx;
    const ChatReply a = with.ask("What colour is on the left?", tiles.pixels, {3}, greedy(6), ctx);
    const ChatReply b = without.ask("What colour is on the left?", {}, {}, greedy(6), ctx);
    // <image>\n + <img> + 3 x 4 context tokens + </img> are added to the prompt.
    QVERIFY(a.generation.stats.prompt_tokens >= b.generation.stats.prompt_tokens + 3 * cfg_.tokens_per_tile() + 2);
    QVERIFY_THROWS_EXCEPTION(InputError, with.ask("Mismatch", tiles.pixels, {2}, greedy(2), ctx));
    QVERIFY_THROWS_EXCEPTION(InputError, with.ask("   ", {}, {}, greedy(2), ctx));
  }
};

QTEST_GUILESS_MAIN(TestChat)
#include "test_chat.moc"
