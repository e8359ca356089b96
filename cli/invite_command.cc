#include "cli/invite_command.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>

#include "server/json.h"

namespace portcullis::cli {
namespace {

using server::JsonWriter;
using server::ParseJsonObject;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Header names reduced to letters and digits: "E-mail Address" ->
// "emailaddress".
std::string Normalize(std::string_view header) {
  std::string out;
  for (char c : header) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back(
          static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

// The e-mail column headers accepted, best first (normalized).
const std::vector<std::string>& EmailHeaders() {
  static const std::vector<std::string> kHeaders = {
      "emailaddress",   // Outlook: "E-mail Address"
      "email1value",    // Google: "E-mail 1 - Value"
      "email",          // "Email", "E-mail"
      "emailaddress1",  // "Email Address 1"
      "primaryemail",   // Thunderbird: "Primary Email"
      "mail",
  };
  return kHeaders;
}

}  // namespace

Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  // The separator: ',' unless the header row has none but has ';'.
  const std::string_view first_line = text.substr(0, text.find('\n'));
  const char sep = first_line.find(',') == std::string_view::npos &&
                           first_line.find(';') != std::string_view::npos
                       ? ';'
                       : ',';
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // the current field was quoted
  size_t line = 1, quote_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"') {
      if (!field.empty() || was_quoted) {
        return Fail(Status::InvalidArgument(
            "line " + std::to_string(line) +
                ": a quote inside an unquoted field (quote the whole field "
                "and double the quote)",
            "line " + std::to_string(line)));
      }
      quoted = was_quoted = true;
      quote_line = line;
    } else if (c == sep) {
      row.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      was_quoted = false;
      rows.push_back(std::move(row));
      row.clear();
      ++line;
    } else {
      if (was_quoted && !std::isspace(static_cast<unsigned char>(c))) {
        return Fail(Status::InvalidArgument(
            "line " + std::to_string(line) +
                ": characters after the closing quote of a field",
            "line " + std::to_string(line)));
      }
      if (!was_quoted) field.push_back(c);
    }
  }
  if (quoted) {
    return Fail(Status::InvalidArgument(
        "line " + std::to_string(quote_line) +
            ": a quoted field is not closed before the end of the file",
        "line " + std::to_string(quote_line)));
  }
  if (!field.empty() || !row.empty() || was_quoted) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

bool LooksLikeEmail(std::string_view s) {
  const size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 ||
      s.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view domain = s.substr(at + 1);
  const size_t dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 ||
      domain.back() == '.') {
    return false;
  }
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' ||
        c == ';' || c == '"') {
      return false;
    }
  }
  return s.size() <= 254;
}

Result<ContactList> ParseContactsCsv(std::string_view text) {
  auto rows = ParseCsv(text);
  if (!rows) return Fail(rows.error());
  if (rows->empty()) {
    return Fail(Status::InvalidArgument("the contacts file is empty"));
  }
  const std::vector<std::string>& header = (*rows)[0];
  int email_col = -1;
  for (const std::string& want : EmailHeaders()) {
    for (size_t i = 0; i < header.size() && email_col < 0; ++i) {
      if (Normalize(header[i]) == want) email_col = static_cast<int>(i);
    }
    if (email_col >= 0) break;
  }
  if (email_col < 0) {
    std::string found;
    for (const std::string& h : header)
      found += (found.empty() ? "" : ", ") + h;
    return Fail(Status::InvalidArgument(
        "no e-mail column in the header row (expected one of \"E-mail "
        "Address\", \"Email\", \"E-mail\", \"Email Address\", \"E-mail 1 - "
        "Value\"); found: " +
        found));
  }
  int first = -1, last = -1, name = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string n = Normalize(header[i]);
    if (n == "firstname" || n == "givenname") first = static_cast<int>(i);
    if (n == "lastname" || n == "familyname") last = static_cast<int>(i);
    if (n == "name" || n == "displayname" || n == "fullname") {
      name = static_cast<int>(i);
    }
  }
  ContactList out;
  out.email_column = header[email_col];
  std::set<std::string> seen;
  // The line each record starts on: one past the line breaks consumed by
  // the records before it (quoted fields may hold line breaks).
  size_t line = 2;
  for (const std::string& h : header) {
    line += static_cast<size_t>(std::count(h.begin(), h.end(), '\n'));
  }
  for (size_t r = 1; r < rows->size(); ++r) {
    const std::vector<std::string>& row = (*rows)[r];
    const size_t this_line = line;
    for (const std::string& f : row) {
      line += static_cast<size_t>(std::count(f.begin(), f.end(), '\n'));
    }
    ++line;
    auto cell = [&](int col) -> std::string {
      return col >= 0 && static_cast<size_t>(col) < row.size() ? Trim(row[col])
                                                               : std::string();
    };
    if (row.size() == 1 && Trim(row[0]).empty()) continue;  // blank line
    std::string email = cell(email_col);
    // "Name <a@b.c>" as some exports write it.
    if (const size_t lt = email.find('<');
        lt != std::string::npos && email.back() == '>') {
      email = Trim(email.substr(lt + 1, email.size() - lt - 2));
    }
    if (email.empty()) {
      out.skipped.push_back({this_line, "no e-mail address"});
      continue;
    }
    if (!LooksLikeEmail(email)) {
      out.skipped.push_back({this_line, "not an e-mail address: " + email});
      continue;
    }
    const size_t at = email.find('@');
    email = email.substr(0, at + 1) + Lower(email.substr(at + 1));
    if (!seen.insert(Lower(email)).second) {
      out.skipped.push_back({this_line, "listed earlier: " + email});
      continue;
    }
    Contact c;
    c.email = email;
    c.line = this_line;
    c.name = cell(name);
    if (c.name.empty()) {
      c.name = Trim(cell(first) + " " + cell(last));
    }
    out.contacts.push_back(std::move(c));
  }
  return out;
}

