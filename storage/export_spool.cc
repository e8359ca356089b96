// ExportSpool (see export_spool.h): a producer thread formats the snapshot
// into an unlinked temporary file; Pull reads back what has been published.
#include "storage/export_spool.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <streambuf>
#include <vector>

#include "storage/jsonl.h"

namespace portcullis::storage {
namespace {

constexpr size_t kSinkBuffer = 64 * 1024;

// A streambuf that appends to a file descriptor and publishes the number of
// bytes written after each flush. Fails (and so fails the ostream) once
// `cancel` is set.
class PublishingSink final : public std::streambuf {
 public:
  PublishingSink(int fd, std::atomic<uint64_t> *published,
                 const std::atomic<bool> *cancel)
      : fd_(fd), published_(published), cancel_(cancel), buf_(kSinkBuffer) {
    setp(buf_.data(), buf_.data() + buf_.size());
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!Flush()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return Flush() ? 0 : -1; }

 private:
  bool Flush() {
    if (cancel_->load(std::memory_order_relaxed)) return false;
    const char *p = pbase();
    size_t left = static_cast<size_t>(pptr() - pbase());
    const size_t total = left;
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    published_->fetch_add(total, std::memory_order_release);
    setp(buf_.data(), buf_.data() + buf_.size());
    return true;
  }

  const int fd_;
  std::atomic<uint64_t> *published_;
  const std::atomic<bool> *cancel_;
  std::vector<char> buf_;
};

}  // namespace

Result<std::unique_ptr<ExportSpool>> ExportSpool::Start(
    ReadView view, const std::string &temp_dir) {
  std::string path = temp_dir.empty() ? std::string(".") : temp_dir;
  path.append("/portcullis-export-XXXXXX");
  const int fd = ::mkstemp(path.data());
  if (fd < 0) {
    return Fail(Status(StatusCode::kUnavailable,
                       "cannot create a temporary file for the export in " +
                           temp_dir + ": " + std::strerror(errno)));
  }
  ::unlink(path.c_str());  // the open descriptor keeps it until closed
  std::unique_ptr<ExportSpool> s(new ExportSpool(fd));
  s->producer_ = std::thread([raw = s.get(), v = std::move(view)]() mutable {
    raw->Produce(std::move(v));
  });
  return s;
}

ExportSpool::~ExportSpool() {
  cancel_.store(true, std::memory_order_relaxed);
  if (producer_.joinable()) producer_.join();
  ::close(fd_);
}

void ExportSpool::Produce(ReadView view) {
  Status result;
  {
    PublishingSink sink(fd_, &published_, &cancel_);
    std::ostream out(&sink);
    Result<ExportStats> stats = ExportJsonl(view, out);
    if (!stats) result = stats.error();
    // `view` (the read transaction) ends when this function returns, before
    // the consumer has necessarily read anything.
  }
  {
    MutexLock lock(&mu_);
    status_ = std::move(result);
  }
  done_.store(true, std::memory_order_release);
}

ExportSpool::State ExportSpool::Pull(std::string *out, size_t max) {
  // Read done_ before published_: if the export was done, everything it
  // wrote is published.
  const bool done = done_.load(std::memory_order_acquire);
  const uint64_t available = published_.load(std::memory_order_acquire);
  if (read_ < available) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(max, available - read_));
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, out->data() + got, n - got,
                                static_cast<off_t>(read_ + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        MutexLock lock(&mu_);
        if (status_.ok()) {
          status_ = Status::Internal(
              "cannot read back the export's "
              "temporary file");
        }
        return State::kFailed;
      }
      got += static_cast<size_t>(r);
    }
    read_ += n;
    return State::kData;
  }
  if (!done) return State::kWait;
  MutexLock lock(&mu_);
  return status_.ok() ? State::kEnd : State::kFailed;
}

Status ExportSpool::status() const {
  MutexLock lock(&mu_);
  return status_;
}

}  // namespace portcullis::storage
