// Store::Verify: every index checked against the primary records, and back;
// parents exist; no cycles; the changelog within 1..revision.
#include "engine/evaluator.h"
#include "storage/store.h"
#include "storage/store_internal.h"

namespace portcullis::storage {

using engine::EntityRef;
using internal::Cursor;
using internal::GetRaw;
using internal::LmdbError;
using internal::S;
using internal::V;

namespace {

// Checks one snapshot, one database at a time, collecting problems (at most
// kMaxProblems). One thread; lives within one read transaction.
class Verifier {
 public:
  Verifier(MDB_txn* txn, const Store::Dbis& d) : txn_(txn), d_(d) {}

  Status CheckResources();
  Status CheckResourceIndexes();
  Status CheckSubjects();
  Status CheckAccess();
  Status CheckInvitations();
  Status CheckInvitationIndexes();
  Status CheckChangelog(Revision rev);

  std::vector<std::string> TakeProblems() { return std::move(problems_); }

 private:
  static constexpr size_t kMaxProblems = 1000;

  void Problem(std::string p) {
    if (problems_.size() < kMaxProblems) problems_.push_back(std::move(p));
  }
  bool Exists(MDB_dbi dbi, std::string_view key) {
    std::string_view v;
    return GetRaw(txn_, dbi, key, &v) == 0;
  }
  bool HasDup(MDB_dbi dbi, std::string_view key, std::string_view value) {
    Cursor c(txn_, dbi);
    MDB_val k = V(key), v = V(value);
    return c.open_rc() == 0 && c.Get(&k, &v, MDB_GET_BOTH) == 0;
  }
  // Calls fn(key, value) for every entry of a database.
  template <typename Fn>
  Status Scan(MDB_dbi dbi, const Fn& fn) {
    Cursor c(txn_, dbi);
    if (c.open_rc()) return LmdbError("cursor", c.open_rc());
    MDB_val k, v;
    int rc = c.Get(&k, &v, MDB_FIRST);
    while (rc == 0) {
      fn(S(k), S(v));
      rc = c.Get(&k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? Status::Ok() : LmdbError("scan", rc);
  }
  // The parent chain of `ref` from `parent`: a cycle or an over-deep chain
  // never reaches a root.
  void CheckAncestry(const std::string& ref, const std::string& parent);

  MDB_txn* const txn_;
  const Store::Dbis& d_;
  std::vector<std::string> problems_;
};

// Resources: well-formed, indexed by type and under their parent, parents
// exist, no cycles.
Status Verifier::CheckResources() {
  return Scan(d_.resources, [&](std::string_view key, std::string_view v) {
    const std::string ref(key);
    if (!layout::CheckRef(ref, "resource").ok()) {
      Problem("resource key \"" + ref + "\" is not a type:id reference");
      return;
    }
    auto rec = layout::DecodeResource(v);
    Attributes attrs;
    if (!rec || !layout::DecodeAttributes(rec->attributes, &attrs)) {
      Problem("resource " + ref + ": corrupt record");
      return;
    }
    const EntityRef e = layout::SplitRef(ref);
    if (!HasDup(d_.resources_by_type, e.type, e.id)) {
      Problem("resource " + ref + " is missing from resources_by_type");
    }
    if (rec->parent.empty()) return;
    const std::string parent(rec->parent);
    if (!Exists(d_.resources, parent)) {
      Problem("resource " + ref + ": parent " + parent + " does not exist");
    } else if (!HasDup(d_.children, parent, ref)) {
      Problem("resource " + ref + " is missing from the children of " + parent);
    }
    CheckAncestry(ref, parent);
  });
}

void Verifier::CheckAncestry(const std::string& ref,
                             const std::string& parent) {
  std::string cur = parent;
  int depth = 0;
  while (!cur.empty() && depth <= engine::kMaxDepth) {
    if (cur == ref) break;
    std::string_view pv;
    if (GetRaw(txn_, d_.resources, cur, &pv) != 0) break;
    auto prec = layout::DecodeResource(pv);
    if (!prec) break;
    cur = std::string(prec->parent);
    ++depth;
  }
  if (cur == ref)
    Problem("resource " + ref + " is in a parent cycle");
  else if (depth > engine::kMaxDepth) {
    Problem("resource " + ref + " is nested deeper than " +
            std::to_string(engine::kMaxDepth));
  }
}

// The children and resources_by_type indexes name existing resources.
Status Verifier::CheckResourceIndexes() {
  Status s =
      Scan(d_.children, [&](std::string_view parent, std::string_view child) {
        std::string_view v;
        if (GetRaw(txn_, d_.resources, child, &v) != 0) {
          Problem("children index: " + std::string(parent) + " -> " +
                  std::string(child) + ": the child does not exist");
          return;
        }
        auto rec = layout::DecodeResource(v);
        if (rec && rec->parent != parent) {
          Problem("children index: " + std::string(parent) + " -> " +
                  std::string(child) + ": the child's parent is " +
                  std::string(rec->parent));
        }
      });
  if (!s.ok()) return s;

  s = Scan(d_.resources_by_type,
           [&](std::string_view type, std::string_view id) {
             if (!Exists(d_.resources, layout::Ref(type, id))) {
               Problem("resources_by_type: " + layout::Ref(type, id) +
                       " does not exist");
             }
           });
  return s;
}

// Subjects: well-formed, indexed by type; the index names existing subjects.
Status Verifier::CheckSubjects() {
  Status s = Scan(d_.subjects, [&](std::string_view key, std::string_view v) {
    Attributes attrs;
    const std::string ref(key);
    if (!layout::DecodeAttributes(v, &attrs)) {
      Problem("subject " + ref + ": corrupt record");
    }
    const EntityRef e = layout::SplitRef(ref);
    if (!HasDup(d_.subjects_by_type, e.type, e.id)) {
      Problem("subject " + ref + " is missing from subjects_by_type");
    }
  });
  if (!s.ok()) return s;

  s = Scan(d_.subjects_by_type, [&](std::string_view type,
                                    std::string_view id) {
    if (!Exists(d_.subjects, layout::Ref(type, id))) {
      Problem("subjects_by_type: " + layout::Ref(type, id) + " does not exist");
    }
  });
  return s;
}

// Access records: well-formed, their subject and resource exist, indexed by
// resource; the index names existing records.
Status Verifier::CheckAccess() {
  Status s = Scan(d_.access, [&](std::string_view key, std::string_view v) {
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos) {
      Problem("access key without separator");
      return;
    }
    const std::string subject(key.substr(0, nul));
    const std::string resource(key.substr(nul + 1));
    const std::string what = "access " + subject + " on " + resource;
    if (!layout::DecodeAccess(v)) Problem(what + ": corrupt record");
    if (!Exists(d_.subjects, subject)) {
      Problem(what + ": the subject has no record");
    }
    if (!Exists(d_.resources, resource)) {
      Problem(what + ": the resource does not exist");
    }
    if (!HasDup(d_.access_by_resource, resource, subject)) {
      Problem(what + " is missing from access_by_resource");
    }
  });
  if (!s.ok()) return s;

  s = Scan(d_.access_by_resource,
           [&](std::string_view resource, std::string_view subject) {
             std::string key(subject);
             key.push_back('\0');
             key.append(resource);
             if (!Exists(d_.access, key)) {
               Problem("access_by_resource: " + std::string(subject) + " on " +
                       std::string(resource) + " has no record");
             }
           });
  return s;
}

// Invitations: well-formed, their resource exists, indexed both ways.
Status Verifier::CheckInvitations() {
  return Scan(d_.invitations, [&](std::string_view id, std::string_view v) {
    auto inv = layout::DecodeInvitation(id, v);
    const std::string what = "invitation " + std::string(id);
    if (!inv) {
      Problem(what + ": corrupt record");
      return;
    }
    if (!Exists(d_.resources, inv->resource)) {
      Problem(what + ": resource " + inv->resource + " does not exist");
    }
    if (!HasDup(d_.inv_by_resource, inv->resource, id)) {
      Problem(what + " is missing from invitations_by_resource");
    }
    if (!HasDup(d_.inv_by_invitee, inv->invitee, id)) {
      Problem(what + " is missing from invitations_by_invitee");
    }
  });
}

// The invitation indexes name existing invitations that name them back.
Status Verifier::CheckInvitationIndexes() {
  Status s;
  for (MDB_dbi index : {d_.inv_by_resource, d_.inv_by_invitee}) {
    const bool by_resource = index == d_.inv_by_resource;
    s = Scan(index, [&](std::string_view key, std::string_view id) {
      std::string_view v;
      const std::string what =
          std::string(by_resource ? "invitations_by_resource"
                                  : "invitations_by_invitee") +
          ": " + std::string(key) + " -> " + std::string(id);
      if (GetRaw(txn_, d_.invitations, id, &v) != 0) {
        Problem(what + ": no such invitation");
        return;
      }
      auto inv = layout::DecodeInvitation(id, v);
      if (inv && (by_resource ? inv->resource : inv->invitee) != key) {
        Problem(what + ": the invitation names another " +
                (by_resource ? std::string("resource") : "invitee"));
      }
    });
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// Changelog entries: revisions within 1..rev, decodable.
Status Verifier::CheckChangelog(Revision rev) {
  return Scan(d_.changelog, [&](std::string_view key, std::string_view v) {
    const Revision r = layout::RevisionFromKey(key);
    if (key.size() != 8 || r == 0 || r > rev) {
      Problem("changelog entry " + std::to_string(r) + " is outside 1.." +
              std::to_string(rev));
    }
    if (!layout::DecodeChangelog(r, v)) {
      Problem("changelog entry " + std::to_string(r) + ": corrupt");
    }
  });
}

}  // namespace

Result<std::vector<std::string>> Store::Verify() {
  auto view_or = Read();
  if (!view_or) return Fail(view_or.error());
  ReadView& view = *view_or;
  Verifier v(view.txn_, *dbis_);
  using Check = Status (Verifier::*)();
  for (Check check :
       {&Verifier::CheckResources, &Verifier::CheckResourceIndexes,
        &Verifier::CheckSubjects, &Verifier::CheckAccess,
        &Verifier::CheckInvitations, &Verifier::CheckInvitationIndexes}) {
    if (Status s = (v.*check)(); !s.ok()) return Fail(s);
  }
  if (Status s = v.CheckChangelog(view.revision()); !s.ok()) return Fail(s);
  if (view.failed()) return Fail(Status::Internal(std::string(view.failure())));
  return v.TakeProblems();
}

}  // namespace portcullis::storage
