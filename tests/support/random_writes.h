// RandomWrites: a reproducible stream of random write transactions over
// testing::WorkspacePolicy's types, for tests that compare two things that
// must stay equal under any sequence of writes (a replica and its source,
// the decision index and plain LMDB reads).
//
// Each Step() runs one Store::Write with one to three operations drawn from:
// create or update a group, folder or file (random parent, attributes),
// delete a resource (its whole subtree), move a folder or file, put or
// delete a user, bind or unbind a role (active or pending; no expiry,
// expired or expiring later), restrict or lift actions on a file, create an
// invitation, accept, decline or revoke one. Names come from small fixed
// pools, so operations often hit existing entities and often fail (a missing
// parent, a cycle, a role not bindable there): a failed write changes
// nothing, which is part of what the tests check.
//
// Thread safety: one RandomWrites per thread. Header-only.
#ifndef PORTCULLIS_TESTS_SUPPORT_RANDOM_WRITES_H_
#define PORTCULLIS_TESTS_SUPPORT_RANDOM_WRITES_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/policy.h"
#include "storage/store.h"
#include "tests/support/test_policies.h"

namespace portcullis::testing {

class RandomWrites {
 public:
  // `now` is the time bindings expire against in the tests' checks.
  RandomWrites(uint32_t seed, TimestampMicros now)
      : rng_(seed), now_(now), policy_(WorkspacePolicy()) {}

  const engine::Policy& policy() const { return *policy_; }
  std::shared_ptr<const engine::Policy> shared_policy() const {
    return policy_;
  }

  // The pools every name is drawn from ("type:id").
  std::vector<std::string> ResourcePool() const {
    std::vector<std::string> out{"account:acme"};
    for (int i = 0; i < kGroups; ++i) out.push_back(Name("group", i));
    for (int i = 0; i < kFolders; ++i) out.push_back(Name("folder", i));
    for (int i = 0; i < kFiles; ++i) out.push_back(Name("file", i));
    return out;
  }
  std::vector<std::string> UserPool() const {
    std::vector<std::string> out;
    for (int i = 0; i < kUsers; ++i) out.push_back(Name("user", i));
    return out;
  }

  // The account every tree hangs from; call once before Step().
  Result<storage::Revision> Seed(storage::Store* store) {
    return store->Write(policy_.get(), "", [](storage::WriteTxn& w) {
      return w.PutResource({"account", "acme", "", {}});
    });
  }

  // One random write transaction. Returns its result: an error is a write
  // that was refused (and changed nothing).
  Result<storage::Revision> Step(storage::Store* store) {
    const int ops = Pick(10) < 7 ? 1 : 2 + Pick(2);
    std::vector<int> kinds;
    for (int i = 0; i < ops; ++i) kinds.push_back(Pick(100));
    const uint32_t seed = static_cast<uint32_t>(rng_());
    // The function may run more than once (map growth): it draws from its
    // own generator, seeded the same each time.
    return store->Write(policy_.get(), "user:u0", [&](storage::WriteTxn& w) {
      std::mt19937 r(seed);
      for (int kind : kinds) {
        if (Status s = Op(w, kind, &r); !s.ok()) return s;
      }
      return Status::Ok();
    });
  }

 private:
  static constexpr int kGroups = 4, kFolders = 10, kFiles = 30, kUsers = 8,
                       kInvitations = 6;

  // "group:g1", "folder:d3", "file:f7"; every fifth file has a long id
  // (longer than any short-string buffer of the code under test).
  static std::string Name(const char* type, int i) {
    const char prefix = type[0] == 'f' && type[1] == 'o' ? 'd' : type[0];
    std::string name = std::string(type) + ":" + prefix + std::to_string(i);
    if (prefix == 'f' && i % 5 == 0) name += "_of_a_name_longer_than_most";
    return name;
  }
  int Pick(int n) { return static_cast<int>(rng_() % n); }
  static int Pick(std::mt19937* r, int n) {
    return static_cast<int>((*r)() % n);
  }
  static engine::OwnedValue Str(std::string s) {
    engine::OwnedValue v;
    v.kind = engine::ValueKind::kString;
    v.s = std::move(s);
    return v;
  }
  static engine::OwnedValue Bool(bool b) {
    engine::OwnedValue v;
    v.kind = engine::ValueKind::kBool;
    v.b = b;
    return v;
  }

  std::string Container(std::mt19937* r) const {
    return Pick(r, 3) == 0 ? Name("group", Pick(r, kGroups))
                           : Name("folder", Pick(r, kFolders));
  }
  std::string AnyResource(std::mt19937* r) const {
    const std::vector<std::string> pool = ResourcePool();
    return pool[Pick(r, static_cast<int>(pool.size()))];
  }
  TimestampMicros Expiry(std::mt19937* r) const {
    switch (Pick(r, 4)) {
      case 0: return now_ - 3'600'000'000;
      case 1: return now_ + 3'600'000'000;
      default: return kNoExpiry;
    }
  }

