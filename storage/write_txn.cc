// WriteTxn: the mutations of one write transaction, and the LMDB primitives
// of its state (WriteTxn::Impl, store_internal.h) they are built from. The
// rules the mutations check are in write_rules.cc.
#include "storage/store.h"
#include "storage/store_internal.h"

namespace portcullis::storage {

using engine::EntityRef;
using internal::Cursor;
using internal::ForEachDup;
using internal::ForEachPrefix;
using internal::GetRaw;
using internal::LmdbError;
using internal::ReadU64;
using internal::S;
using internal::V;

// ---------------------------------------------------------------------------
// WriteTxn::Impl: LMDB primitives and record-level writes.

void WriteTxn::Impl::Poison(std::string_view what, int rc) {
  if (!poisoned.ok()) return;
  if (rc == MDB_MAP_FULL) {
    map_full = true;
    poisoned = Status(StatusCode::kResourceExhausted, "lmdb map full");
  } else {
    poisoned = LmdbError(what, rc);
  }
}

std::optional<std::string> WriteTxn::Impl::Get(MDB_dbi dbi,
                                               std::string_view key) {
  std::string_view v;
  const int rc = GetRaw(txn, dbi, key, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) {
    Poison("mdb_get", rc);
    return std::nullopt;
  }
  return std::string(v);
}

bool WriteTxn::Impl::Exists(MDB_dbi dbi, std::string_view key) {
  std::string_view v;
  const int rc = GetRaw(txn, dbi, key, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) Poison("mdb_get", rc);
  return rc == 0;
}

void WriteTxn::Impl::Put(MDB_dbi dbi, std::string_view key,
                         std::string_view value, unsigned flags) {
  if (!poisoned.ok()) return;
  if (collect) {
    if (std::optional<Table> t = PrimaryTable(dbi)) {
      touched.emplace_back(*t, std::string(key));
    }
  }
  MDB_val k = V(key), v = V(value);
  const int rc = mdb_put(txn, dbi, &k, &v, flags);
  if (rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA)) return;
  if (rc != 0) Poison("mdb_put", rc);
}

void WriteTxn::Impl::Del(MDB_dbi dbi, std::string_view key,
                         std::optional<std::string_view> value) {
  if (!poisoned.ok()) return;
  if (collect && !value) {
    if (std::optional<Table> t = PrimaryTable(dbi)) {
      touched.emplace_back(*t, std::string(key));
    }
  }
  MDB_val k = V(key), v;
  if (value) v = V(*value);
  const int rc = mdb_del(txn, dbi, &k, value ? &v : nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) Poison("mdb_del", rc);
}

std::vector<std::string> WriteTxn::Impl::Dups(MDB_dbi dbi,
                                              std::string_view key) {
  std::vector<std::string> out;
  const int rc = ForEachDup(txn, dbi, key, {}, [&](std::string_view v) {
    out.emplace_back(v);
    return true;
  });
  if (rc) Poison("cursor", rc);
  return out;
}

void WriteTxn::Impl::AddChange(std::string_view op, std::string_view entity,
                               std::string_view related) {
  ++entry.change_count;
  if (entry.changes.size() < store->options_.max_changes_per_entry) {
    entry.changes.push_back(
        Change{std::string(op), std::string(entity), std::string(related)});
  } else {
    entry.truncated = true;
  }
}

Status WriteTxn::Impl::CheckResourceExists(const std::string& ref) {
  if (Exists(d.resources, ref)) return Status::Ok();
  if (!poisoned.ok()) return poisoned;
  return Status(StatusCode::kNotFound, "resource " + ref + " does not exist",
                "resource");
}

Status WriteTxn::Impl::ReadAccess(const std::string& subject,
                                  const std::string& resource,
                                  std::optional<std::string>* existing,
                                  layout::AccessValue* a) {
  std::string key = subject;
  key.push_back('\0');
  key += resource;
  *existing = Get(d.access, key);
  *a = layout::AccessValue();
  if (*existing) {
    auto dec = layout::DecodeAccess(**existing);
    if (!dec) return Status::Internal("corrupt access record");
    *a = *dec;  // views into **existing, which the caller keeps
  }
  return Status::Ok();
}

