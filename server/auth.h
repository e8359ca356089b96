// Bearer-token authentication with scopes.
//
// A tokens file holds one `SCOPE TOKEN` pair per line; blank lines and lines
// starting with '#' are skipped. Scopes: `check` (checks, lookups, reads of
// data and policy) and `admin` (everything `check` may do, plus writes,
// import/export and policy validation and reload).
//
// Thread safety: immutable after loading; Authenticate may be called from
// any thread.
#ifndef PORTCULLIS_SERVER_AUTH_H_
#define PORTCULLIS_SERVER_AUTH_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace portcullis::server {

enum class Scope : uint8_t { kNone = 0, kCheck = 1, kAdmin = 2 };

std::string_view ScopeName(Scope scope);

class TokenSet {
 public:
  // Parses the text of a tokens file. Errors name the line.
  static Result<TokenSet> Parse(std::string_view text,
                                std::string_view file_name);
  static Result<TokenSet> LoadFile(const std::string& path);

  void Add(Scope scope, std::string token);
  size_t size() const { return entries_.size(); }

  // The scope of the token in an `Authorization: Bearer TOKEN` header value,
  // or kNone when the header is absent, malformed or the token unknown.
  // Every known token is compared in constant time, whatever matches.
  Scope Authenticate(const std::string* authorization_header) const;
  // The same for a header value seen in place (nullopt: no header), as the
  // server's header callback has it before the body is read.
  Scope AuthenticateBearer(
      std::optional<std::string_view> authorization_header) const;

 private:
  struct Entry {
    Scope scope;
    std::string token;
  };
  std::vector<Entry> entries_;
};

// Compares in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_AUTH_H_
