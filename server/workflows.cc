#include "server/workflows.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/evaluator.h"

namespace portcullis::server {
namespace {

using engine::EntityRef;
using engine::WorkflowStep;

constexpr size_t kChunk = 1000;

std::string StepNotDefined(std::string_view step) {
  return "the running policy does not offer this workflow: it defines no "
         "step workflows." +
         std::string(step) + " (see docs/policy-language.md, Workflows)";
}

std::string TypeNamesOf(const engine::Policy& policy, engine::TypeSet types) {
  std::string out;
  for (size_t t = 0; t < policy.types.size(); ++t) {
    if (!types.Contains(static_cast<engine::TypeId>(t))) continue;
    if (!out.empty()) out += ", ";
    out += policy.types[t].name;
  }
  return out;
}

std::vector<std::string> RoleNames(const engine::Policy& policy,
                                   const std::vector<engine::RoleId>& ids) {
  std::vector<std::string> out;
  for (engine::RoleId id : ids) out.push_back(policy.roles[id].name);
  return out;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += out.empty() ? n : ", " + n;
  return out;
}

// Parses a "type:id" field into a ref viewing `text`.
Result<EntityRef> Ref(std::string_view text, std::string_view field) {
  std::optional<EntityRef> ref = engine::ParseEntityRef(text);
  if (!ref) {
    return Fail(Status::InvalidArgument(
        std::string(field) + " must be a reference \"type:id\", got \"" +
            std::string(text) + "\"",
        std::string(field)));
  }
  return *ref;
}

// The step must be defined; the resource must be of one of its types.
Status CheckStep(const engine::Policy& policy, const WorkflowStep& step,
                 std::string_view step_name, EntityRef resource) {
  if (!step.defined)
    return Status::FailedPrecondition(StepNotDefined(step_name));
  const engine::TypeId t = policy.FindType(resource.type);
  if (t == engine::kNoType || !step.on.Contains(t)) {
    return Status::InvalidArgument(
        "workflow step " + std::string(step_name) + " acts on " +
            TypeNamesOf(policy, step.on) + ", not on " + resource.ToString(),
        "resource");
  }
  return Status::Ok();
}

// Checks with the evaluator, on `view`, that `actor` may perform the step's
// guard action on `resource`. The denial names the action, the resource,
// the step (with its YAML location) and the evaluator's reason.
Status Authorize(const engine::Policy& policy, const engine::DataView& view,
                 const WorkflowStep& step, std::string_view step_name,
                 std::string_view actor, EntityRef resource,
                 TimestampMicros now) {
  Status s = CheckStep(policy, step, step_name, resource);
  if (!s.ok()) return s;
  auto actor_ref = Ref(actor, "actor");
  if (!actor_ref) return actor_ref.error();
  const std::string& action = policy.actions[step.action].name;
  engine::CheckRequest req;
  req.subject = *actor_ref;
  req.action = action;
  req.resource = resource;
  req.now = now;
  const engine::Decision d = engine::Evaluator(policy).Check(req, view);
  if (d.allowed) return Status::Ok();
  return Status::PermissionDenied(
      std::string(actor) + " may not " + action + " on " + resource.ToString() +
      ", which workflow step " + std::string(step_name) + " requires (" +
      step.location.ToString() +
      "): " + engine::DescribeReason(policy, d.reason, action));
}

// Roles named in a request: each one of the step's roles, no duplicates,
// at least one.
Status CheckRoles(const engine::Policy& policy, const WorkflowStep& step,
                  std::string_view step_name,
                  const std::vector<std::string>& roles, bool allow_empty) {
  if (roles.empty() && !allow_empty) {
    return Status::InvalidArgument("roles must name at least one role",
                                   "roles");
  }
  const std::vector<std::string> allowed = RoleNames(policy, step.roles);
  std::set<std::string_view> seen;
  for (const std::string& r : roles) {
    if (std::find(allowed.begin(), allowed.end(), r) == allowed.end()) {
      return Status::InvalidArgument(
          "role '" + r + "' cannot be granted by workflow step " +
              std::string(step_name) + "; the policy allows: " + Join(allowed),
          "roles");
    }
    if (!seen.insert(r).second) {
      return Status::InvalidArgument("role '" + r + "' is listed twice",
                                     "roles");
    }
  }
  return Status::Ok();
}

// The subjects holding an active binding directly on `resource`.
std::vector<std::string> ActiveHolders(const engine::DataView& view,
                                       EntityRef resource) {
  std::vector<std::string> out;
  view.ForEachBindingOn(resource,
                        [&](EntityRef subject, const engine::StoredBinding& b) {
                          if (b.state == engine::BindingState::kActive) {
                            out.push_back(subject.ToString());
                          }
                          return true;
                        });
  return out;
}

// True if some subject with an active binding on `resource` may perform
// the step's action there.
bool SomeHolderMay(const engine::Policy& policy, const engine::DataView& view,
                   const WorkflowStep& step, EntityRef resource,
                   TimestampMicros now) {
  const engine::Evaluator evaluator(policy);
  for (const std::string& holder : ActiveHolders(view, resource)) {
    engine::CheckRequest req;
    req.subject = *engine::ParseEntityRef(holder);
    req.action = policy.actions[step.action].name;
    req.resource = resource;
    req.now = now;
    if (evaluator.Check(req, view).allowed) return true;
  }
  return false;
}

// Runs `change` and then refuses it if it leaves nobody able to perform the
// step's action on `resource` where somebody could before.
Status KeepingAManager(const engine::Policy& policy, storage::WriteTxn& txn,
                       const WorkflowStep& step, std::string_view step_name,
                       EntityRef resource, TimestampMicros now,
                       const std::function<Status()>& change) {
  const bool before = SomeHolderMay(policy, txn.view(), step, resource, now);
  Status s = change();
  if (!s.ok()) return s;
  if (before && !SomeHolderMay(policy, txn.view(), step, resource, now)) {
    const std::string& action = policy.actions[step.action].name;
    return Status::FailedPrecondition(
        "refused: after this change no active member of " +
        resource.ToString() + " could " + action + " (workflow step " +
        std::string(step_name) + ", " + step.location.ToString() +
        "); this is the last one who can: give that permission to someone "
        "else first");
  }
  return Status::Ok();
}

Status Missing(EntityRef resource) {
  return Status::NotFound("no " + std::string(resource.type) + " " +
                          resource.ToString());
}

Status ViewFailure(const storage::ReadView& view) {
  return Status::Internal("storage read failed: " +
                          std::string(view.failure()));
}

// True if `ancestor` is `resource` or one of its ancestors.
bool IsAtOrBelow(const engine::DataView& view, EntityRef resource,
                 EntityRef ancestor) {
  std::string current = resource.ToString();
  for (int depth = 0; depth < engine::kMaxDepth; ++depth) {
    const EntityRef ref = *engine::ParseEntityRef(current);
    if (ref == ancestor) return true;
    std::optional<engine::ResourceInfo> info = view.GetResource(ref);
    if (!info || info->parent.empty()) return false;
    current = info->parent.ToString();
  }
  return false;
}

// True if `subject` holds an active binding on a strict ancestor of
// `resource`: a member of the group the resource is in.
bool IsMemberAbove(const engine::DataView& view, EntityRef subject,
                   EntityRef resource) {
  std::optional<engine::ResourceInfo> info = view.GetResource(resource);
  std::string current =
      info && !info->parent.empty() ? info->parent.ToString() : std::string();
  for (int depth = 0; !current.empty() && depth < engine::kMaxDepth; ++depth) {
    const EntityRef ref = *engine::ParseEntityRef(current);
    engine::SubjectAccess a = view.GetAccess(subject, ref);
    if (a.binding && a.binding->state == engine::BindingState::kActive) {
      return true;
    }
    info = view.GetResource(ref);
    current =
        info && !info->parent.empty() ? info->parent.ToString() : std::string();
  }
  return false;
}

std::string TypeName(const engine::Policy& policy, engine::TypeId t) {
  return t == engine::kNoType ? std::string() : policy.types[t].name;
}

Status RemovePendingBinding(storage::WriteTxn& txn,
                            const storage::Invitation& inv) {
  auto invitee = engine::ParseEntityRef(inv.invitee);
  auto resource = engine::ParseEntityRef(inv.resource);
  if (!invitee || !resource) return Status::Ok();
  std::optional<storage::AccessRecord> a =
      txn.view().GetAccessRecord(*invitee, *resource);
  if (!a || !a->binding ||
      a->binding->state != engine::BindingState::kPending) {
    return Status::Ok();
  }
  storage::BindingRecord clear;
  clear.subject = inv.invitee;
  clear.resource = inv.resource;
  return txn.SetBinding(clear);
}

// Loads a pending, unexpired invitation for accept/decline/revoke.
Result<storage::Invitation> LoadPending(const storage::ReadView& view,
                                        std::string_view id,
                                        TimestampMicros now,
                                        bool refuse_expired) {
  std::optional<storage::Invitation> inv = view.GetInvitation(id);
  if (view.failed()) return Fail(ViewFailure(view));
  if (!inv) {
    return Fail(Status::NotFound("no invitation " + std::string(id)));
  }
  const storage::InvitationState state = EffectiveState(*inv, now);
  if (state == storage::InvitationState::kExpired && refuse_expired) {
    return Fail(Status(StatusCode::kGone, "invitation " + inv->id +
                                              " expired at " +
                                              FormatRfc3339(inv->expires_at)));
  }
  if (state != storage::InvitationState::kPending &&
      state != storage::InvitationState::kExpired) {
    return Fail(Status::FailedPrecondition(
        "invitation " + inv->id + " is no longer pending: it was " +
        std::string(storage::InvitationStateName(state))));
  }
  return *inv;
}

}  // namespace

std::string QualifyRef(std::string_view type, std::string_view text) {
  std::string prefix = std::string(type) + ":";
  if (text.substr(0, prefix.size()) == prefix) return std::string(text);
  return prefix + std::string(text);
}

storage::InvitationState EffectiveState(const storage::Invitation& inv,
                                        TimestampMicros now) {
  if (inv.state == storage::InvitationState::kPending && inv.expires_at != 0 &&
      inv.expires_at <= now) {
    return storage::InvitationState::kExpired;
  }
  return inv.state;
}

// ---- Groups ----

Result<CreateGroupResult> CreateGroup(const WorkflowContext& ctx,
                                      const CreateGroupRequest& request) {
  const engine::Policy& policy = *ctx.policy;
  const engine::Workflows& wf = policy.workflows;
  if (!wf.create_group.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("create_group")));
  }
  if (request.id.empty()) {
    return Fail(Status::InvalidArgument("id is required", "id"));
  }
  if (request.account.empty()) {
    return Fail(Status::InvalidArgument("account is required", "account"));
  }
  const std::string account =
      QualifyRef(TypeName(policy, wf.create_group.type), request.account);
  const std::string group =
      QualifyRef(TypeName(policy, wf.creates), request.id);
  auto account_ref = Ref(account, "account");
  if (!account_ref) return Fail(account_ref.error());
  auto group_ref = Ref(group, "id");
  if (!group_ref) return Fail(group_ref.error());
  auto actor_ref = Ref(request.actor, "actor");
  if (!actor_ref) return Fail(actor_ref.error());

  CreateGroupResult out;
  out.group = group;
  out.roles = RoleNames(policy, wf.create_group.roles);
  Result<storage::Revision> rev = ctx.store->Write(
      &policy, request.actor, [&](storage::WriteTxn& txn) -> Status {
        const storage::ReadView& view = txn.view();
        if (!view.GetResource(*account_ref)) return Missing(*account_ref);
        Status s = Authorize(policy, view, wf.create_group, "create_group",
                             request.actor, *account_ref, ctx.now);
        if (!s.ok()) return s;
        if (view.GetResource(*group_ref)) {
          return Status::AlreadyExists(group + " already exists");
        }
        storage::ResourceRecord rec;
        rec.type = std::string(group_ref->type);
        rec.id = std::string(group_ref->id);
        rec.parent = account;
        rec.attributes = request.attributes;
        s = txn.PutResource(rec);
        if (!s.ok()) return s;
        if (out.roles.empty()) return Status::Ok();
        storage::BindingRecord b;
        b.subject = request.actor;
        b.resource = group;
        b.roles = out.roles;
        b.created_by = request.actor;
        b.created_at = ctx.now;
        return txn.SetBinding(b);
      });
  if (!rev) return Fail(rev.error());
  out.revision = *rev;
  return out;
}

