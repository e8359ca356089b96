// The membership rules of the portal (issue 5) as plain functions over the
// store and the evaluator: create a group, invite, accept, decline, revoke,
// change or remove a member, per-file raises and restrictions, account
// administrators, delete an account, list an account's people, and the
// invitation expiry sweep. Nothing here knows HTTP or JSON: server/ turns
// requests into these calls and their results into responses.
//
// The rules come from the policy's `workflows:` section
// (engine::Workflows): each step names the action the acting user needs and
// the type of resource it is checked on. Every write:
//   - runs in one storage write transaction, in which the actor is checked
//     with engine::Evaluator on that transaction's own snapshot (no window
//     between check and write) and the change is applied;
//   - records one changelog entry naming the actor;
//   - returns the new revision.
// Reads (listings) check the actor on the same read snapshot they list.
//
// Where each area lives: groups.cc, invitations.cc (and the expiry sweep),
// members.cc, file_permissions.cc, accounts.cc; the rules they share are in
// rules.h.
//
// Rules that hold against the present, not the past (each checked in the
// write transaction of the change):
//   - An actor is authorized before anything about the target is looked
//     at: an actor who may not act there gets the same answer whether or not
//     the target exists (a missing target denies like one where the actor
//     holds nothing).
//   - Accepting an invitation: only the invitee accepts (the invited
//     subject; for an address type such as email:, an existing subject of a
//     non-address type, who then holds the roles instead of the address).
//     An active member of the group cannot accept (kFailedPrecondition,
//     reason already_member). The invitation is void (kGone, reason
//     inviter_not_entitled) when its inviter may no longer perform the
//     invite step's action on the group. The acceptance may not leave the
//     group without someone who can manage members.
//   - Removing a member revokes the pending invitations to that group that
//     the member sent or received.
//   - Per-file raises and restrictions are given only to active members of
//     the group that holds the file.
//   - Addresses (the invite step's address_types) are compared after
//     trimming white space and lower-casing: one address, one invitation.
//
// Errors (Status codes; the server maps them to HTTP; Status::reason()
// refines some of them for clients):
//   kPermissionDenied   the policy does not let the actor do it; the message
//                       names the action, the resource and the reason
//   kFailedPrecondition the policy has no such step; the change would leave
//                       nobody able to manage the group (the last
//                       Administrator); the invitation is no longer pending;
//                       the subject is not a member
//   kGone               the invitation has expired, or is void (its
//                       inviter is no longer entitled)
//   kNotFound           no such group, account, invitation or member
//   kInvalidArgument    malformed input, naming the field
//
// Thread safety: the functions may be called from any thread; writes are
// serialized by the store.
#ifndef PORTCULLIS_MEMBERSHIP_MEMBERSHIP_H_
#define PORTCULLIS_MEMBERSHIP_MEMBERSHIP_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/evaluator.h"
#include "engine/policy.h"
#include "storage/store.h"

