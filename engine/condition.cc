#include "engine/condition.h"

#include <optional>

namespace portcullis::engine {
namespace {

struct Eval {
  const Condition& cond;
  const ConditionInputs& in;
  EvalError* error;

  bool Fail(EvalErrorKind kind, const ExprNode& node) {
    error->kind = kind;
    error->node = &node;
    return false;
  }

  // Reads root.key. Returns nullopt if it does not exist.
  std::optional<Value> ReadAttr(const ExprNode& n) {
    switch (n.root) {
      case AttrRoot::kSubject:
        if (n.key == "id") return Value::String(in.subject.id);
        if (n.key == "type") return Value::String(in.subject.type);
        if (const Value* v = FindAttribute(in.subject_properties, n.key)) {
          return *v;
        }
        if (in.data) {
          return in.data->GetAttribute(EntityKind::kSubject, in.subject, n.key);
        }
        return std::nullopt;
      case AttrRoot::kResource:
        if (n.key == "id") return Value::String(in.resource.id);
        if (n.key == "type") return Value::String(in.resource.type);
        if (const Value* v = FindAttribute(in.resource_properties, n.key)) {
          return *v;
        }
        if (in.data) {
          return in.data->GetAttribute(EntityKind::kResource, in.resource,
                                       n.key);
        }
        return std::nullopt;
      case AttrRoot::kAction:
        if (n.key == "name") return Value::String(in.action);
        if (const Value* v = FindAttribute(in.action_properties, n.key)) {
          return *v;
        }
        return std::nullopt;
      case AttrRoot::kContext:
        if (const Value* v = FindAttribute(in.context, n.key)) return *v;
        return std::nullopt;
    }
    return std::nullopt;
  }

  static bool IsNumber(const Value& v) {
    return v.kind == ValueKind::kInt || v.kind == ValueKind::kDouble;
  }
  static double AsDouble(const Value& v) {
    return v.kind == ValueKind::kInt ? static_cast<double>(v.i) : v.d;
  }

  // Brings a string and a timestamp to two timestamps, if the string is one.
  static bool Timestamps(const Value& a, const Value& b, int64_t* x,
                         int64_t* y) {
    auto as_ts = [](const Value& v, int64_t* out) {
      if (v.kind == ValueKind::kTimestamp) {
        *out = v.i;
        return true;
      }
      if (v.kind == ValueKind::kString) {
        auto t = ParseRfc3339(v.s);
        if (!t) return false;
        *out = *t;
        return true;
      }
      return false;
    };
    if (a.kind != ValueKind::kTimestamp && b.kind != ValueKind::kTimestamp) {
      return false;
    }
    return as_ts(a, x) && as_ts(b, y);
  }

  // Three-way comparison; returns false on incomparable kinds.
  // `ordered` requests an ordering (<, >), which bools, nulls and lists lack.
  static bool Compare(const Value& a, const Value& b, bool ordered, int* out) {
    int64_t x, y;
    if (IsNumber(a) && IsNumber(b)) {
      if (a.kind == ValueKind::kInt && b.kind == ValueKind::kInt) {
        *out = a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
      } else {
        const double p = AsDouble(a), q = AsDouble(b);
        *out = p < q ? -1 : (p > q ? 1 : 0);
      }
      return true;
    }
    if (Timestamps(a, b, &x, &y)) {
      *out = x < y ? -1 : (x > y ? 1 : 0);
      return true;
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
      case ValueKind::kString:
        *out = a.s.compare(b.s);
        *out = *out < 0 ? -1 : (*out > 0 ? 1 : 0);
        return true;
      case ValueKind::kBool:
        if (ordered) return false;
        *out = a.b == b.b ? 0 : 1;
        return true;
      case ValueKind::kNull:
        if (ordered) return false;
        *out = 0;
        return true;
      case ValueKind::kList: {
        if (ordered) return false;
        if (a.list.size() != b.list.size()) {
          *out = 1;
          return true;
        }
        for (size_t i = 0; i < a.list.size(); ++i) {
          int c;
          if (!Compare(a.list[i], b.list[i], false, &c) || c != 0) {
            *out = 1;
            return true;
          }
        }
        *out = 0;
        return true;
      }
      default:
        return false;
    }
  }

  // Equality that treats a comparison with null as "not equal" rather than
  // an error, so `resource.owner != null` reads naturally.
  bool Equal(const Value& a, const Value& b, const ExprNode& n, bool* eq) {
    if (a.kind == ValueKind::kNull || b.kind == ValueKind::kNull) {
      *eq = a.kind == b.kind;
      return true;
    }
    int c;
    if (!Compare(a, b, false, &c)) return Fail(EvalErrorKind::kTypeMismatch, n);
    *eq = c == 0;
    return true;
  }

  // kAnd and kOr, short-circuiting on the left operand.
  bool RunLogical(const ExprNode& n, Value* out) {
    Value l;
    if (!Run(n.child[0], &l)) return false;
    if (l.kind != ValueKind::kBool) {
      return Fail(EvalErrorKind::kTypeMismatch, n);
    }
    if (n.op == ExprOp::kAnd && !l.b) {
      *out = Value::Bool(false);
      return true;
    }
    if (n.op == ExprOp::kOr && l.b) {
      *out = Value::Bool(true);
      return true;
    }
    Value r;
    if (!Run(n.child[1], &r)) return false;
    if (r.kind != ValueKind::kBool) {
      return Fail(EvalErrorKind::kTypeMismatch, n);
    }
    *out = Value::Bool(r.b);
    return true;
  }