// ---- Invitations ----

Result<InviteResult> Invite(const WorkflowContext& ctx,
                            const InviteRequest& request) {
  const engine::Policy& policy = *ctx.policy;
  const engine::Workflows& wf = policy.workflows;
  const WorkflowStep& step = wf.invite;
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("invite")));
  }
  const std::string group =
      QualifyRef(TypeName(policy, step.type), request.group);
  auto group_ref = Ref(group, "group");
  if (!group_ref) return Fail(group_ref.error());
  if (auto a = Ref(request.actor, "actor"); !a) return Fail(a.error());
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
        if (!view.GetResource(*group_ref)) return Missing(*group_ref);
        Status st = Authorize(policy, view, step, "invite", request.actor,
                              *group_ref, ctx.now);
        if (!st.ok()) return st;
        std::set<std::string> seen;
        for (const std::string& invitee : request.invitees) {
          auto conflict = [&](std::string code, std::string message) {
            out.conflicts.push_back(
                {invitee, std::move(code), std::move(message)});
          };
          std::optional<EntityRef> ref = engine::ParseEntityRef(invitee);
          const engine::TypeId type =
              ref ? policy.FindType(ref->type) : engine::kNoType;
          if (!ref || type == engine::kNoType ||
              !policy.types[type].is_subject) {
            conflict("invalid_invitee",
                     "an invitee must be a subject \"type:id\" of the policy "
                     "(such as user:bob or email:bob@example.com)");
            continue;
          }
          if (!seen.insert(invitee).second) {
            conflict("duplicate", "listed more than once in this request");
            continue;
          }
          const bool is_address = wf.address_types.Contains(type);
          if (!is_address && !view.SubjectExists(*ref)) {
            conflict("unknown_subject",
                     "no subject " + invitee +
                         "; invite people without an account by address");
            continue;
          }
          engine::SubjectAccess a = view.GetAccess(*ref, *group_ref);
          if (a.binding && a.binding->state == engine::BindingState::kActive) {
            conflict("already_member",
                     invitee + " is already an active member of " + group);
            continue;
          }
          bool pending = a.binding.has_value();
          auto existing = view.ListInvitationsFor(
              *ref, storage::InvitationState::kPending, "", kChunk);
          if (!existing) return existing.error();
          for (const storage::Invitation& inv : existing->items) {
            if (inv.resource == group &&
                EffectiveState(inv, ctx.now) ==
                    storage::InvitationState::kPending) {
              pending = true;
            }
          }
          if (pending) {
            conflict("already_invited",
                     invitee + " already has a pending invitation to " + group);
            continue;
          }
          storage::Invitation inv;
          inv.resource = group;
          inv.invitee = invitee;
          inv.roles = request.roles;
          inv.inviter = request.actor;
          inv.message = request.message;
          inv.created_at = ctx.now;
          inv.expires_at = ctx.now + request.expires_in_seconds * 1000000;
          st = txn.CreateInvitation(&inv);
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
          out.invitations.push_back(std::move(inv));
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
    auto page = on_resource
                    ? view.ListInvitationsOn(ref, std::nullopt, after, kChunk)
                    : view.ListInvitationsFor(ref, std::nullopt, after, kChunk);
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
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("view_invitations")));
  }
  const std::string g = QualifyRef(TypeName(policy, step.type), group);
  auto group_ref = Ref(g, "group");
  if (!group_ref) return Fail(group_ref.error());
  auto view = ctx.store->Read();
  if (!view) return Fail(view.error());
  if (!view->GetResource(*group_ref)) return Fail(Missing(*group_ref));
  Status s = Authorize(policy, *view, step, "view_invitations", actor,
                       *group_ref, ctx.now);
  if (!s.ok()) return Fail(s);
  return CollectInvitations(*view, *group_ref, true, state, ctx.now);
}

