#include "engine/memory_data.h"

#include <algorithm>
#include <cstring>

#include "engine/hash.h"

namespace portcullis::engine {
namespace {

using hash::Fold;
using hash::kSeed;

// Splits a stored "type:id" key.
EntityRef SplitKey(std::string_view key) {
  const size_t colon = key.find(':');
  return EntityRef{key.substr(0, colon), key.substr(colon + 1)};
}

std::string Pack(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out.push_back('\0');
    out += names[i];
  }
  return out;
}

std::string JoinKey(std::string_view type, std::string_view id) {
  std::string k;
  k.reserve(type.size() + id.size() + 1);
  k.append(type).append(":").append(id);
  return k;
}

}  // namespace

size_t MemoryData::AccessHash::operator()(const AccessKey& k) const {
  return Fold(Fold(kSeed, RefHash()(k.subject)), RefHash()(k.resource));
}

size_t MemoryData::AccessHash::operator()(const AccessProbe& p) const noexcept {
  return Fold(Fold(kSeed, RefHash()(p.subject)), RefHash()(p.resource));
}

Value MemoryData::ToView(const OwnedValue& v, Entity* e) {
  switch (v.kind) {
    case ValueKind::kNull: return Value::Null();
    case ValueKind::kBool: return Value::Bool(v.b);
    case ValueKind::kInt: return Value::Int(v.i);
    case ValueKind::kDouble: return Value::Double(v.d);
    case ValueKind::kString: return Value::String(v.s);
    case ValueKind::kTimestamp: return Value::Timestamp(v.i);
    case ValueKind::kList: {
      auto elems = std::make_unique<std::vector<Value>>();
      for (const OwnedValue& x : v.list) elems->push_back(ToView(x, e));
      e->list_storage.push_back(std::move(elems));
      return Value::List(*e->list_storage.back());
    }
  }
  return Value::Null();
}

void MemoryData::RebuildViews(Entity* e) {
  e->views.clear();
  e->list_storage.clear();
  for (const auto& [k, v] : e->attributes) e->views[k] = ToView(v, e);
}

void MemoryData::PutResource(std::string_view type, std::string_view id,
                             std::string_view parent_type,
                             std::string_view parent_id) {
  const std::string key = JoinKey(type, id);
  Entity& e = resources_[key];
  if (!e.parent_key.empty()) {
    auto& siblings = children_[e.parent_key];
    siblings.erase(std::remove(siblings.begin(), siblings.end(), key),
                   siblings.end());
  }
  e.type = std::string(type);
  e.id = std::string(id);
  e.parent_key = parent_type.empty() ? std::string()
                                     : JoinKey(parent_type, parent_id);
  e.parent = e.parent_key.empty() ? EntityRef{} : SplitKey(e.parent_key);
  if (!e.parent_key.empty()) children_[e.parent_key].push_back(key);
}

void MemoryData::PutSubject(std::string_view type, std::string_view id) {
  Entity& e = subjects_[JoinKey(type, id)];
  e.type = std::string(type);
  e.id = std::string(id);
}

MemoryData::Entity* MemoryData::FindEntity(EntityKind kind, EntityRef e) {
  auto& m = kind == EntityKind::kSubject ? subjects_ : resources_;
  auto it = m.find(e);
  return it == m.end() ? nullptr : &it->second;
}

const MemoryData::Entity* MemoryData::FindEntity(EntityKind kind,
                                                 EntityRef e) const {
  const auto& m = kind == EntityKind::kSubject ? subjects_ : resources_;
  auto it = m.find(e);
  return it == m.end() ? nullptr : &it->second;
}

void MemoryData::SetAttribute(EntityKind kind, std::string_view type,
                              std::string_view id, std::string_view key,
                              OwnedValue value) {
  Entity* e = FindEntity(kind, EntityRef{type, id});
  if (e == nullptr) {
    if (kind == EntityKind::kSubject) {
      PutSubject(type, id);
    } else {
      PutResource(type, id);
    }
    e = FindEntity(kind, EntityRef{type, id});
  }
  e->attributes[std::string(key)] = std::move(value);
  RebuildViews(e);
}

