// JSON helpers for the server: bounded parsing of request bodies, the error
// body, request attributes (context, AuthZEN properties) turned into the
// engine's AttributeMap, and stored attributes (of resources, subjects,
// groups) turned into the store's map.
//
// Thread safety: plain functions; an AttributeArena belongs to one request.
#ifndef PORTCULLIS_SERVER_JSON_H_
#define PORTCULLIS_SERVER_JSON_H_

#include <forward_list>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/status.h"
#include "common/utf8.h"  // IsValidUtf8, ValidUtf8
#include "engine/value.h"
#include "storage/store.h"

namespace portcullis::server {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline constexpr int kMaxJsonDepth = 32;

// Parses `body` (UTF-8 validated, explicit length) into *doc. Fails with
// INVALID_ARGUMENT naming the offset on a syntax error, when arrays and
// objects nest deeper than `max_depth`, and when an object at any depth
// holds a member name twice (the field is that member's path, e.g.
// "context.ip" or "checks[1].subject").
Status ParseJson(std::string_view body, rapidjson::Document* doc,
                 int max_depth = kMaxJsonDepth);


// Parses a body that must be a JSON object.
Status ParseJsonObject(std::string_view body, rapidjson::Document* doc);

// {"error":{"code":"INVALID_ARGUMENT","message":"...","field":"...",
// "reason":"..."}}; field and reason only when non-empty. Bytes of message
// and field that are not UTF-8 are escaped as "\xNN" (see ValidUtf8), so the
// body is always valid JSON.
std::string ErrorJson(std::string_view code, std::string_view message,
                      std::string_view field = {},
                      std::string_view reason = {});

// Field accessors. Each returns an INVALID_ARGUMENT naming `field` (the
// full path, e.g. "checks[2].subject") when the member has the wrong type,
// or, for the Required ones, is missing.
Result<std::string_view> RequiredString(const rapidjson::Value& obj,
                                        const char* name,
                                        std::string_view field);
Result<std::string_view> OptionalString(const rapidjson::Value& obj,
                                        const char* name,
                                        std::string_view field);
Result<bool> OptionalBool(const rapidjson::Value& obj, const char* name,
                          std::string_view field, bool fallback);
// A non-negative integer, or a string holding one (revisions are strings).
Result<uint64_t> OptionalUint(const rapidjson::Value& obj, const char* name,
                              std::string_view field, uint64_t fallback);

// Owns the values behind an AttributeMap built from JSON. The JSON
// document must outlive the arena (strings are viewed, not copied), except
// for the dotted keys, which the arena owns.
class AttributeArena {
 public:
  // Appends the members of `obj` to *out, nested objects flattened into
  // dotted keys under `prefix` ("device.ip"). Arrays become lists (objects
  // inside arrays are skipped). Fails if `obj` is not an object.
  Status Flatten(const rapidjson::Value& obj, std::string_view field,
                 std::vector<engine::Attribute>* out);

 private:
  void FlattenInto(const rapidjson::Value& obj, const std::string& prefix,
                   std::vector<engine::Attribute>* out);
  engine::Value ToValue(const rapidjson::Value& v);

  // Node-based, so references stay valid as they grow, and empty without
  // allocating: a request without attributes costs nothing here.
  std::forward_list<std::string> keys_;  // dotted keys only
  std::forward_list<std::vector<engine::Value>> lists_;
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_JSON_H_