Result<InvitationList> ListInvitationsFor(
    const WorkflowContext& ctx, std::string_view invitee,
    std::optional<storage::InvitationState> state) {
  auto ref = Ref(invitee, "invitee");
  if (!ref) return Fail(ref.error());
  auto view = ctx.store->Read();
  if (!view) return Fail(view.error());
  return CollectInvitations(*view, *ref, false, state, ctx.now);
}

Result<InvitationResult> AcceptInvitation(const WorkflowContext& ctx,
                                          std::string_view id,
                                          std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  const engine::Workflows& wf = policy.workflows;
  if (!wf.invite.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("invite")));
  }
  auto subject_ref = Ref(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  const engine::TypeId subject_type = policy.FindType(subject_ref->type);
  if (subject_type == engine::kNoType ||
      !policy.types[subject_type].is_subject) {
    return Fail(Status::InvalidArgument(
        "subject must be of a subject type of the policy", "subject"));
  }
  if (wf.address_types.Contains(subject_type)) {
    return Fail(Status::InvalidArgument(
        "an address cannot accept an invitation; the account that signed up "
        "with it does",
        "subject"));
  }
  InvitationResult out;
  Result<storage::Revision> rev =
      ctx.store->Write(&policy, subject, [&](storage::WriteTxn& txn) -> Status {
        const storage::ReadView& view = txn.view();
        auto loaded = LoadPending(view, id, ctx.now, /*refuse_expired=*/true);
        if (!loaded) return loaded.error();
        storage::Invitation& inv = *loaded;
        const EntityRef invitee = *engine::ParseEntityRef(inv.invitee);
        const engine::TypeId invitee_type = policy.FindType(invitee.type);
        const bool by_address = invitee_type != engine::kNoType &&
                                wf.address_types.Contains(invitee_type);
        if (!by_address && inv.invitee != subject) {
          return Status::PermissionDenied(
              "invitation " + inv.id + " is addressed to " + inv.invitee +
              "; only " + inv.invitee + " can accept it");
        }
        const EntityRef resource = *engine::ParseEntityRef(inv.resource);
        if (by_address) {
          engine::SubjectAccess a = view.GetAccess(*subject_ref, resource);
          if (a.binding && a.binding->state == engine::BindingState::kActive) {
            return Status::FailedPrecondition(
                std::string(subject) + " is already an active member of " +
                inv.resource);
          }
          Status s = RemovePendingBinding(txn, inv);
          if (!s.ok()) return s;
        }
        storage::BindingRecord b;
        b.subject = std::string(subject);
        b.resource = inv.resource;
        b.roles = inv.roles;
        b.state = engine::BindingState::kActive;
        b.created_by = inv.inviter;
        b.created_at = ctx.now;
        Status s = txn.SetBinding(b);
        if (!s.ok()) return s;
        s = txn.SetInvitationState(inv.id, storage::InvitationState::kAccepted);
        if (!s.ok()) return s;
        inv.state = storage::InvitationState::kAccepted;
        out.invitation = inv;
        out.subject = std::string(subject);
        return Status::Ok();
      });
  if (!rev) return Fail(rev.error());
  out.revision = *rev;
  return out;
}

