// Differential test: engine::Evaluator against ReferenceEvaluator over
// randomly generated policies, data and requests (fixed seeds, so every run
// checks the same cases and a failure is reproducible from its seed).

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/evaluator.h"
#include "engine/lookup.h"
#include "engine/memory_data.h"
#include "engine/policy.h"
#include "explain/reason_text.h"
#include "policies/policy_compiler.h"
#include "tests/reference_evaluator.h"

namespace portcullis::testing {
namespace {

using namespace engine;  // NOLINT: test file, many engine names

constexpr int kSeeds = 1000;
constexpr TimestampMicros kNow = 1'800'000'000'000'000;
const char* const kActionPool[] = {"view",   "edit",   "delete",  "share",
                                   "upload", "manage", "download"};
const char* const kDepartments[] = {"sales", "legal", "ops"};

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int Int(int lo, int hi) {  // inclusive
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Int(0, static_cast<int>(v.size()) - 1)];
  }

 private:
  std::mt19937 rng_;
};

// Random conditions over the attributes the data generator sets: owner,
// dept and level on resources; dept and level on subjects; flag in the
// context; and the request time. Attributes are sometimes absent or of the
// wrong kind, so conditions also fail to evaluate.
class ConditionGen {
 public:
  ConditionGen(Gen& g) : g_(g) {}

  std::unique_ptr<Condition> Make() {
    c_ = std::make_unique<Condition>();
    c_->set_root(Expr(g_.Int(0, 2)));
    c_->set_text("generated");
    return std::move(c_);
  }

 private:
  uint32_t Node(ExprNode n) { return c_->AddNode(std::move(n)); }
  uint32_t Attr(AttrRoot root, std::string_view key) {
    ExprNode n;
    n.op = ExprOp::kAttr;
    n.root = root;
    n.key = c_->InternString(key);
    return Node(std::move(n));
  }
  uint32_t Lit(Value v) {
    ExprNode n;
    n.op = ExprOp::kLiteral;
    if (v.kind == ValueKind::kString) v.s = c_->InternString(v.s);
    n.literal = v;
    return Node(std::move(n));
  }
  uint32_t Op(ExprOp op, uint32_t a, uint32_t b = 0) {
    ExprNode n;
    n.op = op;
    n.child[0] = a;
    n.child[1] = b;
    return Node(std::move(n));
  }
  uint32_t Atom() {
    switch (g_.Int(0, 7)) {
      case 0:  // the owner may ...
        return Op(ExprOp::kEq, Attr(AttrRoot::kResource, "owner"),
                  Attr(AttrRoot::kSubject, "id"));
      case 1:  // a manager of the resource's department
        return Op(ExprOp::kEq, Attr(AttrRoot::kSubject, "dept"),
                  Attr(AttrRoot::kResource, "dept"));
      case 2:
        return Op(g_.Chance(0.5) ? ExprOp::kLt : ExprOp::kGe,
                  Attr(AttrRoot::kResource, "level"),
                  Lit(Value::Int(g_.Int(0, 3))));
      case 3:  // soft delete
        return Op(ExprOp::kEq, Attr(AttrRoot::kContext, "soft"),
                  Lit(Value::Bool(true)));
      case 4: {  // an expiring grant
        ExprNode now;
        now.op = ExprOp::kNow;
        return Op(ExprOp::kLt, Node(std::move(now)),
                  Lit(Value::Timestamp(kNow + g_.Int(-1, 1) * 1000)));
      }
      case 5: {
        ExprNode has;
        has.op = ExprOp::kHas;
        has.root = AttrRoot::kResource;
        has.key = c_->InternString("owner");
        return Node(std::move(has));
      }
      case 6: {
        std::vector<Value> depts;
        const int n = g_.Int(1, 2);
        for (int i = 0; i < n; ++i) {
          depts.push_back(Value::String(c_->InternString(kDepartments[i])));
        }
        return Op(ExprOp::kIn, Attr(AttrRoot::kSubject, "dept"),
                  Lit(Value::List(c_->InternList(std::move(depts)))));
      }
      default:
        return Op(ExprOp::kLe, Attr(AttrRoot::kSubject, "level"),
                  Attr(AttrRoot::kResource, "level"));
    }
  }
  uint32_t Expr(int depth) {
    if (depth == 0) return Atom();
    switch (g_.Int(0, 3)) {
      case 0:
        return Op(ExprOp::kAnd, Expr(depth - 1), Expr(depth - 1));
      case 1:
        return Op(ExprOp::kOr, Expr(depth - 1), Expr(depth - 1));
      case 2:
        return Op(ExprOp::kNot, Expr(depth - 1));
      default:
        return Atom();
    }
  }

