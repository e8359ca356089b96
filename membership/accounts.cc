// Accounts: administrators, deletion, the people of an account
// (membership.h).
#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "membership/membership.h"
#include "membership/rules.h"

namespace portcullis::membership {

using engine::EntityRef;
using engine::WorkflowStep;

namespace {

// The front of every account step: the policy defines the step, the actor
// is a reference, and so is the account once qualified. Returns the
// qualified account.
Result<std::string> AccountStep(const engine::Policy& policy,
                                const WorkflowStep& step,
                                std::string_view step_name,
                                std::string_view account,
                                std::string_view actor) {
  if (!step.defined) {
    return Fail(Status::FailedPrecondition(StepNotDefined(step_name)));
  }
  if (auto a = ParseRefField(actor, "actor"); !a) return Fail(a.error());
  return QualifyStepTarget(policy, step, step_name, account, "account");
}

// Changes what `subject` holds on the account, as the
// manage_account_administrators step: the request is checked, then in one
// write transaction the actor is authorized on the existing account and
// `change` runs with the subject's access record there (nullopt: none).
Result<storage::Revision> ChangeAdministrator(
    const WorkflowContext& ctx, std::string_view actor,
    std::string_view account, std::string_view subject,
    const std::function<Status(
        storage::WriteTxn& txn, const std::string& account,
        EntityRef account_ref, std::optional<storage::AccessRecord> held)>&
        change) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_account_administrators;
  auto acc = AccountStep(policy, step, "manage_account_administrators", account,
                         actor);
  if (!acc) return Fail(acc.error());
  auto subject_ref = ParseRefField(subject, "subject");
  if (!subject_ref) return Fail(subject_ref.error());
  const EntityRef account_ref = *engine::ParseEntityRef(*acc);
  return ctx.store->Write(&policy, actor, [&](storage::WriteTxn& txn) {
    const storage::ReadView& view = txn.view();
    Status s = AuthorizeOnExisting(
        ctx, view, step, "manage_account_administrators", actor, account_ref);
    if (!s.ok()) return s;
    return change(txn, *acc, account_ref,
                  view.GetAccessRecord(*subject_ref, account_ref));
  });
}

}  // namespace

Result<storage::Revision> AddAccountAdministrator(const WorkflowContext& ctx,
                                                  std::string_view actor,
                                                  std::string_view account,
                                                  std::string_view subject) {
  const engine::Policy& policy = *ctx.policy;
  const WorkflowStep& step = policy.workflows.manage_account_administrators;
  return ChangeAdministrator(
      ctx, actor, account, subject,
      [&](storage::WriteTxn& txn, const std::string& acc, EntityRef,
          std::optional<storage::AccessRecord> held) {
        storage::BindingRecord b;
        b.subject = std::string(subject);
        b.resource = acc;
        b.created_by = std::string(actor);
        b.created_at = ctx.now;
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
  const std::vector<std::string> step_roles = RoleNames(policy, step.roles);
  return ChangeAdministrator(
      ctx, actor, account, subject,
      [&](storage::WriteTxn& txn, const std::string& acc, EntityRef account_ref,
          std::optional<storage::AccessRecord> held) {
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
                                  " is not an account administrator of " + acc);
        }
        return KeepingAManager(policy, txn, step,
                               "manage_account_administrators", account_ref,
                               ctx.now, [&] {
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
    Status s = AuthorizeOnExisting(ctx, txn.view(), step, "delete_account",
                                   actor, account_ref);
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
  Status s =
      AuthorizeOnExisting(ctx, *view, step, "list_people", actor, account_ref);
  if (!s.ok()) return Fail(s);
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
      auto page = view->ListAccessOn(node, cursor, kPageSize);
      if (!page) return Fail(page.error());
      for (storage::AccessRecord& a : page->items) {
        Person& p = people[a.subject];
        p.subject = a.subject;
        const bool active =
            a.binding && a.binding->state == engine::BindingState::kActive;
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
      auto page = view->ListChildren(node, cursor, kPageSize);
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

}  // namespace portcullis::membership
