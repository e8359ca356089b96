// JSON Lines import and export of a Store: one record per line.
//
//   {"kind":"resource","type":"group","id":"g1","parent":"account:acme","attributes":{...}}
//   {"kind":"subject","type":"user","id":"alice","attributes":{...}}
//   {"kind":"binding","subject":"user:alice","resource":"group:g1","roles":["member"],
//    "state":"active","expires_at":"RFC3339","created_by":"user:x","created_at":"RFC3339"}
//   {"kind":"restriction","subject":"user:bob","resource":"file:f1","actions":["*"]}
//   {"kind":"invitation","id":"...","resource":"group:g1","invitee":"email:x@y.z",
//    "roles":["member"],"inviter":"user:alice","message":"...","created_at":"...",
//    "expires_at":"...","state":"pending"}
//
// Optional fields: parent, attributes (resource, subject); state (default
// "active"), expires_at, created_by, created_at (binding); inviter, message,
// created_at, expires_at, state (default "pending") (invitation). Export
// omits optional fields that are empty or zero, writes fields in the order
// above and attributes in key order, so export -> import -> export is
// byte-identical. Attribute values are JSON null, booleans, integers
// (int64), numbers, strings and arrays of those; nested objects are
// flattened to dotted keys ("device.ip"). Unknown fields are errors.
//
// Order: export writes resources parents-first (depth-first from the roots,
// children in key order), then subjects, then bindings and restrictions,
// then invitations. Import requires that order (a resource's parent on an
// earlier line); it applies records in transactions of `batch_size` records.
// A bad line is reported with its line number and nothing of its batch is
// applied; earlier batches stay committed (the error says how many records).
//
// Thread safety: the functions keep no state. ImportJsonl runs its writes
// through Store::Write (serialized with other writers); ExportJsonl reads one
// ReadView, which the calling thread must own for the duration.
//
// Invariants:
//   1. FormatJsonlRecord(*ParseJsonlRecord(line)) == line for every line that
//      export writes (one codec for the format, both directions).
//   2. An export is one snapshot: every line comes from the view's revision,
//      which ExportStats::revision reports.
//   3. Import never applies part of a batch: a batch is one write
//      transaction.
#ifndef PORTCULLIS_STORAGE_JSONL_H_
#define PORTCULLIS_STORAGE_JSONL_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"
#include "engine/policy.h"
#include "storage/store.h"

namespace portcullis::storage {

using JsonlRecord = std::variant<ResourceRecord, SubjectRecord, BindingRecord,
                                 RestrictionRecord, Invitation>;

// The longest line import accepts, and the deepest JSON nesting.
inline constexpr size_t kMaxJsonlLine = size_t{1} << 20;
inline constexpr int kMaxJsonlDepth = 16;

// Parses one line. Errors name the field (Status::field()).
Result<JsonlRecord> ParseJsonlRecord(std::string_view line);
// Formats one record as a line, without the newline.
std::string FormatJsonlRecord(const JsonlRecord& record);
// Applies one record in a write transaction.
Status ApplyJsonlRecord(WriteTxn& txn, const JsonlRecord& record);

struct ImportOptions {
  const engine::Policy* policy = nullptr;  // null: structural checks only
  std::string actor;                       // recorded in the changelog
  size_t batch_size = 50000;               // records per transaction
  bool progress = false;  // "\rimported N records" on stderr per batch
};

struct ImportStats {
  uint64_t lines = 0;
  uint64_t records = 0;
  uint64_t batches = 0;
  Revision revision = 0;  // after the last batch
};

Result<ImportStats> ImportJsonl(Store& store, std::istream& in,
                                const ImportOptions& options);
Result<ImportStats> ImportJsonlFile(Store& store, const std::string& path,
                                    const ImportOptions& options);

struct ExportStats {
  uint64_t records = 0;
  Revision revision = 0;  // the snapshot exported
};

// Streams the view's snapshot to `out`.
Result<ExportStats> ExportJsonl(const ReadView& view, std::ostream& out);

}  // namespace portcullis::storage

#endif  // PORTCULLIS_STORAGE_JSONL_H_
