// Groups: CreateGroup (membership.h).
#include "membership/membership.h"
#include "membership/rules.h"

namespace portcullis::membership {

using engine::EntityRef;
using engine::WorkflowStep;

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
  auto account_ref = ParseRefField(account, "account");
  if (!account_ref) return Fail(account_ref.error());
  auto group_ref = ParseRefField(group, "id");
  if (!group_ref) return Fail(group_ref.error());
  auto actor_ref = ParseRefField(request.actor, "actor");
  if (!actor_ref) return Fail(actor_ref.error());

  CreateGroupResult out;
  out.group = group;
  out.roles = RoleNames(policy, wf.create_group.roles);
  Result<storage::Revision> rev = ctx.store->Write(
      &policy, request.actor, [&](storage::WriteTxn& txn) -> Status {
        const storage::ReadView& view = txn.view();
        Status s =
            AuthorizeOnExisting(ctx, view, wf.create_group, "create_group",
                                request.actor, *account_ref);
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

}  // namespace portcullis::membership
