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
    return std::lower_bound(cdf_.begin(), cdf_.end(), x) - cdf_.begin();
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace

std::optional<DatagenOptions> ScaleOptions(const std::string& scale) {
  DatagenOptions o;
  if (scale == "small") {
    o.users = 1000;
  } else if (scale == "medium") {
    o.users = 100000;
  } else if (scale == "large") {
    o.users = 1000000;
  } else {
    return std::nullopt;
  }
  return o;
}

void Generate(const DatagenOptions& o,
              const std::function<void(const storage::JsonlRecord&)>& emit) {
  std::mt19937_64 rng(o.seed);
  auto pick = [&](uint64_t n) { return n ? rng() % n : 0; };
  const uint64_t groups = std::max<uint64_t>(1, o.groups ? o.groups
                                                         : o.users / 20);
  const uint64_t accounts = std::max<uint64_t>(1, groups / 10);
  const char* departments[] = {"eng", "ops", "sales", "legal", "hr"};
  auto user = [](uint64_t u) { return "user:u" + std::to_string(u); };

  // Resources, parents first.
  for (uint64_t a = 0; a < accounts; ++a) {
    storage::ResourceRecord r{"account", "a" + std::to_string(a), "", {}};
    r.attributes["plan"] = Str(a % 3 ? "pro" : "free");
    emit(r);
  }
  // Files per group, for restrictions below: (file ref, group index).
  std::vector<std::pair<std::string, uint64_t>> raised_files;
  for (uint64_t g = 0; g < groups; ++g) {
    const std::string gid = "g" + std::to_string(g);
    emit(storage::ResourceRecord{"group", gid,
                                 "account:a" + std::to_string(g % accounts),
                                 {}});
    // Folders: each under the group or an earlier folder, depth <= 8.
    std::vector<std::pair<std::string, int>> containers{{"group:" + gid, 0}};
    for (uint64_t f = 0; f < o.folders_per_group; ++f) {
      const auto& parent = containers[pick(containers.size())];
      if (parent.second >= 8) continue;
      const std::string id = gid + "d" + std::to_string(f);
      emit(storage::ResourceRecord{"folder", id, parent.first, {}});
      containers.emplace_back("folder:" + id, parent.second + 1);
    }
    for (uint64_t f = 0; f < o.files_per_group; ++f) {
      const std::string id = gid + "f" + std::to_string(f);
      storage::ResourceRecord r{"file", id,
                                containers[pick(containers.size())].first,
                                {}};
      if (pick(10) == 0) {
        OwnedValue list;
        list.kind = ValueKind::kList;
        list.list.push_back(Str(departments[pick(5)]));
        r.attributes["departments"] = list;
      }
      if (pick(50) == 0) {
        OwnedValue b;
        b.kind = ValueKind::kBool;
        b.b = true;
        r.attributes["public"] = b;
      }
      emit(r);
      if (pick(100) == 0) raised_files.emplace_back("file:" + id, g);
    }
  }
  // Users.
  for (uint64_t u = 0; u < o.users; ++u) {
    storage::SubjectRecord s{"user", "u" + std::to_string(u), {}};
    s.attributes["department"] = Str(departments[pick(5)]);
    s.attributes["email"] = Str("u" + std::to_string(u) + "@example.com");
    emit(s);
  }
  // Memberships: every user joins 1-3 groups chosen Zipf-like, so a few
  // groups are large and most are small; each group's first member is its
  // administrator.
  Zipf zipf(groups);
  std::vector<std::vector<uint64_t>> members(groups);
  for (uint64_t u = 0; u < o.users; ++u) {
    const int joins = 1 + static_cast<int>(pick(3));
    for (int j = 0; j < joins; ++j) {
      const uint64_t g = zipf(rng);
      if (std::find(members[g].begin(), members[g].end(), u) !=
          members[g].end()) {
        continue;
      }
      members[g].push_back(u);
    }
  }
  for (uint64_t a = 0; a < accounts; ++a) {
    storage::BindingRecord b;
    b.subject = user(pick(o.users));
    b.resource = "account:a" + std::to_string(a);
    b.roles = {"account_administrator"};
    emit(b);
  }
  for (uint64_t g = 0; g < groups; ++g) {
    for (size_t i = 0; i < members[g].size(); ++i) {
      storage::BindingRecord b;
      b.subject = user(members[g][i]);
      b.resource = "group:g" + std::to_string(g);
      const uint64_t r = pick(10);
      b.roles = {i == 0 || r == 0  ? "administrator"
                 : r < 3 ? "content_creator"
                         : "member"};
      emit(b);
    }
  }
  // 1% of files: half a raise (content_creator on the file), half a
  // restriction, for a member of the file's group.
  std::vector<storage::RestrictionRecord> restrictions;
  for (size_t i = 0; i < raised_files.size(); ++i) {
    const auto& [file, g] = raised_files[i];
    if (members[g].empty()) continue;
    const std::string who = user(members[g][pick(members[g].size())]);
    if (i % 2 == 0) {
      storage::BindingRecord b;
      b.subject = who;
      b.resource = file;
      b.roles = {"content_creator"};
      emit(b);
    } else {
      emit(storage::RestrictionRecord{who, file,
                                      {pick(2) ? "*" : std::string("edit")}});
    }
  }
  // Pending invitations: one per 100 users, to e-mail addresses.
  for (uint64_t i = 0; i < std::max<uint64_t>(1, o.users / 100); ++i) {
    const uint64_t g = pick(groups);
    storage::Invitation inv;
    inv.id = "inv" + std::to_string(i);
    inv.resource = "group:g" + std::to_string(g);
    inv.invitee = "email:new" + std::to_string(i) + "@example.org";
    inv.roles = {"member"};
    inv.inviter = members[g].empty() ? "" : user(members[g][0]);
    inv.created_at = 1'700'000'000'000'000;
    inv.expires_at = 1'900'000'000'000'000;
    emit(inv);
  }
}

}  // namespace portcullis::bench