void WriteTxn::Impl::EnsureSubject(std::string_view ref) {
  if (Exists(d.subjects, ref)) return;
  std::string blob;
  layout::EncodeAttributes({}, &blob);
  Put(d.subjects, ref, blob);
  const EntityRef e = layout::SplitRef(ref);
  Put(d.subjects_by_type, e.type, e.id, MDB_NODUPDATA);
}

void WriteTxn::Impl::WriteAccess(const std::string& subject,
                                 const std::string& resource,
                                 const layout::AccessValue& a) {
  std::string key = subject;
  key.push_back('\0');
  key += resource;
  if (a.flags == 0) {
    Del(d.access, key);
    Del(d.access_by_resource, resource, subject);
    return;
  }
  std::string value;
  layout::EncodeAccess(a, &value);
  Put(d.access, key, value);
  Put(d.access_by_resource, resource, subject, MDB_NODUPDATA);
}

void WriteTxn::Impl::DeleteInvitationRecord(const std::string& id) {
  auto v = Get(d.invitations, id);
  if (!v) return;
  auto inv = layout::DecodeInvitation(id, *v);
  if (inv) {
    Del(d.inv_by_resource, inv->resource, id);
    Del(d.inv_by_invitee, inv->invitee, id);
  }
  Del(d.invitations, id);
}

void WriteTxn::Impl::DeleteOneResource(const std::string& ref) {
  for (const std::string& subject : Dups(d.access_by_resource, ref)) {
    std::string key = subject;
    key.push_back('\0');
    key += ref;
    Del(d.access, key);
  }
  Del(d.access_by_resource, ref);
  for (const std::string& id : Dups(d.inv_by_resource, ref)) {
    DeleteInvitationRecord(id);
  }
  Del(d.inv_by_resource, ref);
  Del(d.children, ref);
  const EntityRef e = layout::SplitRef(ref);
  Del(d.resources_by_type, e.type, e.id);
  Del(d.resources, ref);
}

Result<Revision> WriteTxn::Impl::Finish() {
  if (!poisoned.ok()) return Fail(poisoned);
  auto cur = Get(d.meta, "revision");
  const Revision rev = (cur ? ReadU64(*cur) : 0) + 1;
  char buf[8];
  std::memcpy(buf, &rev, 8);
  Put(d.meta, "revision", std::string_view(buf, 8));
  entry.revision = rev;
  entry.time = NowMicros();
  WriteChangelog(rev);
  if (!poisoned.ok()) return Fail(poisoned);
  return rev;
}

void WriteTxn::Impl::WriteChangelog(Revision revision) {
  std::string value;
  layout::EncodeChangelog(entry, &value);
  Put(d.changelog, layout::RevisionKey(revision), value);
  const uint64_t keep = store->options_.changelog_retention;
  if (keep > 0 && revision > keep) {
    DeleteChangesUpTo(revision - keep);
  }
}

std::optional<Table> WriteTxn::Impl::PrimaryTable(MDB_dbi dbi) const {
  if (dbi == d.resources) return Table::kResources;
  if (dbi == d.subjects) return Table::kSubjects;
  if (dbi == d.access) return Table::kAccess;
  if (dbi == d.invitations) return Table::kInvitations;
  return std::nullopt;
}

MDB_dbi WriteTxn::Impl::TableDbi(Table t) const {
  switch (t) {
    case Table::kResources: return d.resources;
    case Table::kSubjects: return d.subjects;
    case Table::kAccess: return d.access;
    case Table::kInvitations: return d.invitations;
  }
  return d.resources;
}

Result<ChangeSet> WriteTxn::Impl::CollectChangeSet() {
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  ChangeSet cs;
  cs.revision = entry.revision;
  cs.entry = entry;
  cs.records.reserve(touched.size());
  for (auto& [table, key] : touched) {
    RecordChange rc;
    rc.table = table;
    rc.value = Get(TableDbi(table), key);
    rc.key = std::move(key);
    cs.records.push_back(std::move(rc));
  }
  touched.clear();
  if (!poisoned.ok()) return Fail(poisoned);
  return cs;
}