Result<InvitationResult> DeclineInvitation(const WorkflowContext& ctx,
                                           std::string_view id,
                                           std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  const engine::Workflows& wf = policy.workflows;
  auto subject_ref = Ref(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  InvitationResult out;
  Result<storage::Revision> rev =
      ctx.store->Write(&policy, subject, [&](storage::WriteTxn& txn) -> Status {
        auto loaded =
            LoadPending(txn.view(), id, ctx.now, /*refuse_expired=*/false);
        if (!loaded) return loaded.error();
        storage::Invitation& inv = *loaded;
        const EntityRef invitee = *engine::ParseEntityRef(inv.invitee);
        const engine::TypeId invitee_type = policy.FindType(invitee.type);
        const bool by_address = invitee_type != engine::kNoType &&
                                wf.address_types.Contains(invitee_type);
        if (!by_address && inv.invitee != subject) {
          return Status::PermissionDenied(
              "invitation " + inv.id + " is addressed to " + inv.invitee +
              "; only " + inv.invitee + " can decline it");
        }
        Status s = RemovePendingBinding(txn, inv);
        if (!s.ok()) return s;
        s = txn.SetInvitationState(inv.id, storage::InvitationState::kDeclined);
        if (!s.ok()) return s;
        inv.state = storage::InvitationState::kDeclined;
        out.invitation = inv;
        return Status::Ok();
      });
  if (!rev) return Fail(rev.error());
  out.revision = *rev;
  return out;
}

Result<InvitationResult> RevokeInvitation(const WorkflowContext& ctx,
                                          std::string_view actor,
                                          std::string_view id) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.revoke_invitation;
  if (!step.defined) {
    return Fail(
        Status::FailedPrecondition(StepNotDefined("revoke_invitation")));
  }
  if (auto a = Ref(actor, "actor"); !a) return Fail(a.error());
  InvitationResult out;
  Result<storage::Revision> rev =
      ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) -> Status {
        std::optional<storage::Invitation> found = txn.view().GetInvitation(id);
        if (!found) return Status::NotFound("no invitation " + std::string(id));
        // Authorization first: whether an invitation is pending is not for
        // everyone to learn.
        Status s =
            Authorize(policy, txn.view(), step, "revoke_invitation", actor,
                      *engine::ParseEntityRef(found->resource), ctx.now);
        if (!s.ok()) return s;
        auto loaded =
            LoadPending(txn.view(), id, ctx.now, /*refuse_expired=*/false);
        if (!loaded) return loaded.error();
        storage::Invitation& inv = *loaded;
        s = RemovePendingBinding(txn, inv);
        if (!s.ok()) return s;
        s = txn.SetInvitationState(inv.id, storage::InvitationState::kRevoked);
        if (!s.ok()) return s;
        inv.state = storage::InvitationState::kRevoked;
        out.invitation = inv;
        return Status::Ok();
      });
  if (!rev) return Fail(rev.error());
  out.revision = *rev;
  return out;
}