MemoryData::Access& MemoryData::AccessFor(EntityRef subject,
                                          EntityRef resource) {
  if (FindEntity(EntityKind::kSubject, subject) == nullptr) {
    PutSubject(subject.type, subject.id);
  }
  auto it = access_.find(AccessProbe{subject, resource});
  if (it != access_.end()) return it->second;
  AccessKey key{JoinKey(subject.type, subject.id),
                JoinKey(resource.type, resource.id)};
  const AccessEntry* entry = &*access_.emplace(std::move(key), Access()).first;
  access_of_[entry->first.subject].push_back(entry);
  access_on_[entry->first.resource].push_back(entry);
  return const_cast<Access&>(entry->second);
}

void MemoryData::SetBinding(EntityRef subject, EntityRef resource,
                            const std::vector<std::string>& roles,
                            BindingState state, TimestampMicros expires_at) {
  Access& a = AccessFor(subject, resource);
  a.has_binding = !roles.empty();
  a.roles_packed = Pack(roles);
  a.state = state;
  a.expires_at = expires_at;
}

void MemoryData::SetRestriction(EntityRef subject, EntityRef resource,
                                const std::vector<std::string>& actions) {
  Access& a = AccessFor(subject, resource);
  a.has_restriction = !actions.empty();
  a.restricted_packed = Pack(actions);
}

std::optional<ResourceInfo> MemoryData::GetResource(EntityRef resource) const {
  const Entity* e = FindEntity(EntityKind::kResource, resource);
  if (e == nullptr) return std::nullopt;
  return ResourceInfo{e->parent};
}

bool MemoryData::SubjectExists(EntityRef subject) const {
  return FindEntity(EntityKind::kSubject, subject) != nullptr;
}

SubjectAccess MemoryData::GetAccess(EntityRef subject,
                                    EntityRef resource) const {
  SubjectAccess out;
  auto it = access_.find(AccessProbe{subject, resource});
  if (it == access_.end()) return out;
  const Access& a = it->second;
  if (a.has_binding) {
    out.binding = StoredBinding{PackedNames(a.roles_packed), a.state,
                                a.expires_at};
  }
  if (a.has_restriction) {
    out.restriction = StoredRestriction{PackedNames(a.restricted_packed)};
  }
  return out;
}

std::optional<Value> MemoryData::GetAttribute(EntityKind kind, EntityRef entity,
                                              std::string_view key) const {
  const Entity* e = FindEntity(kind, entity);
  if (e == nullptr) return std::nullopt;
  auto it = e->views.find(key);
  if (it == e->views.end()) return std::nullopt;
  return it->second;
}

void MemoryData::ForEachChild(EntityRef parent,
                              const std::function<bool(EntityRef)>& fn) const {
  auto it = children_.find(parent);
  if (it == children_.end()) return;
  for (const std::string& child : it->second) {
    if (!fn(SplitKey(child))) return;
  }
}

void MemoryData::ForEachBindingOn(
    EntityRef resource,
    const std::function<bool(EntityRef, const StoredBinding&)>& fn) const {
  auto it = access_on_.find(resource);
  if (it == access_on_.end()) return;
  for (const AccessEntry* entry : it->second) {
    const Access& a = entry->second;
    if (!a.has_binding) continue;
    StoredBinding b{PackedNames(a.roles_packed), a.state, a.expires_at};
    if (!fn(SplitKey(entry->first.subject), b)) return;
  }
}

void MemoryData::ForEachBindingOf(
    EntityRef subject,
    const std::function<bool(EntityRef, const StoredBinding&)>& fn) const {
  auto it = access_of_.find(subject);
  if (it == access_of_.end()) return;
  for (const AccessEntry* entry : it->second) {
    const Access& a = entry->second;
    if (!a.has_binding) continue;
    StoredBinding b{PackedNames(a.roles_packed), a.state, a.expires_at};
    if (!fn(SplitKey(entry->first.resource), b)) return;
  }
}

void MemoryData::ForEachResourceOfType(
    std::string_view type, const std::function<bool(EntityRef)>& fn) const {
  for (const auto& [key, e] : resources_) {
    if (e.type == type && !fn(EntityRef{e.type, e.id})) return;
  }
}

void MemoryData::ForEachSubjectOfType(
    std::string_view type, const std::function<bool(EntityRef)>& fn) const {
  for (const auto& [key, e] : subjects_) {
    if (e.type == type && !fn(EntityRef{e.type, e.id})) return;
  }
}

}  // namespace portcullis::engine
