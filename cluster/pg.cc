#include "cluster/pg.h"

#include <algorithm>
#include <cstring>

namespace portcullis::cluster {
namespace {

// libpq's error text without its trailing newline.
std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string_view PgRows::GetBytes(int row, int col) const {
  return std::string_view(PQgetvalue(result_.get(), row, col),
                          static_cast<size_t>(
                              PQgetlength(result_.get(), row, col)));
}

int64_t PgRows::GetInt(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const std::string_view b = GetBytes(row, col);
  uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;  // network byte order
  switch (b.size()) {
    case 2:
      return static_cast<int16_t>(v);
    case 4:
      return static_cast<int32_t>(v);
    default:
      return static_cast<int64_t>(v);
  }
}

int64_t PgRows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return (n == nullptr || *n == '\0') ? 0 : std::strtoll(n, nullptr, 10);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& url, std::chrono::seconds timeout) {
  const std::string seconds =
      std::to_string(std::max<int64_t>(2, timeout.count()));
  // Earlier pairs are overridden by the URL's own parameters (expanded from
  // "dbname" in place).
  const char* keys[] = {"connect_timeout", "application_name", "dbname",
                        nullptr};
  const char* values[] = {seconds.c_str(), "portcullis", url.c_str(),
                          nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return tl::unexpected(Status(StatusCode::kUnavailable,
                                 "cannot allocate a PostgreSQL connection"));
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s(StatusCode::kUnavailable,
             "cannot connect to PostgreSQL at " + RedactUrl(url) + ": " +
                 Trimmed(PQerrorMessage(conn)));
    PQfinish(conn);
    return tl::unexpected(std::move(s));
  }
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

int PgConnection::socket() const { return PQsocket(conn_); }

Result<PgRows> PgConnection::Exec(std::string_view sql,
                                  const std::vector<PgParam>& params) {
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].null ? nullptr : params[i].value.data();
    lengths[i] = static_cast<int>(params[i].value.size());
    formats[i] = params[i].binary ? 1 : 0;
  }
  const std::string text(sql);
  PGresult* result = PQexecParams(
      conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
      values.data(), lengths.data(), formats.data(), /*resultFormat=*/1);
  const ExecStatusType status =
      result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    return PgRows(result);
  }
  std::string message =
      Trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  if (result) PQclear(result);
  const StatusCode code = ok() ? StatusCode::kFailedPrecondition
                               : StatusCode::kUnavailable;
  return tl::unexpected(Status(code, "PostgreSQL: " + message));
}

Status PgConnection::Run(std::string_view sql,
                         const std::vector<PgParam>& params) {
  Result<PgRows> r = Exec(sql, params);
  return r ? Status::Ok() : r.error();
}

Result<std::vector<std::string>> PgConnection::TakeNotifications() {
  if (PQconsumeInput(conn_) == 0) {
    return tl::unexpected(
        Status(StatusCode::kUnavailable,
               "PostgreSQL: " + Trimmed(PQerrorMessage(conn_))));
  }
  std::vector<std::string> channels;
  while (PGnotify* n = PQnotifies(conn_)) {
    channels.emplace_back(n->relname);
    PQfreemem(n);
  }
  return channels;
}

}  // namespace portcullis::cluster