  // kIn: a list node on the right is evaluated element by element and stops
  // at the first equal one; any other right side must be a list value.
  bool RunIn(const ExprNode& n, Value* out) {
    Value l;
    if (!Run(n.child[0], &l)) return false;
    const ExprNode& rhs = cond.nodes()[n.child[1]];
    if (rhs.op == ExprOp::kList) {
      for (uint32_t c : rhs.list_children) {
        Value e;
        if (!Run(c, &e)) return false;
        bool eq;
        if (!Equal(l, e, n, &eq)) return false;
        if (eq) {
          *out = Value::Bool(true);
          return true;
        }
      }
      *out = Value::Bool(false);
      return true;
    }
    Value r;
    if (!Run(n.child[1], &r)) return false;
    if (r.kind != ValueKind::kList) {
      return Fail(EvalErrorKind::kTypeMismatch, n);
    }
    for (const Value& e : r.list) {
      bool eq;
      if (!Equal(l, e, n, &eq)) return false;
      if (eq) {
        *out = Value::Bool(true);
        return true;
      }
    }
    *out = Value::Bool(false);
    return true;
  }

  bool Run(uint32_t index, Value* out) {
    const ExprNode& n = cond.nodes()[index];
    switch (n.op) {
      case ExprOp::kLiteral:
        *out = n.literal;
        return true;
      case ExprOp::kNow:
        *out = Value::Timestamp(in.now);
        return true;
      case ExprOp::kAttr: {
        std::optional<Value> v = ReadAttr(n);
        if (in.data && in.data->failed()) {
          return Fail(EvalErrorKind::kStorage, n);
        }
        if (!v) return Fail(EvalErrorKind::kMissingAttribute, n);
        *out = *v;
        return true;
      }
      case ExprOp::kHas: {
        std::optional<Value> v = ReadAttr(n);
        if (in.data && in.data->failed()) {
          return Fail(EvalErrorKind::kStorage, n);
        }
        *out = Value::Bool(v.has_value());
        return true;
      }
      case ExprOp::kList:
        // A list literal of constants is folded by the parser into a
        // kLiteral; this node only appears for lists with attribute
        // elements, which `in` evaluates element by element.
        return Fail(EvalErrorKind::kTypeMismatch, n);
      case ExprOp::kNot: {
        Value v;
        if (!Run(n.child[0], &v)) return false;
        if (v.kind != ValueKind::kBool) {
          return Fail(EvalErrorKind::kTypeMismatch, n);
        }
        *out = Value::Bool(!v.b);
        return true;
      }
      case ExprOp::kAnd:
      case ExprOp::kOr:
        return RunLogical(n, out);
      case ExprOp::kEq:
      case ExprOp::kNe: {
        Value l, r;
        if (!Run(n.child[0], &l) || !Run(n.child[1], &r)) return false;
        bool eq;
        if (!Equal(l, r, n, &eq)) return false;
        *out = Value::Bool(n.op == ExprOp::kEq ? eq : !eq);
        return true;
      }
      case ExprOp::kLt:
      case ExprOp::kLe:
      case ExprOp::kGt:
      case ExprOp::kGe: {
        Value l, r;
        if (!Run(n.child[0], &l) || !Run(n.child[1], &r)) return false;
        int c;
        if (!Compare(l, r, true, &c)) {
          return Fail(EvalErrorKind::kTypeMismatch, n);
        }
        bool v = n.op == ExprOp::kLt   ? c < 0
                 : n.op == ExprOp::kLe ? c <= 0
                 : n.op == ExprOp::kGt ? c > 0
                                       : c >= 0;
        *out = Value::Bool(v);
        return true;
      }
      case ExprOp::kIn:
        return RunIn(n, out);
    }
    return Fail(EvalErrorKind::kTypeMismatch, n);
  }
};

}  // namespace

std::string_view EvalErrorKindName(EvalErrorKind kind) {
  switch (kind) {
    case EvalErrorKind::kNone: return "none";
    case EvalErrorKind::kMissingAttribute: return "missing attribute";
    case EvalErrorKind::kTypeMismatch: return "type mismatch";
    case EvalErrorKind::kStorage: return "storage error";
  }
  return "unknown";
}

std::string_view Condition::InternString(std::string_view s) {
  strings_.push_back(std::make_unique<std::string>(s));
  return *strings_.back();
}

std::span<const Value> Condition::InternList(std::vector<Value> values) {
  lists_.push_back(std::make_unique<std::vector<Value>>(std::move(values)));
  return *lists_.back();
}

uint32_t Condition::AddNode(ExprNode node) {
  nodes_.push_back(std::move(node));
  return static_cast<uint32_t>(nodes_.size() - 1);
}

ConditionResult Condition::Evaluate(const ConditionInputs& in,
                                    EvalError* error) const {
  EvalError local;
  EvalError* err = error ? error : &local;
  *err = EvalError{};
  if (nodes_.empty()) return ConditionResult::kTrue;
  Eval e{*this, in, err};
  Value v;
  if (!e.Run(root_, &v)) return ConditionResult::kError;
  if (v.kind != ValueKind::kBool) {
    err->kind = EvalErrorKind::kTypeMismatch;
    err->node = &nodes_[root_];
    return ConditionResult::kError;
  }
  return v.b ? ConditionResult::kTrue : ConditionResult::kFalse;
}

}  // namespace portcullis::engine
