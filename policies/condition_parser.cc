#include "policies/condition_parser.h"

#include <cerrno>
#include <cstdlib>
#include <optional>

#include "common/clock.h"
#include "policies/yaml_util.h"

namespace portcullis::policies {
namespace {

using engine::AttrRoot;
using engine::ExprNode;
using engine::ExprOp;
using engine::Value;
using engine::ValueKind;

constexpr int kMaxNesting = 64;

enum class Tok {
  kEnd, kIdent, kString, kInt, kFloat,
  kEq, kNe, kLt, kLe, kGt, kGe, kNot, kAnd, kOr,
  kLParen, kRParen, kLBracket, kRBracket, kComma, kDot, kError,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t offset = 0;
  std::string text;  // identifier, decoded string, number text, or error
};

// What the compiler knows statically about a node's value.
enum class SKind { kUnknown, kNull, kBool, kInt, kNumber, kString, kTimestamp, kList };

const char* SKindName(SKind k) {
  switch (k) {
    case SKind::kUnknown: return "unknown";
    case SKind::kNull: return "null";
    case SKind::kBool: return "bool";
    case SKind::kInt: return "int";
    case SKind::kNumber: return "number";
    case SKind::kString: return "string";
    case SKind::kTimestamp: return "timestamp";
    case SKind::kList: return "list";
  }
  return "?";
}

bool IsNumeric(SKind k) { return k == SKind::kInt || k == SKind::kNumber; }
bool IsTimeLike(SKind k) {
  return k == SKind::kString || k == SKind::kTimestamp;
}

SKind FromValueKind(ValueKind k) {
  switch (k) {
    case ValueKind::kNull: return SKind::kNull;
    case ValueKind::kBool: return SKind::kBool;
    case ValueKind::kInt: return SKind::kInt;
    case ValueKind::kDouble: return SKind::kNumber;
    case ValueKind::kString: return SKind::kString;
    case ValueKind::kTimestamp: return SKind::kTimestamp;
    case ValueKind::kList: return SKind::kList;
  }
  return SKind::kUnknown;
}

SKind FromAttributeType(engine::AttributeType t) {
  switch (t) {
    case engine::AttributeType::kAny: return SKind::kUnknown;
    case engine::AttributeType::kBool: return SKind::kBool;
    case engine::AttributeType::kInt: return SKind::kInt;
    case engine::AttributeType::kNumber: return SKind::kNumber;
    case engine::AttributeType::kString: return SKind::kString;
    case engine::AttributeType::kTimestamp: return SKind::kTimestamp;
    case engine::AttributeType::kList: return SKind::kList;
  }
  return SKind::kUnknown;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token Next() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
    Token t;
    t.offset = pos_;
    if (pos_ >= text_.size()) return t;
    const char c = text_[pos_];
    auto two = [&](char next) {
      return pos_ + 1 < text_.size() && text_[pos_ + 1] == next;
    };
    auto op = [&](Tok k, size_t n) {
      t.kind = k;
      t.text = std::string(text_.substr(pos_, n));
      pos_ += n;
      return t;
    };
    if (IsIdentStart(c)) {
      size_t end = pos_;
      while (end < text_.size() && IsIdentChar(text_[end])) ++end;
      t.kind = Tok::kIdent;
      t.text = std::string(text_.substr(pos_, end - pos_));
      pos_ = end;
      return t;
    }
    if ((c >= '0' && c <= '9') ||
        (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' &&
         text_[pos_ + 1] <= '9')) {
      return Number();
    }
    if (c == '"' || c == '\'') return String(c);
    switch (c) {
      case '=':
        if (two('=')) return op(Tok::kEq, 2);
        return Error("unexpected '=' (use '==' to compare)");
      case '!':
        if (two('=')) return op(Tok::kNe, 2);
        return op(Tok::kNot, 1);
      case '<':
        if (two('=')) return op(Tok::kLe, 2);
        return op(Tok::kLt, 1);
      case '>':
        if (two('=')) return op(Tok::kGe, 2);
        return op(Tok::kGt, 1);
      case '&':
        if (two('&')) return op(Tok::kAnd, 2);
        return Error("unexpected '&' (use '&&')");
      case '|':
        if (two('|')) return op(Tok::kOr, 2);
        return Error("unexpected '|' (use '||')");
      case '(': return op(Tok::kLParen, 1);
      case ')': return op(Tok::kRParen, 1);
      case '[': return op(Tok::kLBracket, 1);
      case ']': return op(Tok::kRBracket, 1);
      case ',': return op(Tok::kComma, 1);
      case '.': return op(Tok::kDot, 1);
      default: {
        std::string shown(1, c);
        if (static_cast<unsigned char>(c) < 0x20 ||
            static_cast<unsigned char>(c) >= 0x7f) {
          shown = "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 0xf]) +
                  std::string(1, "0123456789abcdef"[c & 0xf]);
        }
        return Error("unexpected character '" + shown + "'");
      }
    }
  }

