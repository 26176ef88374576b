// What the engine thread owns: the device and the models loaded for chat, with their conversations.
// Only jobs running on the engine thread touch it.
#pragma once

#include <c10/core/Device.h>

#include <map>
#include <memory>
#include <string>

#include "generate/chat_session.h"
#include "models/vlm_model.h"
#include "runtime/job.h"
#include "text/tokenizer.h"

struct LoadedModel {
  std::unique_ptr<mm::VlmModel> model;
  std::unique_ptr<mm::Tokenizer> tokenizer;
  std::unique_ptr<mm::ChatSession> session;
  std::string systemPrompt;
};

struct EngineState {
  c10::Device device{c10::kCPU};
  std::map<std::string, std::unique_ptr<LoadedModel>> models;  ///< by checkpoint directory

  /// The model of dir, loaded (and fused for inference) on first use.
  LoadedModel& load(const std::string& dir, const mm::JobContext& ctx);
  /// Its chat session; a new one when the system prompt changed.
  mm::ChatSession& session(LoadedModel& m, const std::string& systemPrompt);
};
