// The decision log: one JSON line per decision, and the decision counters.
#include <charconv>

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
  // Written into this thread's buffer: no heap block once it has grown.
  thread_local ReusedJsonWriter line;
  JsonWriter& w = line.Start();
  Rfc3339Buffer time;
  const std::string_view time_text = FormatRfc3339(NowMicros(), &time);
  w.StartObject();
  w.Key("time");
  w.String(time_text.data(),
           static_cast<rapidjson::SizeType>(time_text.size()));
  w.Key("request_id");
  // A client's id may hold bytes that are not UTF-8 (obs-text).
  thread_local std::string request_id_text;
  request_id_text.clear();
  AppendValidUtf8(call.request_id, &request_id_text);
  w.String(request_id_text);
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
  const std::string_view version =
      call.policy ? std::string_view(call.policy->policy->version)
                  : std::string_view();
  w.String(version.data(), static_cast<rapidjson::SizeType>(version.size()));
  w.Key("revision");
  char revision_text[24];
  const char* end =
      std::to_chars(revision_text, revision_text + sizeof(revision_text),
                    revision)
          .ptr;
  w.String(revision_text,
           static_cast<rapidjson::SizeType>(end - revision_text));
  w.EndObject();
  call.api.options.decision_log(line.text());
}

}  // namespace portcullis::server