 private:
  static bool IsIdentStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  static bool IsIdentChar(char c) {
    return IsIdentStart(c) || (c >= '0' && c <= '9');
  }

  Token Error(std::string message) {
    Token t;
    t.kind = Tok::kError;
    t.offset = pos_;
    t.text = std::move(message);
    return t;
  }

  Token Number() {
    Token t;
    t.offset = pos_;
    size_t end = pos_;
    if (text_[end] == '-') ++end;
    bool is_float = false;
    while (end < text_.size() && text_[end] >= '0' && text_[end] <= '9') ++end;
    if (end + 1 < text_.size() && text_[end] == '.' && text_[end + 1] >= '0' &&
        text_[end + 1] <= '9') {
      is_float = true;
      ++end;
      while (end < text_.size() && text_[end] >= '0' && text_[end] <= '9') {
        ++end;
      }
    }
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t e = end + 1;
      if (e < text_.size() && (text_[e] == '-' || text_[e] == '+')) ++e;
      if (e < text_.size() && text_[e] >= '0' && text_[e] <= '9') {
        is_float = true;
        end = e;
        while (end < text_.size() && text_[end] >= '0' && text_[end] <= '9') {
          ++end;
        }
      }
    }
    if (end < text_.size() && IsIdentChar(text_[end])) {
      Token err = Error("malformed number");
      while (end < text_.size() && IsIdentChar(text_[end])) ++end;
      pos_ = end;
      return err;
    }
    t.kind = is_float ? Tok::kFloat : Tok::kInt;
    t.text = std::string(text_.substr(pos_, end - pos_));
    pos_ = end;
    return t;
  }

  Token String(char quote) {
    Token t;
    t.offset = pos_;
    size_t i = pos_ + 1;
    std::string out;
    while (i < text_.size() && text_[i] != quote) {
      if (text_[i] == '\\') {
        if (i + 1 >= text_.size()) break;
        const char e = text_[i + 1];
        switch (e) {
          case '\\': out += '\\'; break;
          case '"': out += '"'; break;
          case '\'': out += '\''; break;
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          default: {
            Token err;
            err.kind = Tok::kError;
            err.offset = i;
            err.text = std::string("unknown escape '\\") + e + "' in string";
            pos_ = text_.size();
            return err;
          }
        }
        i += 2;
        continue;
      }
      out += text_[i++];
    }
    if (i >= text_.size()) {
      Token err;
      err.kind = Tok::kError;
      err.offset = pos_;
      err.text = "unterminated string";
      pos_ = text_.size();
      return err;
    }
    pos_ = i + 1;
    t.kind = Tok::kString;
    t.text = std::move(out);
    return t;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

struct SyntaxError {};  // thrown inside the parser only, caught below

class Parser {
 public:
  Parser(std::string_view text, const ConditionOrigin& origin,
         const AttributeSchema* schema, engine::Condition* cond,
         PolicyErrors* errors)
      : text_(text), origin_(origin), schema_(schema), cond_(cond),
        errors_(errors), lexer_(text) {}

  // Returns false after a syntax error.
  bool Run() {
    try {
      Advance();
      const uint32_t root = Or();
      if (tok_.kind != Tok::kEnd) {
        Expected("an operator or the end of the condition");
      }
      const SKind k = kinds_[root];
      CheckNotBareList(root);
      if (k != SKind::kUnknown && k != SKind::kBool) {
        Error(0, std::string("a condition must be a boolean expression, got ") +
                     SKindName(k));
      }
      cond_->set_root(root);
      return true;
    } catch (const SyntaxError&) {
      return false;
    }
  }

 private:
  engine::SourceLocation LocationOf(size_t offset) const {
    uint32_t line = origin_.line, column = origin_.column;
    size_t line_start = 0;
    uint32_t extra_lines = 0;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++extra_lines;
        line_start = i + 1;
      }
    }
    if (extra_lines == 0) {
      column += static_cast<uint32_t>(offset);
    } else {
      line += extra_lines;
      column = origin_.continuation_column +
               static_cast<uint32_t>(offset - line_start);
    }
    return engine::SourceLocation{origin_.file, line, column};
  }

