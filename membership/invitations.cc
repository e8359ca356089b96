// Invitations: invite, list, accept, decline, revoke, and the expiry sweep
// (membership.h).
#include <algorithm>
#include <functional>
#include <set>

#include "membership/membership.h"
#include "membership/rules.h"

namespace portcullis::membership {

using engine::EntityRef;
using engine::WorkflowStep;

Result<size_t> ExpireInvitations(const WorkflowContext& ctx) {
  // Find them on a read snapshot (no write lock held while scanning), then
  // expire them in write transactions of at most kPageSize, each re-reading
  // every invitation so that a concurrent accept or revoke wins.
  std::vector<std::string> due;
  {
    auto view = ctx.store->Read();
    if (!view) return Fail(view.error());
    Status s = view->ForEachInvitation([&](const storage::Invitation& inv) {
      if (EffectiveState(inv, ctx.now) == storage::InvitationState::kExpired) {
        due.push_back(inv.id);
      }
      return true;
    });
    if (!s.ok()) return Fail(s);
  }
  size_t expired = 0;
  for (size_t begin = 0; begin < due.size(); begin += kPageSize) {
    const size_t end = std::min(due.size(), begin + kPageSize);
    size_t in_txn = 0;
    Result<storage::Revision> rev =
        ctx.store->Write(ctx.policy, "", [&](storage::WriteTxn& txn) -> Status {
          in_txn = 0;
          for (size_t i = begin; i < end; ++i) {
            std::optional<storage::Invitation> inv =
                txn.view().GetInvitation(due[i]);
            if (!inv || EffectiveState(*inv, ctx.now) !=
                            storage::InvitationState::kExpired) {
              continue;
            }
            Status s = RemovePendingBinding(txn, *inv);
            if (!s.ok()) return s;
            s = txn.SetInvitationState(inv->id,
                                       storage::InvitationState::kExpired);
            if (!s.ok()) return s;
            ++in_txn;
          }
          return Status::Ok();
        });
    if (!rev) return Fail(rev.error());
    expired += in_txn;
  }
  return expired;
}

namespace {

// Invites `given`, one invitee of `request`, to `group` in `txn`: creates
// the invitation and its pending binding (appended to out->invitations), or
// records in out->conflicts why not. `seen` holds the invitees this request
// has named so far. Fails only when storage does.
Status InviteOne(const WorkflowContext& ctx, storage::WriteTxn& txn,
                 const InviteRequest& request, const std::string& group,
                 EntityRef group_ref, const std::string& given,
                 std::set<std::string>* seen, InviteResult* out) {
  const engine::Policy& policy = *ctx.policy;
  const storage::ReadView& view = txn.view();
  auto conflict = [&](std::string code, std::string message) {
    out->conflicts.push_back({given, std::move(code), std::move(message)});
    return Status::Ok();
  };
  // One address, one invitation: "Grace@Example.com " is grace@example.com.
  const std::string invitee = NormalizeSubject(policy, given);
  std::optional<EntityRef> ref = engine::ParseEntityRef(invitee);
  const engine::TypeId type =
      ref ? policy.FindType(ref->type) : engine::kNoType;
  if (!ref || type == engine::kNoType || !policy.types[type].is_subject) {
    return conflict("invalid_invitee",
                    "an invitee must be a subject \"type:id\" of the policy "
                    "(such as user:bob or email:bob@example.com)");
  }
  if (!seen->insert(invitee).second) {
    return conflict("duplicate",
                    "listed more than once in this request (" + invitee + ")");
  }
  const bool is_address = policy.workflows.address_types.Contains(type);
  if (!is_address && !view.SubjectExists(*ref)) {
    return conflict("unknown_subject",
                    "no subject " + invitee +
                        "; invite people without an account by address");
  }
  engine::SubjectAccess a = view.GetAccess(*ref, group_ref);
  if (a.binding && a.binding->state == engine::BindingState::kActive) {
    return conflict("already_member",
                    invitee + " is already an active member of " + group);
  }
  bool pending = a.binding.has_value();
  auto existing = view.ListInvitationsFor(
      *ref, storage::InvitationState::kPending, "", kPageSize);
  if (!existing) return existing.error();
  for (const storage::Invitation& inv : existing->items) {
    if (inv.resource == group &&
        EffectiveState(inv, ctx.now) == storage::InvitationState::kPending) {
      pending = true;
    }
  }
  if (pending) {
    return conflict("already_invited",
                    invitee + " already has a pending invitation to " + group);
  }
  storage::Invitation inv;
  inv.resource = group;
  inv.invitee = invitee;
  inv.roles = request.roles;
  inv.inviter = request.actor;
  inv.message = request.message;
  inv.created_at = ctx.now;
  inv.expires_at = ctx.now + request.expires_in_seconds * 1000000;
  Status st = txn.CreateInvitation(&inv);
  if (!st.ok()) return st;
  storage::BindingRecord b;
  b.subject = invitee;
  b.resource = group;
  b.roles = request.roles;
  b.state = engine::BindingState::kPending;
  b.created_by = request.actor;
  b.created_at = ctx.now;
  st = txn.SetBinding(b);
  if (!st.ok()) return st;
  out->invitations.push_back(std::move(inv));
  return Status::Ok();
}

}  // namespace

Result<InviteResult> Invite(const WorkflowContext& ctx,
                            const InviteRequest& request) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.invite;
  auto qualified =
      QualifyStepTarget(policy, step, "invite", request.group, "group");
  if (!qualified) return Fail(qualified.error());
  const std::string& group = *qualified;
  const EntityRef group_ref = *engine::ParseEntityRef(group);
  if (auto a = ParseRefField(request.actor, "actor"); !a)
    return Fail(a.error());
  Status s = CheckRoles(policy, step, "invite", request.roles, false);
  if (!s.ok()) return Fail(s);
  if (request.invitees.empty()) {
    return Fail(
        Status::InvalidArgument("invitees must name at least one", "invitees"));
  }
  if (request.invitees.size() > kMaxInvitees) {
    return Fail(Status::InvalidArgument(
        "at most " + std::to_string(kMaxInvitees) + " invitees per request",
        "invitees"));
  }
  if (request.expires_in_seconds <= 0 ||
      request.expires_in_seconds > kMaxInvitationSeconds) {
    return Fail(Status::InvalidArgument(
        "expires_in must be between 1 and " +
            std::to_string(kMaxInvitationSeconds) + " seconds",
        "expires_in"));
  }

