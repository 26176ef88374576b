#include "generate/chat_session.h"

#include "runtime/errors.h"

namespace mm {

ChatSession::ChatSession(const VlmModel& model, const Tokenizer& tokenizer, std::string system_prompt)
    : model_(model), tok_(tokenizer), system_(std::move(system_prompt)) {
  reset();
}

void ChatSession::reset() {
  cache_ = model_.new_cache(1);
  turns_.clear();
  pending_.clear();
  reply_prompt_.clear();
}

std::vector<int64_t> ChatSession::default_stop_ids() const {
  std::vector<int64_t> ids;
  for (const char* t : {kImEnd, "</s>"}) {
    const int64_t id = tok_.token_id(t);
    if (id >= 0) ids.push_back(id);
  }
  if (tok_.eos_id() >= 0 && std::find(ids.begin(), ids.end(), tok_.eos_id()) == ids.end()) ids.push_back(tok_.eos_id());
  return ids;
}

std::vector<int64_t> ChatSession::user_turn_ids(const std::string& question, const at::Tensor& pixels,
                                               const std::vector<int>& tiles_per_image) const {
  if (question.find_first_not_of(" \t\r\n") == std::string::npos && tiles_per_image.empty())
    throw InputError("the message is empty", "type a question");
  std::vector<int> tokens_per_image;
  int total_tiles = 0;
  for (int n : tiles_per_image) {
    tokens_per_image.push_back(int(n * model_.config().tokens_per_tile()));
    total_tiles += n;
  }
  if ((pixels.defined() ? pixels.size(0) : 0) != total_tiles)
    throw InputError("the images have " + std::to_string(pixels.defined() ? pixels.size(0) : 0) +
                     " tiles but tiles_per_image adds up to " + std::to_string(total_tiles));
  const std::string q = ensure_image_placeholders(question, int(tiles_per_image.size()));
  // Only the new part of the conversation is encoded and fed: the cache holds the rest.
  const bool first = turns_.empty();
  // After the first turn, the previous reply ends with <|im_end|> (added below unless it was the stop token).
  // What the user typed is plain text: only the template makes control tokens.
  const Prompt prompt = chat_prompt(first ? system_ : std::string(), {{"user", q}}, true, tokens_per_image);
  std::vector<int64_t> ids = pending_;
  const int64_t im_end = tok_.token_id(kImEnd);
  if (!first && (pending_.empty() || pending_.back() != im_end)) ids.push_back(im_end);
  const std::vector<int64_t> enc = tok_.encode(prompt, first);
  ids.insert(ids.end(), enc.begin(), enc.end());
  return ids;
}

ChatReply ChatSession::ask(const std::string& question, const at::Tensor& pixels,
                           const std::vector<int>& tiles_per_image, const SamplingOptions& opts, JobContext& ctx) {
  const std::vector<int64_t> ids = user_turn_ids(question, pixels, tiles_per_image);
  turns_.push_back({"user", question});
  pending_before_ = pending_;
  ChatReply r;
  try {
    r = run_reply(ids, pixels, opts, ctx);
  } catch (...) {
    turns_.pop_back();
    throw;
  }
  turns_.push_back({"assistant", r.text});
  return r;
}

void ChatSession::add_exchange(const std::string& question, const at::Tensor& pixels,
                               const std::vector<int>& tiles_per_image, const std::string& reply, JobContext& ctx) {
  std::vector<int64_t> ids = user_turn_ids(question, pixels, tiles_per_image);
  const std::vector<int64_t> answer = tok_.encode_plain(reply, false);
  ids.insert(ids.end(), answer.begin(), answer.end());
  const CacheSnapshot before = cache_.snapshot();
  try {
    prefill(model_, cache_, at::tensor(ids, at::kLong).view({1, -1}), pixels, SamplingOptions().prefill_chunk, &ctx.cancel);
  } catch (...) {
    cache_.restore(before);
    throw;
  }
  ctx.check_cancel();
  turns_.push_back({"user", question});
  turns_.push_back({"assistant", reply});
  pending_.clear();  // the next turn closes this reply with <|im_end|>
  reply_prompt_.clear();  // nothing to regenerate: this reply was not sampled here
}

ChatReply ChatSession::regenerate(const SamplingOptions& opts, JobContext& ctx) {
  if (reply_prompt_.empty() || turns_.empty() || turns_.back().role != "assistant")
    throw InputError("there is no reply to regenerate", "ask a question first");
  cache_.restore(before_reply_);
  turns_.pop_back();
  pending_ = pending_before_;
  ChatReply r = run_reply(reply_prompt_, reply_pixels_, opts, ctx);
  turns_.push_back({"assistant", r.text});
  return r;
}

void ChatSession::use_reply(const std::vector<int64_t>& ids, int64_t last_token, const std::string& text,
                            JobContext& ctx) {
  if (reply_prompt_.empty() || turns_.empty())
    throw InputError("there is no reply to replace", "ask a question first");
  // The cache after a reply holds its prompt and every sampled token but the last (which stays
  // pending): a stop token is not among ids, a length limit's last token is ids.back().
  std::vector<int64_t> fed = reply_prompt_;
  fed.insert(fed.end(), ids.begin(), ids.end());
  if (!ids.empty() && ids.back() == last_token) fed.pop_back();
  cache_.restore(before_reply_);
  pending_ = pending_before_;
  if (turns_.back().role == "assistant") turns_.pop_back();
  try {
    prefill(model_, cache_, at::tensor(fed, at::kLong).view({1, -1}), reply_pixels_, SamplingOptions().prefill_chunk,
            &ctx.cancel);
  } catch (...) {
    cache_.restore(before_reply_);
    throw;
  }
  turns_.push_back({"assistant", text});
  pending_ = last_token >= 0 ? std::vector<int64_t>{last_token} : std::vector<int64_t>{};
}

std::string ChatSession::reply_text(const std::vector<int64_t>& ids) const {
  std::vector<int64_t> known;  // ids without text (unused vocabulary slots) add nothing
  for (int64_t id : ids)
    if (tok_.has_id(id)) known.push_back(id);
  return tok_.decode(known, /*skip_special=*/true);
}

ChatReply ChatSession::run_reply(const std::vector<int64_t>& new_ids, const at::Tensor& pixels,
                                 const SamplingOptions& opts_in, JobContext& ctx) {
  SamplingOptions opts = opts_in;
  if (opts.stop_ids.empty()) opts.stop_ids = default_stop_ids();
  before_reply_ = cache_.snapshot();
  reply_prompt_ = new_ids;
  reply_pixels_ = pixels;
  const at::Tensor ids = at::tensor(new_ids, at::kLong).view({1, -1});
  ChatReply r;
  std::vector<int64_t> so_far;
  std::string streamed;
  auto on_token = [&](int64_t id) {
    so_far.push_back(id);
    // Emit the new stable text; a trailing incomplete byte sequence (U+FFFD) waits for the next token.
    std::string text = reply_text(so_far);
    while (text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0) text.resize(text.size() - 3);
    std::string delta;
    if (text.size() > streamed.size() && text.compare(0, streamed.size(), streamed) == 0) delta = text.substr(streamed.size());
    streamed += delta;
    ctx.send(TokenEvent{id, delta});
  };
  try {
    r.generation = generate(model_, cache_, ids, pixels, opts, on_token, &ctx.cancel);
  } catch (...) {
    cache_.restore(before_reply_);  // a failed or cancelled prefill leaves the conversation as it was
    throw;
  }
  r.text = reply_text(r.generation.ids);
  if (r.text.size() > streamed.size() && r.text.compare(0, streamed.size(), streamed) == 0)
    ctx.send(TokenEvent{-1, r.text.substr(streamed.size())});  // flush what was held back
  pending_ = {r.generation.last_token};
  if (r.generation.last_token < 0) pending_.clear();
  return r;
}

}  // namespace mm