  Status PutResource(storage::WriteTxn& w, std::mt19937* r) {
    const char* departments[] = {"eng", "ops", "sales"};
    switch (Pick(r, 3)) {
      case 0:
        return w.PutResource(
            {"group", "g" + std::to_string(Pick(r, kGroups)), "account:acme",
             {}});
      case 1:
        return w.PutResource({"folder", "d" + std::to_string(Pick(r, kFolders)),
                              Container(r), {}});
      default: {
        storage::ResourceRecord rec{
            "file", Name("file", Pick(r, kFiles)).substr(5), Container(r), {}};
        if (Pick(r, 3) == 0) rec.attributes["public"] = Bool(Pick(r, 2) == 0);
        if (Pick(r, 2) == 0) {
          engine::OwnedValue list;
          list.kind = engine::ValueKind::kList;
          list.list.push_back(Str(departments[Pick(r, 3)]));
          rec.attributes["departments"] = list;
        }
        return w.PutResource(rec);
      }
    }
  }

  // A role bindable on the resource's type, or (one time in ten) any role.
  static std::string RoleFor(const std::string& resource, std::mt19937* r) {
    const char* roles[] = {"account_administrator", "administrator",
                           "content_creator", "member"};
    if (Pick(r, 10) == 0) return roles[Pick(r, 4)];
    if (resource.rfind("account:", 0) == 0) return roles[0];
    if (resource.rfind("group:", 0) == 0) return roles[1 + Pick(r, 3)];
    return roles[2];
  }

  Status Op(storage::WriteTxn& w, int kind, std::mt19937* r) {
    const char* departments[] = {"eng", "ops", "sales"};
    const std::string user = Name("user", Pick(r, kUsers));
    if (kind < 30) return PutResource(w, r);
    if (kind < 36) {
      // Never the account: a tree needs somewhere to grow.
      const std::string doomed = AnyResource(r);
      if (doomed == "account:acme") return Status::Ok();
      return w.DeleteResource(*engine::ParseEntityRef(doomed));
    }
    if (kind < 44) {
      const std::string moved = Pick(r, 2) == 0
                                    ? Name("folder", Pick(r, kFolders))
                                    : Name("file", Pick(r, kFiles));
      const std::string to = Container(r);
      return w.MoveResource(*engine::ParseEntityRef(moved),
                            *engine::ParseEntityRef(to));
    }
    if (kind < 50) {
      storage::SubjectRecord s{"user", user.substr(5), {}};
      s.attributes["department"] = Str(departments[Pick(r, 3)]);
      return w.PutSubject(s);
    }
    if (kind < 52) return w.DeleteSubject(*engine::ParseEntityRef(user));
    if (kind < 75) {
      storage::BindingRecord b;
      b.subject = user;
      b.resource = AnyResource(r);
      if (Pick(r, 5) != 0) b.roles = {RoleFor(b.resource, r)};
      b.state = Pick(r, 5) == 0 ? engine::BindingState::kPending
                                : engine::BindingState::kActive;
      b.expires_at = Expiry(r);
      return w.SetBinding(b);
    }
    if (kind < 85) {
      storage::RestrictionRecord rr;
      rr.subject = user;
      rr.resource = Name("file", Pick(r, kFiles));
      switch (Pick(r, 4)) {
        case 0: break;  // lift
        case 1: rr.actions = {"*"}; break;
        case 2: rr.actions = {"edit"}; break;
        default: rr.actions = {"view", "delete"}; break;
      }
      return w.SetRestriction(rr);
    }
    const std::string id = "inv" + std::to_string(Pick(r, kInvitations));
    if (kind < 92) {
      storage::Invitation inv;
      inv.id = id;
      inv.resource = AnyResource(r);
      inv.invitee = user;
      inv.roles = {RoleFor(inv.resource, r)};
      inv.inviter = "user:u0";
      inv.expires_at = Expiry(r);
      return w.CreateInvitation(&inv);
    }
    const storage::InvitationState states[] = {
        storage::InvitationState::kAccepted,
        storage::InvitationState::kDeclined,
        storage::InvitationState::kRevoked};
    return w.SetInvitationState(id, states[Pick(r, 3)]);
  }

  std::mt19937 rng_;
  TimestampMicros now_;
  std::shared_ptr<const engine::Policy> policy_;
};

}  // namespace portcullis::testing

#endif  // PORTCULLIS_TESTS_SUPPORT_RANDOM_WRITES_H_