namespace {

// A socket connected to host:port (30 s send and receive timeouts), or
// UNAVAILABLE naming `authority`.
Result<int> ConnectTo(const std::string& host, const std::string& port,
                      const std::string& authority) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return Fail(Status(StatusCode::kUnavailable,
                       "cannot resolve " + host + ": " + gai_strerror(rc)));
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return Fail(
        Status(StatusCode::kUnavailable, "cannot connect to " + authority));
  }
  return fd;
}

// Sends `request` on `fd` and reads the response until the peer closes
// (at most 64 MiB). Closes `fd`.
Result<std::string> SendAndReceive(int fd, const std::string& request) {
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return Fail(
          Status(StatusCode::kUnavailable, "sending the request failed"));
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[8192];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      close(fd);
      return Fail(
          Status(StatusCode::kUnavailable, "reading the response failed"));
    }
    if (n == 0) break;
    response.append(buf, static_cast<size_t>(n));
    if (response.size() > (64u << 20)) break;
  }
  close(fd);
  return response;
}

// Status and body of an HTTP/1.x response; a chunked body is decoded.
Result<HttpResult> ParseHttpResponse(const std::string& response) {
  const size_t header_end = response.find("\r\n\r\n");
  if (response.compare(0, 9, "HTTP/1.1 ") != 0 &&
      response.compare(0, 9, "HTTP/1.0 ") != 0) {
    return Fail(Status(StatusCode::kUnavailable, "not an HTTP response"));
  }
  if (header_end == std::string::npos) {
    return Fail(Status(StatusCode::kUnavailable, "truncated HTTP response"));
  }
  HttpResult out;
  out.status = std::atoi(response.c_str() + 9);
  const std::string headers = Lower(response.substr(0, header_end));
  std::string body = response.substr(header_end + 4);
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    size_t pos = 0;
    while (pos < body.size()) {
      const size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      const size_t size = std::strtoul(body.c_str() + pos, nullptr, 16);
      if (size == 0) break;
      decoded.append(body, eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    body = std::move(decoded);
  }
  out.body = std::move(body);
  return out;
}

}  // namespace

Result<HttpResult> HttpPost(const std::string& url, std::string_view token,
                            std::string_view json_body) {
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) {
    return Fail(Status::InvalidArgument(
        "the server URL must start with http:// (got " + url + ")", "server"));
  }
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path =
      slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host = authority, port = "80";
  if (const size_t colon = authority.rfind(':');
      colon != std::string::npos && authority.find(']') == std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  Result<int> fd = ConnectTo(host, port, authority);
  if (!fd) return Fail(fd.error());
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + authority +
                        "\r\nContent-Type: application/json\r\n"
                        "Connection: close\r\nContent-Length: " +
                        std::to_string(json_body.size()) + "\r\n";
  if (!token.empty()) {
    request += "Authorization: Bearer " + std::string(token) + "\r\n";
  }
  request += "\r\n";
  request.append(json_body);
  Result<std::string> response = SendAndReceive(*fd, request);
  if (!response) return Fail(response.error());
  return ParseHttpResponse(*response);
}

