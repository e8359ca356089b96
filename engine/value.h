// Value: an attribute value as conditions see it, and AttributeMap, a
// non-owning list of named values supplied with a request.
//
// Thread safety: plain values with no shared state; a const Value or
// AttributeMap may be read from any number of threads at once.
//
// Invariants:
//  1. Only the member that `kind` names is meaningful: `b` for kBool, `i` for
//     kInt and kTimestamp (microseconds since the epoch, UTC), `d` for
//     kDouble, `s` for kString, `list` for kList. The others keep their
//     defaults when built by the factories below.
//  2. A Value or AttributeMap owns nothing: `s`, `list` and attribute keys
//     view memory of whoever produced them, and are valid only while it lives.
#ifndef PORTCULLIS_ENGINE_VALUE_H_
#define PORTCULLIS_ENGINE_VALUE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace portcullis::engine {

enum class ValueKind : uint8_t {
  kNull,
  kBool,
  kInt,
  kDouble,
  kString,
  kTimestamp,  // microseconds since the epoch, UTC
  kList,
};

std::string_view ValueKindName(ValueKind kind);

// A small tagged value. It does not own strings or list elements: they are
// views into whoever produced the value (the compiled policy for literals, a
// request body, a storage transaction) and valid only while that lives.
struct Value {
  ValueKind kind = ValueKind::kNull;
  bool b = false;
  int64_t i = 0;  // kInt, and kTimestamp in microseconds
  double d = 0;
  std::string_view s;
  std::span<const Value> list;

  static Value Null() { return Value{}; }
  static Value Bool(bool v) {
    Value x;
    x.kind = ValueKind::kBool;
    x.b = v;
    return x;
  }
  static Value Int(int64_t v) {
    Value x;
    x.kind = ValueKind::kInt;
    x.i = v;
    return x;
  }
  static Value Double(double v) {
    Value x;
    x.kind = ValueKind::kDouble;
    x.d = v;
    return x;
  }
  static Value String(std::string_view v) {
    Value x;
    x.kind = ValueKind::kString;
    x.s = v;
    return x;
  }
  static Value Timestamp(TimestampMicros v) {
    Value x;
    x.kind = ValueKind::kTimestamp;
    x.i = v;
    return x;
  }
  static Value List(std::span<const Value> v) {
    Value x;
    x.kind = ValueKind::kList;
    x.list = v;
    return x;
  }

  // For messages and explanations, not for the hot path.
  std::string ToString() const;
};

struct Attribute {
  std::string_view key;
  Value value;
};

// Attributes supplied with a request (context, AuthZEN properties). Nested
// objects are flattened by the producer into dotted keys ("device.ip").
using AttributeMap = std::span<const Attribute>;

// Returns the first value of `key` in `attrs`, or nullptr if there is none.
// Linear: request maps are small. The pointer is valid while `attrs` is.
inline const Value* FindAttribute(AttributeMap attrs, std::string_view key) {
  for (const Attribute& a : attrs) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

// An owned attribute value, the counterpart of Value.
struct OwnedValue {
  ValueKind kind = ValueKind::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<OwnedValue> list;

  static OwnedValue FromValue(const Value& v);
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_VALUE_H_