  InviteResult out;
  Result<storage::Revision> rev = ctx.store->Write(
      &policy, request.actor, [&](storage::WriteTxn& txn) -> Status {
        out.invitations.clear();
        out.conflicts.clear();
        const storage::ReadView& view = txn.view();
        Status st = AuthorizeOnExisting(ctx, view, step, "invite",
                                        request.actor, group_ref);
        if (!st.ok()) return st;
        std::set<std::string> seen;
        for (const std::string& given : request.invitees) {
          st = InviteOne(ctx, txn, request, group, group_ref, given, &seen,
                         &out);
          if (!st.ok()) return st;
        }
        return Status::Ok();
      });
  if (!rev) return Fail(rev.error());
  out.revision = *rev;
  return out;
}

namespace {

Result<InvitationList> CollectInvitations(
    const storage::ReadView& view, EntityRef ref, bool on_resource,
    std::optional<storage::InvitationState> state, TimestampMicros now) {
  InvitationList out;
  out.revision = view.revision();
  std::string after;
  do {
    auto page =
        on_resource
            ? view.ListInvitationsOn(ref, std::nullopt, after, kPageSize)
            : view.ListInvitationsFor(ref, std::nullopt, after, kPageSize);
    if (!page) return Fail(page.error());
    for (storage::Invitation& inv : page->items) {
      const storage::InvitationState effective = EffectiveState(inv, now);
      if (state && effective != *state) continue;
      inv.state = effective;
      out.invitations.push_back(std::move(inv));
    }
    after = page->next_cursor;
  } while (!after.empty());
  return out;
}

}  // namespace

Result<InvitationList> ListGroupInvitations(
    const WorkflowContext& ctx, std::string_view actor, std::string_view group,
    std::optional<storage::InvitationState> state) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.view_invitations;
  auto g = QualifyStepTarget(policy, step, "view_invitations", group, "group");
  if (!g) return Fail(g.error());
  const EntityRef group_ref = *engine::ParseEntityRef(*g);
  auto view = ctx.store->Read();
  if (!view) return Fail(view.error());
  Status s = AuthorizeOnExisting(ctx, *view, step, "view_invitations", actor,
                                 group_ref);
  if (!s.ok()) return Fail(s);
  return CollectInvitations(*view, group_ref, true, state, ctx.now);
}

