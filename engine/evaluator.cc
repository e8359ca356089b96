#include "engine/evaluator.h"

#include <climits>
#include <new>
#include <type_traits>

namespace portcullis::engine {
namespace {

struct PathEntry {
  EntityRef node;
  SubjectAccess access;
};

static_assert(std::is_trivially_destructible_v<PathEntry>);

// The resource and its ancestors, nearest first, with what the subject
// holds on each. Entries are constructed only as the walk reaches them, so a
// check does not pay for kMaxDepth of them.
class Path {
 public:
  PathEntry& Append() {
    return *new (&storage_[size_++ * sizeof(PathEntry)]) PathEntry();
  }
  const PathEntry& operator[](int i) const {
    return *std::launder(
        reinterpret_cast<const PathEntry*>(&storage_[i * sizeof(PathEntry)]));
  }
  int size() const { return size_; }
  bool full() const { return size_ == kMaxDepth; }

 private:
  alignas(PathEntry) unsigned char storage_[kMaxDepth * sizeof(PathEntry)];
  int size_ = 0;
};

bool PackedContains(const PackedNames& names, std::string_view name) {
  bool found = false;
  names.ForEach([&](std::string_view n) {
    if (n == name || n == "*") found = true;
  });
  return found;
}

std::string PackedToString(const PackedNames& names) {
  std::string out = "[";
  bool first = true;
  names.ForEach([&](std::string_view n) {
    if (!first) out += ", ";
    first = false;
    out.append(n);
  });
  return out + "]";
}

class Decider {
 public:
  Decider(const Policy& policy, const CheckRequest& req, const DataView& data,
          TypeId type, const Path& path, Trace* trace)
      : policy_(policy), req_(req), data_(data), type_(type), path_(path),
        trace_(trace) {}

  // The decision for `action` on the walked path, in four steps: deny rules,
  // the nearest covering restriction, role bindings nearest first, allow
  // rules. Without a trace it stops at the first settled decision; with one it
  // goes through every step so the trace names everything considered.
  Decision Decide(ActionId action) {
    State s;
    s.action = action;
    s.action_name = policy_.actions[action].name;
    s.in.data = &data_;
    s.in.subject = req_.subject;
    s.in.resource = req_.resource;
    s.in.action = s.action_name;
    s.in.subject_properties = req_.subject_properties;
    s.in.resource_properties = req_.resource_properties;
    s.in.action_properties = req_.action_properties;
    s.in.context = req_.context;
    s.in.now = req_.now;

    if (ApplyDenyRules(&s)) return s.result;
    FindRestriction(&s);
    if (WalkBindings(&s)) return s.result;
    if (ApplyAllowRules(&s)) return s.result;

    if (data_.failed()) {
      Decision d;
      d.reason.code = ReasonCode::kStorageError;
      return d;
    }
    s.Settle(false, s.fallback);
    return s.result;
  }

 private:
  // What one Decide() call knows so far. Lives on Decide()'s stack.
  // Invariants:
  //  1. Once `decided` is true, `result` never changes again.
  //  2. `fallback` is the deny reason of the highest rank seen so far
  //     (`fallback_rank`); a later reason of equal rank does not replace it.
  struct State {
    ActionId action = kNoAction;
    std::string_view action_name;
    ConditionInputs in;
    int restriction_depth = INT_MAX;  // INT_MAX: no restriction covers action
    Decision result;
    bool decided = false;
    Reason fallback;  // the most telling deny reason seen
    int fallback_rank = 0;

    void Settle(bool allowed, const Reason& reason) {
      if (!decided) {
        result.allowed = allowed;
        result.reason = reason;
        decided = true;
      }
    }
    void Consider(int rank, const Reason& r) {
      if (rank > fallback_rank) {
        fallback_rank = rank;
        fallback = r;
      }
    }
  };

  // Step 1: deny rules override everything. Returns true if the decision is
  // made and no trace is kept.
  bool ApplyDenyRules(State* s) {
    for (const Rule* deny : policy_.DenyRules(type_, s->action)) {
      const Rule& rule = *deny;
      ConditionResult r = ConditionResult::kTrue;
      EvalError err;
      if (rule.when) r = rule.when->Evaluate(s->in, &err);
      if (trace_)
        Note("deny rule " + rule.name, OutcomeText(r, err), rule.location);
      if (r == ConditionResult::kTrue) {
        Reason reason;
        reason.code = ReasonCode::kDeniedByRule;
        reason.rule = &rule;
        s->Settle(false, reason);
      } else if (r == ConditionResult::kError) {
        // Fail closed: a deny rule we cannot evaluate denies.
        Reason reason;
        reason.code = ReasonCode::kEvaluationError;
        reason.rule = &rule;
        reason.condition = rule.when.get();
        reason.error = err;
        s->Settle(false, reason);
      }
      if (s->decided && trace_ == nullptr) return true;
    }
    return false;
  }