void WriteTxn::Impl::DeleteChangesUpTo(Revision up_to) {
  Cursor c(txn, d.changelog);
  if (c.open_rc()) {
    Poison("cursor", c.open_rc());
    return;
  }
  MDB_val k, v;
  int rc = c.Get(&k, &v, MDB_FIRST);
  std::vector<std::string> doomed;
  while (rc == 0 && layout::RevisionFromKey(S(k)) <= up_to) {
    doomed.emplace_back(S(k));
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  for (const std::string& key : doomed) Del(d.changelog, key);
}

// ---------------------------------------------------------------------------
// WriteTxn: the mutations.

WriteTxn::WriteTxn(Store* store, MDB_txn* txn, const engine::Policy* policy,
                   std::string_view actor)
    : impl_(std::make_unique<Impl>(store, txn, policy, actor)),
      view_(store, txn, /*owns_txn=*/false) {}

WriteTxn::~WriteTxn() {
  if (impl_->txn != nullptr) mdb_txn_abort(impl_->txn);
}

Status WriteTxn::PutResource(const ResourceRecord& r) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status s = layout::CheckName(r.type, "type"); !s.ok()) return s;
  const std::string key = layout::Ref(r.type, r.id);
  if (Status s = layout::CheckRef(key, "id"); !s.ok()) return s;
  if (!r.parent.empty()) {
    if (Status s = layout::CheckRef(r.parent, "parent"); !s.ok()) return s;
  }
  engine::TypeId tid;
  if (Status s = m.CheckResourceType(r.type, &tid); !s.ok()) return s;
  if (Status s = m.CheckParentType(r.type, tid, r.parent); !s.ok()) return s;
  if (!r.parent.empty() && !m.Exists(m.d.resources, r.parent)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status(StatusCode::kNotFound,
                  "parent " + r.parent + " does not exist", "parent");
  }
  auto existing = m.Get(m.d.resources, key);
  std::string old_parent;
  if (existing) {
    auto dec = layout::DecodeResource(*existing);
    if (!dec) return Status::Internal("corrupt resource record " + key);
    old_parent = std::string(dec->parent);
  }
  if (!existing || old_parent != r.parent) {
    if (Status s = m.CheckNoCycle(key, r.parent); !s.ok()) return s;
  }
  if (existing && old_parent != r.parent && !old_parent.empty()) {
    m.Del(m.d.children, old_parent, key);
  }
  std::string value;
  layout::EncodeResource(r.parent, r.attributes, &value);
  m.Put(m.d.resources, key, value);
  m.Put(m.d.resources_by_type, r.type, r.id, MDB_NODUPDATA);
  if (!r.parent.empty()) m.Put(m.d.children, r.parent, key, MDB_NODUPDATA);
  m.AddChange("resource.put", key, r.parent);
  return m.poisoned;
}

Status WriteTxn::MoveResource(EntityRef resource, EntityRef new_parent) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  const std::string key = resource.ToString();
  const std::string parent = new_parent.empty() ? "" : new_parent.ToString();
  if (Status s = layout::CheckRef(key, "resource"); !s.ok()) return s;
  if (!parent.empty()) {
    if (Status s = layout::CheckRef(parent, "parent"); !s.ok()) return s;
  }
  auto existing = m.Get(m.d.resources, key);
  if (!existing) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("resource " + key + " does not exist");
  }
  if (!parent.empty() && !m.Exists(m.d.resources, parent)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status(StatusCode::kNotFound, "parent " + parent + " does not exist",
                  "parent");
  }
  engine::TypeId tid;
  if (Status s = m.CheckResourceType(resource.type, &tid); !s.ok()) return s;
  if (Status s = m.CheckParentType(resource.type, tid, parent); !s.ok()) {
    return s;
  }
  auto dec = layout::DecodeResource(*existing);
  if (!dec) return Status::Internal("corrupt resource record " + key);
  const std::string old_parent(dec->parent);
  if (old_parent == parent) return Status::Ok();
  if (Status s = m.CheckNoCycle(key, parent); !s.ok()) return s;
  std::string value;
  layout::EncodeResourceRaw(parent, dec->attributes, &value);
  if (!old_parent.empty()) m.Del(m.d.children, old_parent, key);
  m.Put(m.d.resources, key, value);
  if (!parent.empty()) m.Put(m.d.children, parent, key, MDB_NODUPDATA);
  m.AddChange("resource.move", key, parent);
  return m.poisoned;
}