// ---- Members ----

namespace {

// Shared front part of the member workflows: the step, the refs, the
// actor's permission and the subject's active binding.
Status CheckMemberChange(const engine::Policy& policy, storage::WriteTxn& txn,
                         std::string_view actor, EntityRef group,
                         EntityRef subject, TimestampMicros now) {
  const storage::ReadView& view = txn.view();
  if (!view.GetResource(group)) return Missing(group);
  Status s = Authorize(policy, view, policy.workflows.manage_members,
                       "manage_members", actor, group, now);
  if (!s.ok()) return s;
  engine::SubjectAccess a = view.GetAccess(subject, group);
  if (!a.binding || a.binding->state != engine::BindingState::kActive) {
    return Status::NotFound(subject.ToString() +
                            " is not an active member of " + group.ToString());
  }
  return Status::Ok();
}

}  // namespace

Result<storage::Revision> SetMemberRoles(
    const WorkflowContext& ctx, std::string_view actor, std::string_view group,
    std::string_view subject, const std::vector<std::string>& roles) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_members;
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("manage_members")));
  }
  Status s = CheckRoles(policy, step, "manage_members", roles, false);
  if (!s.ok()) return Fail(s);
  const std::string g = QualifyRef(TypeName(policy, step.type), group);
  auto group_ref = Ref(g, "group");
  if (!group_ref) return Fail(group_ref.error());
  auto subject_ref = Ref(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  if (auto a = Ref(actor, "actor"); !a) return Fail(a.error());
  return ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) {
    Status st = CheckMemberChange(policy, txn, actor, *group_ref, *subject_ref,
                                  ctx.now);
    if (!st.ok()) return st;
    return KeepingAManager(policy, txn, step, "manage_members", *group_ref,
                           ctx.now, [&] {
                             storage::BindingRecord b;
                             b.subject = std::string(subject);
                             b.resource = g;
                             b.roles = roles;
                             b.created_by = std::string(actor);
                             b.created_at = ctx.now;
                             return txn.SetBinding(b);
                           });
  });
}