Result<InvitationList> ListInvitationsFor(
    const WorkflowContext& ctx, std::string_view invitee,
    std::optional<storage::InvitationState> state) {
  const engine::Policy& policy = *ctx.policy;
  const std::string normalized = NormalizeSubject(policy, invitee);
  auto ref = ParseRefField(normalized, "invitee");
  if (!ref) return Fail(ref.error());
  auto view = ctx.store->Read();
  if (!view) return Fail(view.error());
  auto out = CollectInvitations(*view, *ref, false, state, ctx.now);
  if (!out) return out;
  // The addresses the subject owns: an attribute named after an address
  // type (user:bob with `email: bob@example.com` owns that address).
  const std::vector<std::string> owned = OwnedAddresses(policy, *view, *ref);
  for (const std::string& address : owned) {
    auto more = CollectInvitations(*view, *engine::ParseEntityRef(address),
                                   false, state, ctx.now);
    if (!more) return more;
    for (storage::Invitation& inv : more->invitations) {
      out->invitations.push_back(std::move(inv));
    }
  }
  if (!owned.empty()) {
    std::sort(out->invitations.begin(), out->invitations.end(),
              [](const storage::Invitation& a, const storage::Invitation& b) {
                return a.id < b.id;
              });
  }
  if (view->failed()) return Fail(ViewFailure(*view));
  return out;
}

Result<InvitationResult> AcceptInvitation(const WorkflowContext& ctx,
                                          std::string_view id,
                                          std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  const engine::Workflows& wf = policy.workflows;
  if (!wf.invite.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("invite")));
  }
  auto subject_ref = ParseRefField(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  const engine::TypeId subject_type = policy.FindType(subject_ref->type);
  if (subject_type == engine::kNoType ||
      !policy.types[subject_type].is_subject ||
      wf.address_types.Contains(subject_type)) {
    return Fail(Status::InvalidArgument(
        "subject must be a subject of the policy that is not an address (an "
        "address cannot accept an invitation; the account that signed up "
        "with it does)",
        "subject"));
  }
  InvitationResult out;
  Result<storage::Revision> rev =
      ctx.store->Write(&policy, subject, [&](storage::WriteTxn& txn) -> Status {
        const storage::ReadView& view = txn.view();
        auto loaded = LoadPending(view, id, ctx.now, /*refuse_expired=*/true);
        if (!loaded) return loaded.error();
        storage::Invitation& inv = *loaded;
        Status s = CheckAnswerer(policy, view, inv, *subject_ref, "accept");
        if (!s.ok()) return s;
        const EntityRef resource = *engine::ParseEntityRef(inv.resource);
        // Against the present: the subject is not a member already ...
        engine::SubjectAccess held = view.GetAccess(*subject_ref, resource);
        if (held.binding &&
            held.binding->state == engine::BindingState::kActive) {
          return Status::FailedPrecondition(
                     std::string(subject) + " is already an active member of " +
                     inv.resource +
                     "; the invitation stays pending and nothing changed "
                     "(change the member's roles instead)")
              .WithReason("already_member");
        }
        // ... and whoever invited may still invite there.
        const std::optional<EntityRef> inviter =
            engine::ParseEntityRef(inv.inviter);
        const std::string& action = policy.actions[wf.invite.action].name;
        std::string why = "it names no inviter";
        if (inviter) {
          auto [d, reason] = Decide(ctx, view, *inviter, action, resource);
          if (d.allowed)
            why.clear();
          else
            why = inv.inviter + " may no longer " + action + " on " +
                  inv.resource + ": " + reason;
        }
        if (!why.empty()) {
          return Status(StatusCode::kGone,
                        "invitation " + inv.id + " is void: " + why)
              .WithReason("inviter_not_entitled");
        }
        return KeepingAManager(
            policy, txn,
            wf.manage_members.defined ? wf.manage_members : wf.invite,
            "manage_members", resource, ctx.now, [&]() -> Status {
              if (inv.invitee != subject) {
                Status st = RemovePendingBinding(txn, inv);
                if (!st.ok()) return st;
              }
              storage::BindingRecord b;
              b.subject = std::string(subject);
              b.resource = inv.resource;
              b.roles = inv.roles;
              b.state = engine::BindingState::kActive;
              b.created_by = inv.inviter;
              b.created_at = ctx.now;
              Status st = txn.SetBinding(b);
              if (!st.ok()) return st;
              st = txn.SetInvitationState(inv.id,
                                          storage::InvitationState::kAccepted);
              if (!st.ok()) return st;
              inv.state = storage::InvitationState::kAccepted;
              out.invitation = inv;
              out.subject = std::string(subject);
              return Status::Ok();
            });
      });
  if (!rev) return Fail(rev.error());
  out.revision = *rev;
  return out;
}

