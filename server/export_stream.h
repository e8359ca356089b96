// ExportStream: the body of GET /v1/export, produced while it is sent.
//
// An HTTP face on storage::ExportSpool (storage/export_spool.h), which
// exports one snapshot on a thread of its own into a temporary file so that
// a slow client never holds the snapshot: the connection's I/O thread pulls
// what has been written so far, piece by piece, and sends each piece as one
// HTTP chunk.
//
// Thread safety: Pull is called by one thread (the connection's). The
// destructor cancels the export and waits for its thread, so that no export
// outlives the Store it reads.
#ifndef PORTCULLIS_SERVER_EXPORT_STREAM_H_
#define PORTCULLIS_SERVER_EXPORT_STREAM_H_

#include <memory>
#include <string>

#include "common/status.h"
#include "server/http/http_server.h"
#include "storage/export_spool.h"
#include "storage/store.h"

namespace portcullis::server {

class ExportStream final : public BodyStream {
 public:
  // Creates the temporary file in `temp_dir` and starts exporting `view`.
  // Fails (kUnavailable) if the file cannot be created.
  static Result<std::shared_ptr<ExportStream>> Start(
      storage::ReadView view, const std::string &temp_dir);

  ExportStream(const ExportStream &) = delete;
  ExportStream &operator=(const ExportStream &) = delete;

  State Pull(std::string *out, size_t max) override;

  // The error that ended the export early, or OK (valid once Pull returned
  // kEnd or kFailed).
  Status status() const { return spool_->status(); }

 private:
  explicit ExportStream(std::unique_ptr<storage::ExportSpool> spool)
      : spool_(std::move(spool)) {}

  const std::unique_ptr<storage::ExportSpool> spool_;
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_EXPORT_STREAM_H_