  Gen& g_;
  std::unique_ptr<Condition> c_;
};

std::unique_ptr<Policy> GeneratePolicy(Gen& g) {
  auto p = std::make_unique<Policy>();
  p->name = "generated";
  ConditionGen cg(g);

  TypeDef user;
  user.name = "user";
  user.is_subject = true;
  p->types.push_back(std::move(user));

  for (const char* a : kActionPool) {
    ActionDef def;
    def.name = a;
    p->actions.push_back(std::move(def));
  }
  const int n_types = g.Int(2, 5);
  std::vector<TypeId> resource_types;
  for (int i = 0; i < n_types; ++i) {
    TypeDef t;
    t.name = "t" + std::to_string(i);
    const TypeId id = static_cast<TypeId>(p->types.size());
    if (i > 0) {
      t.parents.push_back(g.Pick(resource_types));
      if (g.Chance(0.3)) t.parents.push_back(g.Pick(resource_types));
    }
    if (i > 0 && g.Chance(0.5)) t.parents.push_back(id);  // nests
    t.restrictable = g.Chance(0.6);
    for (ActionId a = 0; a < p->actions.size(); ++a) {
      if (g.Chance(0.5)) {
        t.actions.Add(a);
        p->actions[a].types.Add(id);
      }
    }
    p->types.push_back(std::move(t));
    resource_types.push_back(id);
  }

  const int n_roles = g.Int(1, 6);
  for (int r = 0; r < n_roles; ++r) {
    RoleDef role;
    role.name = "r" + std::to_string(r);
    role.exempt_from_restrictions = g.Chance(0.2);
    for (TypeId t : resource_types) {
      if (g.Chance(0.7)) role.bindable_on.Add(t);
    }
    if (role.bindable_on.empty()) role.bindable_on.Add(g.Pick(resource_types));
    for (RoleId inc = 0; inc < r; ++inc) {  // only earlier roles: acyclic
      if (g.Chance(0.25)) role.includes.push_back(inc);
    }
    const int n_grants = g.Int(1, 5);
    for (int k = 0; k < n_grants; ++k) {
      auto grant = std::make_unique<Grant>();
      grant->role = static_cast<RoleId>(r);
      grant->type = g.Pick(resource_types);
      p->types[grant->type].actions.ForEach([&](ActionId a) {
        if (g.Chance(0.7)) grant->actions.Add(a);
      });
      if (g.Chance(0.3)) grant->when = cg.Make();
      p->grants.push_back(std::move(grant));
    }
    p->roles.push_back(std::move(role));
  }
  // What the compiler does: every role's grants, its own and its includes'.
  for (size_t r = 0; r < p->roles.size(); ++r) {
    std::vector<RoleId> todo = {static_cast<RoleId>(r)};
    std::vector<bool> seen(p->roles.size());
    for (size_t k = 0; k < todo.size(); ++k) {
      if (seen[todo[k]]) continue;
      seen[todo[k]] = true;
      for (RoleId inc : p->roles[todo[k]].includes) todo.push_back(inc);
    }
    for (const auto& grant : p->grants) {
      if (seen[grant->role]) p->roles[r].grants.push_back(grant.get());
    }
  }

  const int n_rules = g.Int(0, 3);
  for (int k = 0; k < n_rules; ++k) {
    Rule rule;
    rule.name = "rule" + std::to_string(k);
    rule.effect = g.Chance(0.5) ? Effect::kAllow : Effect::kDeny;
    rule.actions.Add(static_cast<ActionId>(g.Int(0, p->actions.size() - 1)));
    if (g.Chance(0.4)) {
      rule.actions.Add(static_cast<ActionId>(g.Int(0, p->actions.size() - 1)));
    }
    rule.types.Add(g.Pick(resource_types));
    if (g.Chance(0.8)) rule.when = cg.Make();
    p->rules.push_back(std::move(rule));
  }
  p->precedence =
      g.Chance(0.5) ? Precedence::kRestrictionWins : Precedence::kNearestWins;
  p->Finalize();
  return p;
}

