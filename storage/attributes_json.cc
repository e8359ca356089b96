#include "storage/attributes_json.h"

#include <string>

#include "common/clock.h"

namespace portcullis::storage {
namespace {

using engine::OwnedValue;
using engine::ValueKind;

Status FieldError(std::string_view field, std::string_view msg) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(msg),
                                 std::string(field));
}

Status ToOwned(const rapidjson::Value& v, std::string_view field,
               OwnedValue* out) {
  if (v.IsNull()) {
    out->kind = ValueKind::kNull;
  } else if (v.IsBool()) {
    out->kind = ValueKind::kBool;
    out->b = v.GetBool();
  } else if (v.IsInt64()) {
    out->kind = ValueKind::kInt;
    out->i = v.GetInt64();
  } else if (v.IsUint64()) {
    return FieldError(field, "integer out of range");
  } else if (v.IsDouble()) {
    out->kind = ValueKind::kDouble;
    out->d = v.GetDouble();
  } else if (v.IsString()) {
    out->kind = ValueKind::kString;
    out->s.assign(v.GetString(), v.GetStringLength());
  } else if (v.IsArray()) {
    out->kind = ValueKind::kList;
    for (const auto& e : v.GetArray()) {
      if (e.IsObject()) {
        return FieldError(field, "objects inside lists are not supported");
      }
      out->list.emplace_back();
      if (Status s = ToOwned(e, field, &out->list.back()); !s.ok()) return s;
    }
  } else {
    return FieldError(field, "unsupported value");
  }
  return Status::Ok();
}

Status Flatten(const rapidjson::Value& obj, const std::string& prefix,
               std::string_view field, Attributes* out) {
  for (const auto& m : obj.GetObject()) {
    std::string key = prefix;
    key.append(m.name.GetString(), m.name.GetStringLength());
    if (key.empty() || key.size() > 255 ||
        key.find('\0') != std::string::npos) {
      return FieldError(field, "invalid attribute name");
    }
    if (m.value.IsObject()) {
      if (Status s = Flatten(m.value, key + ".", field, out); !s.ok()) {
        return s;
      }
      continue;
    }
    OwnedValue v;
    const std::string path = std::string(field) + "." + key;
    if (Status s = ToOwned(m.value, path, &v); !s.ok()) return s;
    if (!out->emplace(key, std::move(v)).second) {
      return FieldError(field, "duplicate attribute '" + key + "'");
    }
  }
  if (out->size() > 65535) return FieldError(field, "too many");
  return Status::Ok();
}

}  // namespace

Status ParseAttributesJson(const rapidjson::Value& obj, std::string_view field,
                           Attributes* out) {
  if (!obj.IsObject()) return FieldError(field, "must be an object");
  return Flatten(obj, "", field, out);
}

void WriteAttributeValueJson(rapidjson::Writer<rapidjson::StringBuffer>& w,
                             const OwnedValue& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      w.Null();
      break;
    case ValueKind::kBool:
      w.Bool(v.b);
      break;
    case ValueKind::kInt:
      w.Int64(v.i);
      break;
    case ValueKind::kDouble:
      w.Double(v.d);
      break;
    case ValueKind::kString:
      w.String(v.s.data(), static_cast<rapidjson::SizeType>(v.s.size()));
      break;
    case ValueKind::kTimestamp: {
      const std::string t = FormatRfc3339(v.i);
      w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
      break;
    }
    case ValueKind::kList:
      w.StartArray();
      for (const OwnedValue& e : v.list) WriteAttributeValueJson(w, e);
      w.EndArray();
      break;
  }
}

void WriteAttributesJson(rapidjson::Writer<rapidjson::StringBuffer>& w,
                         const Attributes& attributes) {
  w.StartObject();
  for (const auto& [k, v] : attributes) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    WriteAttributeValueJson(w, v);
  }
  w.EndObject();
}

}  // namespace portcullis::storage
