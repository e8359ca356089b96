// Policy tests: the YAML test-file format of docs/policy-language.md
// ("Policy tests") and the data format it shares with `portcullis check`.
//
// A test file is a YAML mapping with a top-level `cases` key; it names a
// policy (a path relative to the file, or an inline mapping), holds or names
// the data (resources, subjects, bindings, restrictions), and lists cases.
// Data is validated against the policy: types exist and are of the right
// kind, parents exist and are allowed parent types, roles exist and may be
// bound on the resource's type, restrictions sit only on restrictable types.
//
// Thread safety: loading is reentrant. A loaded TestFile is immutable and
// its MemoryData may be read from several threads. A PolicyCache is not
// thread-safe: one per run.
//
// Invariants: a TestFile that loaded holds a compiled policy and data that
// passed the validation above; every TestCase keeps the position of its
// entry in the test file.
#ifndef PORTCULLIS_POLICIES_TEST_FILE_H_
#define PORTCULLIS_POLICIES_TEST_FILE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "common/clock.h"
#include "engine/evaluator.h"
#include "engine/memory_data.h"
#include "engine/policy.h"
#include "policies/policy_compiler.h"
#include "policies/policy_error.h"

namespace portcullis::policies {

// Named attribute values with owned storage, viewable as an AttributeMap
// (for request context built from YAML or the command line).
class OwnedAttributes {
 public:
  OwnedAttributes() = default;
  explicit OwnedAttributes(
      std::vector<std::pair<std::string, engine::OwnedValue>> values);
  OwnedAttributes(const OwnedAttributes& other)
      : OwnedAttributes(other.values_) {}
  OwnedAttributes& operator=(const OwnedAttributes& other) {
    if (this != &other) *this = OwnedAttributes(other.values_);
    return *this;
  }
  OwnedAttributes(OwnedAttributes&&) = default;
  OwnedAttributes& operator=(OwnedAttributes&&) = default;

  // Views into this object; valid while it lives and is not reassigned.
  engine::AttributeMap view() const { return views_; }
  const std::vector<std::pair<std::string, engine::OwnedValue>>& values()
      const {
    return values_;
  }

 private:
  engine::Value ToView(const engine::OwnedValue& v);

  std::vector<std::pair<std::string, engine::OwnedValue>> values_;
  std::vector<engine::Attribute> views_;
  std::vector<std::unique_ptr<std::vector<engine::Value>>> lists_;
};

struct TestCase {
  std::string name;
  engine::SourceLocation location;  // the case's entry in the test file
  std::string subject;              // "type:id"
  std::string action;
  std::string resource;  // "type:id"
  OwnedAttributes context;
  std::optional<TimestampMicros> now;
  bool expect_allow = false;
  std::optional<engine::ReasonCode> reason;
};

struct TestFile {
  std::string path;
  std::shared_ptr<const engine::Policy> policy;
  // The policy's file (for coverage), or the test file for an inline policy.
  std::string policy_file;
  std::unique_ptr<engine::MemoryData> data;
  std::optional<TimestampMicros> now;  // default request time
  std::vector<TestCase> cases;
};

// Compiles each policy file once (keyed by canonical path).
class PolicyCache {
 public:
  PolicyResult Get(const std::string& path);

 private:
  std::map<std::string, PolicyResult> compiled_;
};

// Loads a test file. Returns nullopt (not an error) when the file is YAML
// but has no top-level `cases` key. `cache` may be null.
tl::expected<std::optional<TestFile>, PolicyErrors> LoadTestFile(
    const std::string& path, PolicyCache* cache);

// Loads a standalone data file (the keys of `data:` at top level) and
// validates it against `policy`.
tl::expected<std::unique_ptr<engine::MemoryData>, PolicyErrors> LoadDataFile(
    const std::string& path, const engine::Policy& policy);

// Reads one request-context value written as YAML text, as `portcullis
// check --context KEY=VALUE` takes it: a mapping is flattened into dotted
// keys under `key` ("device.ip"), anything else is one value named `key`.
// Appends what it read to `out` and returns the errors, each naming `source`
// as its file (empty when the value was read).
PolicyErrors ReadContextValue(
    const std::string& key, std::string_view yaml, const std::string& source,
    std::vector<std::pair<std::string, engine::OwnedValue>>* out);

// Parses a reason-code name ("restricted"); nullopt if there is none.
std::optional<engine::ReasonCode> ParseReasonCode(std::string_view name);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_TEST_FILE_H_