  // Step 2: sets s->restriction_depth to the depth of the nearest restriction
  // on the path that covers the action.
  void FindRestriction(State* s) {
    for (int d = 0; d < path_.size(); ++d) {
      const PathEntry& e = path_[d];
      if (!e.access.restriction) continue;
      const TypeId t = policy_.FindType(e.node.type);
      const bool applies =
          t != kNoType && policy_.types[t].restrictable &&
          PackedContains(e.access.restriction->actions, s->action_name);
      if (trace_) {
        Note("restriction on " + e.node.ToString() + ": " +
                 PackedToString(e.access.restriction->actions),
             applies ? "covers " + std::string(s->action_name)
                     : "does not cover " + std::string(s->action_name),
             {});
      }
      if (applies && s->restriction_depth == INT_MAX) s->restriction_depth = d;
    }
  }

  // Whether the restriction found in step 2 takes away a grant from a
  // binding at `binding_depth`.
  bool RemovedByRestriction(const State& s, int binding_depth) const {
    if (s.restriction_depth == INT_MAX) return false;
    return policy_.precedence == Precedence::kRestrictionWins ||
           s.restriction_depth <= binding_depth;
  }

  // Step 3: role bindings, nearest first. Returns true if the decision is
  // made and no trace is kept.
  bool WalkBindings(State* s) {
    {
      Reason r;  // kNoBinding
      r.at = req_.resource;
      s->Consider(1, r);
    }
    for (int d = 0; d < path_.size(); ++d) {
      const PathEntry& e = path_[d];
      if (!e.access.binding) continue;
      const StoredBinding& b = *e.access.binding;
      if (!BindingInForce(s, e.node, b)) continue;
      {
        Reason r;
        r.code = ReasonCode::kNotGranted;
        r.at = e.node;
        s->Consider(2, r);
      }
      b.roles.ForEach([&](std::string_view role_name) {
        if (s->decided && trace_ == nullptr) return;
        ApplyBoundRole(s, d, e.node, role_name);
      });
      if (s->decided && trace_ == nullptr) return true;
    }
    return false;
  }

  // Whether binding `b` on `node` grants anything now: false (and a deny
  // reason considered) if it is pending or expired.
  bool BindingInForce(State* s, const EntityRef& node, const StoredBinding& b) {
    if (b.state == BindingState::kPending) {
      if (trace_)
        Note("binding on " + node.ToString() + ": " + PackedToString(b.roles),
             "pending: grants nothing until accepted", {});
      Reason r;
      r.code = ReasonCode::kBindingPending;
      r.at = node;
      s->Consider(3, r);
      return false;
    }
    if (b.expires_at <= req_.now) {
      if (trace_)
        Note("binding on " + node.ToString() + ": " + PackedToString(b.roles),
             "expired at " + FormatRfc3339(b.expires_at), {});
      Reason r;
      r.code = ReasonCode::kBindingExpired;
      r.at = node;
      s->Consider(4, r);
      return false;
    }
    return true;
  }

  // One role of an in-force binding at depth `d` on `node`: settles an allow
  // if the role grants the action and no restriction takes it away, else
  // considers why not.
  void ApplyBoundRole(State* s, int d, const EntityRef& node,
                      std::string_view role_name) {
    const RoleId role = policy_.FindRole(role_name);
    if (role == kNoRole) {
      if (trace_)
        Note("binding on " + node.ToString() + ": role " +
                 std::string(role_name),
             "ignored: the policy has no such role", {});
      return;
    }
    const RoleDef& def = policy_.roles[role];
    const Grant* granting = FindGrant(s, role, def, node);
    if (granting == nullptr) {
      if (trace_)
        Note("binding on " + node.ToString() + ": role " + def.name,
             "does not grant " + std::string(s->action_name) + " on " +
                 policy_.types[type_].name,
             def.location);
      return;
    }
    if (!def.exempt_from_restrictions && RemovedByRestriction(*s, d)) {
      Reason r;
      r.code = ReasonCode::kRestricted;
      r.role = role;
      r.grant = granting;
      r.at = path_[s->restriction_depth].node;
      if (trace_)
        Note("binding on " + node.ToString() + ": role " + def.name,
             "grants " + std::string(s->action_name) +
                 " but a restriction on " + r.at.ToString() + " takes it away",
             granting->location);
      s->Consider(7, r);
      return;
    }
    if (trace_)
      Note("binding on " + node.ToString() + ": role " + def.name,
           "grants " + std::string(s->action_name), granting->location);
    Reason r;
    r.code = ReasonCode::kGrantedByRole;
    r.role = role;
    r.grant = granting;
    r.at = node;
    s->Settle(true, r);
  }

