#include "membership/rules.h"

#include <algorithm>
#include <set>

#include "explain/reason_text.h"

namespace portcullis::membership {

using engine::EntityRef;
using engine::WorkflowStep;

std::string StepNotDefined(std::string_view step) {
  return "the running policy does not offer this workflow: it defines no "
         "step workflows." +
         std::string(step) + " (see docs/policy-language.md, Workflows)";
}

namespace {

// "group, folder": the names of the types in `types`.
std::string TypeNamesOf(const engine::Policy& policy, engine::TypeSet types) {
  std::string out;
  for (size_t t = 0; t < policy.types.size(); ++t) {
    if (!types.Contains(static_cast<engine::TypeId>(t))) continue;
    if (!out.empty()) out += ", ";
    out += policy.types[t].name;
  }
  return out;
}

}  // namespace

std::vector<std::string> RoleNames(const engine::Policy& policy,
                                   const std::vector<engine::RoleId>& ids) {
  std::vector<std::string> out;
  for (engine::RoleId id : ids) out.push_back(policy.roles[id].name);
  return out;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += out.empty() ? n : ", " + n;
  return out;
}

Result<EntityRef> ParseRefField(std::string_view text, std::string_view field) {
  std::optional<EntityRef> ref = engine::ParseEntityRef(text);
  if (!ref) {
    return Fail(Status::InvalidArgument(
        std::string(field) + " must be a reference \"type:id\", got \"" +
            std::string(text) + "\"",
        std::string(field)));
  }
  return *ref;
}

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

std::pair<engine::Decision, std::string> Decide(const WorkflowContext& ctx,
                                                const storage::ReadView& view,
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
  std::string message = explain::ReasonText(*ctx.policy, d.reason, action);
  if (ctx.on_decision) {
    ctx.on_decision(actor.ToString(), action, resource.ToString(), d, message,
                    view.revision());
  }
  return {d, std::move(message)};
}

Status Authorize(const WorkflowContext& ctx, const storage::ReadView& view,
                 const WorkflowStep& step, std::string_view step_name,
                 std::string_view actor, EntityRef resource) {
  const engine::Policy& policy = *ctx.policy;
  Status s = CheckStep(policy, step, step_name, resource);
  if (!s.ok()) return s;
  auto actor_ref = ParseRefField(actor, "actor");
  if (!actor_ref) return actor_ref.error();
  const std::string& action = policy.actions[step.action].name;
  auto [d, reason] = Decide(ctx, view, *actor_ref, action, resource);
  if (d.allowed) return Status::Ok();
  return Status::PermissionDenied(
      std::string(actor) + " may not " + action + " on " + resource.ToString() +
      ", which workflow step " + std::string(step_name) + " requires (" +
      step.location.ToString() + "): " + reason);
}

Status AuthorizeOnExisting(const WorkflowContext& ctx,
                           const storage::ReadView& view,
                           const WorkflowStep& step, std::string_view step_name,
                           std::string_view actor, EntityRef resource) {
  Status s = Authorize(ctx, view, step, step_name, actor, resource);
  if (!s.ok()) return s;
  if (!view.GetResource(resource)) return NotFoundError(resource);
  return Status::Ok();
}

Result<std::string> QualifyStepTarget(const engine::Policy& policy,
                                      const WorkflowStep& step,
                                      std::string_view step_name,
                                      std::string_view text,
                                      std::string_view field) {
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined(step_name)));
  }
  std::string ref = QualifyRef(TypeName(policy, step.type), text);
  if (auto r = ParseRefField(ref, field); !r) return Fail(r.error());
  return ref;
}

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
              std::string(step_name) +
              "; the policy allows: " + JoinNames(allowed),
          "roles");
    }
    if (!seen.insert(r).second) {
      return Status::InvalidArgument("role '" + r + "' is listed twice",
                                     "roles");
    }
  }
  return Status::Ok();
}

namespace {

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

}  // namespace

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

Status NotFoundError(EntityRef resource) {
  return Status::NotFound("no " + std::string(resource.type) + " " +
                          resource.ToString());
}

Status ViewFailure(const storage::ReadView& view) {
  return Status::Internal("storage read failed: " +
                          std::string(view.failure()));
}

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

engine::TypeSet MembershipTypes(const engine::Policy& policy) {
  const engine::Workflows& wf = policy.workflows;
  return wf.invite.defined ? wf.invite.on : wf.manage_members.on;
}

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

std::vector<std::string> OwnedAddresses(const engine::Policy& policy,
                                        const storage::ReadView& view,
                                        EntityRef subject) {
  std::vector<std::string> out;
  if (IsAddressType(policy, subject.type)) return out;
  std::optional<storage::SubjectRecord> record = view.GetSubjectRecord(subject);
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

Status CheckAnswerer(const engine::Policy& policy, const engine::DataView& view,
                     const storage::Invitation& inv, EntityRef subject,
                     std::string_view verb) {
  // An address declines its own invitation however its case is written.
  if (verb == "decline" &&
      inv.invitee == NormalizeSubject(policy, subject.ToString())) {
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
    return Status::PermissionDenied(
        "invitation " + inv.id + " is addressed to " + inv.invitee + "; only " +
        inv.invitee + " can " + std::string(verb) + " it");
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

Status RevokePending(storage::WriteTxn& txn, const storage::Invitation& inv) {
  Status s = RemovePendingBinding(txn, inv);
  if (!s.ok()) return s;
  return txn.SetInvitationState(inv.id, storage::InvitationState::kRevoked);
}

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

}  // namespace portcullis::membership
