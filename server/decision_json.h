// Shared pieces of the decision endpoints (native and AuthZEN): parsing
// entity references and writing decisions, reasons and traces as JSON.
//
// Thread safety: plain functions; a JsonWriter belongs to one request.
#ifndef PORTCULLIS_SERVER_DECISION_JSON_H_
#define PORTCULLIS_SERVER_DECISION_JSON_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/evaluator.h"
#include "server/json.h"

namespace portcullis::server {

// Parses "type:id"; INVALID_ARGUMENT naming `field` if it is not one.
Result<engine::EntityRef> ParseRef(std::string_view text,
                                   std::string_view field);

// {"code": ReasonCodeName, "message": explain::ReasonText, "role"?, "rule"?,
//  "at"?, "error"?}
void WriteReason(JsonWriter& w, const engine::Policy& policy,
                 const engine::Reason& reason, std::string_view action,
                 const std::string& message);

// [{"what","outcome","location"?}, ...]
void WriteTrace(JsonWriter& w, const engine::Trace& trace);

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_DECISION_JSON_H_