struct Generated {
  std::vector<std::string> resources;  // "type:id"
  std::vector<std::string> subjects;   // "user:id"
};

OwnedValue Str(std::string s) {
  OwnedValue v;
  v.kind = ValueKind::kString;
  v.s = std::move(s);
  return v;
}
OwnedValue IntValue(int64_t i) {
  OwnedValue v;
  v.kind = ValueKind::kInt;
  v.i = i;
  return v;
}

Generated GenerateData(Gen& g, const Policy& p, MemoryData* data) {
  Generated out;
  const int n_subjects = g.Int(2, 5);
  for (int s = 0; s < n_subjects; ++s) {
    const std::string id = "u" + std::to_string(s);
    data->PutSubject("user", id);
    if (g.Chance(0.8)) {
      data->SetAttribute(EntityKind::kSubject, "user", id, "dept",
                         Str(kDepartments[g.Int(0, 2)]));
    }
    if (g.Chance(0.8)) {
      data->SetAttribute(EntityKind::kSubject, "user", id, "level",
                         IntValue(g.Int(0, 3)));
    }
    out.subjects.push_back("user:" + id);
  }

  // A forest: each resource sits under an existing resource of an allowed
  // parent type, or is a root if its type has no parents.
  struct Node {
    TypeId type;
    std::string id;
  };
  std::vector<Node> nodes;
  const int n_resources = g.Int(3, 24);
  for (int k = 0; k < n_resources * 3 && (int)nodes.size() < n_resources; ++k) {
    const TypeId t = static_cast<TypeId>(g.Int(1, p.types.size() - 1));
    const TypeDef& def = p.types[t];
    const std::string id = "n" + std::to_string(nodes.size());
    if (def.parents.empty()) {
      data->PutResource(def.name, id);
    } else {
      std::vector<const Node*> candidates;
      for (const Node& n : nodes) {
        for (TypeId pt : def.parents) {
          if (n.type == pt) candidates.push_back(&n);
        }
      }
      if (candidates.empty()) continue;
      const Node* parent = g.Pick(candidates);
      data->PutResource(def.name, id, p.types[parent->type].name, parent->id);
    }
    nodes.push_back({t, id});
  }
  // Rarely: a dangling parent, or a cycle through two nodes.
  if (g.Chance(0.05)) {
    const TypeId t = static_cast<TypeId>(g.Int(1, p.types.size() - 1));
    data->PutResource(p.types[t].name, "dangling", p.types[t].name, "gone");
    nodes.push_back({t, "dangling"});
  }
  if (g.Chance(0.05)) {
    const std::string& tn = p.types[1 + g.Int(0, p.types.size() - 2)].name;
    data->PutResource(tn, "cyc_a", tn, "cyc_b");
    data->PutResource(tn, "cyc_b", tn, "cyc_a");
    nodes.push_back({p.FindType(tn), "cyc_a"});
  }

  for (const Node& n : nodes) {
    const std::string& tn = p.types[n.type].name;
    out.resources.push_back(tn + ":" + n.id);
    if (g.Chance(0.7)) {
      data->SetAttribute(EntityKind::kResource, tn, n.id, "owner",
                         Str("u" + std::to_string(g.Int(0, n_subjects))));
    }
    if (g.Chance(0.7)) {
      data->SetAttribute(EntityKind::kResource, tn, n.id, "dept",
                         Str(kDepartments[g.Int(0, 2)]));
    }
    if (g.Chance(0.8)) {
      // Sometimes a string: comparing it with a number is a type mismatch.
      data->SetAttribute(EntityKind::kResource, tn, n.id, "level",
                         g.Chance(0.9) ? IntValue(g.Int(0, 3)) : Str("high"));
    }
  }

  // Bindings and restrictions on random (subject, resource) pairs.
  const int n_access = g.Int(nodes.size(), 6 * static_cast<int>(nodes.size()));
  for (int k = 0; k < n_access && !nodes.empty(); ++k) {
    const std::string subject = "u" + std::to_string(g.Int(0, n_subjects - 1));
    const Node& n = g.Pick(nodes);
    const EntityRef s{"user", subject};
    const EntityRef r{p.types[n.type].name, n.id};
    if (g.Chance(0.75)) {
      std::vector<std::string> roles;
      for (const RoleDef& role : p.roles) {
        if (role.bindable_on.Contains(n.type) && g.Chance(0.6)) {
          roles.push_back(role.name);
        }
      }
      if (g.Chance(0.05)) roles.push_back("ghost");  // a role the policy lacks
      const BindingState state =
          g.Chance(0.15) ? BindingState::kPending : BindingState::kActive;
      TimestampMicros expires = kNoExpiry;
      if (g.Chance(0.2)) expires = kNow + g.Int(-1, 1) * 1'000'000;
      data->SetBinding(s, r, roles, state, expires);
    } else {
      std::vector<std::string> actions;
      if (g.Chance(0.3)) {
        actions.push_back("*");
      } else {
        for (const char* a : kActionPool) {
          if (g.Chance(0.3)) actions.push_back(a);
        }
      }
      data->SetRestriction(s, r, actions);
    }
  }
  return out;
}

