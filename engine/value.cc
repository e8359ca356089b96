#include "engine/value.h"

#include <cstdio>

namespace portcullis::engine {

std::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull: return "null";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kDouble: return "number";
    case ValueKind::kString: return "string";
    case ValueKind::kTimestamp: return "timestamp";
    case ValueKind::kList: return "list";
  }
  return "unknown";
}

std::string Value::ToString() const {
  switch (kind) {
    case ValueKind::kNull: return "null";
    case ValueKind::kBool: return b ? "true" : "false";
    case ValueKind::kInt: return std::to_string(i);
    case ValueKind::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", d);
      return buf;
    }
    case ValueKind::kString: {
      std::string out = "\"";
      out.append(s);
      out += "\"";
      return out;
    }
    case ValueKind::kTimestamp: return "timestamp(\"" + FormatRfc3339(i) + "\")";
    case ValueKind::kList: {
      std::string out = "[";
      for (size_t k = 0; k < list.size(); ++k) {
        if (k) out += ", ";
        out += list[k].ToString();
      }
      out += "]";
      return out;
    }
  }
  return "?";
}

OwnedValue OwnedValue::FromValue(const Value& v) {
  OwnedValue o;
  o.kind = v.kind;
  o.b = v.b;
  o.i = v.i;
  o.d = v.d;
  o.s = std::string(v.s);
  for (const Value& e : v.list) o.list.push_back(FromValue(e));
  return o;
}

}  // namespace portcullis::engine
