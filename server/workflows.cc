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

// Decides with the evaluator, on `view`, whether `actor` may perform
// `action` on `resource`, tells ctx.on_decision, and returns the decision
// and its reason in words. A resource that does not exist denies exactly
// as one on whose path the actor holds nothing (or, for an actor that does
// not exist, as an unknown subject), so that the answer does not say
// whether the resource exists.
std::pair<engine::Decision, std::string> Decide(const WorkflowContext& ctx,
                                                const engine::DataView& view,
                                                EntityRef actor,
                                                std::string_view action,
                                                EntityRef resource) {
  engine::CheckRequest req;
  req.subject = actor;
  req.action = action;
  req.resource = resource;
  req.now = ctx.now;
  engine::Decision d = engine::Evaluator(*ctx.policy).Check(req, view);
  if (!d.allowed && d.reason.code == engine::ReasonCode::kUnknownResource) {
    d.reason = engine::Reason();
    if (view.SubjectExists(actor)) {
      d.reason.code = engine::ReasonCode::kNoBinding;
      d.reason.at = resource;
    } else {
      d.reason.code = engine::ReasonCode::kUnknownSubject;
      d.reason.at = actor;
    }
  }
  std::string message = engine::DescribeReason(*ctx.policy, d.reason, action);
  if (ctx.on_decision) {
    ctx.on_decision(actor.ToString(), action, resource.ToString(), d, message);
  }
  return {d, std::move(message)};
}

