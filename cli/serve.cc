#include "cli/serve.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <functional>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "cluster/replica.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "index/decision_index.h"
#include "membership/membership.h"
#include "policies/policy_compiler.h"
#include "server/api.h"
#include "server/http/http_server.h"
#include "server/json.h"
#include "storage/store.h"

namespace portcullis::cli {
namespace {

using server::Api;
using server::ApiOptions;
using server::ErrorJson;
using server::HttpRequest;
using server::HttpRequestHead;
using server::HttpServer;
using server::HttpServerOptions;
using server::ListenAddress;
using server::PageTokenKey;
using server::LoadedPolicy;
using server::ParseListen;
using server::PolicyAdmin;
using server::PolicyDiagnostic;
using server::PolicyHolder;
using server::ServeConfig;
using server::TokenSet;

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
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.NotifyOne();
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
  void Write(std::string_view line) EXCLUDES(mu_) {
    bool full;
    {
      MutexLock lock(&mu_);
      pending_.append(line);
      pending_.push_back('\n');
      full = pending_.size() >= kFlushBytes;
    }
    if (full) cv_.NotifyOne();
  }

 private:
  void Flush() EXCLUDES(mu_) {
    std::string out;
    mu_.Lock();
    for (;;) {
      const auto until = std::chrono::steady_clock::now() + kFlushInterval;
      while (!stop_ && pending_.size() < kFlushBytes &&
             std::chrono::steady_clock::now() < until) {
        cv_.WaitUntil(&mu_, until);
      }
      out.swap(pending_);
      const bool stop = stop_;
      mu_.Unlock();
      WriteAll(out);
      out.clear();
      mu_.Lock();
      if (stop && pending_.empty()) break;
    }
    mu_.Unlock();
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
  Mutex mu_;
  CondVar cv_;
  std::string pending_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
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
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.NotifyOne();
    thread_.join();
  }

 private:
  void Run() EXCLUDES(mu_) {
    mu_.Lock();
    while (!stop_) {
      mu_.Unlock();
      const std::shared_ptr<const LoadedPolicy> policy = policy_->Current();
      membership::WorkflowContext ctx{
          store_, policy->policy.get(), NowMicros(), {}};
      Result<size_t> n = membership::ExpireInvitations(ctx);
      if (!n) {
        err_ << "portcullis: invitation sweep: " << n.error().message()
             << "\n";
      }
      mu_.Lock();
      const auto until = std::chrono::steady_clock::now() + interval_;
      while (!stop_ && std::chrono::steady_clock::now() < until) {
        cv_.WaitUntil(&mu_, until);
      }
    }
    mu_.Unlock();
  }

  storage::Store* store_;
  PolicyHolder* policy_;
  const std::chrono::milliseconds interval_;
  std::ostream& err_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Runs blocking tasks (cluster mode's writes, which wait for their group's
// PostgreSQL commit) on threads of its own, in arrival order, so that no
// I/O thread waits for them. Thread-safe. The destructor runs what is
// queued, then joins.
class WritePool {
 public:
  explicit WritePool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  ~WritePool() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.NotifyAll();
    for (std::thread& t : threads_) t.join();
  }
  void Run(std::function<void()> task) EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.NotifyOne();
  }

