#include "policies/yaml_util.h"

#include "engine/entity.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

namespace portcullis::policies {

uint32_t MarkLine(const YAML::Mark& mark) {
  return mark.line < 0 ? 0 : static_cast<uint32_t>(mark.line) + 1;
}
uint32_t MarkColumn(const YAML::Mark& mark) {
  return mark.column < 0 ? 0 : static_cast<uint32_t>(mark.column) + 1;
}

void ErrorSink::Add(const YAML::Mark& mark, std::string message) {
  Add(MarkLine(mark), MarkColumn(mark), std::move(message));
}

void ErrorSink::Add(uint32_t line, uint32_t column, std::string message) {
  errors_->push_back(PolicyError{file_, line, column, std::move(message)});
}

engine::SourceLocation ErrorSink::Location(const YAML::Mark& mark) const {
  return engine::SourceLocation{file_, MarkLine(mark), MarkColumn(mark)};
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool IsBoolText(std::string_view s) {
  return s == "true" || s == "false" || s == "True" || s == "False" ||
         s == "TRUE" || s == "FALSE";
}

bool IsIntText(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool IsFloatText(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

}  // namespace

std::string Suggest(std::string_view name,
                    const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(name, c);
    if (d < best_distance && d < std::max<size_t>(c.size(), 2)) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view name,
                       const std::vector<std::string>& candidates) {
  const std::string s = Suggest(name, candidates);
  return s.empty() ? "" : " (did you mean '" + s + "'?)";
}

bool IsPlainScalar(const YAML::Node& node) {
  return node.IsScalar() && node.Tag() == "?";
}

std::string DescribeNode(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  switch (node.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: {
      if (!IsPlainScalar(node)) return "a string";
      const std::string& s = node.Scalar();
      if (IsBoolText(s)) return "a bool";
      if (IsIntText(s)) return "an integer";
      if (IsFloatText(s)) return "a number";
      return "a string";
    }
    default: return "an undefined value";
  }
}

bool CheckNameMap(const YAML::Node& node, std::string_view what,
                  ErrorSink& sink) {
  if (!node.IsMap()) {
    sink.Add(node.Mark(), std::string(what) + " must be a mapping, got " +
                              DescribeNode(node));
    return false;
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: `it->` yields a temporary proxy
    if (!key.IsScalar()) {
      sink.Add(key.Mark(), "a key in " + std::string(what) +
                               " must be a name, got " + DescribeNode(key));
      continue;
    }
    if (!seen.insert(key.Scalar()).second) {
      sink.Add(key.Mark(), "duplicate key '" + key.Scalar() + "' in " +
                               std::string(what));
    }
  }
  return true;
}

bool CheckMap(const YAML::Node& node, std::string_view what,
              const std::vector<std::string>& allowed,
              const std::vector<std::string>& required, ErrorSink& sink) {
  if (!node.IsMap()) {
    sink.Add(node.Mark(), std::string(what) + " must be a mapping, got " +
                              DescribeNode(node));
    return false;
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: `it->` yields a temporary proxy
    if (!key.IsScalar()) {
      sink.Add(key.Mark(), "a key in " + std::string(what) +
                               " must be a string, got " + DescribeNode(key));
      continue;
    }
    const std::string& k = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string msg = "unknown key '" + k + "' in " + std::string(what) +
                        DidYouMean(k, allowed);
      std::string list;
      for (const std::string& a : allowed) {
        list += list.empty() ? a : ", " + a;
      }
      sink.Add(key.Mark(), msg + "; expected one of: " + list);
      continue;
    }
    if (!seen.insert(k).second) {
      sink.Add(key.Mark(),
               "duplicate key '" + k + "' in " + std::string(what));
    }
  }
  for (const std::string& r : required) {
    if (!seen.count(r)) {
      sink.Add(node.Mark(), std::string(what) + " is missing the required key '" +
                                r + "'");
    }
  }
  return true;
}

YAML::Node Get(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Mark KeyMark(const YAML::Node& map, std::string_view key) {
  if (map.IsMap()) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        return it->first.Mark();
      }
    }
  }
  return map.Mark();
}

std::optional<std::string> ReadString(const YAML::Node& node,
                                      std::string_view what, ErrorSink& sink) {
  if (node.IsScalar()) {
    const std::string kind = DescribeNode(node);
    if (kind == "a string") return node.Scalar();
    sink.Add(node.Mark(), std::string(what) + " must be a string, got " +
                              kind + " (quote it to make it a string)");
    return std::nullopt;
  }
  sink.Add(node.Mark(),
           std::string(what) + " must be a string, got " + DescribeNode(node));
  return std::nullopt;
}

std::string NameProblem(std::string_view s, NameKind kind) {
  if (s.empty()) return "is empty";
  if (kind == NameKind::kType) {
    if (s.size() > 64) return "is longer than 64 bytes";
    if (s.find(':') != std::string_view::npos) {
      return "contains ':' (the separator of type:id references)";
    }
    return std::string(engine::EntityNameProblem(s));
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return "contains a control character";
  }
  if (!IsValidUtf8(s)) return "is not valid UTF-8";
  return {};
}

