#include "explain/reason_text.h"

#include <charconv>
#include <cstdint>

#include "engine/condition.h"
#include "engine/entity.h"
#include "engine/source_location.h"

namespace portcullis::explain {

namespace {

using engine::ReasonCode;

// Appends the decimal form of `n`, as std::to_string writes it.
void AppendInt(int64_t n, std::string* out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out->append(digits, end);
}

// "type:id", as EntityRef::ToString writes it.
void AppendEntity(const engine::EntityRef& e, std::string* out) {
  out->append(e.type).append(":").append(e.id);
}

// " (file:line:column)", as SourceLocation::ToString writes it in brackets.
void AppendLocation(const engine::SourceLocation& l, std::string* out) {
  out->append(" (").append(l.file).append(":");
  AppendInt(l.line, out);
  out->append(":");
  AppendInt(l.column, out);
  out->append(")");
}

std::string_view RoleName(const engine::Policy& policy,
                          const engine::Reason& r) {
  return r.role < policy.roles.size()
             ? std::string_view(policy.roles[r.role].name)
             : std::string_view("?");
}

void AppendEvaluationError(const engine::Reason& r, std::string* out) {
  out->append("evaluation error (denied): ")
      .append(engine::EvalErrorKindName(r.error.kind));
  if (r.error.node && r.error.node->op == engine::ExprOp::kAttr) {
    static constexpr std::string_view kRoots[] = {"subject", "resource",
                                                  "action", "context"};
    out->append(" ")
        .append(kRoots[static_cast<int>(r.error.node->root)])
        .append(".")
        .append(r.error.node->key);
  }
  if (r.condition) out->append(" in `").append(r.condition->text()).append("`");
  if (r.error.node && r.error.node->location.line) {
    AppendLocation(r.error.node->location, out);
  } else if (r.condition) {
    AppendLocation(r.condition->location(), out);
  }
}

}  // namespace

void AppendReasonText(const engine::Policy& policy, const engine::Reason& r,
                      std::string_view action, std::string* out) {
  switch (r.code) {
    case ReasonCode::kGrantedByRole:
      out->append("role ").append(RoleName(policy, r)).append(" on ");
      AppendEntity(r.at, out);
      out->append(" grants ").append(action);
      if (r.grant) AppendLocation(r.grant->location, out);
      return;
    case ReasonCode::kAllowedByRule:
      out->append("allow rule ").append(r.rule->name);
      AppendLocation(r.rule->location, out);
      return;
    case ReasonCode::kDeniedByRule:
      out->append("denied by rule ").append(r.rule->name);
      AppendLocation(r.rule->location, out);
      return;
    case ReasonCode::kRestricted:
      out->append("restricted by override on ");
      AppendEntity(r.at, out);
      if (r.rule) {
        out->append(" (would be allowed by rule ").append(r.rule->name);
      } else {
        out->append(" (role ")
            .append(RoleName(policy, r))
            .append(" would grant ")
            .append(action);
      }
      out->append(")");
      return;
    case ReasonCode::kNotGranted:
      out->append("no role bound on the resource or its ancestors grants ")
          .append(action)
          .append(" (nearest binding: ");
      AppendEntity(r.at, out);
      out->append(")");
      return;
    case ReasonCode::kNoBinding:
      out->append("no binding on ");
      if (r.at.empty()) {
        out->append("the resource");
      } else {
        AppendEntity(r.at, out);
      }
      out->append(" or its ancestors grants ").append(action);
      return;
    case ReasonCode::kBindingPending:
      out->append("the binding on ");
      AppendEntity(r.at, out);
      out->append(" is pending (invitation not accepted)");
      return;
    case ReasonCode::kBindingExpired:
      out->append("the binding on ");
      AppendEntity(r.at, out);
      out->append(" has expired");
      return;
    case ReasonCode::kConditionFalse:
      if (r.rule) {
        out->append("condition of rule ")
            .append(r.rule->name)
            .append(" is false");
        AppendLocation(r.rule->location, out);
        return;
      }
      out->append("condition of role ")
          .append(RoleName(policy, r))
          .append(" is false: ");
      if (r.grant && r.grant->when) out->append(r.grant->when->text());
      if (r.grant) AppendLocation(r.grant->location, out);
      return;
    case ReasonCode::kUnknownSubject:
      out->append("unknown subject ");
      AppendEntity(r.at, out);
      return;
    case ReasonCode::kUnknownResource:
      out->append("unknown resource ");
      AppendEntity(r.at, out);
      return;
    case ReasonCode::kUnknownResourceType:
      out->append("unknown resource type ").append(r.at.type);
      return;
    case ReasonCode::kUnknownAction:
      out->append("unknown action ")
          .append(action)
          .append(" for this resource type");
      return;
    case ReasonCode::kEvaluationError:
      AppendEvaluationError(r, out);
      return;
    case ReasonCode::kStorageError:
      out->append("storage error (denied)");
      return;
    case ReasonCode::kDepthExceeded:
      out->append("the resource's parent chain is deeper than ");
      AppendInt(engine::kMaxDepth, out);
      out->append(" or cyclic (denied)");
      return;
  }
  out->append("unknown");
}

std::string ReasonText(const engine::Policy& policy,
                       const engine::Reason& reason, std::string_view action) {
  std::string out;
  AppendReasonText(policy, reason, action, &out);
  return out;
}

}  // namespace portcullis::explain
