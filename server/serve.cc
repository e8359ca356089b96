#include "server/serve.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "membership/membership.h"
#include "policies/policy_compiler.h"
#include "server/api.h"
#include "server/http/http_server.h"
#include "server/store_data_source.h"
#include "storage/store.h"

namespace portcullis::server {
namespace {

// A JSON-lines sink: stderr ("-") or an appended file. Thread-safe.
//
// Write() only appends to a buffer under a mutex: no system call on the
// request path (it was one write(2), under the lock, per line and per log).
// A flusher thread writes the buffer every kFlushInterval, or as soon as
// kFlushBytes are pending; the destructor writes what is left. Lines
// therefore reach the file within kFlushInterval; a process killed with
// SIGKILL may lose the last interval's lines (SIGTERM drains and flushes).
class LineLog {
 public:
  static constexpr std::chrono::milliseconds kFlushInterval{50};
  static constexpr size_t kFlushBytes = 256 * 1024;

  ~LineLog() {
    if (!flusher_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    flusher_.join();
    if (fd_ > 2) ::close(fd_);
  }

  Status Open(const std::string& where) {
    if (where.empty()) return Status::Ok();
    if (where == "-") {
      fd_ = 2;
    } else {
      fd_ = ::open(where.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                   0644);
      if (fd_ < 0) {
        return Status::InvalidArgument("cannot open log file " + where,
                                       "log");
      }
    }
    flusher_ = std::thread([this] { Flush(); });
    return Status::Ok();
  }
  bool enabled() const { return fd_ >= 0; }
  void Write(std::string_view line) {
    bool full;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.append(line);
      pending_.push_back('\n');
      full = pending_.size() >= kFlushBytes;
    }
    if (full) cv_.notify_one();
  }

 private:
  void Flush() {
    std::string out;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait_for(lock, kFlushInterval,
                   [&] { return stop_ || pending_.size() >= kFlushBytes; });
      out.swap(pending_);
      const bool stop = stop_;
      lock.unlock();
      WriteAll(out);
      out.clear();
      lock.lock();
      if (stop && pending_.empty()) return;
    }
  }
  void WriteAll(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a log that cannot be written drops its lines
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;  // guarded by mu_
  bool stop_ = false;    // guarded by mu_
  std::thread flusher_;
};

// Writes expired invitations as expired (membership::ExpireInvitations) every
// `interval`, from its own thread, until destroyed. Thread-safe: owns its
// state; the store serializes its writes with the API's.
class InvitationSweeper {
 public:
  InvitationSweeper(storage::Store* store, PolicyHolder* policy,
                    std::chrono::milliseconds interval, std::ostream& err)
      : store_(store), policy_(policy), interval_(interval), err_(err) {
    if (interval_.count() > 0) thread_ = std::thread([this] { Run(); });
  }
  ~InvitationSweeper() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      const std::shared_ptr<const LoadedPolicy> policy = policy_->Current();
      membership::WorkflowContext ctx{
          store_, policy->policy.get(), NowMicros(), {}};
      Result<size_t> n = membership::ExpireInvitations(ctx);
      if (!n) {
        err_ << "portcullis: invitation sweep: " << n.error().message()
             << "\n";
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }

  storage::Store* store_;
  PolicyHolder* policy_;
  const std::chrono::milliseconds interval_;
  std::ostream& err_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

std::vector<PolicyDiagnostic> ToDiagnostics(
    const policies::PolicyErrors& errors) {
  std::vector<PolicyDiagnostic> out;
  for (const policies::PolicyError& e : errors) {
    out.push_back({e.file, e.line, e.column, e.message});
  }
  return out;
}

}  // namespace

int RunServe(const ServeConfig& config, std::ostream& out, std::ostream& err) {
  auto listen = ParseListen(config.listen);
  if (!listen) {
    err << "portcullis serve: " << listen.error().message() << "\n";
    return 1;
  }
  if (config.policy_path.empty()) {
    err << "portcullis serve: no policy: give --policy PATH or `policy:` in "
           "the config file\n";
    return 1;
  }
  policies::PolicyResult compiled =
      policies::CompilePolicyFile(config.policy_path);
  if (!compiled) {
    err << "portcullis serve: the policy failed to compile; not starting\n"
        << policies::FormatErrors(compiled.error());
    return 1;
  }

  ApiOptions options;
  options.auth_enabled = config.auth;
  if (config.auth) {
    if (config.tokens_file.empty()) {
      err << "portcullis serve: authentication is on but no tokens file is "
             "given: use --tokens FILE, or --no-auth to run without "
             "authentication\n";
      return 1;
    }
    auto tokens = TokenSet::LoadFile(config.tokens_file);
    if (!tokens) {
      err << "portcullis serve: " << tokens.error().message() << "\n";
      return 1;
    }
    if (tokens->size() == 0) {
      err << "portcullis serve: the tokens file " << config.tokens_file
          << " holds no tokens\n";
      return 1;
    }
    options.tokens = std::move(*tokens);
  }
  options.max_batch = config.max_batch;
  options.max_page = config.max_page;
  options.public_url = config.public_url;
  options.default_page = std::min<size_t>(100, config.max_page);
  options.max_wait = std::chrono::milliseconds(config.long_poll_ms);
  LineLog access_log, decision_log;
  for (auto [log, where] : {std::pair{&access_log, &config.access_log},
                            std::pair{&decision_log, &config.decision_log}}) {
    Status s = log->Open(*where);
    if (!s.ok()) {
      err << "portcullis serve: " << s.message() << "\n";
      return 1;
    }
  }
  if (access_log.enabled()) {
    options.access_log = [&](std::string_view l) { access_log.Write(l); };
  }
  if (decision_log.enabled()) {
    options.decision_log = [&](std::string_view l) { decision_log.Write(l); };
  }

  storage::StoreOptions store_options;
  store_options.max_reader_threads = config.threads;
  auto store = storage::Store::Open(config.data_dir, store_options);
  if (!store) {
    err << "portcullis serve: cannot open the store in " << config.data_dir
        << ": " << store.error().message() << "\n";
    return 1;
  }

  PolicyHolder holder(std::move(*compiled));
  StoreDataSource source(store->get());
  PolicyAdmin admin;
  const std::string policy_path = config.policy_path;
  admin.load = [policy_path](std::vector<PolicyDiagnostic>* errors)
      -> std::shared_ptr<const engine::Policy> {
    policies::PolicyResult r = policies::CompilePolicyFile(policy_path);
    if (!r) {
      *errors = ToDiagnostics(r.error());
      return nullptr;
    }
    return std::move(*r);
  };
  admin.validate = [](std::string_view yaml) {
    policies::PolicyResult r = policies::CompilePolicyText(yaml, "<request>");
    if (r) return std::vector<PolicyDiagnostic>();
    return ToDiagnostics(r.error());
  };
  Api api(std::move(options), &holder, &source, store->get(),
          std::move(admin));

  HttpServerOptions http;
  http.address = listen->host;
  http.port = listen->port;
  http.threads = config.threads;
  http.header_limit = config.header_limit;
  http.body_limit = config.body_limit;
  // Route, token and scope are checked from the header, before the body:
  // an unauthorized client cannot make the daemon read (and hold) a body,
  // and the import's large limit serves only callers already let through.
  http.on_header = [&api](const HttpRequestHead& head) {
    return api.CheckHead(head);
  };
  const size_t import_limit = config.import_body_limit;
  http.body_limit_for = [import_limit](std::string_view method,
                                       std::string_view path)
      -> std::optional<size_t> {
    if (method == "POST" && path == "/v1/import") return import_limit;
    return std::nullopt;
  };
  http.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  http.write_timeout = std::chrono::milliseconds(config.write_timeout_ms);
  http.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  http.on_connection = [&api](int delta) {
    api.metrics().ObserveConnection(delta);
  };
  http.error_body = [](int, std::string_view code, std::string_view message) {
    return ErrorJson(code, message);
  };
  HttpServer server(std::move(http), [&api](HttpRequest& r) {
    return api.Handle(r);
  });
  Status started = server.Start();
  if (!started.ok()) {
    err << "portcullis serve: " << started.message() << "\n";
    return 1;
  }
  if (!config.auth) {
    err << "portcullis serve: WARNING: authentication is OFF (--no-auth): "
           "every client may read, write and reload\n";
  }
  api.SetReady(true);
  InvitationSweeper sweeper(store->get(), &holder,
                            std::chrono::milliseconds(config.invitation_sweep_ms),
                            err);
  const std::shared_ptr<const LoadedPolicy> policy = holder.Current();
  out << "portcullis: listening on " << listen->host << ":" << server.port()
      << " policy " << policy->policy->name << " version "
      << policy->policy->version << " store revision " << (*store)->revision()
      << " data " << config.data_dir << " auth "
      << (config.auth ? "on" : "off") << std::endl;

  const int sig = server.WaitForShutdownSignal([&] {
    std::vector<PolicyDiagnostic> errors;
    Status s = api.Reload(&errors);
    if (s.ok()) {
      err << "portcullis: SIGHUP: reloaded policy version "
          << holder.Current()->policy->version << "\n";
    } else {
      err << "portcullis: SIGHUP: " << s.message() << "\n";
      for (const PolicyDiagnostic& d : errors) {
        err << "  " << d.file << ":" << d.line << ":" << d.column << ": "
            << d.message << "\n";
      }
    }
  });
  api.SetReady(false);
  err << "portcullis: signal " << sig << ": draining "
      << server.open_connections() << " connection(s)\n";
  server.Stop(std::chrono::seconds(10));
  out << "portcullis: stopped" << std::endl;
  return 0;
}

}  // namespace portcullis::server
