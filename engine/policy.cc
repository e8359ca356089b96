#include "engine/policy.h"

#include "engine/hash.h"

namespace portcullis::engine {

void Policy::Finalize() {
  type_index_.clear();
  action_index_.clear();
  role_index_.clear();
  for (size_t i = 0; i < types.size(); ++i) type_index_[types[i].name] = i;
  for (size_t i = 0; i < actions.size(); ++i) {
    action_index_[actions[i].name] = i;
  }
  for (size_t i = 0; i < roles.size(); ++i) role_index_[roles[i].name] = i;

  const size_t n = roles.size() * types.size();
  unconditional_.assign(n, ActionSet());
  conditional_.assign(n, {});
  possible_.assign(n, ActionSet());
  for (size_t r = 0; r < roles.size(); ++r) {
    for (const Grant* g : roles[r].grants) {
      const size_t slot = r * types.size() + g->type;
      possible_[slot] |= g->actions;
      if (g->when == nullptr) {
        unconditional_[slot] |= g->actions;
      } else {
        conditional_[slot].push_back(g);
      }
    }
  }
  allow_rule_actions_.assign(types.size(), ActionSet());
  deny_rules_.assign(types.size() * actions.size(), {});
  allow_rules_.assign(types.size() * actions.size(), {});
  for (const Rule& rule : rules) {
    for (size_t t = 0; t < types.size(); ++t) {
      if (!rule.types.Contains(t)) continue;
      if (rule.effect == Effect::kAllow) allow_rule_actions_[t] |= rule.actions;
      auto& lists = rule.effect == Effect::kAllow ? allow_rules_ : deny_rules_;
      rule.actions.ForEach([&](ActionId a) {
        if (a < actions.size()) lists[t * actions.size() + a].push_back(&rule);
      });
    }
  }
}

size_t Policy::StringHash::operator()(std::string_view s) const {
  return hash::Bytes(s);
}

TypeId Policy::FindType(std::string_view name) const {
  auto it = type_index_.find(name);
  return it == type_index_.end() ? kNoType : it->second;
}

ActionId Policy::FindAction(std::string_view name) const {
  auto it = action_index_.find(name);
  return it == action_index_.end() ? kNoAction : it->second;
}

RoleId Policy::FindRole(std::string_view name) const {
  auto it = role_index_.find(name);
  return it == role_index_.end() ? kNoRole : it->second;
}

bool Policy::HasAllowRuleFor(ActionId action, TypeId type) const {
  return type < allow_rule_actions_.size() &&
         allow_rule_actions_[type].Contains(action);
}

}  // namespace portcullis::engine