std::string Describe(const CheckRequest& r) {
  std::string s = r.subject.ToString() + " " + std::string(r.action) + " " +
                  r.resource.ToString();
  for (const Attribute& a : r.context) {
    s += " context." + std::string(a.key) + "=" + a.value.ToString();
  }
  return s;
}

TEST(Differential, EvaluatorAgreesWithReference) {
  size_t checks = 0, allowed = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    Gen g(seed);
    std::unique_ptr<Policy> policy = GeneratePolicy(g);
    MemoryData data;
    Generated gen = GenerateData(g, *policy, &data);
    gen.subjects.push_back("user:stranger");  // unknown subject
    gen.resources.push_back("t0:missing");    // unknown resource
    gen.resources.push_back("user:u0");       // not a resource type
    Evaluator evaluator(*policy);

    std::vector<std::string> actions(std::begin(kActionPool),
                                     std::end(kActionPool));
    actions.push_back("unknown_action");
    int failures = 0;
    for (const std::string& subject : gen.subjects) {
      for (const std::string& resource : gen.resources) {
        CheckRequest req;
        req.subject = *ParseEntityRef(subject);
        req.resource = *ParseEntityRef(resource);
        req.now = kNow;
        Attribute ctx[] = {{"soft", Value::Bool(g.Chance(0.5))}};
        if (g.Chance(0.7)) req.context = ctx;
        for (const std::string& action : actions) {
          req.action = action;
          const bool want = ReferenceAllowed(*policy, req, data);
          const Decision got = evaluator.Check(req, data);
          ++checks;
          allowed += got.allowed;
          if (got.allowed != want && failures++ < 5) {
            ADD_FAILURE() << "seed " << seed << ": " << Describe(req)
                          << ": evaluator says "
                          << (got.allowed ? "allow" : "deny") << " ("
                          << explain::ReasonText(*policy, got.reason, action)
                          << "), reference says " << (want ? "allow" : "deny");
          }
        }
        EXPECT_EQ(evaluator.AllowedActions(req, data),
                  ReferenceAllowedActions(*policy, req, data))
            << "seed " << seed << ": AllowedActions for " << subject << " on "
            << resource;
      }
    }
    if (failures > 0) break;
  }
  // The generator must produce both outcomes in quantity, or the test
  // proves little.
  EXPECT_GT(checks, 50'000u);
  EXPECT_GT(allowed, checks / 20);
  EXPECT_LT(allowed, checks / 2);
  std::printf("%zu checks, %zu allowed\n", checks, allowed);
}

// True if `node` is `ancestor` or below it (walking at most kMaxDepth).
bool AtOrBelow(const DataView& data, const std::string& node,
               const std::string& ancestor) {
  std::string at = node;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    if (at == ancestor) return true;
    std::optional<ResourceInfo> info = data.GetResource(*ParseEntityRef(at));
    if (!info || info->parent.empty()) return false;
    at = info->parent.ToString();
  }
  return false;
}

