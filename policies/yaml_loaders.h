// The entry points of policies/ that take yaml-cpp nodes: compiling a
// policy mapping and loading a data mapping that sit inside another file
// (a policy-test file). Kept out of the public headers so that yaml-cpp
// stays a private dependency of policies/.
//
// Internal to policies/.
//
// Thread safety: the functions are reentrant; a YAML::Node must not be
// shared between threads while they read it.
#ifndef PORTCULLIS_POLICIES_YAML_LOADERS_H_
#define PORTCULLIS_POLICIES_YAML_LOADERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/memory_data.h"
#include "engine/policy.h"
#include "policies/policy_compiler.h"
#include "policies/policy_error.h"

namespace portcullis::policies {

// Compiles an already parsed policy mapping (an inline policy inside a test
// file). `source` is the whole text the node was parsed from: it is hashed
// into Policy::version and used to locate conditions inside quoted scalars.
PolicyResult CompilePolicyNode(const YAML::Node& root, std::string_view source,
                               const std::string& display_name);

// Loads the data mapping `node` of `file` into `out`, validated against
// `policy`. Appends errors to `errors`.
void LoadData(const YAML::Node& node, const std::string& file,
              const engine::Policy& policy, engine::MemoryData* out,
              PolicyErrors* errors);

// True when `text` starts (after blanks) with '{': JSON Lines data rather
// than a YAML mapping.
bool LooksLikeJsonLines(const std::string& text);

// JSON Lines data (one record a line: the export format) as the YAML data
// layout that LoadData reads; invitation lines are skipped (their pending
// binding has a line of its own). (*source_lines)[i] is the JSON Lines
// line of YAML line i + 1, for errors. Nullopt, with errors naming
// file:line, when a line is not a record.
std::optional<std::string> JsonLinesAsDataYaml(
    const std::string& text, const std::string& file,
    std::vector<uint32_t>* source_lines, PolicyErrors* errors);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_YAML_LOADERS_H_