// Checks that `actor` may perform the step's guard action on `resource`.
// The denial names the action, the resource, the step (with its YAML
// location) and the evaluator's reason.
Status Authorize(const WorkflowContext& ctx, const engine::DataView& view,
                 const WorkflowStep& step, std::string_view step_name,
                 std::string_view actor, EntityRef resource) {
  const engine::Policy& policy = *ctx.policy;
  Status s = CheckStep(policy, step, step_name, resource);
  if (!s.ok()) return s;
  auto actor_ref = Ref(actor, "actor");
  if (!actor_ref) return actor_ref.error();
  const std::string& action = policy.actions[step.action].name;
  auto [d, reason] = Decide(ctx, view, *actor_ref, action, resource);
  if (d.allowed) return Status::Ok();
  return Status::PermissionDenied(
      std::string(actor) + " may not " + action + " on " + resource.ToString() +
      ", which workflow step " + std::string(step_name) + " requires (" +
      step.location.ToString() + "): " + reason);
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

// The types whose active bindings make someone a member: those the invite
// step acts on (else those manage_members acts on).
engine::TypeSet MembershipTypes(const engine::Policy& policy) {
  const engine::Workflows& wf = policy.workflows;
  return wf.invite.defined ? wf.invite.on : wf.manage_members.on;
}

// True if `subject` holds an active binding on a strict ancestor of
// `resource` (used only when the policy names no membership types).
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

// True if `subject` is an active member of the group that holds `resource`:
// the nearest strict ancestor of a membership type, where the subject must
// hold an active binding. A binding anywhere else (on the account above, a
// raise on a folder) does not make a member.
bool IsMemberOfGroupOf(const engine::Policy& policy,
                       const engine::DataView& view, EntityRef subject,
                       EntityRef resource) {
  const engine::TypeSet group_types = MembershipTypes(policy);
  std::optional<engine::ResourceInfo> info = view.GetResource(resource);
  std::string current =
      info && !info->parent.empty() ? info->parent.ToString() : std::string();
  for (int depth = 0; !current.empty() && depth < engine::kMaxDepth; ++depth) {
    const EntityRef ref = *engine::ParseEntityRef(current);
    const engine::TypeId t = policy.FindType(ref.type);
    if (t != engine::kNoType && group_types.Contains(t)) {
      engine::SubjectAccess a = view.GetAccess(subject, ref);
      return a.binding && a.binding->state == engine::BindingState::kActive;
    }
    info = view.GetResource(ref);
    current =
        info && !info->parent.empty() ? info->parent.ToString() : std::string();
  }
  return false;
}

bool IsAddressType(const engine::Policy& policy, std::string_view type) {
  const engine::TypeId t = policy.FindType(type);
  return t != engine::kNoType && policy.workflows.address_types.Contains(t);
}

// "type:id" with the id normalized when the type is an address type.
std::string NormalizeSubject(const engine::Policy& policy,
                             std::string_view subject) {
  const size_t colon = subject.find(':');
  if (colon == std::string_view::npos ||
      !IsAddressType(policy, subject.substr(0, colon))) {
    return std::string(subject);
  }
  return std::string(subject.substr(0, colon + 1)) +
         NormalizeAddress(subject.substr(colon + 1));
}

// The addresses `subject` owns: for each of the invite step's address
// types, the subject's attribute of that name ("email"), normalized, as
// "type:address". Empty for an address itself.
std::vector<std::string> OwnedAddresses(const engine::Policy& policy,
                                        const storage::ReadView& view,
                                        EntityRef subject) {
  std::vector<std::string> out;
  if (IsAddressType(policy, subject.type)) return out;
  std::optional<storage::SubjectRecord> record =
      view.GetSubjectRecord(subject);
  if (!record) return out;
  for (size_t t = 0; t < policy.types.size(); ++t) {
    if (!policy.workflows.address_types.Contains(
            static_cast<engine::TypeId>(t))) {
      continue;
    }
    const std::string& type = policy.types[t].name;
    auto attr = record->attributes.find(type);
    if (attr == record->attributes.end() ||
        attr->second.kind != engine::ValueKind::kString) {
      continue;
    }
    std::string address = type + ":" + NormalizeAddress(attr->second.s);
    if (engine::ParseEntityRef(address)) out.push_back(std::move(address));
  }
  return out;
}

// Whether `subject` may accept or decline `inv` (`verb`): the invited
// subject itself (an address only declines: it cannot hold roles); for an
// invitation to an address, any existing subject of a subject type that is
// not an address type. kInvalidArgument for a subject that cannot answer
// any invitation, kPermissionDenied for one that may not answer this one.
Status CheckAnswerer(const engine::Policy& policy, const engine::DataView& view,
                     const storage::Invitation& inv, EntityRef subject,
                     std::string_view verb) {
  if (verb == "decline" && inv.invitee == subject.ToString()) {
    return Status::Ok();
  }
  const engine::TypeId t = policy.FindType(subject.type);
  if (t == engine::kNoType || !policy.types[t].is_subject) {
    return Status::InvalidArgument(
        "subject must be a subject of the policy (such as user:bob), not " +
            subject.ToString(),
        "subject");
  }
  if (policy.workflows.address_types.Contains(t)) {
    return Status::InvalidArgument(
        "an address cannot " + std::string(verb) +
            " an invitation; the account that signed up with it does",
        "subject");
  }
  const std::optional<EntityRef> invitee = engine::ParseEntityRef(inv.invitee);
  if (invitee && IsAddressType(policy, invitee->type)) {
    if (!view.SubjectExists(subject)) {
      return Status::PermissionDenied(
          "invitation " + inv.id + " is addressed to " + inv.invitee +
          "; only an existing subject who signed up with it can " +
          std::string(verb) + " it, and there is no " + subject.ToString());
    }
    return Status::Ok();
  }
  if (inv.invitee != subject.ToString()) {
    return Status::PermissionDenied("invitation " + inv.id +
                                    " is addressed to " + inv.invitee +
                                    "; only " + inv.invitee + " can " +
                                    std::string(verb) + " it");
  }
  return Status::Ok();
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

// Marks a pending invitation revoked and removes its pending binding.
Status RevokePending(storage::WriteTxn& txn, const storage::Invitation& inv) {
  Status s = RemovePendingBinding(txn, inv);
  if (!s.ok()) return s;
  return txn.SetInvitationState(inv.id, storage::InvitationState::kRevoked);
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

std::string NormalizeAddress(std::string_view address) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
  };
  while (!address.empty() && space(address.front())) address.remove_prefix(1);
  while (!address.empty() && space(address.back())) address.remove_suffix(1);
  std::string out(address);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string QualifyRef(std::string_view type, std::string_view text) {
  std::string prefix = std::string(type) + ":";
  if (text.substr(0, prefix.size()) == prefix) return std::string(text);
  return prefix + std::string(text);
}

storage::InvitationState EffectiveState(const storage::Invitation& inv,
                                        TimestampMicros now) {
  if (inv.state == storage::InvitationState::kPending &&
      inv.expires_at <= now) {
    return storage::InvitationState::kExpired;
  }
  return inv.state;
}

Result<size_t> ExpireInvitations(const WorkflowContext& ctx) {
  // Find them on a read snapshot (no write lock held while scanning), then
  // expire them in write transactions of at most kChunk, each re-reading
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
  for (size_t begin = 0; begin < due.size(); begin += kChunk) {
    const size_t end = std::min(due.size(), begin + kChunk);
    size_t in_txn = 0;
    Result<storage::Revision> rev = ctx.store->Write(
        ctx.policy, "", [&](storage::WriteTxn& txn) -> Status {
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
        Status s = Authorize(ctx, view, wf.create_group, "create_group",
                             request.actor, *account_ref);
        if (!s.ok()) return s;
        if (!view.GetResource(*account_ref)) return Missing(*account_ref);
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
        Status st =
            Authorize(ctx, view, step, "invite", request.actor, *group_ref);
        if (!st.ok()) return st;
        if (!view.GetResource(*group_ref)) return Missing(*group_ref);
        std::set<std::string> seen;
        for (const std::string& given : request.invitees) {
          auto conflict = [&](std::string code, std::string message) {
            out.conflicts.push_back(
                {given, std::move(code), std::move(message)});
          };
          // One address, one invitation: "Grace@Example.com " is
          // grace@example.com.
          const std::string invitee = NormalizeSubject(policy, given);
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
            conflict("duplicate", "listed more than once in this request (" +
                                      invitee + ")");
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
  Status s = Authorize(ctx, *view, step, "view_invitations", actor, *group_ref);
  if (!s.ok()) return Fail(s);
  if (!view->GetResource(*group_ref)) return Fail(Missing(*group_ref));
  return CollectInvitations(*view, *group_ref, true, state, ctx.now);
}

Result<InvitationList> ListInvitationsFor(
    const WorkflowContext& ctx, std::string_view invitee,
    std::optional<storage::InvitationState> state) {
  const engine::Policy& policy = *ctx.policy;
  const std::string normalized = NormalizeSubject(policy, invitee);
  auto ref = Ref(normalized, "invitee");
  if (!ref) return Fail(ref.error());
  auto view = ctx.store->Read();
  if (!view) return Fail(view.error());
  auto out = CollectInvitations(*view, *ref, false, state, ctx.now);
  if (!out) return out;
  // The addresses the subject owns: an attribute named after an address
  // type (user:bob with `email: bob@example.com` owns that address).
  const std::vector<std::string> owned = OwnedAddresses(policy, *view, *ref);
  for (const std::string& address : owned) {
    auto more = CollectInvitations(
        *view, *engine::ParseEntityRef(address), false, state, ctx.now);
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
  auto subject_ref = Ref(subject, "subject");
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
          if (d.allowed) why.clear();
          else why = inv.inviter + " may no longer " + action + " on " +
                     inv.resource + ": " + reason;
        }
        if (!why.empty()) {
          return Status(StatusCode::kGone,
                        "invitation " + inv.id + " is void: " + why)
              .WithReason("inviter_not_entitled");
        }
        return KeepingAManager(
            policy, txn, wf.manage_members.defined ? wf.manage_members
                                                   : wf.invite,
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

Result<InvitationResult> DeclineInvitation(const WorkflowContext& ctx,
                                           std::string_view id,
                                           std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  auto subject_ref = Ref(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  InvitationResult out;
  Result<storage::Revision> rev =
      ctx.store->Write(&policy, subject, [&](storage::WriteTxn& txn) -> Status {
        auto loaded =
            LoadPending(txn.view(), id, ctx.now, /*refuse_expired=*/false);
        if (!loaded) return loaded.error();
        storage::Invitation& inv = *loaded;
        Status s =
            CheckAnswerer(policy, txn.view(), inv, *subject_ref, "decline");
        if (!s.ok()) return s;
        s = RemovePendingBinding(txn, inv);
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
        // One answer for an invitation that does not exist and one in a
        // group where the actor may not revoke: whether an id names an
        // invitation is not for everyone to learn.
        const Status none =
            Status::NotFound("no invitation " + std::string(id) +
                             " in a group where " + std::string(actor) +
                             " may revoke invitations");
        std::optional<storage::Invitation> found = txn.view().GetInvitation(id);
        if (!found) return none;
        const std::optional<EntityRef> group =
            engine::ParseEntityRef(found->resource);
        if (!group) return none;
        Status s =
            Authorize(ctx, txn.view(), step, "revoke_invitation", actor, *group);
        if (s.code() == StatusCode::kPermissionDenied) return none;
        if (!s.ok()) return s;
        auto loaded =
            LoadPending(txn.view(), id, ctx.now, /*refuse_expired=*/false);
        if (!loaded) return loaded.error();
        storage::Invitation& inv = *loaded;
        s = RevokePending(txn, inv);
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
Status CheckMemberChange(const WorkflowContext& ctx, storage::WriteTxn& txn,
                         std::string_view actor, EntityRef group,
                         EntityRef subject) {
  const storage::ReadView& view = txn.view();
  Status s = Authorize(ctx, view, ctx.policy->workflows.manage_members,
                       "manage_members", actor, group);
  if (!s.ok()) return s;
  if (!view.GetResource(group)) return Missing(group);
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
    Status st = CheckMemberChange(ctx, txn, actor, *group_ref, *subject_ref);
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
    Status st = CheckMemberChange(ctx, txn, actor, *group_ref, *subject_ref);
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
          // The pending invitations to the group that the member sent or
          // received (to the member or to an address the member owns) go
          // with the membership: none of them may bring the member back, or
          // anyone in on the member's word.
          std::vector<std::string> received =
              OwnedAddresses(policy, txn.view(), *subject_ref);
          received.emplace_back(subject);
          std::vector<storage::Invitation> pending;
          after.clear();
          do {
            auto page = txn.view().ListInvitationsOn(
                *group_ref, storage::InvitationState::kPending, after, kChunk);
            if (!page) return page.error();
            for (storage::Invitation& inv : page->items) {
              if (inv.inviter == subject ||
                  std::find(received.begin(), received.end(), inv.invitee) !=
                      received.end()) {
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
    s = Authorize(ctx, view, step, "manage_permissions", request.actor,
                  *resource_ref);
    if (!s.ok()) return s;
    if (!view.GetResource(*resource_ref)) return Missing(*resource_ref);
    const bool setting = (request.roles && !request.roles->empty()) ||
                         (request.restrict && !request.restrict->empty());
    const bool member =
        MembershipTypes(policy).empty()
            ? IsMemberAbove(view, *subject_ref, *resource_ref)
            : IsMemberOfGroupOf(policy, view, *subject_ref, *resource_ref);
    if (setting && !member) {
      return Status::FailedPrecondition(
                 request.subject +
                 " is not an active member of the group that holds " +
                 request.resource +
                 "; per-file permissions are for the group's members")
          .WithReason("not_a_member");
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
    Status s = Authorize(ctx, view, step, "manage_account_administrators",
                         actor, account_ref);
    if (!s.ok()) return s;
    if (!view.GetResource(account_ref)) return Missing(account_ref);
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
    Status s = Authorize(ctx, view, step, "manage_account_administrators",
                         actor, account_ref);
    if (!s.ok()) return s;
    if (!view.GetResource(account_ref)) return Missing(account_ref);
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
    Status s =
        Authorize(ctx, txn.view(), step, "delete_account", actor, account_ref);
    if (!s.ok()) return s;
    if (!txn.view().GetResource(account_ref)) return Missing(account_ref);
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
  Status s = Authorize(ctx, *view, step, "list_people", actor, account_ref);
  if (!s.ok()) return Fail(s);
  if (!view->GetResource(account_ref)) return Fail(Missing(account_ref));
  const engine::TypeSet group_types = MembershipTypes(policy);
  // The account and everything below it, breadth first: whatever anyone
  // holds anywhere in the account is listed.
  std::map<std::string, Person> people;
  std::vector<std::string> queue{*acc};
  for (size_t next = 0; next < queue.size(); ++next) {
    const EntityRef node = *engine::ParseEntityRef(queue[next]);
    const engine::TypeId type = policy.FindType(node.type);
    const bool is_group = type != engine::kNoType && group_types.Contains(type);
    std::string cursor;
    do {
      auto page = view->ListAccessOn(node, cursor, kChunk);
      if (!page) return Fail(page.error());
      for (storage::AccessRecord& a : page->items) {
        Person& p = people[a.subject];
        p.subject = a.subject;
        const bool active = a.binding && a.binding->state ==
                                             engine::BindingState::kActive;
        if (is_group && active) {
          p.memberships.push_back({queue[next], a.binding->roles});
          if (!a.restriction) continue;
        }
        PersonHolding h;
        h.resource = queue[next];
        if (a.binding && !(is_group && active)) {
          h.roles = std::move(a.binding->roles);
          h.pending = !active;
        }
        if (a.restriction) h.restrict = std::move(a.restriction->actions);
        p.holdings.push_back(std::move(h));
      }
      cursor = page->next_cursor;
    } while (!cursor.empty());
    do {
      auto page = view->ListChildren(node, cursor, kChunk);
      if (!page) return Fail(page.error());
      for (std::string& c : page->items) queue.push_back(std::move(c));
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
