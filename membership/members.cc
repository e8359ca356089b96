// Members: SetMemberRoles, RemoveMember (membership.h).
#include <algorithm>

#include "membership/membership.h"
#include "membership/rules.h"

namespace portcullis::membership {

using engine::EntityRef;
using engine::WorkflowStep;

namespace {

// Changes an active member's standing in a group, as the manage_members
// step: the request is checked (the step, `roles` if given, the group, the
// subject, the actor), then in one write transaction the actor is
// authorized on the existing group, the subject must be an active member,
// and `change` runs under KeepingAManager.
Result<storage::Revision> ChangeMember(
    const WorkflowContext& ctx, std::string_view actor, std::string_view group,
    std::string_view subject, const std::vector<std::string>* roles,
    const std::function<Status(storage::WriteTxn& txn, const std::string& group,
                               EntityRef group_ref, EntityRef subject_ref)>&
        change) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_members;
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("manage_members")));
  }
  if (roles != nullptr) {
    Status s = CheckRoles(policy, step, "manage_members", *roles, false);
    if (!s.ok()) return Fail(s);
  }
  auto g = QualifyStepTarget(policy, step, "manage_members", group, "group");
  if (!g) return Fail(g.error());
  const EntityRef group_ref = *engine::ParseEntityRef(*g);
  auto subject_ref = ParseRefField(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  if (auto a = ParseRefField(actor, "actor"); !a) return Fail(a.error());
  return ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) {
    const storage::ReadView& view = txn.view();
    Status s = AuthorizeOnExisting(ctx, view, step, "manage_members", actor,
                                   group_ref);
    if (!s.ok()) return s;
    engine::SubjectAccess a = view.GetAccess(*subject_ref, group_ref);
    if (!a.binding || a.binding->state != engine::BindingState::kActive) {
      return Status::NotFound(subject_ref->ToString() +
                              " is not an active member of " +
                              group_ref.ToString());
    }
    return KeepingAManager(
        policy, txn, step, "manage_members", group_ref, ctx.now,
        [&] { return change(txn, *g, group_ref, *subject_ref); });
  });
}

// Clears every binding and restriction `subject` holds at or below `group`.
Status ClearHoldingsBelow(storage::WriteTxn& txn, EntityRef group,
                          EntityRef subject) {
  std::vector<storage::AccessRecord> held;
  std::string after;
  do {
    auto page = txn.view().ListAccessOf(subject, after, kPageSize);
    if (!page) return page.error();
    for (storage::AccessRecord& a : page->items) {
      auto r = engine::ParseEntityRef(a.resource);
      if (r && IsAtOrBelow(txn.view(), *r, group)) {
        held.push_back(std::move(a));
      }
    }
    after = page->next_cursor;
  } while (!after.empty());
  for (const storage::AccessRecord& a : held) {
    // A record naming only the subject and the resource clears it.
    auto cleared = [&a](auto record) {
      record.subject = a.subject;
      record.resource = a.resource;
      return record;
    };
    if (a.binding) {
      Status s = txn.SetBinding(cleared(storage::BindingRecord{}));
      if (!s.ok()) return s;
    }
    if (a.restriction) {
      Status s = txn.SetRestriction(cleared(storage::RestrictionRecord{}));
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

// Revokes the pending invitations to `group` that `member` (`subject` as
// the request named it) sent or received
// (to the member or to an address the member owns): they go with the
// membership, so that none of them may bring the member back, or anyone in
// on the member's word.
Status RevokeInvitationsOf(const engine::Policy& policy, storage::WriteTxn& txn,
                           EntityRef group, std::string_view subject,
                           EntityRef member) {
  std::vector<std::string> received =
      OwnedAddresses(policy, txn.view(), member);
  received.emplace_back(subject);
  std::vector<storage::Invitation> pending;
  std::string after;
  do {
    auto page = txn.view().ListInvitationsOn(
        group, storage::InvitationState::kPending, after, kPageSize);
    if (!page) return page.error();
    for (storage::Invitation& inv : page->items) {
      if (inv.inviter == subject || std::find(received.begin(), received.end(),
                                              inv.invitee) != received.end()) {
        pending.push_back(std::move(inv));
      }
    }
    after = page->next_cursor;
  } while (!after.empty());
  for (const storage::Invitation& inv : pending) {
    Status s = RevokePending(txn, inv);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Result<storage::Revision> SetMemberRoles(
    const WorkflowContext& ctx, std::string_view actor, std::string_view group,
    std::string_view subject, const std::vector<std::string>& roles) {
  return ChangeMember(
      ctx, actor, group, subject, &roles,
      [&](storage::WriteTxn& txn, const std::string& g, EntityRef, EntityRef) {
        storage::BindingRecord b;
        b.subject = std::string(subject);
        b.resource = g;
        b.roles = roles;
        b.created_by = std::string(actor);
        b.created_at = ctx.now;
        return txn.SetBinding(b);
      });
}

Result<storage::Revision> RemoveMember(const WorkflowContext& ctx,
                                       std::string_view actor,
                                       std::string_view group,
                                       std::string_view subject) {
  return ChangeMember(ctx, actor, group, subject, /*roles=*/nullptr,
                      [&](storage::WriteTxn& txn, const std::string&,
                          EntityRef group_ref, EntityRef subject_ref) {
                        Status s =
                            ClearHoldingsBelow(txn, group_ref, subject_ref);
                        if (!s.ok()) return s;
                        return RevokeInvitationsOf(*ctx.policy, txn, group_ref,
                                                   subject, subject_ref);
                      });
}

}  // namespace portcullis::membership