  // The grant of `role` that gives the action on the resource's type: an
  // unconditional one if there is one, else the first conditional one whose
  // condition holds (considering why each other one did not). Returns
  // nullptr if none does.
  const Grant* FindGrant(State* s, RoleId role, const RoleDef& def,
                         const EntityRef& node) {
    if (policy_.UnconditionalGrants(role, type_).Contains(s->action)) {
      for (const Grant* g : def.grants) {
        if (g->type == type_ && !g->when && g->actions.Contains(s->action)) {
          return g;
        }
      }
      return nullptr;
    }
    for (const Grant* g : policy_.ConditionalGrants(role, type_)) {
      if (!g->actions.Contains(s->action)) continue;
      EvalError err;
      const ConditionResult cr = g->when->Evaluate(s->in, &err);
      if (trace_)
        Note("role " + def.name + " on " + node.ToString() + ": condition " +
                 g->when->text(),
             OutcomeText(cr, err), g->location);
      if (cr == ConditionResult::kTrue) return g;
      Reason r;
      r.role = role;
      r.grant = g;
      r.at = node;
      if (cr == ConditionResult::kError) {
        r.code = ReasonCode::kEvaluationError;
        r.condition = g->when.get();
        r.error = err;
        s->Consider(6, r);
      } else {
        r.code = ReasonCode::kConditionFalse;
        s->Consider(5, r);
      }
    }
    return nullptr;
  }

  // Step 4: allow rules, which need no binding. A restriction on the path
  // takes their grant away too. Returns true if the decision is made and no
  // trace is kept.
  bool ApplyAllowRules(State* s) {
    if (!policy_.HasAllowRuleFor(s->action, type_)) return false;
    for (const Rule* allow : policy_.AllowRules(type_, s->action)) {
      const Rule& rule = *allow;
      ConditionResult cr = ConditionResult::kTrue;
      EvalError err;
      if (rule.when) cr = rule.when->Evaluate(s->in, &err);
      if (trace_)
        Note("allow rule " + rule.name, OutcomeText(cr, err), rule.location);
      Reason r;
      r.rule = &rule;
      if (cr == ConditionResult::kTrue) {
        if (s->restriction_depth != INT_MAX) {
          r.code = ReasonCode::kRestricted;
          r.at = path_[s->restriction_depth].node;
          s->Consider(7, r);
          continue;
        }
        r.code = ReasonCode::kAllowedByRule;
        s->Settle(true, r);
        if (trace_ == nullptr) return true;
      } else if (cr == ConditionResult::kError) {
        r.code = ReasonCode::kEvaluationError;
        r.condition = rule.when.get();
        r.error = err;
        s->Consider(6, r);
      } else {
        r.code = ReasonCode::kConditionFalse;
        s->Consider(5, r);
      }
    }
    return false;
  }

  static std::string OutcomeText(ConditionResult r, const EvalError& err) {
    switch (r) {
      case ConditionResult::kTrue: return "condition true";
      case ConditionResult::kFalse: return "condition false";
      case ConditionResult::kError:
        return "condition error: " + std::string(EvalErrorKindName(err.kind));
    }
    return "";
  }

  void Note(std::string what, std::string outcome, SourceLocation loc) {
    if (trace_ == nullptr) return;
    trace_->steps.push_back(
        TraceStep{std::move(what), std::move(outcome), std::move(loc)});
  }

