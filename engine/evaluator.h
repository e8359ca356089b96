// Evaluator: answers "may subject S do action A on resource R?" from a
// compiled Policy and a DataView, with the reason.
//
// Semantics (docs/policy-language.md states them for policy authors):
//  1. An unknown resource type, action, resource or subject is a deny that
//     says so.
//  2. A deny rule whose condition holds denies, whatever else allows. A deny
//     rule whose condition fails to evaluate also denies (fail closed).
//  3. Otherwise the subject is allowed if an active, unexpired binding on R
//     or one of its ancestors holds a role that grants A on R's type (with
//     its condition true), or an allow rule applies; and a restriction on the
//     path does not take it away (see Precedence). Grants of roles exempt
//     from restrictions cannot be taken away.
//  4. Otherwise deny, naming what was missing. Errors while evaluating never
//     allow; a deny caused by one says so.
//
// Thread safety: an Evaluator is immutable and may be shared. Check() does
// not allocate unless a Trace is requested.
#ifndef PORTCULLIS_ENGINE_EVALUATOR_H_
#define PORTCULLIS_ENGINE_EVALUATOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/action_set.h"
#include "engine/condition.h"
#include "engine/data_view.h"
#include "engine/entity.h"
#include "engine/policy.h"

namespace portcullis::engine {

// The deepest resource tree the evaluator walks. Deeper paths (or a cycle in
// stored parents) are an evaluation error, hence a deny.
inline constexpr int kMaxDepth = 64;

struct CheckRequest {
  EntityRef subject;
  std::string_view action;
  EntityRef resource;
  AttributeMap context;
  AttributeMap subject_properties;
  AttributeMap resource_properties;
  AttributeMap action_properties;
  TimestampMicros now = 0;  // the request time; bindings expire against it
};

enum class ReasonCode : uint8_t {
  // allow
  kGrantedByRole,    // role `role` bound on `at` grants the action
  kAllowedByRule,    // allow rule `rule`
  // deny
  kDeniedByRule,     // deny rule `rule` matched
  kRestricted,       // a restriction on `at` takes the action away
  kNotGranted,       // bindings exist on the path, none grants the action
  kNoBinding,        // no binding on the resource or its ancestors
  kBindingPending,   // the only binding is a pending invitation
  kBindingExpired,   // the only granting binding has expired
  kConditionFalse,   // a grant or rule would apply but its condition is false
  kUnknownSubject,
  kUnknownResource,
  kUnknownResourceType,
  kUnknownAction,    // not an action of the resource's type
  kEvaluationError,  // a condition failed to evaluate (see error)
  kStorageError,     // the data view failed
  kDepthExceeded,    // the parent chain is too deep or cyclic
};

std::string_view ReasonCodeName(ReasonCode code);  // "granted_by_role"

// Why a decision came out as it did, as data: a code and references into the
// policy (grant, rule, condition: each with its YAML location) and the data.
// The engine renders no text; explain/reason_text.h does, at the edge. Views
// (`at`) point into the request or the DataView and are valid only while
// both live.
struct Reason {
  ReasonCode code = ReasonCode::kNoBinding;
  RoleId role = kNoRole;           // kGrantedByRole, kRestricted, kNotGranted
  const Grant* grant = nullptr;    // kGrantedByRole, kConditionFalse
  const Rule* rule = nullptr;      // kAllowedByRule, kDeniedByRule, ...
  EntityRef at;                    // the binding's or restriction's resource
  const Condition* condition = nullptr;  // kEvaluationError
  EvalError error;                       // kEvaluationError
};

struct Decision {
  bool allowed = false;
  Reason reason;
};

// One step of a full explanation: everything considered, in order.
struct TraceStep {
  std::string what;  // "binding on group:g1: roles [member] (active)"
  std::string outcome;  // "grants view", "restricted", "condition false"
  SourceLocation location;  // the YAML that produced it, when there is one
};

struct Trace {
  std::vector<TraceStep> steps;
};

// Before deciding request `at` of a batch of `count`, gives the data view
// the prefetch hints of the requests ahead: stage s of request at +
// kPrefetchAhead[s] (DataView::Prefetch), so that each later request has
// had its first loads started 12, 8 and 4 checks earlier. `refs_of(k)`
// returns request k's subject and resource as a std::pair of EntityRef (an
// empty pair for a request that has none).
inline constexpr size_t kPrefetchAhead[DataView::kPrefetchStages] = {12, 8, 4};
template <typename RefsOf>
void PrefetchAhead(const DataView& data, size_t at, size_t count,
                   RefsOf&& refs_of) {
  for (int stage = 0; stage < DataView::kPrefetchStages; ++stage) {
    const size_t k = at + kPrefetchAhead[stage];
    if (k >= count) continue;
    const auto [subject, resource] = refs_of(k);
    if (!resource.empty()) data.Prefetch(subject, resource, stage);
  }
}

class Evaluator {
 public:
  explicit Evaluator(const Policy& policy) : policy_(policy) {}

  // The decision for one request. Fills `trace`, if given, with every
  // binding, restriction, rule and condition considered.
  Decision Check(const CheckRequest& request, const DataView& data,
                 Trace* trace = nullptr) const;

  // The actions of the resource's type the subject may perform there.
  // request.action is ignored. Returns an empty set (and the reason for it in
  // *reason, if given) when the subject or resource is unknown.
  ActionSet AllowedActions(const CheckRequest& request, const DataView& data,
                           Reason* reason = nullptr) const;

  const Policy& policy() const { return policy_; }

 private:
  const Policy& policy_;
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_EVALUATOR_H_
