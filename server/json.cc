#include "server/json.h"

#include <charconv>

#include <rapidjson/error/en.h>

#include "common/json_keys.h"

namespace portcullis::server {

namespace {

// Depth of the deepest array or object; stops counting past `limit`.
int Depth(const rapidjson::Value& v, int limit) {
  if (limit < 0) return 0;
  int deepest = 0;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      deepest = std::max(deepest, Depth(m.value, limit - 1));
      if (deepest > limit) break;
    }
    return deepest + 1;
  }
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      deepest = std::max(deepest, Depth(e, limit - 1));
      if (deepest > limit) break;
    }
    return deepest + 1;
  }
  return 0;
}

Status TypeError(std::string_view field, const char* expected) {
  return Status::InvalidArgument(
      std::string(field) + " must be " + expected, std::string(field));
}

}  // namespace

namespace {

template <typename Document>
Status ParseJsonInto(std::string_view body, Document* doc, int max_depth) {
  // Iterative parsing: deep nesting cannot overflow the stack; the depth
  // bound is checked afterwards.
  doc->template Parse<rapidjson::kParseValidateEncodingFlag |
                      rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc->HasParseError()) {
    return Status::InvalidArgument(
        std::string("malformed JSON at offset ") +
        std::to_string(doc->GetErrorOffset()) + ": " +
        rapidjson::GetParseError_En(doc->GetParseError()));
  }
  if (Depth(*doc, max_depth) > max_depth) {
    return Status::InvalidArgument("JSON nests deeper than " +
                                   std::to_string(max_depth) + " levels");
  }
  // After the depth bound: the walk is recursive.
  if (std::string path; FindDuplicateKey(*doc, &path)) {
    return Status::InvalidArgument(
        "JSON member " + path + " appears more than once", path);
  }
  return Status::Ok();
}

template <typename Document>
Status ParseJsonObjectInto(std::string_view body, Document* doc) {
  if (body.empty()) {
    return Status::InvalidArgument("the request body must be a JSON object");
  }
  Status s = ParseJsonInto(body, doc, kMaxJsonDepth);
  if (!s.ok()) return s;
  if (!doc->IsObject()) {
    return Status::InvalidArgument("the request body must be a JSON object");
  }
  return Status::Ok();
}

}  // namespace

Status ParseJson(std::string_view body, rapidjson::Document* doc,
                 int max_depth) {
  return ParseJsonInto(body, doc, max_depth);
}

Status ParseJson(std::string_view body, PooledJsonDocument* doc,
                 int max_depth) {
  return ParseJsonInto(body, doc, max_depth);
}

Status ParseJsonObject(std::string_view body, rapidjson::Document* doc) {
  return ParseJsonObjectInto(body, doc);
}

Status ParseJsonObject(std::string_view body, PooledJsonDocument* doc) {
  return ParseJsonObjectInto(body, doc);
}

std::string ErrorJson(std::string_view code, std::string_view message,
                      std::string_view field, std::string_view reason) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(code.data(), code.size());
  w.Key("message");
  // Messages quote what the client sent (paths, query values): bytes that
  // are not UTF-8 are escaped so that the body is always valid JSON.
  w.String(ValidUtf8(message));
  if (!field.empty()) {
    w.Key("field");
    w.String(ValidUtf8(field));
  }
  if (!reason.empty()) {
    w.Key("reason");
    w.String(reason.data(), reason.size());
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string_view> RequiredString(const rapidjson::Value& obj,
                                        const char* name,
                                        std::string_view field) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return Fail(Status::InvalidArgument(
        std::string(field) + " is required", std::string(field)));
  }
  if (!it->value.IsString()) return Fail(TypeError(field, "a string"));
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

Result<std::string_view> OptionalString(const rapidjson::Value& obj,
                                        const char* name,
                                        std::string_view field) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::string_view();
  if (!it->value.IsString()) return Fail(TypeError(field, "a string"));
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

Result<bool> OptionalBool(const rapidjson::Value& obj, const char* name,
                          std::string_view field, bool fallback) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsBool()) return Fail(TypeError(field, "a boolean"));
  return it->value.GetBool();
}

Result<uint64_t> OptionalUint(const rapidjson::Value& obj, const char* name,
                              std::string_view field, uint64_t fallback) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return fallback;
  if (it->value.IsUint64()) return it->value.GetUint64();
  if (it->value.IsString()) {
    std::string_view s(it->value.GetString(), it->value.GetStringLength());
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) {
      return v;
    }
  }
  return Fail(TypeError(field, "a non-negative integer"));
}

Status AttributeArena::Flatten(const rapidjson::Value& obj,
                               std::string_view field,
                               std::vector<engine::Attribute>* out) {
  if (obj.IsNull()) return Status::Ok();
  if (!obj.IsObject()) return TypeError(field, "an object");
  FlattenInto(obj, std::string(), out);
  return Status::Ok();
}

void AttributeArena::FlattenInto(const rapidjson::Value& obj,
                                 const std::string& prefix,
                                 std::vector<engine::Attribute>* out) {
  for (const auto& m : obj.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsObject()) {
      std::string nested = prefix;
      nested.append(name).push_back('.');
      FlattenInto(m.value, nested, out);
      continue;
    }
    std::string_view key = name;  // a top-level key is viewed in the JSON
    if (!prefix.empty()) {
      keys_.emplace_front(prefix).append(name);
      key = keys_.front();
    }
    out->push_back(engine::Attribute{key, ToValue(m.value)});
  }
}

engine::Value AttributeArena::ToValue(const rapidjson::Value& v) {
  if (v.IsBool()) return engine::Value::Bool(v.GetBool());
  if (v.IsInt64()) return engine::Value::Int(v.GetInt64());
  if (v.IsNumber()) return engine::Value::Double(v.GetDouble());
  if (v.IsString()) {
    return engine::Value::String(
        std::string_view(v.GetString(), v.GetStringLength()));
  }
  if (v.IsArray()) {
    std::vector<engine::Value> items;
    items.reserve(v.Size());
    for (const auto& e : v.GetArray()) {
      if (e.IsObject()) continue;
      items.push_back(ToValue(e));
    }
    lists_.push_front(std::move(items));
    return engine::Value::List(lists_.front());
  }
  return engine::Value::Null();
}


}  // namespace portcullis::server
