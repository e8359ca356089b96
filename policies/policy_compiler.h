// The policy compiler: YAML text to an immutable engine::Policy.
//
// Named passes, run in order over the whole file (as OPA's ast/compile.go
// names its stages); each pass records every error it finds and the later
// passes skip only the pieces that are broken, so one run reports all
// errors, not only the first:
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
// Thread safety: the functions are reentrant; the returned policy is
// immutable and may be shared between threads.
#ifndef PORTCULLIS_POLICIES_POLICY_COMPILER_H_
#define PORTCULLIS_POLICIES_POLICY_COMPILER_H_

#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "engine/policy.h"
#include "policies/policy_error.h"

namespace YAML {
class Node;
}

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

// Compiles an already parsed policy mapping (an inline policy inside a test
// file). `source` is the whole text the node was parsed from: it is hashed
// into Policy::version and used to locate conditions inside quoted scalars.
PolicyResult CompilePolicyNode(const YAML::Node& root, std::string_view source,
                               const std::string& display_name);

// "file:line:column: message" lines, one per error.
std::string FormatErrors(const PolicyErrors& errors);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_POLICY_COMPILER_H_
