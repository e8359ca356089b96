#include "server/auth.h"

#include <fstream>
#include <sstream>

namespace portcullis::server {

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kNone: return "none";
    case Scope::kCheck: return "check";
    case Scope::kAdmin: return "admin";
  }
  return "none";
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Length is not secret (tokens of a deployment share a length); the
  // content comparison does not stop at the first difference.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

void TokenSet::Add(Scope scope, std::string token) {
  entries_.push_back(Entry{scope, std::move(token)});
}

Result<TokenSet> TokenSet::Parse(std::string_view text,
                                 std::string_view file_name) {
  TokenSet set;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view()
                                        : text.substr(nl + 1);
    auto trim = [](std::string_view s) {
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
      }
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                            s.back() == '\r')) {
        s.remove_suffix(1);
      }
      return s;
    };
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t sp = line.find_first_of(" \t");
    const std::string where =
        std::string(file_name) + ":" + std::to_string(line_no) + ": ";
    if (sp == std::string_view::npos) {
      return Fail(Status::InvalidArgument(
          where + "expected `SCOPE TOKEN`", "tokens"));
    }
    const std::string_view scope_name = line.substr(0, sp);
    const std::string_view token = trim(line.substr(sp + 1));
    Scope scope;
    if (scope_name == "check") {
      scope = Scope::kCheck;
    } else if (scope_name == "admin") {
      scope = Scope::kAdmin;
    } else {
      return Fail(Status::InvalidArgument(
          where + "unknown scope '" + std::string(scope_name) +
              "' (expected check or admin)",
          "tokens"));
    }
    if (token.size() < 16 || token.find_first_of(" \t") != std::string::npos) {
      return Fail(Status::InvalidArgument(
          where + "a token must be at least 16 characters without spaces",
          "tokens"));
    }
    set.Add(scope, std::string(token));
  }
  return set;
}

Result<TokenSet> TokenSet::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(Status::InvalidArgument("cannot read tokens file " + path,
                                        "tokens"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

Scope TokenSet::Authenticate(const std::string* header) const {
  if (header == nullptr) return Scope::kNone;
  return AuthenticateBearer(std::string_view(*header));
}

Scope TokenSet::AuthenticateBearer(
    std::optional<std::string_view> header) const {
  if (!header) return Scope::kNone;
  std::string_view h = *header;
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() <= kBearer.size()) return Scope::kNone;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(h[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i]))) {
      return Scope::kNone;
    }
  }
  const std::string_view token = h.substr(kBearer.size());
  Scope best = Scope::kNone;
  for (const Entry& e : entries_) {
    // No early exit: every token is compared.
    if (ConstantTimeEquals(token, e.token) && e.scope > best) best = e.scope;
  }
  return best;
}

}  // namespace portcullis::server
