#include "bench/datagen_lib.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace portcullis::bench {
namespace {

using engine::OwnedValue;
using engine::ValueKind;

OwnedValue Str(std::string s) {
  OwnedValue v;
  v.kind = ValueKind::kString;
  v.s = std::move(s);
  return v;
}

// Zipf-like choice over [0, n): weight 1 / (rank + 1).
class Zipf {
 public:
  explicit Zipf(uint64_t n) : cdf_(n) {
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i) cdf_[i] = sum += 1.0 / (i + 1);
  }
  template <typename Rng>
  uint64_t operator()(Rng& rng) {
    const double x =
        std::uniform_real_distribution<double>(0, cdf_.back())(rng);
    return std::min<uint64_t>(
        cdf_.size() - 1, std::lower_bound(cdf_.begin(), cdf_.end(), x) -
                             cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

enum class Role : uint8_t { kAdministrator, kContentCreator, kMember };

const char* RoleName(Role r) {
  switch (r) {
    case Role::kAdministrator: return "administrator";
    case Role::kContentCreator: return "content_creator";
    case Role::kMember: return "member";
  }
  return "member";
}

struct Member {
  uint32_t user;
  Role role;
};

// Keeps a uniform sample of up to kRefsPerKind offers; `make` runs only for
// the offers kept.
class Reservoir {
 public:
  explicit Reservoir(std::vector<DatagenRequest>* out) : out_(out) {}
  template <typename Make>
  void Offer(std::mt19937_64& rng, Make&& make) {
    if (out_ == nullptr) return;
    ++seen_;
    if (out_->size() < DatagenRefs::kRefsPerKind) {
      out_->push_back(make());
      return;
    }
    const uint64_t j = rng() % seen_;
    if (j < DatagenRefs::kRefsPerKind) (*out_)[j] = make();
  }

 private:
  std::vector<DatagenRequest>* out_;
  uint64_t seen_ = 0;
};

std::string UserRef(uint64_t u) { return "user:u" + std::to_string(u); }
std::string GroupId(uint64_t g) { return "g" + std::to_string(g); }

}  // namespace

std::optional<DatagenOptions> ScaleOptions(const std::string& scale) {
  DatagenOptions o;
  if (scale == "small") {
    o.users = 1000;
    o.groups = 50;
    o.resources = 10'000;
    o.max_groups_per_user = 5;
  } else if (scale == "medium") {
    o.users = 100'000;
    o.groups = 5'000;
    o.resources = 1'000'000;
    o.max_groups_per_user = 17;
  } else if (scale == "large") {
    o.users = 1'000'000;
    o.groups = 50'000;
    o.resources = 10'000'000;
    o.max_groups_per_user = 17;
  } else {
    return std::nullopt;
  }
  return o;
}

void Generate(const DatagenOptions& o,
              const std::function<void(const storage::JsonlRecord&)>& emit,
              DatagenRefs* refs) {
  std::mt19937_64 rng(o.seed);
  std::mt19937_64 ref_rng(o.seed ^ 0x9e3779b97f4a7c15ULL);
  auto pick = [&](uint64_t n) { return n ? rng() % n : 0; };
  auto ref_pick = [&](uint64_t n) { return n ? ref_rng() % n : 0; };
  const uint64_t users = std::max<uint64_t>(1, o.users);
  const uint64_t groups = std::max<uint64_t>(1, o.groups);
  const uint64_t accounts = std::max<uint64_t>(1, groups / 10);
  const char* departments[] = {"eng", "ops", "sales", "legal", "hr"};
  Zipf zipf(groups);

  // Memberships: every user joins 1..max_groups_per_user groups chosen
  // Zipf-like; a group's first member is its administrator.
  std::vector<std::vector<Member>> members(groups);
  std::vector<std::vector<uint32_t>> groups_of(users);
  const uint32_t max_joins = std::max<uint32_t>(1, o.max_groups_per_user);
  for (uint64_t u = 0; u < users; ++u) {
    const uint64_t joins = 1 + pick(max_joins);
    auto& mine = groups_of[u];
    for (uint64_t j = 0; j < joins; ++j) {
      const auto g = static_cast<uint32_t>(zipf(rng));
      if (std::find(mine.begin(), mine.end(), g) != mine.end()) continue;
      mine.push_back(g);
      const uint64_t r = pick(10);
      const Role role = members[g].empty() || r == 0 ? Role::kAdministrator
                        : r < 3                      ? Role::kContentCreator
                                                     : Role::kMember;
      members[g].push_back({static_cast<uint32_t>(u), role});
    }
  }
  auto is_member = [&](uint64_t u, uint64_t g) {
    const auto& mine = groups_of[u];
    return std::find(mine.begin(), mine.end(), g) != mine.end();
  };

  // Content per group: 30% spread evenly, 70% Zipf-like (the groups with the
  // most members also hold the most content).
  std::vector<uint64_t> content(groups, std::max<uint64_t>(
                                            2, o.resources * 3 / 10 / groups));
  for (uint64_t i = 0; i < o.resources * 7 / 10; ++i) ++content[zipf(rng)];

  Reservoir hit(refs ? &refs->hit : nullptr), miss(refs ? &refs->miss : nullptr),
      deep(refs ? &refs->deep : nullptr),
      override_(refs ? &refs->override_ : nullptr),
      condition(refs ? &refs->condition : nullptr),
      actions(refs ? &refs->actions : nullptr);

  // Accounts and groups, folders, files.
  for (uint64_t a = 0; a < accounts; ++a) {
    storage::ResourceRecord r{"account", "a" + std::to_string(a), "", {}};
    r.attributes["plan"] = Str(a % 3 ? "pro" : "free");
    emit(r);
  }
  struct Share {
    uint32_t user;
    std::string resource;
  };
  std::vector<Share> folder_shares;
  struct Override {
    std::string file;
    uint32_t user;
    bool raise;       // content_creator on the file; else a restriction
    bool everything;  // the restriction names "*" (else "edit")
  };
  std::vector<Override> overridden;
  for (uint64_t g = 0; g < groups; ++g) {
    const std::string gid = GroupId(g);
    emit(storage::ResourceRecord{"group", gid,
                                 "account:a" + std::to_string(g % accounts),
                                 {}});
    const auto& mem = members[g];
    std::vector<uint32_t> contributors;  // who may own content here
    for (const auto& m : mem) {
      if (m.role == Role::kContentCreator) contributors.push_back(m.user);
    }
    if (contributors.empty() && !mem.empty()) contributors.push_back(mem[0].user);
    const uint64_t folders = std::max<uint64_t>(1, content[g] / 10);
    const uint64_t files = content[g] - std::min(content[g], folders);
    // Containers: (ref, depth below the group). A third of the folders
    // continue the newest folder, so every group with enough folders has
    // chains reaching 8 deep.
    std::vector<std::pair<std::string, int>> containers{{"group:" + gid, 0}};
    for (uint64_t f = 0; f < folders; ++f) {
      size_t parent = containers.size() > 1 && pick(3) == 0
                          ? containers.size() - 1
                          : pick(containers.size());
      if (containers[parent].second >= 8) parent = 0;
      const std::string id = gid + "d" + std::to_string(f);
      storage::ResourceRecord r{"folder", id, containers[parent].first, {}};
      if (!contributors.empty()) {
        r.attributes["owner"] =
            Str("u" + std::to_string(contributors[pick(contributors.size())]));
      }
      emit(r);
      containers.emplace_back("folder:" + id, containers[parent].second + 1);
      if (!mem.empty() && pick(2) == 0) {
        folder_shares.push_back({mem[pick(mem.size())].user, "folder:" + id});
      }
    }
    for (uint64_t f = 0; f < files; ++f) {
      const auto& [parent, depth] = containers[pick(containers.size())];
      const std::string id = gid + "f" + std::to_string(f);
      storage::ResourceRecord r{"file", id, parent, {}};
      uint32_t owner = 0;
      if (!contributors.empty()) {
        owner = contributors[pick(contributors.size())];
        r.attributes["owner"] = Str("u" + std::to_string(owner));
      }
      emit(r);
      const std::string file = "file:" + id;
      // 1% of files: half a raise for a plain member, half a restriction
      // for a member who is not an administrator (administrators are
      // exempt from restrictions).
      bool restricted = false;
      if (pick(100) == 0) {
        const bool raise = overridden.size() % 2 == 0;
        for (int tries = 0; tries < 8 && !mem.empty(); ++tries) {
          const Member& m = mem[pick(mem.size())];
          if (raise ? m.role == Role::kMember
                    : m.role != Role::kAdministrator) {
            overridden.push_back({file, m.user, raise, pick(2) == 0});
            restricted = !raise;
            break;
          }
        }
      }
      if (mem.empty()) continue;
      auto member = [&] { return UserRef(mem[ref_pick(mem.size())].user); };
      actions.Offer(ref_rng, [&] { return DatagenRequest{member(), "", file}; });
      if (restricted) continue;  // hits and deep views must be allowed
      hit.Offer(ref_rng, [&] { return DatagenRequest{member(), "view", file}; });
      if (depth >= 6) {
        deep.Offer(ref_rng,
                   [&] { return DatagenRequest{member(), "view", file}; });
      }
      condition.Offer(ref_rng, [&] {
        const uint32_t who = ref_pick(2) == 0
                                 ? owner
                                 : contributors[ref_pick(contributors.size())];
        return DatagenRequest{UserRef(who), "delete", file};
      });
      const uint64_t outsider = ref_pick(users);
      if (!is_member(outsider, g)) {
        miss.Offer(ref_rng,
                   [&] { return DatagenRequest{UserRef(outsider), "view", file}; });
      }
    }
  }

  // Users.
  for (uint64_t u = 0; u < users; ++u) {
    storage::SubjectRecord s{"user", "u" + std::to_string(u), {}};
    s.attributes["department"] = Str(departments[pick(5)]);
    s.attributes["email"] = Str("u" + std::to_string(u) + "@example.com");
    emit(s);
  }

  // Bindings: account administrators, group memberships, folder shares.
  for (uint64_t a = 0; a < accounts; ++a) {
    storage::BindingRecord b;
    b.subject = UserRef(pick(users));
    b.resource = "account:a" + std::to_string(a);
    b.roles = {"account_administrator"};
    emit(b);
  }
  for (uint64_t g = 0; g < groups; ++g) {
    storage::BindingRecord b;
    b.resource = "group:" + GroupId(g);
    for (const auto& m : members[g]) {
      b.subject = UserRef(m.user);
      b.roles = {RoleName(m.role)};
      emit(b);
    }
  }
  for (const auto& s : folder_shares) {
    storage::BindingRecord b;
    b.subject = UserRef(s.user);
    b.resource = s.resource;
    b.roles = {"content_creator"};
    emit(b);
  }
  // 1% of files: half a raise (content_creator on the file), half a
  // restriction, for one member of the file's group.
  for (const auto& o : overridden) {
    const std::string who = UserRef(o.user);
    if (o.raise) {
      storage::BindingRecord b;
      b.subject = who;
      b.resource = o.file;
      b.roles = {"content_creator"};
      emit(b);
      override_.Offer(ref_rng,
                      [&] { return DatagenRequest{who, "edit", o.file}; });
    } else {
      emit(storage::RestrictionRecord{
          who, o.file, {o.everything ? "*" : std::string("edit")}});
      override_.Offer(ref_rng, [&] {
        return DatagenRequest{who, o.everything ? "view" : "edit", o.file};
      });
    }
  }
  // Pending invitations: one per 100 users, to e-mail addresses.
  for (uint64_t i = 0; i < std::max<uint64_t>(1, users / 100); ++i) {
    const uint64_t g = pick(groups);
    storage::Invitation inv;
    inv.id = "inv" + std::to_string(i);
    inv.resource = "group:" + GroupId(g);
    inv.invitee = "email:new" + std::to_string(i) + "@example.org";
    inv.roles = {"member"};
    inv.inviter = members[g].empty() ? "" : UserRef(members[g][0].user);
    inv.created_at = 1'700'000'000'000'000;
    inv.expires_at = 1'900'000'000'000'000;
    emit(inv);
  }

  // Lookups: members of the largest group, and users in one small group.
  if (refs != nullptr) {
    uint64_t largest = 0;
    for (uint64_t g = 1; g < groups; ++g) {
      if (content[g] > content[largest]) largest = g;
    }
    for (size_t i = 0; i < DatagenRefs::kRefsPerKind && !members[largest].empty();
         ++i) {
      const auto& m = members[largest][ref_pick(members[largest].size())];
      refs->lookup_large.push_back({UserRef(m.user), "view", "file"});
    }
    std::vector<uint64_t> sorted = content;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2,
                     sorted.end());
    const uint64_t median = sorted[sorted.size() / 2];
    for (uint64_t u = 0; u < users &&
                         refs->lookup_small.size() < DatagenRefs::kRefsPerKind;
         ++u) {
      if (groups_of[u].size() == 1 && content[groups_of[u][0]] <= median) {
        refs->lookup_small.push_back({UserRef(u), "view", "file"});
      }
    }
  }
}

std::string FormatRefsJson(const DatagenRefs& refs) {
  std::string out = "{";
  auto list = [&](const char* kind, const std::vector<DatagenRequest>& reqs,
                  int limit) {
    if (reqs.empty()) return;
    if (out.size() > 1) out += ",";
    out += "\n \"";
    out += kind;
    out += "\": [";
    for (size_t i = 0; i < reqs.size(); ++i) {
      const auto& r = reqs[i];
      out += i ? ",\n  " : "\n  ";
      out += "{\"subject\": \"" + r.subject + "\"";
      if (limit > 0) {
        out += ", \"action\": \"" + r.action + "\", \"type\": \"" +
               r.resource + "\", \"limit\": " + std::to_string(limit) + "}";
        continue;
      }
      if (!r.action.empty()) out += ", \"action\": \"" + r.action + "\"";
      out += ", \"resource\": \"" + r.resource + "\"}";
    }
    out += "]";
  };
  list("check_hit", refs.hit, 0);
  list("check_miss", refs.miss, 0);
  list("check_deep", refs.deep, 0);
  list("check_override", refs.override_, 0);
  list("check_condition", refs.condition, 0);
  list("actions", refs.actions, 0);
  list("lookup_small", refs.lookup_small, 100);
  list("lookup_large", refs.lookup_large, 10000);
  out += "\n}\n";
  return out;
}

}  // namespace portcullis::bench