Result<storage::Revision> RemoveMember(const WorkflowContext& ctx,
                                       std::string_view actor,
                                       std::string_view group,
                                       std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_members;
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined("manage_members")));
  }
  const std::string g = QualifyRef(TypeName(policy, step.type), group);
  auto group_ref = Ref(g, "group");
  if (!group_ref) return Fail(group_ref.error());
  auto subject_ref = Ref(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  if (auto a = Ref(actor, "actor"); !a) return Fail(a.error());
  return ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) {
    Status st = CheckMemberChange(policy, txn, actor, *group_ref, *subject_ref,
                                  ctx.now);
    if (!st.ok()) return st;
    return KeepingAManager(
        policy, txn, step, "manage_members", *group_ref, ctx.now,
        [&]() -> Status {
          // Everything the subject holds at or below the group.
          std::vector<storage::AccessRecord> held;
          std::string after;
          do {
            auto page = txn.view().ListAccessOf(*subject_ref, after, kChunk);
            if (!page) return page.error();
            for (storage::AccessRecord& a : page->items) {
              auto r = engine::ParseEntityRef(a.resource);
              if (r && IsAtOrBelow(txn.view(), *r, *group_ref)) {
                held.push_back(std::move(a));
              }
            }
            after = page->next_cursor;
          } while (!after.empty());
          for (const storage::AccessRecord& a : held) {
            if (a.binding) {
              storage::BindingRecord clear;
              clear.subject = a.subject;
              clear.resource = a.resource;
              Status s = txn.SetBinding(clear);
              if (!s.ok()) return s;
            }
            if (a.restriction) {
              storage::RestrictionRecord clear;
              clear.subject = a.subject;
              clear.resource = a.resource;
              Status s = txn.SetRestriction(clear);
              if (!s.ok()) return s;
            }
          }
          return Status::Ok();
        });
  });
}

