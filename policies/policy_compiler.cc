// The driver of the policy compiler: the table of passes and the public
// entry points of policy_compiler.h. The passes themselves live in
// pass_<name>.cc (see compiler_passes.h).
#include "policies/policy_compiler.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "policies/compile_state.h"
#include "policies/compiler_passes.h"
#include "policies/yaml_loaders.h"
#include "policies/yaml_util.h"

namespace portcullis::policies {
namespace {

using Gate = CompilerPass::Gate;

// The passes, in order. Adding a pass is one line here.
constexpr CompilerPass kPasses[] = {
    {"ParseYaml", &ParseYaml, Gate::kAlways},
    {"CheckShape", &CheckShape, Gate::kNoErrorsYet},
    {"CollectNames", &CollectNames, Gate::kAlways},
    {"ResolveReferences", &ResolveReferences, Gate::kAlways},
    {"CheckCycles", &CheckCycles, Gate::kAlways},
    {"CompileConditions", &CompileConditions, Gate::kAlways},
    {"FlattenRoleGrants", &FlattenRoleGrants, Gate::kAcyclic},
    {"BuildPolicy", &BuildPolicy, Gate::kNoErrorsYet},
};

// Runs the passes over `state`; errors come sorted by position.
PolicyResult RunPasses(CompileState& state) {
  for (const CompilerPass& pass : kPasses) {
    if (pass.gate == Gate::kNoErrorsYet && !state.errors.empty()) break;
    if (pass.gate == Gate::kAcyclic && !state.acyclic) continue;
    state.current_pass = pass.name;
    pass.run(state);
  }
  if (!state.errors.empty()) {
    std::stable_sort(state.errors.begin(), state.errors.end(),
                     [](const PolicyError& a, const PolicyError& b) {
                       return std::tie(a.line, a.column) <
                              std::tie(b.line, b.column);
                     });
    return tl::unexpected<PolicyErrors>(std::move(state.errors));
  }
  return std::shared_ptr<const engine::Policy>(std::move(state.policy));
}

// Runs the passes with the yaml-cpp exceptions turned into an error at the
// module boundary. `root` is null when the text is still to be parsed.
PolicyResult Compile(const YAML::Node* root, std::string_view source,
                     const std::string& display_name) {
  try {
    CompileState state(source, display_name);
    if (root != nullptr) state.root = *root;
    return RunPasses(state);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws only on misuse; keep the boundary exception-free.
    return tl::unexpected<PolicyErrors>(PolicyErrors{
        PolicyError{display_name, MarkLine(e.mark), MarkColumn(e.mark),
                    "internal YAML error: " + e.msg}});
  }
}

}  // namespace

std::span<const CompilerPass> CompilerPasses() { return kPasses; }

PolicyResult CompilePolicyNode(const YAML::Node& root, std::string_view source,
                               const std::string& display_name) {
  return Compile(&root, source, display_name);
}

PolicyResult CompilePolicyText(std::string_view text,
                               const std::string& display_name) {
  if (text.size() > kMaxPolicyBytes) {
    return tl::unexpected<PolicyErrors>(PolicyErrors{
        PolicyError{display_name, 0, 0,
                    "the policy is larger than " +
                        std::to_string(kMaxPolicyBytes) + " bytes"}});
  }
  return Compile(nullptr, text, display_name);
}

PolicyResult CompilePolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected<PolicyErrors>(
        PolicyErrors{PolicyError{path, 0, 0, "cannot open the file"}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return CompilePolicyText(text.str(), path);
}

std::string FormatErrors(const PolicyErrors& errors) {
  std::string out;
  for (const PolicyError& e : errors) out += e.ToString() + "\n";
  return out;
}

}  // namespace portcullis::policies
