// Duplicate member names in a parsed JSON document. RapidJSON keeps every
// member of an object, duplicates included, and FindMember returns the
// first: {"actor":"user:alice","actor":"user:bob"} would silently act as
// alice while a proxy or log reader that keeps the last sees bob. Every
// parser of outside JSON (server/json.cc, storage/jsonl.cc) refuses such
// input with FindDuplicateKey.
//
// Header-only and generic over the value type, so that common/ does not
// depend on RapidJSON (the includer does).
//
// Thread safety: plain functions over their arguments.
#ifndef PORTCULLIS_COMMON_JSON_KEYS_H_
#define PORTCULLIS_COMMON_JSON_KEYS_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis {

namespace json_keys_internal {

template <typename JsonValue>
std::string_view Name(const JsonValue& name) {
  return std::string_view(name.GetString(), name.GetStringLength());
}

// The first repeated name among the members of `obj` (an object), or an
// empty optional-like flag through *found. Small objects are compared
// pairwise (no allocation); large ones sorted (n log n).
template <typename JsonValue>
bool RepeatedName(const JsonValue& obj, std::string_view* found) {
  const auto begin = obj.MemberBegin();
  const size_t n = static_cast<size_t>(obj.MemberEnd() - begin);
  if (n < 2) return false;
  if (n <= 16) {
    for (size_t i = 1; i < n; ++i) {
      const std::string_view a = Name(begin[i].name);
      for (size_t j = 0; j < i; ++j) {
        if (Name(begin[j].name) == a) {
          *found = a;
          return true;
        }
      }
    }
    return false;
  }
  std::vector<std::string_view> names;
  names.reserve(n);
  for (size_t i = 0; i < n; ++i) names.push_back(Name(begin[i].name));
  std::sort(names.begin(), names.end());
  const auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup == names.end()) return false;
  *found = *dup;
  return true;
}

}  // namespace json_keys_internal

// Returns true if an object anywhere in `v` holds two members of the same
// name, and sets *path to that member's path from the root: "actor",
// "context.device.ip", "checks[2].subject" (member names as written, array
// indices in brackets). REQUIRES: `v` nests no deeper than the caller's
// bound (the walk is recursive).
template <typename JsonValue>
bool FindDuplicateKey(const JsonValue& v, std::string* path) {
  std::string_view repeated;
  if (v.IsObject()) {
    if (json_keys_internal::RepeatedName(v, &repeated)) {
      path->assign(repeated);
      return true;
    }
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      if (!m->value.IsObject() && !m->value.IsArray()) continue;
      if (FindDuplicateKey(m->value, path)) {
        std::string inner = std::move(*path);
        path->assign(json_keys_internal::Name(m->name));
        if (!inner.empty() && inner.front() != '[') path->push_back('.');
        path->append(inner);
        return true;
      }
    }
    return false;
  }
  if (v.IsArray()) {
    size_t i = 0;
    for (auto e = v.Begin(); e != v.End(); ++e, ++i) {
      if (!e->IsObject() && !e->IsArray()) continue;
      if (FindDuplicateKey(*e, path)) {
        std::string inner = std::move(*path);
        *path = "[" + std::to_string(i) + "]";
        if (!inner.empty() && inner.front() != '[') path->push_back('.');
        path->append(inner);
        return true;
      }
    }
  }
  return false;
}

}  // namespace portcullis

#endif  // PORTCULLIS_COMMON_JSON_KEYS_H_
