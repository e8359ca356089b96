// Reason text: the human sentence for an engine::Reason, with the YAML
// locations of the grant, rule or condition it names:
//   "role editor on file:f1 grants edit (policies/workspace.yaml:40:7)"
//
// The engine returns reasons as data (engine::Reason: a code and references
// into the policy and the request); this is where they become English, at
// the edge, once per decision, so that one rendered text serves both the
// answer and the decision log.
//
// Thread safety: the functions are pure; they read the policy and the
// reason, which must not change during the call.
#ifndef PORTCULLIS_EXPLAIN_REASON_TEXT_H_
#define PORTCULLIS_EXPLAIN_REASON_TEXT_H_

#include <string>
#include <string_view>

#include "engine/evaluator.h"
#include "engine/policy.h"

namespace portcullis::explain {

// Appends the text for `reason` (a decision on `action`) to *out. Allocates
// nothing but the growth of *out: a caller that reuses one string (clear()
// keeps its capacity) renders without allocating once it is large enough.
// REQUIRES: the views in `reason` (`at`) and the policy objects it points to
// are alive; `reason.rule` is set for kAllowedByRule and kDeniedByRule.
void AppendReasonText(const engine::Policy& policy,
                      const engine::Reason& reason, std::string_view action,
                      std::string* out);

// The same text as a new string (the CLI, tests, paths off the request).
std::string ReasonText(const engine::Policy& policy,
                       const engine::Reason& reason, std::string_view action);

}  // namespace portcullis::explain

#endif  // PORTCULLIS_EXPLAIN_REASON_TEXT_H_
