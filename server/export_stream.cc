#include "server/export_stream.h"

namespace portcullis::server {

Result<std::shared_ptr<ExportStream>>
ExportStream::Start(storage::ReadView view, const std::string &temp_dir) {
  auto spool = storage::ExportSpool::Start(std::move(view), temp_dir);
  if (!spool)
    return Fail(spool.error());
  return std::shared_ptr<ExportStream>(new ExportStream(std::move(*spool)));
}

BodyStream::State ExportStream::Pull(std::string *out, size_t max) {
  switch (spool_->Pull(out, max)) {
  case storage::ExportSpool::State::kData:
    return State::kData;
  case storage::ExportSpool::State::kWait:
    return State::kWait;
  case storage::ExportSpool::State::kEnd:
    return State::kEnd;
  case storage::ExportSpool::State::kFailed:
    return State::kFailed;
  }
  return State::kFailed;
}

} // namespace portcullis::server
