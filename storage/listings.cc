// ReadView's listings: paginated pages (children, access, ids of a type,
// invitations), the full scans for export and checks, and the changelog.
#include <functional>

#include "storage/store.h"
#include "storage/store_internal.h"

namespace portcullis::storage {

using engine::EntityRef;
using internal::CheckLimit;
using internal::Cursor;
using internal::ForEachDup;
using internal::ForEachPrefix;
using internal::GetRaw;
using internal::LmdbError;
using internal::MakeAccess;
using internal::S;
using internal::ScanAll;
using internal::ScanStep;
using internal::V;

namespace {

// Collects up to limit+1 cursor strings; fills the page's cursor.
template <typename T>
void FinishPage(Page<T>* page, std::vector<std::string>* cursors,
                size_t limit) {
  if (cursors->size() > limit) {
    page->items.resize(limit);
    page->next_cursor = (*cursors)[limit - 1];
  }
}

// One page of the duplicates of `key` in `index` (children of a parent, ids
// of a type), after `after`; the cursor is the last item. `what` names the
// index in errors.
Result<Page<std::string>> ListDups(MDB_txn* txn, MDB_dbi index,
                                   std::string_view key, std::string_view after,
                                   size_t limit, std::string_view what) {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  Page<std::string> page;
  const int rc = ForEachDup(txn, index, key, after, [&](std::string_view v) {
    page.items.emplace_back(v);
    return page.items.size() <= limit;
  });
  if (rc) return Fail(LmdbError(what, rc));
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_cursor = page.items.back();
  }
  return page;
}

}  // namespace

Result<Page<std::string>> ReadView::ListChildren(EntityRef parent,
                                                 std::string_view after,
                                                 size_t limit) const {
  return ListDups(txn_, store_->dbis_->children, parent.ToString(), after,
                  limit, "children");
}

Result<Page<std::string>> ReadView::ListResourcesOfType(std::string_view type,
                                                        std::string_view after,
                                                        size_t limit) const {
  return ListDups(txn_, store_->dbis_->resources_by_type, type, after, limit,
                  "resources by type");
}

Result<Page<std::string>> ReadView::ListSubjectsOfType(std::string_view type,
                                                       std::string_view after,
                                                       size_t limit) const {
  return ListDups(txn_, store_->dbis_->subjects_by_type, type, after, limit,
                  "subjects by type");
}

Result<Page<AccessRecord>> ReadView::ListAccessOn(EntityRef resource,
                                                  std::string_view after,
                                                  size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  const std::string rkey = resource.ToString();
  Page<AccessRecord> page;
  std::vector<std::string> cursors;
  std::string akey;
  int inner = 0;
  const int rc =
      ForEachDup(txn_, store_->dbis_->access_by_resource, rkey, after,
                 [&](std::string_view subject) {
                   akey.assign(subject).push_back('\0');
                   akey.append(rkey);
                   std::string_view v;
                   inner = GetRaw(txn_, store_->dbis_->access, akey, &v);
                   if (inner) return false;
                   auto a = layout::DecodeAccess(v);
                   if (!a) {
                     inner = -1;
                     return false;
                   }
                   page.items.push_back(MakeAccess(subject, rkey, *a));
                   cursors.emplace_back(subject);
                   return cursors.size() <= limit;
                 });
  if (rc) return Fail(LmdbError("access by resource", rc));
  if (inner) {
    return Fail(Status::Internal("access index of " + rkey +
                                 " disagrees with the access records"));
  }
  FinishPage(&page, &cursors, limit);
  return page;
}

Result<Page<AccessRecord>> ReadView::ListAccessOf(EntityRef subject,
                                                  std::string_view after,
                                                  size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  const std::string skey = subject.ToString();
  std::string prefix = skey;
  prefix.push_back('\0');
  Page<AccessRecord> page;
  std::vector<std::string> cursors;
  std::string scratch;
  bool corrupt = false;
  const int rc =
      ForEachPrefix(txn_, store_->dbis_->access, prefix, after, &scratch,
                    [&](std::string_view resource, std::string_view v) {
                      auto a = layout::DecodeAccess(v);
                      if (!a) {
                        corrupt = true;
                        return false;
                      }
                      page.items.push_back(MakeAccess(skey, resource, *a));
                      cursors.emplace_back(resource);
                      return cursors.size() <= limit;
                    });
  if (rc) return Fail(LmdbError("access of subject", rc));
  if (corrupt) return Fail(Status::Internal("corrupt access record"));
  FinishPage(&page, &cursors, limit);
  return page;
}
namespace {

Result<Page<Invitation>> ListInvitations(MDB_txn* txn, const Store::Dbis& d,
                                         MDB_dbi index, std::string_view key,
                                         std::optional<InvitationState> state,
                                         std::string_view after, size_t limit) {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  Page<Invitation> page;
  std::vector<std::string> cursors;
  int inner = 0;
  const int rc = ForEachDup(txn, index, key, after, [&](std::string_view id) {
    std::string_view v;
    inner = GetRaw(txn, d.invitations, id, &v);
    if (inner) return false;
    auto inv = layout::DecodeInvitation(id, v);
    if (!inv) {
      inner = -1;
      return false;
    }
    if (state && inv->state != *state) return true;
    page.items.push_back(std::move(*inv));
    cursors.emplace_back(id);
    return cursors.size() <= limit;
  });
  if (rc) return Fail(LmdbError("invitation index", rc));
  if (inner) {
    return Fail(Status::Internal(
        "invitation index disagrees with the invitation records"));
  }
  FinishPage(&page, &cursors, limit);
  return page;
}

}  // namespace