  void Error(size_t offset, std::string message) {
    const engine::SourceLocation loc = LocationOf(offset);
    errors_->push_back(
        PolicyError{loc.file, loc.line, loc.column, std::move(message)});
  }

  [[noreturn]] void Fatal(size_t offset, std::string message) {
    Error(offset, std::move(message));
    throw SyntaxError{};
  }

  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd: return "the end of the condition";
      case Tok::kString: return "string \"" + t.text + "\"";
      case Tok::kIdent: return "'" + t.text + "'";
      default: return "'" + t.text + "'";
    }
  }

  [[noreturn]] void Expected(const std::string& what) {
    Fatal(tok_.offset, "expected " + what + ", found " + Describe(tok_));
  }

  void Advance() {
    tok_ = lexer_.Next();
    if (tok_.kind == Tok::kError) Fatal(tok_.offset, tok_.text);
  }

  uint32_t Add(ExprNode node, size_t offset, SKind kind) {
    node.location = LocationOf(offset);
    const uint32_t id = cond_->AddNode(std::move(node));
    kinds_.push_back(kind);
    offsets_.push_back(offset);
    return id;
  }

  void Enter() {
    if (++depth_ > kMaxNesting) {
      Fatal(tok_.offset, "the condition nests too deeply (more than " +
                             std::to_string(kMaxNesting) + " levels)");
    }
  }

  uint32_t Or() {
    Enter();
    uint32_t left = And();
    while (tok_.kind == Tok::kOr) {
      const size_t at = tok_.offset;
      Advance();
      const uint32_t right = And();
      left = Logic(ExprOp::kOr, "||", left, right, at);
    }
    --depth_;
    return left;
  }

  uint32_t And() {
    uint32_t left = Cmp();
    while (tok_.kind == Tok::kAnd) {
      const size_t at = tok_.offset;
      Advance();
      const uint32_t right = Cmp();
      left = Logic(ExprOp::kAnd, "&&", left, right, at);
    }
    return left;
  }

  uint32_t Logic(ExprOp op, const char* sym, uint32_t left, uint32_t right,
                 size_t at) {
    for (uint32_t side : {left, right}) {
      CheckNotBareList(side);
      const SKind k = kinds_[side];
      if (k != SKind::kUnknown && k != SKind::kBool) {
        Error(offsets_[side], std::string("operand of '") + sym +
                                  "' must be a bool, got " + SKindName(k));
      }
    }
    ExprNode n;
    n.op = op;
    n.child[0] = left;
    n.child[1] = right;
    return Add(std::move(n), at, SKind::kBool);
  }

  static bool CmpOp(Tok t, ExprOp* op) {
    switch (t) {
      case Tok::kEq: *op = ExprOp::kEq; return true;
      case Tok::kNe: *op = ExprOp::kNe; return true;
      case Tok::kLt: *op = ExprOp::kLt; return true;
      case Tok::kLe: *op = ExprOp::kLe; return true;
      case Tok::kGt: *op = ExprOp::kGt; return true;
      case Tok::kGe: *op = ExprOp::kGe; return true;
      default: return false;
    }
  }

  bool IsInKeyword() const {
    return tok_.kind == Tok::kIdent && tok_.text == "in";
  }

  uint32_t Cmp() {
    const uint32_t left = Unary();
    ExprOp op;
    const bool is_cmp = CmpOp(tok_.kind, &op);
    if (!is_cmp && !IsInKeyword()) return left;
    if (!is_cmp) op = ExprOp::kIn;
    const Token op_tok = tok_;
    Advance();
    const uint32_t right = Unary();
    ExprOp next;
    if (CmpOp(tok_.kind, &next) || IsInKeyword()) {
      Fatal(tok_.offset,
            "comparisons do not chain; use '&&' between two comparisons");
    }
    CheckNotBareList(left);
    if (op != ExprOp::kIn) CheckNotBareList(right);
    const SKind a = kinds_[left], b = kinds_[right];
    const std::string sym = op_tok.text;
    if (op == ExprOp::kIn) {
      if (b != SKind::kUnknown && b != SKind::kList) {
        Error(offsets_[right], std::string("right side of 'in' must be a list, got ") +
                                   SKindName(b));
      }
      CheckMembers(left, right, op_tok.offset);
    } else if (op == ExprOp::kEq || op == ExprOp::kNe) {
      if (!EqualityCompatible(a, b)) {
        Error(op_tok.offset, std::string("cannot compare ") + SKindName(a) +
                                 " with " + SKindName(b) + " using '" + sym +
                                 "': they are never equal");
      }
      CheckTimeString(left, right);
    } else {
      for (uint32_t side : {left, right}) {
        const SKind k = kinds_[side];
        if (k == SKind::kBool || k == SKind::kList || k == SKind::kNull) {
          Error(op_tok.offset, std::string("'") + sym + "' cannot order " +
                                   SKindName(k) + " values");
          break;
        }
      }
      if (!OrderCompatible(a, b)) {
        Error(op_tok.offset, std::string("cannot compare ") + SKindName(a) +
                                 " with " + SKindName(b) + " using '" + sym +
                                 "'");
      }
      CheckTimeString(left, right);
    }
    ExprNode n;
    n.op = op;
    n.child[0] = left;
    n.child[1] = right;
    return Add(std::move(n), op_tok.offset, SKind::kBool);
  }

  static bool EqualityCompatible(SKind a, SKind b) {
    if (a == SKind::kUnknown || b == SKind::kUnknown) return true;
    if (a == SKind::kNull || b == SKind::kNull) return true;
    if (IsNumeric(a) && IsNumeric(b)) return true;
    if (IsTimeLike(a) && IsTimeLike(b)) return true;
    return a == b;
  }

  static bool OrderCompatible(SKind a, SKind b) {
    if (a == SKind::kUnknown || b == SKind::kUnknown) return true;
    if (a == SKind::kBool || a == SKind::kList || a == SKind::kNull ||
        b == SKind::kBool || b == SKind::kList || b == SKind::kNull) {
      return true;  // reported separately
    }
    if (IsNumeric(a) && IsNumeric(b)) return true;
    if (IsTimeLike(a) && IsTimeLike(b)) return true;
    return false;
  }

  // A string literal compared with a timestamp must hold an RFC 3339 time.
  void CheckTimeString(uint32_t left, uint32_t right) {
    for (auto [s, t] : {std::pair{left, right}, std::pair{right, left}}) {
      const ExprNode& sn = cond_->nodes()[s];
      if (kinds_[t] == SKind::kTimestamp && sn.op == ExprOp::kLiteral &&
          sn.literal.kind == ValueKind::kString &&
          !ParseRfc3339(sn.literal.s)) {
        Error(offsets_[s], "\"" + std::string(sn.literal.s) +
                               "\" is compared with a timestamp but is not "
                               "an RFC 3339 time");
      }
    }
  }

  void CheckMembers(uint32_t left, uint32_t right, size_t at) {
    const SKind a = kinds_[left];
    const ExprNode& rn = cond_->nodes()[right];
    auto check = [&](SKind e) {
      if (!EqualityCompatible(a, e)) {
        Error(at, std::string("'in' compares ") + SKindName(a) +
                      " with list elements of kind " + SKindName(e) +
                      ": they are never equal");
        return false;
      }
      return true;
    };
    if (rn.op == ExprOp::kLiteral && rn.literal.kind == ValueKind::kList) {
      for (const Value& v : rn.literal.list) {
        if (!check(FromValueKind(v.kind))) return;
      }
    } else if (rn.op == ExprOp::kList) {
      for (uint32_t c : rn.list_children) {
        if (!check(kinds_[c])) return;
      }
    }
  }

  // A list with attribute elements is only meaningful on the right of `in`.
  void CheckNotBareList(uint32_t node) {
    if (cond_->nodes()[node].op == ExprOp::kList) {
      Error(offsets_[node],
            "a list containing attributes may only appear on the right of "
            "'in'");
    }
  }

  uint32_t Unary() {
    if (tok_.kind == Tok::kNot) {
      const size_t at = tok_.offset;
      Advance();
      Enter();
      const uint32_t operand = Unary();
      --depth_;
      CheckNotBareList(operand);
      const SKind k = kinds_[operand];
      if (k != SKind::kUnknown && k != SKind::kBool) {
        Error(offsets_[operand],
              std::string("operand of '!' must be a bool, got ") +
                  SKindName(k));
      }
      ExprNode n;
      n.op = ExprOp::kNot;
      n.child[0] = operand;
      return Add(std::move(n), at, SKind::kBool);
    }
    return Primary();
  }

  void Expect(Tok kind, const char* what) {
    if (tok_.kind != kind) Expected(what);
    Advance();
  }

  uint32_t Primary() {
    const Token t = tok_;
    switch (t.kind) {
      case Tok::kString: {
        Advance();
        ExprNode n;
        n.literal = Value::String(cond_->InternString(t.text));
        return Add(std::move(n), t.offset, SKind::kString);
      }
      case Tok::kInt: {
        Advance();
        errno = 0;
        const long long v = std::strtoll(t.text.c_str(), nullptr, 10);
        if (errno == ERANGE) {
          Fatal(t.offset, "integer " + t.text + " is out of range (64-bit)");
        }
        ExprNode n;
        n.literal = Value::Int(v);
        return Add(std::move(n), t.offset, SKind::kInt);
      }
      case Tok::kFloat: {
        Advance();
        ExprNode n;
        n.literal = Value::Double(std::strtod(t.text.c_str(), nullptr));
        return Add(std::move(n), t.offset, SKind::kNumber);
      }
      case Tok::kLParen: {
        Advance();
        const uint32_t inner = Or();
        Expect(Tok::kRParen, "')'");
        // Report errors about the parenthesized expression at its start.
        offsets_[inner] = std::min(offsets_[inner], t.offset + 1);
        return inner;
      }
      case Tok::kLBracket:
        return List();
      case Tok::kIdent:
        return Identifier();
      default:
        Expected("a value, an attribute or '('");
    }
  }

  uint32_t List() {
    const size_t at = tok_.offset;
    Advance();
    Enter();
    std::vector<uint32_t> elems;
    if (tok_.kind != Tok::kRBracket) {
      while (true) {
        elems.push_back(Or());
        if (tok_.kind == Tok::kComma) {
          Advance();
          continue;
        }
        break;
      }
    }
    Expect(Tok::kRBracket, "',' or ']'");
    --depth_;
    bool constant = true;
    for (uint32_t e : elems) {
      constant = constant && cond_->nodes()[e].op == ExprOp::kLiteral;
    }
    ExprNode n;
    if (constant) {
      std::vector<Value> values;
      values.reserve(elems.size());
      for (uint32_t e : elems) values.push_back(cond_->nodes()[e].literal);
      n.literal = Value::List(cond_->InternList(std::move(values)));
    } else {
      for (uint32_t e : elems) {
        CheckNotBareList(e);
        n.list_children.push_back(e);
      }
      n.op = ExprOp::kList;
    }
    return Add(std::move(n), at, SKind::kList);
  }

  uint32_t Identifier() {
    const Token t = tok_;
    const std::string& w = t.text;
    if (w == "true" || w == "false") {
      Advance();
      ExprNode n;
      n.literal = Value::Bool(w == "true");
      return Add(std::move(n), t.offset, SKind::kBool);
    }
    if (w == "null") {
      Advance();
      ExprNode n;
      n.literal = Value::Null();
      return Add(std::move(n), t.offset, SKind::kNull);
    }
    if (w == "now") {
      Advance();
      ExprNode n;
      n.op = ExprOp::kNow;
      return Add(std::move(n), t.offset, SKind::kTimestamp);
    }
    if (w == "timestamp") {
      Advance();
      Expect(Tok::kLParen, "'(' after timestamp");
      if (tok_.kind != Tok::kString) Expected("a string such as \"2027-01-01T00:00:00Z\"");
      const Token s = tok_;
      std::optional<TimestampMicros> ts = ParseRfc3339(s.text);
      if (!ts) {
        Fatal(s.offset, "\"" + s.text +
                            "\" is not an RFC 3339 time (e.g. "
                            "\"2027-01-01T00:00:00Z\")");
      }
      Advance();
      Expect(Tok::kRParen, "')'");
      ExprNode n;
      n.literal = Value::Timestamp(*ts);
      return Add(std::move(n), t.offset, SKind::kTimestamp);
    }
    if (w == "has") {
      Advance();
      Expect(Tok::kLParen, "'(' after has");
      if (tok_.kind != Tok::kIdent ||
          (tok_.text != "subject" && tok_.text != "resource" &&
           tok_.text != "action" && tok_.text != "context")) {
        Expected("an attribute such as resource.owner");
      }
      ExprNode path;
      const size_t at = tok_.offset;
      const SKind unused = Path(&path);
      (void)unused;
      Expect(Tok::kRParen, "')'");
      path.op = ExprOp::kHas;
      return Add(std::move(path), at, SKind::kBool);
    }
    ExprNode n;
    const SKind k = Path(&n);
    n.op = ExprOp::kAttr;
    return Add(std::move(n), t.offset, k);
  }

  // Parses root.key.key... at the current identifier. Returns the kind of
  // the attribute if known.
  SKind Path(ExprNode* n) {
    const Token root = tok_;
    if (root.text == "subject") {
      n->root = AttrRoot::kSubject;
    } else if (root.text == "resource") {
      n->root = AttrRoot::kResource;
    } else if (root.text == "action") {
      n->root = AttrRoot::kAction;
    } else if (root.text == "context") {
      n->root = AttrRoot::kContext;
    } else {
      std::string hint = DidYouMean(
          root.text, {"subject", "resource", "action", "context"});
      Fatal(root.offset,
            "unknown name '" + root.text +
                "'; an attribute starts with subject., resource., action. or "
                "context." + hint + " (quote text to make it a string)");
    }
    Advance();
    if (tok_.kind != Tok::kDot) {
      Fatal(tok_.offset, "expected '.' and an attribute name after '" +
                             root.text + "'");
    }
    std::string key;
    while (tok_.kind == Tok::kDot) {
      Advance();
      // A segment that is not an identifier is quoted: resource."x-y".
      if (tok_.kind != Tok::kIdent &&
          !(tok_.kind == Tok::kString && !tok_.text.empty())) {
        Expected("an attribute name");
      }
      if (!key.empty()) key += '.';
      key += tok_.text;
      Advance();
    }
    n->key = cond_->InternString(key);
    return AttributeKind(n->root, key, root.offset);
  }

  SKind AttributeKind(AttrRoot root, const std::string& key, size_t at) {
    if (root == AttrRoot::kAction) {
      return key == "name" ? SKind::kString : SKind::kUnknown;
    }
    if (root == AttrRoot::kContext) return SKind::kUnknown;
    if (key == "id" || key == "type") return SKind::kString;
    if (schema_ == nullptr) return SKind::kUnknown;
    const auto& types = root == AttrRoot::kSubject ? schema_->subject_types
                                                   : schema_->resource_types;
    const char* root_name = root == AttrRoot::kSubject ? "subject" : "resource";
    std::optional<SKind> common;
    bool unknown = types.empty();
    for (const engine::TypeDef* t : types) {
      if (t->attributes.empty()) {
        unknown = true;
        continue;
      }
      const engine::AttributeDecl* found = nullptr;
      std::vector<std::string> names;
      for (const engine::AttributeDecl& d : t->attributes) {
        names.push_back(d.name);
        if (d.name == key) found = &d;
      }
      if (found == nullptr) {
        std::string list;
        for (const std::string& s : names) list += list.empty() ? s : ", " + s;
        Error(at, std::string(root_name) + "." + key + ": type " + t->name +
                      " declares no attribute '" + key + "'" +
                      DidYouMean(key, names) + " (declared: " + list + ")");
        return SKind::kUnknown;
      }
      const SKind k = FromAttributeType(found->type);
      if (!common) {
        common = k;
      } else if (*common != k) {
        unknown = true;
      }
    }
    if (unknown || !common) return SKind::kUnknown;
    return *common;
  }

  std::string_view text_;
  const ConditionOrigin& origin_;
  const AttributeSchema* schema_;
  engine::Condition* cond_;
  PolicyErrors* errors_;
  Lexer lexer_;
  Token tok_;
  int depth_ = 0;
  std::vector<SKind> kinds_;      // per node
  std::vector<size_t> offsets_;   // per node: where errors about it point
};

}  // namespace

ConditionResultOrErrors ParseCondition(std::string_view text,
                                       const ConditionOrigin& origin,
                                       const AttributeSchema* schema) {
  auto cond = std::make_unique<engine::Condition>();
  PolicyErrors errors;
  Parser parser(text, origin, schema, cond.get(), &errors);
  parser.Run();
  if (!errors.empty()) return tl::unexpected<PolicyErrors>(std::move(errors));
  cond->set_text(std::string(text));
  cond->set_location(
      engine::SourceLocation{origin.file, origin.line, origin.column});
  return cond;
}

}  // namespace portcullis::policies