std::optional<std::string> ReadName(const YAML::Node& node,
                                    std::string_view what, ErrorSink& sink,
                                    NameKind kind) {
  if (!node.IsScalar()) {
    sink.Add(node.Mark(),
             std::string(what) + " must be a name, got " + DescribeNode(node));
    return std::nullopt;
  }
  const std::string& s = node.Scalar();
  const std::string problem = NameProblem(s, kind);
  if (!problem.empty()) {
    sink.Add(node.Mark(),
             std::string(what) + " '" + s + "' is not a valid name: it " +
                 problem +
                 (kind == NameKind::kType
                      ? " (a type is 1 to 64 bytes without ':', '/', "
                        "spaces or control characters)"
                      : " (a name is any non-empty text without control "
                        "characters)"));
    return std::nullopt;
  }
  return s;
}

std::vector<NameRef> ReadNameList(const YAML::Node& node, std::string_view what,
                                  ErrorSink& sink, NameKind kind) {
  std::vector<NameRef> out;
  auto one = [&](const YAML::Node& n) {
    std::optional<std::string> name = ReadName(n, what, sink, kind);
    if (!name) return;
    for (const NameRef& r : out) {
      if (r.name == *name) {
        sink.Add(n.Mark(), "duplicate " + std::string(what) + " '" + *name +
                               "' in the list");
        return;
      }
    }
    out.push_back(NameRef{*name, n.Mark()});
  };
  if (node.IsSequence()) {
    for (const YAML::Node& n : node) one(n);
  } else if (node.IsScalar()) {
    one(node);
  } else {
    sink.Add(node.Mark(), std::string(what) + " must be a list of names, got " +
                              DescribeNode(node));
  }
  return out;
}

std::optional<engine::OwnedValue> ToOwnedValue(const YAML::Node& node,
                                               std::string_view what,
                                               ErrorSink& sink) {
  engine::OwnedValue v;
  if (node.IsNull()) return v;
  if (node.IsSequence()) {
    v.kind = engine::ValueKind::kList;
    for (const YAML::Node& e : node) {
      std::optional<engine::OwnedValue> x = ToOwnedValue(e, what, sink);
      if (!x) return std::nullopt;
      v.list.push_back(std::move(*x));
    }
    return v;
  }
  if (!node.IsScalar()) {
    sink.Add(node.Mark(), std::string(what) +
                              " must be a scalar or a list, got " +
                              DescribeNode(node));
    return std::nullopt;
  }
  const std::string& s = node.Scalar();
  v.kind = engine::ValueKind::kString;
  v.s = s;
  if (!IsPlainScalar(node)) return v;
  if (s == "null" || s == "Null" || s == "NULL" || s == "~") {
    return engine::OwnedValue{};
  }
  if (IsBoolText(s)) {
    v.kind = engine::ValueKind::kBool;
    v.b = s[0] == 't' || s[0] == 'T';
    v.s.clear();
    return v;
  }
  if (IsIntText(s)) {
    errno = 0;
    char* end = nullptr;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (errno == ERANGE) {
      sink.Add(node.Mark(), std::string(what) + ": integer " + s +
                                " is out of range (64-bit)");
      return std::nullopt;
    }
    v.kind = engine::ValueKind::kInt;
    v.i = i;
    v.s.clear();
    return v;
  }
  if (IsFloatText(s)) {
    v.kind = engine::ValueKind::kDouble;
    v.d = std::strtod(s.c_str(), nullptr);
    v.s.clear();
    return v;
  }
  return v;
}

void FlattenAttributes(
    const YAML::Node& map, const std::string& prefix, std::string_view what,
    ErrorSink& sink,
    std::vector<std::pair<std::string, engine::OwnedValue>>* out,
    std::vector<YAML::Mark>* marks) {
  if (!map.IsMap()) {
    sink.Add(map.Mark(), std::string(what) + " must be a mapping, got " +
                             DescribeNode(map));
    return;
  }
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: `it->` yields a temporary proxy
    if (!key.IsScalar() || key.Scalar().empty()) {
      sink.Add(key.Mark(), "a key in " + std::string(what) +
                               " must be a non-empty string");
      continue;
    }
    const std::string full =
        prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
    if (it->second.IsMap()) {
      FlattenAttributes(it->second, full, what, sink, out, marks);
      continue;
    }
    bool dup = false;
    for (const auto& [k, v] : *out) dup = dup || k == full;
    if (dup) {
      sink.Add(key.Mark(),
               "duplicate key '" + full + "' in " + std::string(what));
      continue;
    }
    std::optional<engine::OwnedValue> v =
        ToOwnedValue(it->second, std::string(what) + "." + full, sink);
    if (!v) continue;
    out->emplace_back(full, std::move(*v));
    if (marks) marks->push_back(key.Mark());
  }
}

std::string Fnv1a64Hex(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[h & 0xf];
    h >>= 4;
  }
  return out;
}

}  // namespace portcullis::policies