Result<Page<Invitation>> ReadView::ListInvitationsOn(
    EntityRef resource, std::optional<InvitationState> state,
    std::string_view after, size_t limit) const {
  return ListInvitations(txn_, *store_->dbis_, store_->dbis_->inv_by_resource,
                         resource.ToString(), state, after, limit);
}

Result<Page<Invitation>> ReadView::ListInvitationsFor(
    EntityRef invitee, std::optional<InvitationState> state,
    std::string_view after, size_t limit) const {
  return ListInvitations(txn_, *store_->dbis_, store_->dbis_->inv_by_invitee,
                         invitee.ToString(), state, after, limit);
}
namespace {

ScanStep StepFor(bool more) {
  return more ? ScanStep::kContinue : ScanStep::kStop;
}

}  // namespace

Status ReadView::ScanTable(
    Table table,
    const std::function<bool(std::string_view key, std::string_view value)>&
        fn) const {
  const Store::Dbis& d = *store_->dbis_;
  MDB_dbi dbi = d.resources;
  switch (table) {
    case Table::kResources: dbi = d.resources; break;
    case Table::kSubjects: dbi = d.subjects; break;
    case Table::kAccess: dbi = d.access; break;
    case Table::kInvitations: dbi = d.invitations; break;
  }
  return ScanAll(txn_, dbi,
                 [&](std::string_view key,
                     std::string_view v) -> Result<ScanStep> {
                   return StepFor(fn(key, v));
                 });
}

Status ReadView::ForEachResourceRecord(
    const std::function<bool(const ResourceRecord&)>& fn) const {
  return ScanAll(
      txn_, store_->dbis_->resources,
      [&](std::string_view key, std::string_view v) -> Result<ScanStep> {
        auto dec = layout::DecodeResource(v);
        ResourceRecord rec;
        if (!dec ||
            !layout::DecodeAttributes(dec->attributes, &rec.attributes)) {
          return Fail(
              Status::Internal("corrupt resource record " + std::string(key)));
        }
        const EntityRef e = layout::SplitRef(key);
        rec.type = std::string(e.type);
        rec.id = std::string(e.id);
        rec.parent = std::string(dec->parent);
        return StepFor(fn(rec));
      });
}

Status ReadView::ForEachSubjectRecord(
    const std::function<bool(const SubjectRecord&)>& fn) const {
  return ScanAll(
      txn_, store_->dbis_->subjects,
      [&](std::string_view key, std::string_view v) -> Result<ScanStep> {
        SubjectRecord rec;
        if (!layout::DecodeAttributes(v, &rec.attributes)) {
          return Fail(
              Status::Internal("corrupt subject record " + std::string(key)));
        }
        const EntityRef e = layout::SplitRef(key);
        rec.type = std::string(e.type);
        rec.id = std::string(e.id);
        return StepFor(fn(rec));
      });
}

Status ReadView::ForEachAccessRecord(
    const std::function<bool(const AccessRecord&)>& fn) const {
  return ScanAll(
      txn_, store_->dbis_->access,
      [&](std::string_view key, std::string_view v) -> Result<ScanStep> {
        const size_t nul = key.find('\0');
        auto a = layout::DecodeAccess(v);
        if (nul == std::string_view::npos || !a) {
          return Fail(Status::Internal("corrupt access record"));
        }
        return StepFor(
            fn(MakeAccess(key.substr(0, nul), key.substr(nul + 1), *a)));
      });
}

Status ReadView::ForEachInvitation(
    const std::function<bool(const Invitation&)>& fn) const {
  return ScanAll(
      txn_, store_->dbis_->invitations,
      [&](std::string_view key, std::string_view v) -> Result<ScanStep> {
        auto inv = layout::DecodeInvitation(key, v);
        if (!inv) {
          return Fail(
              Status::Internal("corrupt invitation " + std::string(key)));
        }
        return StepFor(fn(*inv));
      });
}

Revision ReadView::OldestChange() const {
  Cursor c(txn_, store_->dbis_->changelog);
  MDB_val k, v;
  if (c.open_rc() || c.Get(&k, &v, MDB_FIRST) != 0) return 0;
  return layout::RevisionFromKey(S(k));
}

Result<std::vector<ChangelogEntry>> ReadView::Changes(Revision since,
                                                      size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  const Revision latest = revision();
  std::vector<ChangelogEntry> out;
  if (since >= latest) return out;
  const Revision oldest = OldestChange();
  if (oldest == 0 || oldest > since + 1) {
    return Fail(Status(StatusCode::kGone,
                       "changes after revision " + std::to_string(since) +
                           " were compacted away; the oldest kept is " +
                           std::to_string(oldest) +
                           " (resynchronize from an export)"));
  }
  Cursor c(txn_, store_->dbis_->changelog);
  if (c.open_rc()) return Fail(LmdbError("changelog", c.open_rc()));
  const std::string start = layout::RevisionKey(since + 1);
  MDB_val k = V(start), v;
  int rc = c.Get(&k, &v, MDB_SET_RANGE);
  while (rc == 0 && out.size() < limit) {
    auto e = layout::DecodeChangelog(layout::RevisionFromKey(S(k)), S(v));
    if (!e) return Fail(Status::Internal("corrupt changelog entry"));
    out.push_back(std::move(*e));
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return Fail(LmdbError("changelog", rc));
  return out;
}
}  // namespace portcullis::storage