Status WriteTxn::DeleteResource(EntityRef resource) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  const std::string key = resource.ToString();
  auto existing = m.Get(m.d.resources, key);
  if (!existing) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("resource " + key + " does not exist");
  }
  auto dec = layout::DecodeResource(*existing);
  if (!dec) return Status::Internal("corrupt resource record " + key);
  const std::string parent(dec->parent);
  // Breadth-first over the subtree; the children index is read before each
  // resource's own entries are deleted.
  std::vector<std::string> queue{key};
  for (size_t i = 0; i < queue.size() && m.poisoned.ok(); ++i) {
    for (std::string& child : m.Dups(m.d.children, queue[i])) {
      queue.push_back(std::move(child));
    }
  }
  for (const std::string& ref : queue) m.DeleteOneResource(ref);
  if (!parent.empty()) m.Del(m.d.children, parent, key);
  m.AddChange("resource.delete", key,
              std::to_string(queue.size()) + " resources");
  return m.poisoned;
}

Status WriteTxn::PutSubject(const SubjectRecord& s) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status st = layout::CheckName(s.type, "type"); !st.ok()) return st;
  const std::string key = layout::Ref(s.type, s.id);
  if (Status st = layout::CheckRef(key, "id"); !st.ok()) return st;
  if (m.policy != nullptr) {
    const engine::TypeId t = m.policy->FindType(s.type);
    if (t != engine::kNoType && !m.policy->types[t].is_subject) {
      return Status::InvalidArgument(
          "'" + s.type + "' is a resource type, not a subject type", "type");
    }
  }
  std::string blob;
  layout::EncodeAttributes(s.attributes, &blob);
  m.Put(m.d.subjects, key, blob);
  m.Put(m.d.subjects_by_type, s.type, s.id, MDB_NODUPDATA);
  m.AddChange("subject.put", key);
  return m.poisoned;
}

Status WriteTxn::DeleteSubject(EntityRef subject) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  const std::string key = subject.ToString();
  if (!m.Exists(m.d.subjects, key)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("subject " + key + " does not exist");
  }
  std::string prefix = key;
  prefix.push_back('\0');
  std::vector<std::string> resources;
  std::string scratch;
  const int rc =
      ForEachPrefix(m.txn, m.d.access, prefix, {}, &scratch,
                    [&](std::string_view resource, std::string_view) {
                      resources.emplace_back(resource);
                      return true;
                    });
  if (rc) m.Poison("cursor", rc);
  for (const std::string& r : resources) {
    m.Del(m.d.access, prefix + r);
    m.Del(m.d.access_by_resource, r, key);
  }
  for (const std::string& id : m.Dups(m.d.inv_by_invitee, key)) {
    m.DeleteInvitationRecord(id);
  }
  m.Del(m.d.inv_by_invitee, key);
  m.Del(m.d.subjects_by_type, subject.type, subject.id);
  m.Del(m.d.subjects, key);
  m.AddChange("subject.delete", key);
  return m.poisoned;
}

Status WriteTxn::SetBinding(const BindingRecord& b) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status s = layout::CheckRef(b.subject, "subject"); !s.ok()) return s;
  if (Status s = layout::CheckRef(b.resource, "resource"); !s.ok()) return s;
  if (!b.created_by.empty()) {
    if (Status s = layout::CheckRef(b.created_by, "created_by"); !s.ok()) {
      return s;
    }
  }
  if (Status s = m.CheckResourceExists(b.resource); !s.ok()) return s;
  const EntityRef res = layout::SplitRef(b.resource);
  if (!b.roles.empty()) {
    if (Status s = m.CheckSubjectType(layout::SplitRef(b.subject).type);
        !s.ok()) {
      return s;
    }
    if (Status s = m.CheckRoles(b.roles, res.type); !s.ok()) return s;
  }
  std::optional<std::string> existing;
  layout::AccessValue a;
  if (Status s = m.ReadAccess(b.subject, b.resource, &existing, &a); !s.ok()) {
    return s;
  }
  const std::string roles = layout::Pack(b.roles);
  if (b.roles.empty()) {
    a.flags &= ~layout::kHasBinding;
    a.roles = {};
    a.created_by = {};
    a.state = engine::BindingState::kActive;
    a.expires_at = kNoExpiry;
    a.created_at = 0;
  } else {
    a.flags |= layout::kHasBinding;
    a.roles = roles;
    a.state = b.state;
    a.expires_at = b.expires_at;
    a.created_by = b.created_by;
    a.created_at = b.created_at;
    m.EnsureSubject(b.subject);
  }
  if (!existing && a.flags == 0) return Status::Ok();  // nothing to remove
  m.WriteAccess(b.subject, b.resource, a);
  m.AddChange(b.roles.empty() ? "binding.remove" : "binding.set", b.subject,
              b.resource);
  return m.poisoned;
}