namespace portcullis::membership {

// Sees every authorization decision a workflow makes (the decision log):
// who, which action, on what, the decision, its reason in words and the
// revision of the snapshot it was made on. Called
// on the calling thread, possibly inside a write transaction, and possibly
// more than once for one call when the store reruns a transaction.
using DecisionObserver = std::function<void(
    std::string_view actor, std::string_view action, std::string_view resource,
    const engine::Decision& decision, std::string_view reason_message,
    storage::Revision revision)>;

// What every workflow call runs against.
struct WorkflowContext {
  storage::Store* store = nullptr;
  const engine::Policy* policy = nullptr;
  TimestampMicros now = 0;       // the request time (expiry, created_at)
  DecisionObserver on_decision;  // may be empty
};

// Invitations without `expires_in` expire after this long.
inline constexpr int64_t kDefaultInvitationSeconds = 14 * 24 * 3600;
inline constexpr int64_t kMaxInvitationSeconds = 365 * 24 * 3600;
// The most invitees one request may carry.
inline constexpr size_t kMaxInvitees = 1000;

// "acme" -> "account:acme"; "account:acme" stays. The type is the one the
// policy's step acts on.
std::string QualifyRef(std::string_view type, std::string_view text);

// An invitation's state as seen at `now`: a pending invitation whose expiry
// is at or before `now` is kExpired.
storage::InvitationState EffectiveState(const storage::Invitation& inv,
                                        TimestampMicros now);

// An address as invitations store and compare it: white space trimmed at
// both ends and ASCII letters lower-cased ("  Grace@Example.COM " ->
// "grace@example.com"). Mail providers treat addresses case-insensitively,
// and so does Portcullis.
std::string NormalizeAddress(std::string_view address);

// Writes the stored state of every pending invitation whose expiry is at or
// before ctx.now as expired, and removes its pending binding, so that the
// store agrees with what listings show. Returns how many it expired (0:
// nothing was written). The changelog names no actor: the daemon did it.
Result<size_t> ExpireInvitations(const WorkflowContext& ctx);

// ---- Groups ----

struct CreateGroupRequest {
  std::string actor;    // "user:olivia"
  std::string account;  // "acme" or "account:acme"
  std::string id;       // "project_y" or "group:project_y"
  storage::Attributes attributes;
};
struct CreateGroupResult {
  std::string group;               // "group:project_y"
  std::vector<std::string> roles;  // what the creator received
  storage::Revision revision = 0;
};
// The group is created under the account and the actor is bound on it with
// the step's creator roles, in one transaction. kAlreadyExists if the group
// exists.
Result<CreateGroupResult> CreateGroup(const WorkflowContext& ctx,
                                      const CreateGroupRequest& request);

// ---- Invitations ----

struct InviteRequest {
  std::string actor;
  std::string group;                  // id or "group:id"
  std::vector<std::string> invitees;  // "user:ID" or "email:ADDRESS"
  std::vector<std::string> roles;     // one role set for all of them
  std::string message;
  int64_t expires_in_seconds = kDefaultInvitationSeconds;
};
// One invitee that was not invited, and why. `code` is one of
// already_member, already_invited, duplicate, unknown_subject,
// invalid_invitee.
struct InviteConflict {
  std::string invitee;
  std::string code;
  std::string message;
};
struct InviteResult {
  std::vector<storage::Invitation> invitations;
  std::vector<InviteConflict> conflicts;
  storage::Revision revision = 0;
};
// Creates one invitation and one pending binding per invitee that is
// neither an active member nor already invited; the others are reported as
// conflicts. Fails as a whole only when the actor may not invite or the
// request is malformed.
Result<InviteResult> Invite(const WorkflowContext& ctx,
                            const InviteRequest& request);

struct InvitationList {
  std::vector<storage::Invitation> invitations;  // ordered by id
  storage::Revision revision = 0;
};
// The group's invitations, only those in `state` if given (by effective
// state), for an actor allowed to view them.
Result<InvitationList> ListGroupInvitations(
    const WorkflowContext& ctx, std::string_view actor, std::string_view group,
    std::optional<storage::InvitationState> state);
// The invitations addressed to `invitee` ("user:bob"), only those in
// `state` if given: the invitee's dashboard notification. For a subject
// that has an attribute named after one of the invite step's address types
// (a user with `email: bob@example.com`), the invitations to that address
// are listed too. An address invitee is normalized (NormalizeAddress).
Result<InvitationList> ListInvitationsFor(
    const WorkflowContext& ctx, std::string_view invitee,
    std::optional<storage::InvitationState> state);

struct InvitationResult {
  storage::Invitation invitation;  // as stored after the change
  std::string subject;             // who now holds the roles (accept)
  storage::Revision revision = 0;
};
// `subject` accepts: an invitation to a subject is accepted only by that
// subject; one to an address type (email:) by the subject that signed up
// with it, which then holds the invited roles instead of the address. The
// pending binding becomes active with exactly the invited roles.
Result<InvitationResult> AcceptInvitation(const WorkflowContext& ctx,
                                          std::string_view id,
                                          std::string_view subject);
// `subject` declines; the pending binding is removed.
Result<InvitationResult> DeclineInvitation(const WorkflowContext& ctx,
                                           std::string_view id,
                                           std::string_view subject);
// An actor allowed to revoke invitations on the group revokes a pending
// invitation; the pending binding is removed.
Result<InvitationResult> RevokeInvitation(const WorkflowContext& ctx,
                                          std::string_view actor,
                                          std::string_view id);

// ---- Members ----

// Replaces an active member's role set (each role one of the step's roles).
// kNotFound if the subject is not an active member; kFailedPrecondition if
// afterwards no active member could manage the group's members.
Result<storage::Revision> SetMemberRoles(const WorkflowContext& ctx,
                                         std::string_view actor,
                                         std::string_view group,
                                         std::string_view subject,
                                         const std::vector<std::string>& roles);
// Removes an active member: the binding on the group and every raise and
// restriction the subject holds below it. Same refusals as SetMemberRoles.
Result<storage::Revision> RemoveMember(const WorkflowContext& ctx,
                                       std::string_view actor,
                                       std::string_view group,
                                       std::string_view subject);

// ---- Per-file permissions ----

struct FilePermissionRequest {
  std::string actor;
  std::string subject;
  std::string resource;  // "file:budget" or "folder:finance"
  // A raise: the subject's roles on this resource; empty clears it.
  std::optional<std::vector<std::string>> roles;
  // A restriction: the actions taken away here; ["*"] all; empty clears it.
  std::optional<std::vector<std::string>> restrict;
};
// Sets or clears a raise and/or a restriction on one file or folder. Setting
// one needs the subject to be an active member of the group the resource is
// in (the nearest ancestor of a type the invite step acts on); clearing one
// does not, so that anything once given can be taken away.
Result<storage::Revision> SetFilePermissions(
    const WorkflowContext& ctx, const FilePermissionRequest& request);

// ---- Accounts ----

// Binds the step's roles to `subject` on the account (added to any roles it
// holds there).
Result<storage::Revision> AddAccountAdministrator(const WorkflowContext& ctx,
                                                  std::string_view actor,
                                                  std::string_view account,
                                                  std::string_view subject);
// Takes the step's roles away. kNotFound if the subject holds none of them;
// kFailedPrecondition if afterwards nobody could manage the account's
// administrators.
Result<storage::Revision> RemoveAccountAdministrator(const WorkflowContext& ctx,
                                                     std::string_view actor,
                                                     std::string_view account,
                                                     std::string_view subject);
// Deletes the account and everything under it (groups, folders, files,
// bindings, restrictions, invitations) in one transaction.
Result<storage::Revision> DeleteAccount(const WorkflowContext& ctx,
                                        std::string_view actor,
                                        std::string_view account);

// One person of an account: everything they hold in it.
struct PersonMembership {
  std::string group;
  std::vector<std::string> roles;
};
// A binding or restriction on the account itself or below its groups.
struct PersonHolding {
  std::string resource;
  std::vector<std::string> roles;     // a binding's roles; empty: none
  bool pending = false;               // the binding is an invitation's
  std::vector<std::string> restrict;  // a restriction's actions; empty: none
};
struct Person {
  std::string subject;
  std::vector<PersonMembership> memberships;  // active, on the groups
  std::vector<PersonHolding> holdings;        // everything else
};
struct PeopleList {
  std::vector<Person> people;  // ordered by subject
  storage::Revision revision = 0;
};
// Everyone who holds anything in the account (a binding, active or
// pending, or a restriction, on the account or anything below it), for an
// actor allowed to list them.
Result<PeopleList> ListPeople(const WorkflowContext& ctx,
                              std::string_view actor, std::string_view account);

}  // namespace portcullis::membership

#endif  // PORTCULLIS_MEMBERSHIP_MEMBERSHIP_H_