// ---- Per-file permissions ----

Result<storage::Revision> SetFilePermissions(
    const WorkflowContext& ctx, const FilePermissionRequest& request) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_permissions;
  if (!step.defined) {
    return Fail(
        Status::FailedPrecondition(StepNotDefined("manage_permissions")));
  }
  if (!request.roles && !request.restrict) {
    return Fail(Status::InvalidArgument(
        "give roles (a raise; [] clears it) or restrict (actions; [] clears "
        "it), or both",
        "roles"));
  }
  if (request.roles) {
    Status s = CheckRoles(policy, step, "manage_permissions", *request.roles,
                          /*allow_empty=*/true);
    if (!s.ok()) return Fail(s);
  }
  auto resource_ref = Ref(request.resource, "resource");
  if (!resource_ref) return Fail(resource_ref.error());
  auto subject_ref = Ref(request.subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  if (auto a = Ref(request.actor, "actor"); !a) return Fail(a.error());
  return ctx.store->Write(&policy, request.actor, [&](storage::WriteTxn& txn) {
    const storage::ReadView& view = txn.view();
    Status s = CheckStep(policy, step, "manage_permissions", *resource_ref);
    if (!s.ok()) return s;
    if (!view.GetResource(*resource_ref)) return Missing(*resource_ref);
    s = Authorize(policy, view, step, "manage_permissions", request.actor,
                  *resource_ref, ctx.now);
    if (!s.ok()) return s;
    const bool setting = (request.roles && !request.roles->empty()) ||
                         (request.restrict && !request.restrict->empty());
    if (setting && !IsMemberAbove(view, *subject_ref, *resource_ref)) {
      return Status::FailedPrecondition(
          request.subject +
          " is not a member here: it holds no active "
          "binding above " +
          request.resource + "; per-file permissions are for members");
    }
    if (request.roles) {
      storage::BindingRecord b;
      b.subject = request.subject;
      b.resource = request.resource;
      b.roles = *request.roles;
      b.created_by = request.actor;
      b.created_at = ctx.now;
      s = txn.SetBinding(b);
      if (!s.ok()) return s;
    }
    if (request.restrict) {
      storage::RestrictionRecord r;
      r.subject = request.subject;
      r.resource = request.resource;
      r.actions = *request.restrict;
      s = txn.SetRestriction(r);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
}

// ---- Accounts ----

namespace {

Result<std::string> AccountStep(const engine::Policy& policy,
                                const WorkflowStep& step,
                                std::string_view step_name,
                                std::string_view account,
                                std::string_view actor) {
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined(step_name)));
  }
  if (auto a = Ref(actor, "actor"); !a) return Fail(a.error());
  std::string ref = QualifyRef(TypeName(policy, step.type), account);
  if (auto r = Ref(ref, "account"); !r) return Fail(r.error());
  return ref;
}

}  // namespace

Result<storage::Revision> AddAccountAdministrator(const WorkflowContext& ctx,
                                                  std::string_view actor,
                                                  std::string_view account,
                                                  std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_account_administrators;
  auto acc = AccountStep(policy, step, "manage_account_administrators", account,
                         actor);
  if (!acc) return Fail(acc.error());
  auto subject_ref = Ref(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  const EntityRef account_ref = *engine::ParseEntityRef(*acc);
  return ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) {
    const storage::ReadView& view = txn.view();
    if (!view.GetResource(account_ref)) return Missing(account_ref);
    Status s = Authorize(policy, view, step, "manage_account_administrators",
                         actor, account_ref, ctx.now);
    if (!s.ok()) return s;
    storage::BindingRecord b;
    b.subject = std::string(subject);
    b.resource = *acc;
    b.created_by = std::string(actor);
    b.created_at = ctx.now;
    std::optional<storage::AccessRecord> held =
        view.GetAccessRecord(*subject_ref, account_ref);
    if (held && held->binding &&
        held->binding->state == engine::BindingState::kActive) {
      b.roles = held->binding->roles;
    }
    for (const std::string& r : RoleNames(policy, step.roles)) {
      if (std::find(b.roles.begin(), b.roles.end(), r) == b.roles.end()) {
        b.roles.push_back(r);
      }
    }
    return txn.SetBinding(b);
  });
}

