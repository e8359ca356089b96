#include "cluster/follower.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "cluster/pg.h"
#include "cluster/schema.h"

namespace portcullis::cluster {
namespace {

using storage::Revision;

}  // namespace

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t at = url.find('@', scheme + 3);
  if (at == std::string_view::npos) return std::string(url);
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  std::string out(url.substr(0, colon + 1));
  out += "***";
  out += url.substr(at);
  return out;
}

Follower::Follower(std::string url, storage::Store* store,
                   FollowerOptions options)
    : url_(std::move(url)),
      store_(store),
      options_(std::move(options)),
      waiters_(std::make_shared<RevisionWaiters>(options_.max_waiting_reads)) {
  waiters_->Advance(store_->revision());
  if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    stop_pipe_[0] = stop_pipe_[1] = -1;
  }
}

Follower::~Follower() {
  stop_.store(true);
  if (stop_pipe_[1] >= 0) {
    const char byte = 1;
    (void)::write(stop_pipe_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void Follower::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void Follower::Start() {
  serving_.store(true);
  thread_ = std::thread([this] { Run(); });
}

ReplicaState Follower::State() const {
  ReplicaState st;
  st.applied = store_->revision();
  MutexLock lock(&mu_);
  st.source_head = std::max(source_head_, st.applied);
  if (st.applied < st.source_head && next_commit_ > 0) {
    st.lag_ms = std::max<int64_t>(0, (NowMicros() - next_commit_) / 1000);
  }
  st.source_reachable = reachable_;
  st.last_contact = last_contact_;
  st.bootstraps = bootstraps_;
  st.rebootstraps = rebootstraps_;
  st.applied_changes = applied_changes_;
  st.stuck = stuck_;
  st.last_error = last_error_;
  return st;
}

int64_t Follower::StaleMs() const {
  const TimestampMicros since = stale_since_.load(std::memory_order_relaxed);
  if (since == 0) return -1;
  return std::max<int64_t>(0, (NowMicros() - since) / 1000);
}

bool Follower::WaitForRevision(Revision revision,
                               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  for (;;) {
    if (applied() >= revision) return true;
    if (stuck_) return false;  // it will not get there
    if (!applied_cv_.WaitUntil(&mu_, deadline)) return applied() >= revision;
  }
}

std::shared_ptr<void> Follower::WatchRevision(Revision revision,
                                              std::function<void()> wake) {
  return waiters_->Add(revision, std::move(wake));
}

void Follower::NoteApplied(Revision revision) {
  waiters_->Advance(revision);
  {
    // A WaitForRevision between its check and its wait holds mu_: taking it
    // here means it is waiting by the time of the notification below.
    MutexLock lock(&mu_);
  }
  applied_cv_.NotifyAll();
}

void Follower::NoteContact(Revision head, TimestampMicros next_commit) {
  bool was_reachable;
  {
    MutexLock lock(&mu_);
    was_reachable = reachable_;
    reachable_ = true;
    last_contact_ = NowMicros();
    stale_since_.store(0, std::memory_order_relaxed);
    source_head_ = std::max(source_head_, head);
    next_commit_ = next_commit;
  }
  if (!was_reachable) {
    Log("replica: connected to the source " + RedactUrl(url_) +
        " (source revision " + std::to_string(head) + ")");
  }
}

void Follower::NoteFailure(const Status& s) {
  bool was_reachable;
  bool repeated;
  {
    MutexLock lock(&mu_);
    was_reachable = reachable_;
    if (s.code() == StatusCode::kUnavailable) {
      reachable_ = false;
      if (stale_since_.load(std::memory_order_relaxed) == 0) {
        stale_since_.store(last_contact_ != 0 ? last_contact_ : NowMicros(),
                           std::memory_order_relaxed);
      }
    }
    repeated = last_error_ == s.message();
    last_error_ = s.message();
  }
  if (s.code() != StatusCode::kUnavailable) {
    if (!repeated) Log("replica: cannot apply the change log: " + s.message());
    return;
  }
  if (was_reachable) {
    Log("replica: lost the source; serving reads from revision " +
        std::to_string(store_->revision()) + ", writes refused: " +
        s.message());
  }
}

Status Follower::Connect() {
  if (conn_ != nullptr && conn_->ok()) return Status::Ok();
  conn_.reset();
  auto conn = PgConnection::Connect(url_, std::chrono::seconds(2));
  if (!conn) return conn.error();
  Status s = (*conn)->Run(std::string("LISTEN ") + kChangesChannel);
  if (!s.ok()) return s;
  conn_ = std::move(*conn);
  return Status::Ok();
}

Status Follower::ApplyOne(const storage::ChangeSet& cs) {
  if (cs.revision <= store_->revision()) return Status::Ok();
  Result<Revision> r = store_->Apply(cs);
  // A local write may have committed this very revision meanwhile.
  if (!r && store_->revision() < cs.revision) return r.error();
  {
    MutexLock lock(&mu_);
    ++applied_changes_;
  }
  NoteApplied(cs.revision);
  return Status::Ok();
}

Result<Revision> Follower::OpenSnapshot() {
  Status s = conn_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!s.ok()) return tl::unexpected(s);
  Result<PgRows> head_row =
      conn_->Exec("SELECT revision FROM portcullis_head");
  if (!head_row || head_row->size() != 1) {
    (void)conn_->Run("ROLLBACK");
    return tl::unexpected(head_row ? Status::FailedPrecondition(
                                         "portcullis_head holds no row")
                                   : head_row.error());
  }
  const Revision head = static_cast<Revision>(head_row->GetInt(0, 0));
  if (head == 0) return head;
  s = conn_->Run(
      "DECLARE portcullis_boot NO SCROLL CURSOR FOR SELECT tbl, key, value "
      "FROM portcullis_records ORDER BY tbl, key");
  if (!s.ok()) {
    (void)conn_->Run("ROLLBACK");
    return tl::unexpected(s);
  }
  return head;
}

Result<bool> Follower::FetchSnapshot(std::vector<storage::RecordChange>* part) {
  Result<PgRows> rows = conn_->Exec(
      "FETCH " + std::to_string(options_.bootstrap_chunk) +
      " FROM portcullis_boot");
  if (!rows) return tl::unexpected(rows.error());
  part->reserve(part->size() + static_cast<size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    part->push_back({static_cast<storage::Table>(rows->GetInt(i, 0)),
                     std::string(rows->GetBytes(i, 1)),
                     std::string(rows->GetBytes(i, 2))});
  }
  return rows->size() == options_.bootstrap_chunk;
}

Status Follower::Bootstrap() {
  const std::filesystem::path marker =
      std::filesystem::path(store_->dir()) / kBootstrapMarker;
  Result<Revision> opened = OpenSnapshot();
  if (!opened) return opened.error();
  const Revision head = *opened;
  if (head == 0) {
    NoteContact(0, 0);
    return conn_->Run("COMMIT");
  }
  const auto start = std::chrono::steady_clock::now();
  Log("replica: bootstrapping from the source at revision " +
      std::to_string(head));
  std::ofstream(marker) << head << "\n";
  Status s;
  uint64_t records = 0;
  bool applied_any = false;
  for (bool first = true, more = true; more; first = false) {
    storage::ChangeSet cs;
    cs.revision = head;
    cs.entry.revision = head;
    cs.entry.time = NowMicros();
    if (first) {
      cs.entry.changes.push_back(
          {"replica.bootstrap", "", std::to_string(head)});
      cs.entry.change_count = 1;
    }
    Result<bool> fetched = FetchSnapshot(&cs.records);
    if (!fetched) {
      s = fetched.error();
      break;
    }
    more = *fetched;
    records += cs.records.size();
    Result<Revision> applied = store_->Apply(cs);
    if (!applied) {
      s = applied.error();
      break;
    }
    applied_any = true;
  }
  if (!s.ok()) {
    (void)conn_->Run("ROLLBACK");
    if (!applied_any) {
      // Nothing of the snapshot is in the store. It may have stopped being
      // empty meanwhile: this node's own first write (revision 1) commits
      // without waiting for a bootstrap. The store is then a whole replica
      // at that revision and is followed from there.
      std::filesystem::remove(marker);
      return store_->revision() > 0 ? Status::Ok() : s;
    }
    {
      // Part of the snapshot is in the store: it must not be followed.
      MutexLock lock(&mu_);
      stuck_ = true;
      last_error_ = "the bootstrap was cut short (" + s.message() +
                    "); restart this node to bootstrap it again";
    }
    return s;
  }
  (void)conn_->Run("COMMIT");
  std::filesystem::remove(marker);
  NoteBootstrapped(head, records, start, /*in_place=*/false);
  return Status::Ok();
}

void Follower::NoteBootstrapped(
    Revision head, uint64_t records,
    std::chrono::steady_clock::time_point start, bool in_place) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  {
    MutexLock lock(&mu_);
    ++bootstraps_;
    if (in_place) {
      ++rebootstraps_;
      next_commit_ = 0;
    }
  }
  NoteApplied(head);
  NoteContact(head, 0);
  Log(std::string(in_place ? "replica: bootstrapped again, in place: "
                           : "replica: bootstrapped ") +
      std::to_string(records) + " records at revision " +
      std::to_string(head) + " in " + std::to_string(ms) + " ms");
}

Status Follower::BootstrapInPlace(const std::string& why) {
  const Revision local = store_->revision();
  Log("replica: bootstrapping again, in place: " + why +
      "; serving revision " + std::to_string(local) + " meanwhile");
  const auto start = std::chrono::steady_clock::now();
  Result<Revision> opened = OpenSnapshot();
  if (!opened) return opened.error();
  const Revision head = *opened;
  uint64_t records = 0;
  Result<Revision> replaced = store_->Replace(
      head, [&](std::vector<storage::RecordChange>* part) -> Result<bool> {
        Result<bool> more = FetchSnapshot(part);
        if (more) records += part->size();
        return more;
      });
  if (!replaced) {
    (void)conn_->Run("ROLLBACK");
    return replaced.error();
  }
  (void)conn_->Run("COMMIT");
  NoteBootstrapped(head, records, start, /*in_place=*/true);
  return Status::Ok();
}

Status Follower::ApplyNext(bool* more) {
  *more = false;
  const Revision local = store_->revision();
  // A snapshot is loaded in chunks, and reads and writes would see the
  // store half-filled: only before the daemon serves (CatchUp). A serving
  // replica that is still empty follows the change log from revision 1.
  if (local == 0 && !serving_.load()) {
    Status s = Bootstrap();
    *more = s.ok() && store_->revision() > 0;
    return s;
  }
  // One statement, one snapshot: the head and the change sets after ours.
  Result<PgRows> rows = conn_->Exec(
      "SELECT h.revision, c.revision, c.change_set, c.us "
      "FROM portcullis_head h LEFT JOIN LATERAL ("
      " SELECT revision, change_set,"
      "  (extract(epoch FROM committed_at) * 1000000)::bigint AS us"
      " FROM portcullis_changes WHERE revision > $1"
      " ORDER BY revision LIMIT $2) c ON true",
      {PgParam::Int(static_cast<int64_t>(local)),
       PgParam::Int(options_.fetch_batch)});
  if (!rows) return rows.error();
  if (rows->size() == 0) {
    return Status::FailedPrecondition("portcullis_head holds no row");
  }
  const Revision head = static_cast<Revision>(rows->GetInt(0, 0));
  const bool none = rows->IsNull(0, 1);
  const Revision first = none ? 0 : static_cast<Revision>(rows->GetInt(0, 1));
  NoteContact(head, none ? 0 : rows->GetInt(0, 3));
  if (head > local && (none || first > local + 1)) {
    // Retention: the change log no longer reaches this replica. Its store
    // is replaced by a snapshot in one transaction while it serves.
    return BootstrapInPlace("the source's change log no longer holds "
                            "revision " +
                            std::to_string(local + 1) + " (retention)");
  }
  if ((none && head > local) || (!none && first > local + 1) ||
      head < local) {
    std::string why =
        head < local
            ? "the replica (revision " + std::to_string(local) +
                  ") is ahead of the source (revision " +
                  std::to_string(head) + ")"
            : "the source's change log no longer holds revision " +
                  std::to_string(local + 1) + " (retention)";
    {
      MutexLock lock(&mu_);
      if (stuck_) return Status::Ok();
      stuck_ = true;
      last_error_ = why + "; restart this node to bootstrap it again";
    }
    Log("replica: stopped following: " + why +
        "; restart this node to bootstrap it again");
    return Status::Ok();
  }
  if (none) return Status::Ok();
  for (int i = 0; i < rows->size(); ++i) {
    Result<storage::ChangeSet> cs =
        storage::DecodeChangeSet(rows->GetBytes(i, 2));
    if (!cs) {
      return Status::Internal("revision " + std::to_string(rows->GetInt(i, 1)) +
                              " of the change log cannot be decoded: " +
                              cs.error().message());
    }
    Status s = ApplyOne(*cs);
    if (!s.ok()) return s;
    MutexLock lock(&mu_);
    next_commit_ = i + 1 < rows->size() ? rows->GetInt(i + 1, 3) : 0;
  }
  *more = rows->size() == options_.fetch_batch;
  return Status::Ok();
}

Status Follower::CatchUp() {
  Status s = Connect();
  if (!s.ok()) {
    NoteFailure(s);
    return s;
  }
  bool more = true;
  while (more && s.ok()) s = ApplyNext(&more);
  if (!s.ok()) NoteFailure(s);
  return s;
}

void Follower::WaitForWork(std::chrono::milliseconds timeout) {
  if (conn_ != nullptr) {
    // Notifications read along with earlier results are already queued.
    auto queued = conn_->TakeNotifications();
    if (!queued) {
      conn_.reset();
    } else if (!queued->empty()) {
      return;
    }
  }
  pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0},
                   {conn_ ? conn_->socket() : -1, POLLIN, 0}};
  (void)::poll(fds, 2, static_cast<int>(timeout.count()));
  if (conn_ != nullptr && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
    if (!conn_->TakeNotifications()) conn_.reset();
  }
}

void Follower::Run() {
  while (!stop_.load()) {
    Status s = Connect();
    if (!s.ok()) {
      NoteFailure(s);
      WaitForWork(options_.retry_interval);
      continue;
    }
    bool stuck;
    {
      MutexLock lock(&mu_);
      stuck = stuck_;
    }
    bool more = !stuck;
    while (more && s.ok() && !stop_.load()) s = ApplyNext(&more);
    if (!s.ok()) {
      NoteFailure(s);
      if (conn_ != nullptr && !conn_->ok()) conn_.reset();
      WaitForWork(options_.retry_interval);
      continue;
    }
    WaitForWork(options_.poll_interval);
  }
}

}  // namespace portcullis::cluster