namespace {

// Prints who will be invited, from which column, and the lines skipped.
void PrintInvitees(const InviteArgs& args, const ContactList& contacts,
                   std::ostream& out) {
  std::string roles;
  for (const std::string& r : args.roles)
    roles += (roles.empty() ? "" : ", ") + r;
  out << "Inviting " << contacts.contacts.size() << " people from " << args.from
      << " (column \"" << contacts.email_column << "\") to group " << args.group
      << " as [" << roles << "], on behalf of " << args.actor << ":\n";
  for (const Contact& c : contacts.contacts) {
    out << "  email:" << c.email;
    if (!c.name.empty()) out << "  (" << c.name << ")";
    out << "\n";
  }
  for (const SkippedContact& s : contacts.skipped) {
    out << "  skipped line " << s.line << ": " << s.reason << "\n";
  }
}

// The body of POST /v1/groups/{id}/invitations.
std::string InvitationsRequestBody(const InviteArgs& args,
                                   const ContactList& contacts) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("actor");
  w.String(args.actor);
  w.Key("invitees");
  w.StartArray();
  for (const Contact& c : contacts.contacts) w.String("email:" + c.email);
  w.EndArray();
  w.Key("roles");
  w.StartArray();
  for (const std::string& r : args.roles) w.String(r);
  w.EndArray();
  if (!args.message.empty()) {
    w.Key("message");
    w.String(args.message);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// Reports the daemon's answer: who was invited and who was not. Returns the
// command's exit code.
int ReportInvitations(const HttpResult& response, std::ostream& out,
                      std::ostream& err) {
  rapidjson::Document doc;
  Status parsed = ParseJsonObject(response.body, &doc);
  if (!parsed.ok()) {
    err << "portcullis invite: HTTP " << response.status
        << " with a body that is not JSON: " << response.body << "\n";
    return 1;
  }
  if (response.status != 200) {
    std::string message = response.body;
    if (doc.HasMember("error") && doc["error"].IsObject() &&
        doc["error"].HasMember("message") &&
        doc["error"]["message"].IsString()) {
      message = doc["error"]["message"].GetString();
    }
    err << "portcullis invite: refused (HTTP " << response.status
        << "): " << message << "\n";
    return 1;
  }
  size_t invited = 0, not_invited = 0;
  if (doc.HasMember("invitations") && doc["invitations"].IsArray()) {
    for (const auto& inv : doc["invitations"].GetArray()) {
      if (!inv.IsObject() || !inv.HasMember("invitee") ||
          !inv.HasMember("id")) {
        continue;
      }
      out << "  invited     " << inv["invitee"].GetString() << "  (invitation "
          << inv["id"].GetString() << ")\n";
      ++invited;
    }
  }
  if (doc.HasMember("conflicts") && doc["conflicts"].IsArray()) {
    for (const auto& c : doc["conflicts"].GetArray()) {
      if (!c.IsObject() || !c.HasMember("invitee")) continue;
      out << "  not invited " << c["invitee"].GetString() << ": "
          << (c.HasMember("message") ? c["message"].GetString() : "") << "\n";
      ++not_invited;
    }
  }
  out << invited << " invited, " << not_invited << " not invited";
  if (doc.HasMember("revision") && doc["revision"].IsString()) {
    out << " (revision " << doc["revision"].GetString() << ")";
  }
  out << ".\n";
  return not_invited == 0 ? 0 : 2;
}

}  // namespace

int RunInviteCommand(const InviteArgs& args, std::ostream& out,
                     std::ostream& err) {
  std::ifstream in(args.from, std::ios::binary);
  if (!in) {
    err << "portcullis invite: cannot read " << args.from << "\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  Result<ContactList> contacts = ParseContactsCsv(text.str());
  if (!contacts) {
    err << "portcullis invite: " << args.from << ": "
        << contacts.error().message() << "\n";
    return 1;
  }
  PrintInvitees(args, *contacts, out);
  if (contacts->contacts.empty()) {
    err << "portcullis invite: nobody to invite\n";
    return 1;
  }
  if (args.dry_run) {
    out << "Dry run: nothing sent.\n";
    return 0;
  }
  std::string url = args.server;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/v1/groups/" + args.group + "/invitations";
  Result<HttpResult> r =
      HttpPost(url, args.token, InvitationsRequestBody(args, *contacts));
  if (!r) {
    err << "portcullis invite: " << r.error().message() << "\n";
    return 1;
  }
  return ReportInvitations(*r, out, err);
}

void AddInviteCommand(CLI::App& app, Subcommands* out) {
  auto args = std::make_shared<InviteArgs>();
  CLI::App* invite = app.add_subcommand(
      "invite",
      "Invite the people of a contacts CSV into a group, through "
      "the daemon");
  invite->add_option("--group", args->group, "group id")->required();
  invite
      ->add_option("--roles", args->roles,
                   "the permission set: roles, comma-separated")
      ->required()
      ->delimiter(',');
  invite->add_option("--actor", args->actor, "who invites, e.g. user:alice")
      ->required();
  invite
      ->add_option("--from", args->from, "contacts CSV (Outlook, Google, ...)")
      ->required();
  invite->add_option("--server", args->server, "daemon URL")
      ->capture_default_str();
  invite->add_option("--token", args->token,
                     "bearer token with the admin scope");
  invite->add_option("--message", args->message, "invitation message");
  invite->add_flag("--dry-run", args->dry_run,
                   "show who would be invited; send nothing");
  out->push_back({invite, [args] {
                    return RunInviteCommand(*args, std::cout, std::cerr);
                  }});
}

}  // namespace portcullis::cli