namespace {

// Ends pending invitation `id` in one write transaction recorded as
// `writer`: `admit` runs first (on a view where the invitation may not
// exist), then the invitation is loaded (LoadPending; an expired one too),
// `may_close` checks it, its pending binding is removed and its state set
// to `closed`.
Result<InvitationResult> CloseInvitation(
    const WorkflowContext& ctx, std::string_view writer, std::string_view id,
    storage::InvitationState closed,
    const std::function<Status(const storage::ReadView& view)>& admit,
    const std::function<Status(const storage::ReadView& view,
                               const storage::Invitation& inv)>& may_close) {
  InvitationResult out;
  Result<storage::Revision> rev = ctx.store->Write(
      ctx.policy, writer, [&](storage::WriteTxn& txn) -> Status {
        Status s = admit(txn.view());
        if (!s.ok()) return s;
        auto loaded =
            LoadPending(txn.view(), id, ctx.now, /*refuse_expired=*/false);
        if (!loaded) return loaded.error();
        storage::Invitation& inv = *loaded;
        s = may_close(txn.view(), inv);
        if (!s.ok()) return s;
        s = RemovePendingBinding(txn, inv);
        if (!s.ok()) return s;
        s = txn.SetInvitationState(inv.id, closed);
        if (!s.ok()) return s;
        inv.state = closed;
        out.invitation = inv;
        return Status::Ok();
      });
  if (!rev) return Fail(rev.error());
  out.revision = *rev;
  return out;
}

}  // namespace

Result<InvitationResult> DeclineInvitation(const WorkflowContext& ctx,
                                           std::string_view id,
                                           std::string_view subject) {
  auto subject_ref = ParseRefField(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  return CloseInvitation(
      ctx, subject, id, storage::InvitationState::kDeclined,
      [](const storage::ReadView&) { return Status::Ok(); },
      [&](const storage::ReadView& view, const storage::Invitation& inv) {
        return CheckAnswerer(*ctx.policy, view, inv, *subject_ref, "decline");
      });
}

Result<InvitationResult> RevokeInvitation(const WorkflowContext& ctx,
                                          std::string_view actor,
                                          std::string_view id) {
  const WorkflowStep& step = ctx.policy->workflows.revoke_invitation;
  if (!step.defined) {
    return Fail(
        Status::FailedPrecondition(StepNotDefined("revoke_invitation")));
  }
  if (auto a = ParseRefField(actor, "actor"); !a) return Fail(a.error());
  return CloseInvitation(
      ctx, actor, id, storage::InvitationState::kRevoked,
      [&](const storage::ReadView& view) {
        // One answer for an invitation that does not exist and one in a
        // group where the actor may not revoke: whether an id names an
        // invitation is not for everyone to learn.
        const Status none = Status::NotFound(
            "no invitation " + std::string(id) + " in a group where " +
            std::string(actor) + " may revoke invitations");
        std::optional<storage::Invitation> found = view.GetInvitation(id);
        if (!found) return none;
        const std::optional<EntityRef> group =
            engine::ParseEntityRef(found->resource);
        if (!group) return none;
        Status s =
            Authorize(ctx, view, step, "revoke_invitation", actor, *group);
        if (s.code() == StatusCode::kPermissionDenied) return none;
        return s;
      },
      [](const storage::ReadView&, const storage::Invitation&) {
        return Status::Ok();
      });
}

}  // namespace portcullis::membership
