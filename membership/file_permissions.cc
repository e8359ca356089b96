// Per-file permissions: SetFilePermissions (membership.h).
#include "membership/membership.h"
#include "membership/rules.h"

namespace portcullis::membership {

using engine::EntityRef;
using engine::WorkflowStep;

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
  auto resource_ref = ParseRefField(request.resource, "resource");
  if (!resource_ref) return Fail(resource_ref.error());
  auto subject_ref = ParseRefField(request.subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  if (auto a = ParseRefField(request.actor, "actor"); !a)
    return Fail(a.error());
  return ctx.store->Write(&policy, request.actor, [&](storage::WriteTxn& txn) {
    const storage::ReadView& view = txn.view();
    Status s = AuthorizeOnExisting(ctx, view, step, "manage_permissions",
                                   request.actor, *resource_ref);
    if (!s.ok()) return s;
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

}  // namespace portcullis::membership
