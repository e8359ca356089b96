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

// A request document whose parse stacks (the document's and the reader's)
// come from its value pool too: with rapidjson's default stack allocator
// every parse news an allocator object for each stack and mallocs them.
// Its values are plain rapidjson::Value.
using PooledJsonDocument =
    rapidjson::GenericDocument<rapidjson::UTF8<>,
                               rapidjson::MemoryPoolAllocator<>,
                               rapidjson::MemoryPoolAllocator<>>;

// A JSON writer and its buffer, kept by one thread for one purpose (the
// answer of a check, an access-log line) and reused: once the buffers have
// grown to fit, a text is written without a heap block. Declare it
// `thread_local`; the text is valid until the next Start on that thread.
// A buffer that held more than kKeepBytes is given back at the next Start.
class ReusedJsonWriter {
 public:
  static constexpr size_t kKeepBytes = 64 * 1024;
  ReusedJsonWriter() : writer_(buf_) {}
  ReusedJsonWriter(const ReusedJsonWriter&) = delete;
  ReusedJsonWriter& operator=(const ReusedJsonWriter&) = delete;

  // Empties the buffer and returns the writer, ready for one value.
  JsonWriter& Start() {
    const bool large = buf_.GetSize() > kKeepBytes;
    buf_.Clear();
    if (large) buf_.ShrinkToFit();
    writer_.Reset(buf_);
    return writer_;
  }
  const rapidjson::StringBuffer& buffer() const { return buf_; }
  std::string_view text() const {
    return std::string_view(buf_.GetString(), buf_.GetSize());
  }

 private:
  rapidjson::StringBuffer buf_;
  JsonWriter writer_;
};

inline constexpr int kMaxJsonDepth = 32;

// Parses `body` (UTF-8 validated, explicit length) into *doc. Fails with
// INVALID_ARGUMENT naming the offset on a syntax error, when arrays and
// objects nest deeper than `max_depth`, and when an object at any depth
// holds a member name twice (the field is that member's path, e.g.
// "context.ip" or "checks[1].subject").
Status ParseJson(std::string_view body, rapidjson::Document* doc,
                 int max_depth = kMaxJsonDepth);
Status ParseJson(std::string_view body, PooledJsonDocument* doc,
                 int max_depth = kMaxJsonDepth);

// Parses a body that must be a JSON object.
Status ParseJsonObject(std::string_view body, rapidjson::Document* doc);
Status ParseJsonObject(std::string_view body, PooledJsonDocument* doc);

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
