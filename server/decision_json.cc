#include "server/decision_json.h"


namespace portcullis::server {

Result<engine::EntityRef> ParseRef(std::string_view text,
                                   std::string_view field) {
  std::optional<engine::EntityRef> ref = engine::ParseEntityRef(text);
  if (!ref) {
    return Fail(Status::InvalidArgument(
        std::string(field) + " must be a \"type:id\" reference, got \"" +
            std::string(text.substr(0, 200)) + "\"",
        std::string(field)));
  }
  return *ref;
}

void WriteReason(JsonWriter& w, const engine::Policy& policy,
                 const engine::Reason& reason, std::string_view action,
                 const std::string& message) {
  w.StartObject();
  w.Key("code");
  const std::string_view code = engine::ReasonCodeName(reason.code);
  w.String(code.data(), code.size());
  w.Key("message");
  w.String(message);
  if (reason.role != engine::kNoRole && reason.role < policy.roles.size()) {
    w.Key("role");
    w.String(policy.roles[reason.role].name);
  }
  if (reason.rule != nullptr) {
    w.Key("rule");
    w.String(reason.rule->name);
  }
  if (!reason.at.empty()) {
    w.Key("at");
    w.String(reason.at.ToString());
  }
  if (reason.error) {
    w.Key("error");
    const std::string_view kind = engine::EvalErrorKindName(reason.error.kind);
    w.String(kind.data(), kind.size());
  }
  w.EndObject();
}

void WriteTrace(JsonWriter& w, const engine::Trace& trace) {
  w.StartArray();
  for (const engine::TraceStep& step : trace.steps) {
    w.StartObject();
    w.Key("what");
    w.String(step.what);
    w.Key("outcome");
    w.String(step.outcome);
    if (step.location.line != 0) {
      w.Key("location");
      w.String(step.location.ToString());
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace portcullis::server
