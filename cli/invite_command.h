// `portcullis invite`: invites the people of a contacts file into a group,
// through the daemon's HTTP API (POST /v1/groups/{id}/invitations).
//
//   portcullis invite --group ID --roles member[,content_creator]
//       --actor user:alice --from contacts.csv
//       [--server http://127.0.0.1:8181] [--token T] [--message TEXT]
//       [--dry-run]
//
// The contacts file is a CSV as mail programs export it: Outlook's
// "E-mail Address" column, and the variants "Email", "E-mail",
// "Email Address", "E-mail 1 - Value" (Google Contacts); RFC 4180 quoting
// (quoted fields with commas, doubled quotes, line breaks inside quotes),
// CRLF or LF, an optional UTF-8 byte order mark, and ';' as the separator
// when the header row has no comma (some locales' exports).
//
// Thread safety: plain functions.
#ifndef PORTCULLIS_CLI_INVITE_COMMAND_H_
#define PORTCULLIS_CLI_INVITE_COMMAND_H_

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cli/subcommand.h"
#include "common/status.h"

namespace portcullis::cli {

struct Contact {
  std::string email;  // lowercased domain, as written otherwise
  std::string name;   // "First Last", "Name", or empty
  size_t line = 0;    // where the record starts, 1-based
};

struct SkippedContact {
  size_t line = 0;
  std::string reason;  // "no e-mail address", "not an e-mail address: x"
};

struct ContactList {
  std::vector<Contact> contacts;  // in file order, each address once
  std::vector<SkippedContact> skipped;
  std::string email_column;  // the header the addresses came from
};

// Splits CSV text into records of fields. INVALID_ARGUMENT naming the line
// for an unterminated quoted field or a stray quote.
Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text);

// Reads a contacts export. INVALID_ARGUMENT if the text has no header with
// an e-mail column (the message lists the headers found).
Result<ContactList> ParseContactsCsv(std::string_view text);

// True for a plausible address: one '@', a non-empty local part, a domain
// with a dot, no spaces or control characters.
bool LooksLikeEmail(std::string_view s);

struct InviteArgs {
  std::string group;
  std::vector<std::string> roles;
  std::string actor;
  std::string from;  // contacts file
  std::string server = "http://127.0.0.1:8181";
  std::string token;
  std::string message;
  bool dry_run = false;
};

// Exit codes: 0 everyone invited (or dry run), 1 failure (nothing sent or
// the request refused), 2 sent but some invitees were not invited.
int RunInviteCommand(const InviteArgs& args, std::ostream& out,
                     std::ostream& err);

// A minimal HTTP/1.1 client over a POSIX socket, for the command: one
// request, Connection: close. `url` is http://HOST:PORT/PATH.
struct HttpResult {
  int status = 0;
  std::string body;
};
Result<HttpResult> HttpPost(const std::string& url, std::string_view token,
                            std::string_view json_body);

// Declares invite on `app`; its run writes to std::cout and std::cerr.
void AddInviteCommand(CLI::App& app, Subcommands* out);

}  // namespace portcullis::cli

#endif  // PORTCULLIS_CLI_INVITE_COMMAND_H_