 private:
  void Work() EXCLUDES(mu_) {
    for (;;) {
      std::function<void()> task;
      {
        MutexLock lock(&mu_);
        while (!stop_ && tasks_.empty()) cv_.Wait(&mu_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> tasks_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Writes that may wait at once at a node in cluster mode, each on a
// WritePool thread: the most that one group commit can carry.
constexpr int kWriteThreads = 128;

std::vector<PolicyDiagnostic> ToDiagnostics(
    const policies::PolicyErrors& errors) {
  std::vector<PolicyDiagnostic> out;
  for (const policies::PolicyError& e : errors) {
    out.push_back({e.file, e.line, e.column, e.message});
  }
  return out;
}

// The policy to serve, compiled; null (after printing why) if there is
// none or it does not compile.
std::shared_ptr<const engine::Policy> CompileServedPolicy(
    const ServeConfig& config, std::ostream& err) {
  if (config.policy_path.empty()) {
    err << "portcullis serve: no policy: give --policy PATH or `policy:` in "
           "the config file\n";
    return nullptr;
  }
  policies::PolicyResult compiled =
      policies::CompilePolicyFile(config.policy_path);
  if (!compiled) {
    err << "portcullis serve: the policy failed to compile; not starting\n"
        << policies::FormatErrors(compiled.error());
    return nullptr;
  }
  return std::move(*compiled);
}

// Sets authentication in `options`: loads the tokens when it is on. False
// (after printing why) if it is on and there are no tokens to load.
bool SetAuthentication(const ServeConfig& config, ApiOptions* options,
                       std::ostream& err) {
  options->auth_enabled = config.auth;
  if (!config.auth) return true;
  if (config.tokens_file.empty()) {
    err << "portcullis serve: authentication is on but no tokens file is "
           "given: use --tokens FILE, or --no-auth to run without "
           "authentication\n";
    return false;
  }
  auto tokens = TokenSet::LoadFile(config.tokens_file);
  if (!tokens) {
    err << "portcullis serve: " << tokens.error().message() << "\n";
    return false;
  }
  if (tokens->size() == 0) {
    err << "portcullis serve: the tokens file " << config.tokens_file
        << " holds no tokens\n";
    return false;
  }
  options->tokens = std::move(*tokens);
  return true;
}

// Sets the page token key from the configured secret file, if any. False
// (after printing why) if the file cannot be read or is too short.
bool SetPageTokenKey(const ServeConfig& config, ApiOptions* options,
                     std::ostream& err) {
  if (config.page_token_key_file.empty()) return true;  // random at start
  std::ifstream in(config.page_token_key_file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    err << "portcullis serve: cannot read the page token key file "
        << config.page_token_key_file << "\n";
    return false;
  }
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  auto key = PageTokenKey::FromSecret(secret, "page_token_key_file");
  if (!key) {
    err << "portcullis serve: " << config.page_token_key_file << ": "
        << key.error().message() << "\n";
    return false;
  }
  options->page_token_key = *key;
  return true;
}

void SetApiLimits(const ServeConfig& config, ApiOptions* options) {
  options->max_batch = config.max_batch;
  options->max_page = config.max_page;
  options->public_url = config.public_url;
  options->default_page = std::min<size_t>(100, config.max_page);
  options->max_wait = std::chrono::milliseconds(config.long_poll_ms);
}

// Opens the access and decision logs the config names and points `options`
// at those that are enabled. False (after printing why) if one cannot be
// opened.
bool OpenLogs(const ServeConfig& config, LineLog* access_log,
              LineLog* decision_log, ApiOptions* options, std::ostream& err) {
  for (auto [log, where] : {std::pair{access_log, &config.access_log},
                            std::pair{decision_log, &config.decision_log}}) {
    Status s = log->Open(*where);
    if (!s.ok()) {
      err << "portcullis serve: " << s.message() << "\n";
      return false;
    }
  }
  if (access_log->enabled()) {
    options->access_log = [access_log](std::string_view l) {
      access_log->Write(l);
    };
  }
  if (decision_log->enabled()) {
    options->decision_log = [decision_log](std::string_view l) {
      decision_log->Write(l);
    };
  }
  return true;
}

// The store in config.data_dir; null (after printing why) if it cannot be
// opened.
std::unique_ptr<storage::Store> OpenStore(const ServeConfig& config,
                                          std::ostream& err) {
  storage::StoreOptions store_options;
  store_options.max_reader_threads = config.threads;
  auto store = storage::Store::Open(config.data_dir, store_options);
  if (!store) {
    err << "portcullis serve: cannot open the store in " << config.data_dir
        << ": " << store.error().message() << "\n";
    return nullptr;
  }
  return std::move(*store);
}

// The environment variable of OpenReplica's fault injection.
constexpr const char* kKillAfterSourceCommit =
    "PORTCULLIS_TEST_KILL_AFTER_SOURCE_COMMIT";

// Cluster mode: the store in config.data_dir as a replica of config.source
// (cluster/replica.h); null (after printing why) if it cannot be had. The
// replica's own log lines go to `err`.
std::unique_ptr<cluster::Replica> OpenReplica(const ServeConfig& config,
                                              std::ostream& err) {
  cluster::ReplicaOptions o;
  o.source_url = config.source;
  o.data_dir = config.data_dir;
  o.store_options.max_reader_threads = config.threads;
  o.follower.log = [&err](std::string_view line) {
    err << ("portcullis: " + std::string(line) + "\n") << std::flush;
  };
  // Fault injection for the cluster's end-to-end tests only; off unless
  // their environment sets it: the daemon kills itself (SIGKILL) right after
  // a write's PostgreSQL COMMIT, before its own commit and its answer.
  if (const char* kill = std::getenv(kKillAfterSourceCommit);
      kill != nullptr && std::string_view(kill) == "1") {
    o.after_source_commit = [] { ::raise(SIGKILL); };
  }
  auto replica = cluster::Replica::Open(std::move(o));
  if (!replica) {
    err << "portcullis serve: cannot serve a replica of "
        << cluster::RedactUrl(config.source) << " in " << config.data_dir
        << ": " << replica.error().message() << "\n";
    return nullptr;
  }
  return std::move(*replica);
}

// The API's view of the replica: its state and its waits; writes run on
// `writes`.
void SetReplicaHooks(cluster::Replica* replica, WritePool* writes,
                     ApiOptions* options) {
  options->replica.run_write = [writes](std::function<void()> task) {
    writes->Run(std::move(task));
  };
  options->replica.status = [replica] {
    const cluster::ReplicaState st = replica->State();
    server::ReplicaStatus out;
    out.revision = st.applied;
    out.source_revision = st.source_head;
    out.lag_ms = st.lag_ms;
    out.source_reachable = st.source_reachable;
    out.staleness_ms =
        st.last_contact == 0 ? -1 : (NowMicros() - st.last_contact) / 1000;
    out.bootstraps = st.bootstraps;
    out.rebootstraps = st.rebootstraps;
    out.applied_changes = st.applied_changes;
    out.stuck = st.stuck;
    out.last_error = st.last_error;
    return out;
  };
  options->replica.stale_ms = [replica] { return replica->StaleMs(); };
  options->replica.revision = [replica] { return replica->applied(); };
  options->replica.watch = [replica](uint64_t revision,
                                     std::function<void()> wake) {
    return replica->WatchRevision(revision, std::move(wake));
  };
}

// Reload and validation for the admin endpoints: both compile with the
// policy compiler; reload reads the policy file again.
PolicyAdmin MakePolicyAdmin(const std::string& policy_path) {
  PolicyAdmin admin;
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
  return admin;
}

// The HTTP server's options: the config's address, limits and timeouts,
// with `api` answering headers and counting connections. `api` must outlive
// the server.
HttpServerOptions MakeHttpOptions(const ServeConfig& config,
                                  const ListenAddress& listen, Api* api) {
  HttpServerOptions http;
  http.address = listen.host;
  http.port = listen.port;
  http.threads = config.threads;
  http.header_limit = config.header_limit;
  http.body_limit = config.body_limit;
  // Route, token and scope are checked from the header, before the body:
  // an unauthorized client cannot make the daemon read (and hold) a body,
  // and the import's large limit serves only callers already let through.
  http.on_header = [api](const HttpRequestHead& head) {
    return api->CheckHead(head);
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
  http.on_connection = [api](int delta) {
    api->metrics().ObserveConnection(delta);
  };
  http.error_body = [](int, std::string_view code, std::string_view message) {
    return ErrorJson(code, message);
  };
  return http;
}

// SIGHUP: recompiles the policy file and says what came of it on `err`.
void ReloadOnSighup(Api& api, const PolicyHolder& holder, std::ostream& err) {
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
}

}  // namespace

int RunServe(const ServeConfig& config, std::ostream& out, std::ostream& err) {
  auto listen = ParseListen(config.listen);
  if (!listen) {
    err << "portcullis serve: " << listen.error().message() << "\n";
    return 1;
  }
  std::shared_ptr<const engine::Policy> compiled =
      CompileServedPolicy(config, err);
  if (!compiled) return 1;
  ApiOptions options;
  if (!SetAuthentication(config, &options, err)) return 1;
  if (!SetPageTokenKey(config, &options, err)) return 1;
  SetApiLimits(config, &options);
  // The logs outlive the Api, whose callbacks write to them.
  LineLog access_log, decision_log;
  if (!OpenLogs(config, &access_log, &decision_log, &options, err)) return 1;
  // Embedded: the store is the data. Cluster mode: the store is a replica
  // of the source, which every write goes through.
  std::unique_ptr<cluster::Replica> replica;
  std::unique_ptr<storage::Store> own_store;
  // Emptied (joined) after the server stops and before the Api goes: its
  // tasks use the Api.
  std::unique_ptr<WritePool> write_pool;
  storage::Store* store = nullptr;
  if (config.source.empty()) {
    own_store = OpenStore(config, err);
    store = own_store.get();
  } else {
    replica = OpenReplica(config, err);
    if (replica) {
      store = replica->store();
      write_pool = std::make_unique<WritePool>(kWriteThreads);
      SetReplicaHooks(replica.get(), write_pool.get(), &options);
    }
  }
  if (store == nullptr) return 1;
  options.revision_wait = std::chrono::milliseconds(config.revision_wait_ms);
  // Built from a snapshot in the background: checks read LMDB until it is
  // ready. Declared after the store, so destroyed (detached) before it.
  index::DecisionIndex decision_index;
  if (config.decision_index) decision_index.Follow(store);

  PolicyHolder holder(std::move(compiled));
  Api api(std::move(options), &holder, store,
          MakePolicyAdmin(config.policy_path));
  if (config.decision_index) api.SetDecisionIndex(&decision_index);
  HttpServer server(MakeHttpOptions(config, *listen, &api),
                    [&api](HttpRequest& r) { return api.Handle(r); });
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
  InvitationSweeper sweeper(
      store, &holder,
      std::chrono::milliseconds(config.invitation_sweep_ms), err);
  const std::shared_ptr<const LoadedPolicy> policy = holder.Current();
  out << "portcullis: listening on " << listen->host << ":" << server.port()
      << " policy " << policy->policy->name << " version "
      << policy->policy->version << " store revision " << store->revision()
      << " data " << config.data_dir << " auth " << (config.auth ? "on" : "off")
      << (replica ? " source " + cluster::RedactUrl(config.source) : "")
      << std::endl;

  const int sig =
      server.WaitForShutdownSignal([&] { ReloadOnSighup(api, holder, err); });
  api.SetReady(false);
  err << "portcullis: signal " << sig << ": draining "
      << server.open_connections() << " connection(s)\n";
  server.Stop(std::chrono::seconds(10));
  write_pool.reset();
  out << "portcullis: stopped" << std::endl;
  return 0;
}

namespace {

// What serve parses: the config file, and the flags that override it (a
// flag overrides only when given).
struct ServeArgs {
  std::string config_file;
  ServeConfig flags;
  bool no_auth = false;
  bool no_decision_index = false;
  CLI::Option* listen = nullptr;
  CLI::Option* data = nullptr;
  CLI::Option* policy = nullptr;
  CLI::Option* threads = nullptr;
  CLI::Option* tokens = nullptr;
  CLI::Option* source = nullptr;
};

// The config serve runs with: the file's, then the flags given.
std::optional<ServeConfig> ResolveConfig(const ServeArgs& args) {
  ServeConfig config;
  if (!args.config_file.empty()) {
    Status s = server::LoadConfigFile(args.config_file, &config);
    if (!s.ok()) {
      std::cerr << "portcullis serve: " << s.message() << "\n";
      return std::nullopt;
    }
  }
  if (*args.listen) config.listen = args.flags.listen;
  if (*args.data) config.data_dir = args.flags.data_dir;
  if (*args.policy) config.policy_path = args.flags.policy_path;
  if (*args.threads) config.threads = std::max(1, args.flags.threads);
  if (*args.tokens) config.tokens_file = args.flags.tokens_file;
  if (*args.source) config.source = args.flags.source;
  if (args.no_auth) config.auth = false;
  if (args.no_decision_index) config.decision_index = false;
  return config;
}

}  // namespace

void AddServeCommand(CLI::App& app, Subcommands* out) {
  auto args = std::make_shared<ServeArgs>();
  ServeConfig& flags = args->flags;
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the authorization daemon (HTTP, native API and AuthZEN)");
  serve->add_option("--config", args->config_file, "YAML config file");
  args->listen = serve->add_option("--listen", flags.listen,
                                   "ADDRESS:PORT; port 0 picks a free one "
                                   "(default 127.0.0.1:8181)");
  args->data = serve->add_option("--data", flags.data_dir,
                                 "store directory (default portcullis-data)");
  args->policy =
      serve->add_option("--policy", flags.policy_path, "policy file");
  args->threads =
      serve->add_option("--threads", flags.threads, "I/O threads (default 2)");
  args->tokens = serve->add_option("--tokens", flags.tokens_file,
                                   "tokens file: one `SCOPE TOKEN` per line");
  args->source = serve->add_option(
      "--source", flags.source,
      "cluster mode: the PostgreSQL source of truth (postgresql://...); the "
      "store in --data becomes its replica");
  serve->add_flag("--no-auth", args->no_auth,
                  "run without authentication (says so at start-up)");
  serve->add_flag("--no-decision-index", args->no_decision_index,
                  "checks read LMDB alone, without the in-memory decision "
                  "index (for comparisons)");
  out->push_back({serve, [args] {
                    std::optional<ServeConfig> config = ResolveConfig(*args);
                    if (!config) return kExitError;
                    return RunServe(*config, std::cout, std::cerr) == 0
                               ? 0
                               : kExitError;
                  }});
}

}  // namespace portcullis::cli