Status WriteTxn::SetRestriction(const RestrictionRecord& r) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status s = layout::CheckRef(r.subject, "subject"); !s.ok()) return s;
  if (Status s = layout::CheckRef(r.resource, "resource"); !s.ok()) return s;
  if (Status s = m.CheckResourceExists(r.resource); !s.ok()) return s;
  const EntityRef res = layout::SplitRef(r.resource);
  if (Status s = Impl::CheckActionNames(r.actions); !s.ok()) return s;
  if (!r.actions.empty()) {
    if (Status s = m.CheckSubjectType(layout::SplitRef(r.subject).type);
        !s.ok()) {
      return s;
    }
    if (Status s = m.CheckRestrictable(r.actions, res.type); !s.ok()) {
      return s;
    }
  }
  std::optional<std::string> existing;
  layout::AccessValue a;
  if (Status s = m.ReadAccess(r.subject, r.resource, &existing, &a); !s.ok()) {
    return s;
  }
  const std::string actions = layout::Pack(r.actions);
  if (r.actions.empty()) {
    a.flags &= ~layout::kHasRestriction;
    a.actions = {};
  } else {
    a.flags |= layout::kHasRestriction;
    a.actions = actions;
    m.EnsureSubject(r.subject);
  }
  if (!existing && a.flags == 0) return Status::Ok();
  m.WriteAccess(r.subject, r.resource, a);
  m.AddChange(r.actions.empty() ? "restriction.remove" : "restriction.set",
              r.subject, r.resource);
  return m.poisoned;
}

Status WriteTxn::CreateInvitation(Invitation* inv) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (inv->id.empty()) inv->id = GenerateInvitationId();
  if (inv->id.size() > 128 || inv->id.find('\0') != std::string::npos) {
    return Status::InvalidArgument("invalid invitation id", "id");
  }
  if (Status s = layout::CheckRef(inv->resource, "resource"); !s.ok()) {
    return s;
  }
  if (Status s = layout::CheckRef(inv->invitee, "invitee"); !s.ok()) return s;
  if (!inv->inviter.empty()) {
    if (Status s = layout::CheckRef(inv->inviter, "inviter"); !s.ok()) {
      return s;
    }
  }
  if (inv->roles.empty()) {
    return Status::InvalidArgument("an invitation needs at least one role",
                                   "roles");
  }
  if (Status s = m.CheckResourceExists(inv->resource); !s.ok()) return s;
  if (Status s = m.CheckRoles(inv->roles, layout::SplitRef(inv->resource).type);
      !s.ok()) {
    return s;
  }
  if (m.Exists(m.d.invitations, inv->id)) {
    return Status::AlreadyExists("invitation " + inv->id + " already exists");
  }
  std::string value;
  layout::EncodeInvitation(*inv, &value);
  m.Put(m.d.invitations, inv->id, value);
  m.Put(m.d.inv_by_resource, inv->resource, inv->id, MDB_NODUPDATA);
  m.Put(m.d.inv_by_invitee, inv->invitee, inv->id, MDB_NODUPDATA);
  m.EnsureSubject(inv->invitee);
  m.AddChange("invitation.create", inv->id, inv->invitee);
  return m.poisoned;
}

Status WriteTxn::SetInvitationState(std::string_view id,
                                    InvitationState state) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  auto v = id.empty() ? std::nullopt : m.Get(m.d.invitations, id);
  if (!v) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("invitation " + std::string(id) +
                            " does not exist");
  }
  if (v->empty()) return Status::Internal("corrupt invitation record");
  (*v)[0] = static_cast<char>(state);
  m.Put(m.d.invitations, id, *v);
  m.AddChange("invitation.state", id, InvitationStateName(state));
  return m.poisoned;
}
}  // namespace portcullis::storage