// Every page of LookupResources, concatenated, is exactly the sorted set of
// resources of the type (at or below `under`, when given) that Check
// allows: the traversal, its pruning, the ordering in chunks and the page
// tokens lose nothing and add nothing, on random policies and forests
// (with the occasional dangling parent or cycle).
TEST(Differential, LookupsAgreeWithChecks) {
  size_t lookups = 0, found = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    Gen g(seed);
    std::unique_ptr<Policy> policy = GeneratePolicy(g);
    MemoryData data;
    Generated gen = GenerateData(g, *policy, &data);
    Evaluator evaluator(*policy);
    int failures = 0;
    for (const std::string& subject : gen.subjects) {
      for (const TypeDef& type : policy->types) {
        if (type.is_subject) continue;
        for (const char* action : kActionPool) {
          const ActionId a = policy->FindAction(action);
          if (a == kNoAction || !type.actions.Contains(a)) continue;
          std::string under;
          if (g.Chance(0.3) && !gen.resources.empty()) {
            under = g.Pick(gen.resources);
          }
          std::vector<std::string> want;
          data.ForEachResourceOfType(type.name, [&](EntityRef r) {
            CheckRequest req;
            req.subject = *ParseEntityRef(subject);
            req.action = action;
            req.resource = r;
            req.now = kNow;
            if (evaluator.Check(req, data).allowed &&
                (under.empty() || AtOrBelow(data, r.ToString(), under))) {
              want.push_back(r.ToString());
            }
            return true;
          });
          std::sort(want.begin(), want.end());
          LookupResourcesRequest req;
          req.subject = *ParseEntityRef(subject);
          req.action = action;
          req.type = type.name;
          if (!under.empty()) req.under = *ParseEntityRef(under);
          req.limit = static_cast<size_t>(g.Int(1, 3));
          req.now = kNow;
          std::vector<std::string> got;
          std::string token;
          for (int pages = 0; pages < 100; ++pages) {
            req.page_token = token;
            auto page = LookupResources(evaluator, data, req);
            if (!page) {
              ADD_FAILURE() << "seed " << seed << ": "
                            << page.error().ToString();
              break;
            }
            got.insert(got.end(), page->refs.begin(), page->refs.end());
            token = page->next_page_token;
            if (token.empty()) break;
          }
          ++lookups;
          found += got.size();
          if (got != want && failures++ < 3) {
            std::string w, o;
            for (const auto& x : want) w += x + " ";
            for (const auto& x : got) o += x + " ";
            ADD_FAILURE() << "seed " << seed << ": " << subject << " "
                          << action << " " << type.name
                          << (under.empty() ? "" : " under " + under)
                          << ": checks allow [" << w << "], lookup found ["
                          << o << "]";
          }
        }
      }
    }
    if (failures > 0) break;
  }
  EXPECT_GT(lookups, 10'000u);
  EXPECT_GT(found, lookups / 4);
  std::printf("%zu lookups, %zu resources found\n", lookups, found);
}

// A subject bound on a group holding many files, most of them restricted:
// the page is ordered in several chunks (many candidates are denied), and
// paging through limit 7 finds exactly the unrestricted files in order.
TEST(Differential, LookupPagesThroughManyDeniedCandidates) {
  auto compiled = policies::CompilePolicyText(R"(
name: chunks
subjects:
  user: {}
resources:
  group:
    actions: [view]
  file:
    parents: [group]
    actions: [view]
roles:
  member:
    on: [group]
    grants:
      file: [view]
restrictions:
  on: [file]
)",
                                              "chunks.yaml");
  ASSERT_TRUE(compiled) << policies::FormatErrors(compiled.error());
  const Policy* policy = compiled->get();

  MemoryData data;
  data.PutSubject("user", "u");
  data.PutResource("group", "g");
  std::vector<std::string> want;
  for (int i = 0; i < 500; ++i) {
    const std::string id = "f" + std::to_string(i);
    data.PutResource("file", id, "group", "g");
    if (i % 10 == 3) {
      want.push_back("file:" + id);
    } else {
      data.SetRestriction(*ParseEntityRef("user:u"),
                          *ParseEntityRef("file:" + id), {"view"});
    }
  }
  std::sort(want.begin(), want.end());
  const std::vector<std::string> roles = {"member"};
  data.SetBinding(*ParseEntityRef("user:u"), *ParseEntityRef("group:g"),
                  roles, BindingState::kActive, kNoExpiry);
  Evaluator evaluator(*policy);
  LookupResourcesRequest req;
  req.subject = *ParseEntityRef("user:u");
  req.action = "view";
  req.type = "file";
  req.limit = 7;
  std::vector<std::string> got;
  std::string token;
  for (int pages = 0; pages < 100; ++pages) {
    req.page_token = token;
    auto page = LookupResources(evaluator, data, req);
    ASSERT_TRUE(page) << page.error().ToString();
    EXPECT_LE(page->refs.size(), 7u);
    got.insert(got.end(), page->refs.begin(), page->refs.end());
    token = page->next_page_token;
    if (token.empty()) break;
  }
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace portcullis::testing
