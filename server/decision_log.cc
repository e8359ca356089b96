// The decision log: one JSON line per decision, and the decision counters.
#include "common/clock.h"
#include "server/handlers.h"
#include "server/json.h"

namespace portcullis::server {

void LogDecision(const Call& call, std::string_view subject,
                 std::string_view action, std::string_view resource,
                 const engine::Decision& decision,
                 std::string_view reason_message, uint64_t revision) {
  call.api.metrics->ObserveDecision(decision.allowed);
  if (!call.api.options.decision_log) return;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("time");
  w.String(FormatRfc3339(NowMicros()));
  w.Key("request_id");
  w.String(call.request_id);
  w.Key("subject");
  w.String(subject.data(), subject.size());
  w.Key("action");
  w.String(action.data(), action.size());
  w.Key("resource");
  w.String(resource.data(), resource.size());
  w.Key("decision");
  w.String(decision.allowed ? "allow" : "deny");
  w.Key("reason");
  const std::string_view code = engine::ReasonCodeName(decision.reason.code);
  w.String(code.data(), code.size());
  w.Key("message");
  w.String(reason_message.data(), reason_message.size());
  w.Key("policy_version");
  w.String(call.policy ? call.policy->policy->version : std::string());
  w.Key("revision");
  w.String(std::to_string(revision));
  w.EndObject();
  call.api.options.decision_log(
      std::string_view(buf.GetString(), buf.GetSize()));
}

}  // namespace portcullis::server