  const Policy& policy_;
  const CheckRequest& req_;
  const DataView& data_;
  const TypeId type_;
  const Path& path_;
  Trace* trace_;
};

Decision Deny(ReasonCode code, EntityRef at = {}) {
  Decision d;
  d.reason.code = code;
  d.reason.at = at;
  return d;
}

// Resolves the resource's type and walks its ancestors. Returns a deny
// decision if the walk cannot be done, nullopt if it succeeded.
//
// The subject's existence is checked only when the walk found nothing it
// holds: a binding or restriction implies a subject record (DataView's
// contract), which saves a lookup on every check that finds one. The
// outcomes are those of checking first: an unknown subject denies with
// kUnknownSubject, before a too-deep path, whenever the view has not failed.
std::optional<Decision> ResolvePath(const Policy& policy,
                                    const CheckRequest& req,
                                    const DataView& data, TypeId* type,
                                    Path* path) {
  *type = policy.FindType(req.resource.type);
  if (*type == kNoType || !policy.types[*type].IsResource()) {
    return Deny(ReasonCode::kUnknownResourceType, req.resource);
  }
  std::optional<ResourceInfo> info = data.GetResource(req.resource);
  if (data.failed()) return Deny(ReasonCode::kStorageError);
  if (!info) {
    // A type whose entities may live in the request alone: a root.
    if (!policy.types[*type].from_request) {
      return Deny(ReasonCode::kUnknownResource, req.resource);
    }
    info = ResourceInfo{};
  }
  bool holds_something = false;
  const TypeId subject_type = policy.FindType(req.subject.type);
  const bool subject_from_request =
      subject_type != kNoType && policy.types[subject_type].is_subject &&
      policy.types[subject_type].from_request;
  auto subject_unknown = [&] {
    return !holds_something && !subject_from_request &&
           !data.SubjectExists(req.subject);
  };
  EntityRef node = req.resource;
  while (true) {
    if (path->full()) {
      if (subject_unknown() && !data.failed()) {
        return Deny(ReasonCode::kUnknownSubject, req.subject);
      }
      if (data.failed()) return Deny(ReasonCode::kStorageError);
      return Deny(ReasonCode::kDepthExceeded, req.resource);
    }
    PathEntry& e = path->Append();
    e.node = node;
    e.access = data.GetAccess(req.subject, node);
    holds_something |= e.access.binding.has_value() ||
                       e.access.restriction.has_value();
    if (info->parent.empty()) break;
    node = info->parent;
    info = data.GetResource(node);
    if (!info) break;  // a dangling parent ends the chain
  }
  if (data.failed()) return Deny(ReasonCode::kStorageError);
  if (subject_unknown()) {
    if (data.failed()) return Deny(ReasonCode::kStorageError);
    return Deny(ReasonCode::kUnknownSubject, req.subject);
  }
  return std::nullopt;
}

}  // namespace

Decision Evaluator::Check(const CheckRequest& req, const DataView& data,
                          Trace* trace) const {
  TypeId type;
  Path path;
  if (std::optional<Decision> early =
          ResolvePath(policy_, req, data, &type, &path)) {
    return *early;
  }
  const ActionId action = policy_.FindAction(req.action);
  if (action == kNoAction || !policy_.types[type].actions.Contains(action)) {
    return Deny(ReasonCode::kUnknownAction);
  }
  Decider decider(policy_, req, data, type, path, trace);
  Decision decision = decider.Decide(action);
  // A view that failed while deciding (e.g. reading an attribute for a
  // condition) may have hidden a deny: never allow through it.
  if (decision.allowed && data.failed()) {
    return Deny(ReasonCode::kStorageError);
  }
  return decision;
}

ActionSet Evaluator::AllowedActions(const CheckRequest& req,
                                    const DataView& data,
                                    Reason* reason) const {
  ActionSet allowed;
  TypeId type;
  Path path;
  if (std::optional<Decision> early =
          ResolvePath(policy_, req, data, &type, &path)) {
    if (reason) *reason = early->reason;
    return allowed;
  }
  Decider decider(policy_, req, data, type, path, nullptr);
  policy_.types[type].actions.ForEach([&](ActionId a) {
    if (decider.Decide(a).allowed) allowed.Add(a);
  });
  if (data.failed()) {
    if (reason) *reason = Deny(ReasonCode::kStorageError).reason;
    return ActionSet();
  }
  return allowed;
}

std::string_view ReasonCodeName(ReasonCode code) {
  switch (code) {
    case ReasonCode::kGrantedByRole: return "granted_by_role";
    case ReasonCode::kAllowedByRule: return "allowed_by_rule";
    case ReasonCode::kDeniedByRule: return "denied_by_rule";
    case ReasonCode::kRestricted: return "restricted";
    case ReasonCode::kNotGranted: return "not_granted";
    case ReasonCode::kNoBinding: return "no_binding";
    case ReasonCode::kBindingPending: return "binding_pending";
    case ReasonCode::kBindingExpired: return "binding_expired";
    case ReasonCode::kConditionFalse: return "condition_false";
    case ReasonCode::kUnknownSubject: return "unknown_subject";
    case ReasonCode::kUnknownResource: return "unknown_resource";
    case ReasonCode::kUnknownResourceType: return "unknown_resource_type";
    case ReasonCode::kUnknownAction: return "unknown_action";
    case ReasonCode::kEvaluationError: return "evaluation_error";
    case ReasonCode::kStorageError: return "storage_error";
    case ReasonCode::kDepthExceeded: return "depth_exceeded";
  }
  return "unknown";
}

}  // namespace portcullis::engine
