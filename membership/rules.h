// The rules every membership workflow shares, internal to membership/ (the
// public API is membership.h; nothing outside this folder includes this
// header): parsing reference fields, checking a step and its roles,
// authorizing an actor with the evaluator (Decide, Authorize), keeping
// someone able to manage a group or account (KeepingAManager), membership
// of the group that holds a resource, address normalization and the
// addresses a subject owns, who may answer an invitation, and the
// pending-invitation bookkeeping (pending bindings, revoking, loading).
//
// Thread safety: plain functions. Those taking a view or transaction run on
// the caller's thread inside it; a string_view or EntityRef into a view does
// not outlive it.
#ifndef PORTCULLIS_MEMBERSHIP_RULES_H_
#define PORTCULLIS_MEMBERSHIP_RULES_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/evaluator.h"
#include "engine/policy.h"
#include "membership/membership.h"
#include "storage/store.h"

namespace portcullis::membership {

// How many items one storage listing call returns; longer listings page on.
inline constexpr size_t kPageSize = 1000;

// ---- Steps, references and roles ----

// The error text for a workflow step the running policy does not define.
std::string StepNotDefined(std::string_view step);

// The name of type `t`; empty for engine::kNoType.
std::string TypeName(const engine::Policy& policy, engine::TypeId t);

// The names of `ids`, in order.
std::vector<std::string> RoleNames(const engine::Policy& policy,
                                   const std::vector<engine::RoleId>& ids);

// "a, b, c".
std::string JoinNames(const std::vector<std::string>& names);

// Parses the "type:id" request field `field` (named in the error) into a ref
// viewing `text`. kInvalidArgument if it is not a reference.
Result<engine::EntityRef> ParseRefField(std::string_view text,
                                        std::string_view field);

// The step must be defined (else kFailedPrecondition); the resource must be
// of one of its types (else kInvalidArgument).
Status CheckStep(const engine::Policy& policy, const engine::WorkflowStep& step,
                 std::string_view step_name, engine::EntityRef resource);

// Roles named in a request: each one of the step's roles, no duplicates,
// at least one unless `allow_empty`. kInvalidArgument naming "roles".
Status CheckRoles(const engine::Policy& policy,
                  const engine::WorkflowStep& step, std::string_view step_name,
                  const std::vector<std::string>& roles, bool allow_empty);

// ---- Authorization ----

// Decides with the evaluator, on `view`, whether `actor` may perform
// `action` on `resource`, tells ctx.on_decision, and returns the decision
// and its reason in words. A resource that does not exist denies exactly
// as one on whose path the actor holds nothing (or, for an actor that does
// not exist, as an unknown subject), so that the answer does not say
// whether the resource exists.
std::pair<engine::Decision, std::string> Decide(const WorkflowContext& ctx,
                                                const storage::ReadView& view,
                                                engine::EntityRef actor,
                                                std::string_view action,
                                                engine::EntityRef resource);

// Checks that `actor` may perform the step's guard action on `resource`.
// The kPermissionDenied names the action, the resource, the step (with its
// YAML location) and the evaluator's reason.
Status Authorize(const WorkflowContext& ctx, const storage::ReadView& view,
                 const engine::WorkflowStep& step, std::string_view step_name,
                 std::string_view actor, engine::EntityRef resource);

// Authorize, and then kNotFound (NotFoundError) if `resource` does not
// exist: the actor learns whether it exists only once allowed to act there.
Status AuthorizeOnExisting(const WorkflowContext& ctx,
                           const storage::ReadView& view,
                           const engine::WorkflowStep& step,
                           std::string_view step_name, std::string_view actor,
                           engine::EntityRef resource);

// The policy defines `step` (else kFailedPrecondition, StepNotDefined) and
// `text` ("acme" or "account:acme"), qualified with the step's type
// (QualifyRef), is a reference (else kInvalidArgument naming `field`).
// Returns the qualified reference.
Result<std::string> QualifyStepTarget(const engine::Policy& policy,
                                      const engine::WorkflowStep& step,
                                      std::string_view step_name,
                                      std::string_view text,
                                      std::string_view field);

// Runs `change` in `txn` and then refuses it (kFailedPrecondition) if it
// leaves nobody with an active binding on `resource` able to perform the
// step's action there where somebody could before.
Status KeepingAManager(const engine::Policy& policy, storage::WriteTxn& txn,
                       const engine::WorkflowStep& step,
                       std::string_view step_name, engine::EntityRef resource,
                       TimestampMicros now,
                       const std::function<Status()>& change);

// ---- Errors ----

// kNotFound "no TYPE TYPE:ID".
Status NotFoundError(engine::EntityRef resource);

// kInternal for a read view whose storage read failed.
Status ViewFailure(const storage::ReadView& view);

// ---- Membership ----

// True if `ancestor` is `resource` or one of its ancestors.
bool IsAtOrBelow(const engine::DataView& view, engine::EntityRef resource,
                 engine::EntityRef ancestor);

// The types whose active bindings make someone a member: those the invite
// step acts on (else those manage_members acts on).
engine::TypeSet MembershipTypes(const engine::Policy& policy);

// True if `subject` holds an active binding on a strict ancestor of
// `resource` (used only when the policy names no membership types).
bool IsMemberAbove(const engine::DataView& view, engine::EntityRef subject,
                   engine::EntityRef resource);

// True if `subject` is an active member of the group that holds `resource`:
// the nearest strict ancestor of a membership type, where the subject must
// hold an active binding. A binding anywhere else (on the account above, a
// raise on a folder) does not make a member.
bool IsMemberOfGroupOf(const engine::Policy& policy,
                       const engine::DataView& view, engine::EntityRef subject,
                       engine::EntityRef resource);

// ---- Addresses ----

// True if `type` is one of the invite step's address types (email).
bool IsAddressType(const engine::Policy& policy, std::string_view type);

// "type:id" with the id normalized (NormalizeAddress) when the type is an
// address type; anything else unchanged.
std::string NormalizeSubject(const engine::Policy& policy,
                             std::string_view subject);

// The addresses `subject` owns: for each of the invite step's address
// types, the subject's attribute of that name ("email"), normalized, as
// "type:address". Empty for an address itself.
std::vector<std::string> OwnedAddresses(const engine::Policy& policy,
                                        const storage::ReadView& view,
                                        engine::EntityRef subject);

// ---- Invitations ----

// Whether `subject` may accept or decline `inv` (`verb`): the invited
// subject itself (an address only declines: it cannot hold roles); for an
// invitation to an address, any existing subject of a subject type that is
// not an address type. kInvalidArgument for a subject that cannot answer
// any invitation, kPermissionDenied for one that may not answer this one.
Status CheckAnswerer(const engine::Policy& policy, const engine::DataView& view,
                     const storage::Invitation& inv, engine::EntityRef subject,
                     std::string_view verb);

// Removes the invitee's pending binding of `inv`, if there is one.
Status RemovePendingBinding(storage::WriteTxn& txn,
                            const storage::Invitation& inv);

// Marks a pending invitation revoked and removes its pending binding.
Status RevokePending(storage::WriteTxn& txn, const storage::Invitation& inv);

// Loads invitation `id` for accept, decline or revoke: kNotFound if there is
// none, kFailedPrecondition if it is no longer pending, kGone if it has
// expired and `refuse_expired`.
Result<storage::Invitation> LoadPending(const storage::ReadView& view,
                                        std::string_view id,
                                        TimestampMicros now,
                                        bool refuse_expired);

}  // namespace portcullis::membership

#endif  // PORTCULLIS_MEMBERSHIP_RULES_H_
