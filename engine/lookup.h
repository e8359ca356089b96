// Lookups: "which resources of type T may S do A on?" and "who may do A on
// R?", answered completely and in pages.
//
// Both gather candidates from the data view's indexes (never a scan of all
// data unless the policy has an allow rule that needs no binding), check
// every candidate with the Evaluator, and return the allowed ones sorted by
// "type:id". A page token is the last "type:id" of the previous page, so
// pages are stable under concurrent writes that do not touch them.
//
// Thread safety: stateless functions; safe to call concurrently with
// distinct data views.
#ifndef PORTCULLIS_ENGINE_LOOKUP_H_
#define PORTCULLIS_ENGINE_LOOKUP_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/evaluator.h"

namespace portcullis::engine {

inline constexpr size_t kDefaultPageSize = 100;
inline constexpr size_t kMaxPageSize = 10000;

struct LookupResourcesRequest {
  EntityRef subject;
  std::string_view action;
  std::string_view type;       // the resource type wanted
  EntityRef under;             // optional: only at or below this resource
  size_t limit = kDefaultPageSize;
  std::string_view page_token;  // empty for the first page
  AttributeMap context;
  // Request properties (AuthZEN) of the one subject and of the action,
  // passed to every check; they override stored attributes.
  AttributeMap subject_properties;
  AttributeMap action_properties;
  TimestampMicros now = 0;
};

struct LookupSubjectsRequest {
  std::string_view action;
  EntityRef resource;
  std::string_view subject_type;  // optional: only subjects of this type
  size_t limit = kDefaultPageSize;
  std::string_view page_token;
  AttributeMap context;
  // Request properties (AuthZEN) of the one resource and of the action,
  // passed to every check; they override stored attributes.
  AttributeMap resource_properties;
  AttributeMap action_properties;
  TimestampMicros now = 0;
};

struct LookupPage {
  std::vector<std::string> refs;  // "type:id", sorted
  std::string next_page_token;    // empty when this is the last page
};

// The candidates are the resources of the type below the subject's active
// bindings (every resource of the type when an allow rule could grant
// without a binding), each decided by Evaluator::Check. The traversal lists
// children only of the types the policy names as a parent: the store
// refuses any other child under the policy in force (data written under an
// older policy that allowed more parents is found again once re-parented).
// Its cost grows with the size of the subtrees reached, not the page.
//
// Fails with kInvalidArgument when the type or action is unknown to the
// policy, the action is not defined on the type, or limit is 0 or above
// kMaxPageSize; kNotFound when `under` does not exist.
Result<LookupPage> LookupResources(const Evaluator& evaluator,
                                   const DataView& data,
                                   const LookupResourcesRequest& request);

// Fails with kInvalidArgument as above; kNotFound when the resource does not
// exist.
Result<LookupPage> LookupSubjects(const Evaluator& evaluator,
                                  const DataView& data,
                                  const LookupSubjectsRequest& request);

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_LOOKUP_H_
