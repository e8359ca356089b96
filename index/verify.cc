#include "index/verify.h"

#include "index/index_view.h"
#include "storage/layout.h"

namespace portcullis::index {
namespace {

engine::EntityRef Split(std::string_view ref) {
  const size_t colon = ref.find(':');
  if (colon == std::string_view::npos) return {ref, {}};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

constexpr size_t kMaxProblems = 100;

}  // namespace

std::vector<std::string> VerifyIndex(const DecisionIndex& index,
                                     storage::ReadView* view) {
  std::vector<std::string> problems;
  uint64_t resources = 0, subjects = 0, access = 0;
  {
    const IndexView indexed(&index, view);
    if (!indexed.indexed()) {
      return {
          "decision index: not comparable (not ready, or not at the "
          "store's revision " +
          std::to_string(view->revision()) + ")"};
    }
    auto report = [&](std::string line) {
      if (problems.size() < kMaxProblems) {
        problems.push_back("decision index: " + std::move(line));
      }
      return problems.size() < kMaxProblems;
    };
    Status s = view->ScanTable(
        storage::Table::kResources,
        [&](std::string_view key, std::string_view v) {
          ++resources;
          auto rec = storage::layout::DecodeResource(v);
          auto info = indexed.GetResource(Split(key));
          if (!rec)
            return report("unreadable resource record " + std::string(key));
          if (!info) return report(std::string(key) + " is missing");
          const std::string got =
              info->parent.empty() ? "" : info->parent.ToString();
          if (got == rec->parent) return true;
          return report(std::string(key) + " has parent '" + got +
                        "', the store '" + std::string(rec->parent) + "'");
        });
    if (s.ok()) {
      s = view->ScanTable(storage::Table::kSubjects,
                          [&](std::string_view key, std::string_view) {
                            ++subjects;
                            if (indexed.SubjectExists(Split(key))) return true;
                            return report(std::string(key) + " is missing");
                          });
    }
    if (s.ok()) {
      s = view->ScanTable(storage::Table::kAccess, [&](std::string_view key,
                                                       std::string_view v) {
        ++access;
        const size_t nul = key.find('\0');
        auto rec = storage::layout::DecodeAccess(v);
        if (nul == std::string_view::npos || !rec) {
          return report("unreadable access record");
        }
        const std::string_view subject = key.substr(0, nul);
        const std::string_view resource = key.substr(nul + 1);
        const engine::SubjectAccess a =
            indexed.GetAccess(Split(subject), Split(resource));
        const bool binding = rec->flags & storage::layout::kHasBinding;
        const bool restriction = rec->flags & storage::layout::kHasRestriction;
        const bool same =
            a.binding.has_value() == binding &&
            a.restriction.has_value() == restriction &&
            (!binding || (a.binding->roles.packed() == rec->roles &&
                          a.binding->state == rec->state &&
                          a.binding->expires_at == rec->expires_at)) &&
            (!restriction || a.restriction->actions.packed() == rec->actions);
        if (same) return true;
        return report("access of " + std::string(subject) + " on " +
                      std::string(resource) + " differs");
      });
    }
    if (!s.ok())
      return {"decision index: cannot read the store: " + s.ToString()};
  }  // the view's hold on the index ends before stats() takes it
  if (problems.empty()) {
    // The parent links agree with LMDB: the ordered sets must agree with
    // them.
    for (std::string& line : index.CheckOrderedSets(kMaxProblems)) {
      problems.push_back("decision index: " + std::move(line));
    }
  }
  const DecisionIndex::Stats st = index.stats();
  if (st.resources != resources || st.subjects != subjects ||
      st.access != access) {
    problems.push_back(
        "decision index: holds " + std::to_string(st.resources) +
        " resources, " + std::to_string(st.subjects) + " subjects, " +
        std::to_string(st.access) + " access entries; the store " +
        std::to_string(resources) + ", " + std::to_string(subjects) + ", " +
        std::to_string(access));
  }
  return problems;
}

}  // namespace portcullis::index
