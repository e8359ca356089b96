// The policy compiler: YAML text to an immutable engine::Policy.
//
// Named passes, run in order over the whole file (as OPA's ast/compile.go
// names its stages), listed in one table in policy_compiler.cc; each pass
// is a function in a file of its own, pass_<name>.cc (compiler_passes.h),
// over the AST of policy_ast.h. Each pass records every error it finds and
// the later passes skip only the pieces that are broken, so one run reports
// all errors, not only the first:
//   1. ParseYaml           text -> YAML nodes (syntax errors stop here)
//   2. CheckShape          every key known and unique, every value of the
//                          right kind -> an AST with positions
//   3. CollectNames        types, actions, roles, rules; duplicates; limits
//   4. ResolveReferences   parents, grant types and actions, role `on` and
//                          `includes`, restrictions, rule targets, the
//                          `workflows:` steps (actions, types, roles)
//   5. CheckCycles         parents (a type may list itself) and includes
//   6. CompileConditions   `when` texts -> engine::Condition, type-checked
//   7. FlattenRoleGrants   each role's grants plus those it includes; every
//                          grant must be reachable from a type the role
//                          can be bound on
//   8. BuildPolicy         engine::Policy::Finalize()
//
// Every TypeDef, RoleDef, Grant, Rule and condition node carries the
// file:line:column it came from. Compiling does not depend on data size.
//
// (Compiling an already parsed yaml-cpp node is internal: yaml_loaders.h.)
//
// Thread safety: the functions are reentrant; the returned policy is
// immutable and may be shared between threads.
//
// Invariants: compiling the same text under the same name gives the same
// policy or the same errors, sorted by line and column.
#ifndef PORTCULLIS_POLICIES_POLICY_COMPILER_H_
#define PORTCULLIS_POLICIES_POLICY_COMPILER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "engine/policy.h"
#include "policies/policy_error.h"

namespace portcullis::policies {

using PolicyResult =
    tl::expected<std::shared_ptr<const engine::Policy>, PolicyErrors>;

// The largest policy file accepted.
inline constexpr size_t kMaxPolicyBytes = 4 << 20;

// Reads and compiles the policy at `path`. Errors name `path` as the file.
PolicyResult CompilePolicyFile(const std::string& path);

// Compiles policy text; errors and source locations name `display_name`.
PolicyResult CompilePolicyText(std::string_view text,
                               const std::string& display_name);

// "file:line:column: message" lines, one per error.
std::string FormatErrors(const PolicyErrors& errors);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_POLICY_COMPILER_H_
