// Helpers for walking yaml-cpp nodes strictly: every key checked against an
// allowed set (with "did you mean"), duplicate keys detected (yaml-cpp 0.7
// keeps them silently), value kinds checked, positions reported 1-based.
//
// Internal to policies/ (the only headers that name yaml-cpp types are
// internal, so that yaml-cpp stays a private dependency of the folder).
//
// Thread safety: the free functions are reentrant; an ErrorSink is not
// thread-safe: each loader owns its own.
//
// Invariants:
//   1. Positions are reported 1-based (yaml-cpp's marks are 0-based); 0
//      means unknown.
//   2. An ErrorSink only appends to the PolicyErrors it was given, which
//      must outlive it; it never drops or reorders an error.
#ifndef PORTCULLIS_POLICIES_YAML_UTIL_H_
#define PORTCULLIS_POLICIES_YAML_UTIL_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/value.h"
#include "engine/source_location.h"
#include "policies/policy_error.h"

namespace portcullis::policies {

// Collects errors for one file.
class ErrorSink {
 public:
  ErrorSink(std::string file, PolicyErrors* errors)
      : file_(std::move(file)), errors_(errors) {}
  void Add(const YAML::Mark& mark, std::string message);
  void Add(uint32_t line, uint32_t column, std::string message);
  const std::string& file() const { return file_; }
  size_t count() const { return errors_->size(); }
  engine::SourceLocation Location(const YAML::Mark& mark) const;

 private:
  std::string file_;
  PolicyErrors* errors_;
};

// 1-based line and column of a mark (0 when the mark is unknown).
uint32_t MarkLine(const YAML::Mark& mark);
uint32_t MarkColumn(const YAML::Mark& mark);

// The closest candidate to `name` within edit distance 2, or "".
std::string Suggest(std::string_view name,
                    const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string DidYouMean(std::string_view name,
                       const std::vector<std::string>& candidates);

// A short name for a node's kind: "a mapping", "a list", "a string", ...
std::string DescribeNode(const YAML::Node& node);

// True for a plain (unquoted) scalar; quoted and block scalars are strings.
bool IsPlainScalar(const YAML::Node& node);

// Checks that `node` is a mapping whose keys are scalars from `allowed`, each
// at most once, and that every key of `required` is present. Reports at the
// offending key. Returns false if `node` is not a mapping.
bool CheckMap(const YAML::Node& node, std::string_view what,
              const std::vector<std::string>& allowed,
              const std::vector<std::string>& required, ErrorSink& sink);

// Checks that the keys of a mapping are scalars and unique (for mappings
// whose keys are names, such as `resources`). Returns false if not a map.
bool CheckNameMap(const YAML::Node& node, std::string_view what,
                  ErrorSink& sink);

// Finds `key` in a mapping (the first occurrence). Returns an undefined
// node if absent.
YAML::Node Get(const YAML::Node& map, std::string_view key);
// The mark of `key` itself in `map` (for errors about a null value).
YAML::Mark KeyMark(const YAML::Node& map, std::string_view key);

// Reads a string scalar (plain or quoted; a plain scalar that YAML would
// read as a bool, a number or null is rejected). Reports and returns
// nullopt on a wrong kind.
std::optional<std::string> ReadString(const YAML::Node& node,
                                      std::string_view what, ErrorSink& sink);

// What a name of the policy may be. Applications spell names their own
// way (a gateway's GET, "documents.read", "repo:push", canReadUser), and
// AuthZEN carries no mapping, so names are taken as written:
//  - kName (actions, roles, rules): any non-empty UTF-8 text without a
//    control character; an action may not be "*" (every action, in
//    restrictions).
//  - kType (subject and resource types): what the store accepts as the
//    type of a "type:id" reference (engine::EntityNameProblem): 1 to 64
//    bytes, no ':', '/', space or control character.
enum class NameKind { kName, kType };

// Empty if `s` is a valid name of `kind`, else what is wrong with it
// ("contains ':'").
std::string NameProblem(std::string_view s, NameKind kind);

// Reads a name of `kind` (a scalar; see NameKind).
std::optional<std::string> ReadName(const YAML::Node& node,
                                    std::string_view what, ErrorSink& sink,
                                    NameKind kind = NameKind::kName);

// A name together with where it was written.
struct NameRef {
  std::string name;
  YAML::Mark mark;
};

// Reads a list of names of `kind` ([a, b] or a single name). Reports bad
// elements and duplicates and skips them.
std::vector<NameRef> ReadNameList(const YAML::Node& node, std::string_view what,
                                  ErrorSink& sink,
                                  NameKind kind = NameKind::kName);

// Converts a YAML value to an attribute value. Plain scalars are typed
// (null, true/false, integers, floats, else a string); quoted scalars are
// strings; sequences are lists. Mappings are not values: callers flatten
// them (see FlattenAttributes). Reports and returns nullopt on error.
std::optional<engine::OwnedValue> ToOwnedValue(const YAML::Node& node,
                                               std::string_view what,
                                               ErrorSink& sink);

// Flattens a mapping of attributes into dotted keys ("device.ip") with
// their values, appending to `out`. Reports duplicate keys.
void FlattenAttributes(
    const YAML::Node& map, const std::string& prefix, std::string_view what,
    ErrorSink& sink,
    std::vector<std::pair<std::string, engine::OwnedValue>>* out,
    std::vector<YAML::Mark>* marks = nullptr);

// 64-bit FNV-1a of `bytes`, as 16 hex digits.
std::string Fnv1a64Hex(std::string_view bytes);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_YAML_UTIL_H_
