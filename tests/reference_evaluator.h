// ReferenceEvaluator: a deliberately slow, obviously correct statement of the
// decision semantics, for the differential test of engine/evaluator.cc.
//
// It follows the header comment of engine/evaluator.h and the "Decisions"
// section of docs/policy-language.md line by line, and shares no code with
// engine/evaluator.cc: it looks names up by linear search, flattens role
// includes itself from RoleDef::includes and Grant::role (ignoring the
// pre-flattened RoleDef::grants and the Policy lookup tables), and collects
// the whole ancestor path into a vector before deciding. Only conditions are
// evaluated with the engine's Condition::Evaluate, which condition_test.cc
// tests on its own.
//
// Thread safety: stateless; safe to call from any thread.
#ifndef PORTCULLIS_TESTS_REFERENCE_EVALUATOR_H_
#define PORTCULLIS_TESTS_REFERENCE_EVALUATOR_H_

#include "engine/action_set.h"
#include "engine/data_view.h"
#include "engine/evaluator.h"
#include "engine/policy.h"

namespace portcullis::testing {

// True if `request.subject` may do `request.action` on `request.resource`.
bool ReferenceAllowed(const engine::Policy& policy,
                      const engine::CheckRequest& request,
                      const engine::DataView& data);

// The actions of the resource's type that ReferenceAllowed allows.
engine::ActionSet ReferenceAllowedActions(const engine::Policy& policy,
                                          const engine::CheckRequest& request,
                                          const engine::DataView& data);

}  // namespace portcullis::testing

#endif  // PORTCULLIS_TESTS_REFERENCE_EVALUATOR_H_
