// The passes of the policy compiler and the one table that orders them (as
// OPA's ast/compile.go lists its stages by name). Each pass is a function
// of the CompileState (compile_state.h) in a file of its own,
// pass_<name>.cc; the driver in policy_compiler.cc runs the table in order
// and records the name of the running pass in CompileState, so that a
// trace or a diagnostic can name the stage. Adding a pass is one function
// and one line of the table.
//
// Internal to policies/.
//
// Thread safety: the passes are reentrant; each runs on the state of one
// compilation, which no other thread touches.
//
// Invariants:
//   1. Every pass records every error it finds in CompileState::errors and
//      skips only the broken pieces, so that one run reports all errors.
//   2. A pass with Gate::kNoErrorsYet runs only if no earlier pass reported
//      an error; otherwise the run stops there (a syntax error stops before
//      CheckShape; BuildPolicy never sees an erroneous policy).
//   3. A pass with Gate::kAcyclic runs only if CheckCycles found no cycle
//      (it would not terminate on one); later passes still run.
#ifndef PORTCULLIS_POLICIES_COMPILER_PASSES_H_
#define PORTCULLIS_POLICIES_COMPILER_PASSES_H_

#include <span>
#include <string_view>

#include "policies/compile_state.h"

namespace portcullis::policies {

struct CompilerPass {
  enum class Gate { kAlways, kNoErrorsYet, kAcyclic };
  std::string_view name;
  void (*run)(CompileState& state);
  Gate gate;
};

// The passes in the order they run (the table in policy_compiler.cc).
std::span<const CompilerPass> CompilerPasses();

// 1. Text -> YAML nodes; a syntax error stops the run. Does nothing when
//    the caller passed nodes already parsed (CompilePolicyNode).
void ParseYaml(CompileState& state);
// 2. Every key known and unique, every value of the right kind -> the AST.
void CheckShape(CompileState& state);
// 3. Types, actions, roles, rules get ids; duplicates; limits.
void CollectNames(CompileState& state);
// 4. Parents, grant types and actions, role `on` and `includes`,
//    restrictions, rule targets, the `workflows:` steps.
void ResolveReferences(CompileState& state);
// 5. Cycles in parents (a type may list itself) and in role includes.
void CheckCycles(CompileState& state);
// 6. `when` texts -> engine::Condition, type-checked against the schema.
void CompileConditions(CompileState& state);
// 7. Each role's grants plus those it includes; each grant reachable from a
//    type the role can be bound on.
void FlattenRoleGrants(CompileState& state);
// 8. Version hash, source file, engine::Policy::Finalize().
void BuildPolicy(CompileState& state);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_COMPILER_PASSES_H_