Result<storage::Revision> RemoveAccountAdministrator(const WorkflowContext& ctx,
                                                     std::string_view actor,
                                                     std::string_view account,
                                                     std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_account_administrators;
  auto acc = AccountStep(policy, step, "manage_account_administrators", account,
                         actor);
  if (!acc) return Fail(acc.error());
  auto subject_ref = Ref(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  const EntityRef account_ref = *engine::ParseEntityRef(*acc);
  const std::vector<std::string> step_roles = RoleNames(policy, step.roles);
  return ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) {
    const storage::ReadView& view = txn.view();
    if (!view.GetResource(account_ref)) return Missing(account_ref);
    Status s = Authorize(policy, view, step, "manage_account_administrators",
                         actor, account_ref, ctx.now);
    if (!s.ok()) return s;
    std::optional<storage::AccessRecord> held =
        view.GetAccessRecord(*subject_ref, account_ref);
    std::vector<std::string> kept;
    bool had = false;
    if (held && held->binding) {
      for (const std::string& r : held->binding->roles) {
        if (std::find(step_roles.begin(), step_roles.end(), r) !=
            step_roles.end()) {
          had = true;
        } else {
          kept.push_back(r);
        }
      }
    }
    if (!had) {
      return Status::NotFound(std::string(subject) +
                              " is not an account administrator of " + *acc);
    }
    return KeepingAManager(policy, txn, step, "manage_account_administrators",
                           account_ref, ctx.now, [&] {
                             storage::BindingRecord b = *held->binding;
                             b.roles = kept;
                             return txn.SetBinding(b);
                           });
  });
}

Result<storage::Revision> DeleteAccount(const WorkflowContext& ctx,
                                        std::string_view actor,
                                        std::string_view account) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.delete_account;
  auto acc = AccountStep(policy, step, "delete_account", account, actor);
  if (!acc) return Fail(acc.error());
  const EntityRef account_ref = *engine::ParseEntityRef(*acc);
  return ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) {
    if (!txn.view().GetResource(account_ref)) return Missing(account_ref);
    Status s = Authorize(policy, txn.view(), step, "delete_account", actor,
                         account_ref, ctx.now);
    if (!s.ok()) return s;
    return txn.DeleteResource(account_ref);
  });
}

Result<PeopleList> ListPeople(const WorkflowContext& ctx,
                              std::string_view actor,
                              std::string_view account) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.list_people;
  auto acc = AccountStep(policy, step, "list_people", account, actor);
  if (!acc) return Fail(acc.error());
  const EntityRef account_ref = *engine::ParseEntityRef(*acc);
  auto view = ctx.store->Read();
  if (!view) return Fail(view.error());
  if (!view->GetResource(account_ref)) return Fail(Missing(account_ref));
  Status s = Authorize(policy, *view, step, "list_people", actor, account_ref,
                       ctx.now);
  if (!s.ok()) return Fail(s);
  std::vector<std::string> groups;
  std::string after;
  do {
    auto page = view->ListChildren(account_ref, after, kChunk);
    if (!page) return Fail(page.error());
    for (std::string& g : page->items) groups.push_back(std::move(g));
    after = page->next_cursor;
  } while (!after.empty());
  std::map<std::string, Person> people;
  for (const std::string& g : groups) {
    const EntityRef group_ref = *engine::ParseEntityRef(g);
    std::string cursor;
    do {
      auto page = view->ListAccessOn(group_ref, cursor, kChunk);
      if (!page) return Fail(page.error());
      for (const storage::AccessRecord& a : page->items) {
        if (!a.binding || a.binding->state != engine::BindingState::kActive) {
          continue;
        }
        Person& p = people[a.subject];
        p.subject = a.subject;
        p.memberships.push_back({g, a.binding->roles});
      }
      cursor = page->next_cursor;
    } while (!cursor.empty());
  }
  if (view->failed()) return Fail(ViewFailure(*view));
  PeopleList out;
  out.revision = view->revision();
  for (auto& [_, p] : people) out.people.push_back(std::move(p));
  return out;
}

}  // namespace portcullis::server
