// Crash-and-restart soak: `portcullis serve` over one data folder is killed
// with SIGKILL at random moments and restarted, many times, while a writer
// drives binding, restriction and workflow (invite, accept, remove member)
// writes through HTTP and checkers compare decisions with a model.
//
// After each kill: `portcullis verify --data DIR` must pass. After each
// restart: the revision is at least the last acknowledged one, the export
// holds exactly the model's bindings and restrictions (a write that was in
// flight at the kill may or may not have landed; either is accepted and
// adopted), every acknowledged invitation exists, and a batch of every
// (user, action, file) decision equals the model.
//
//   soak --binary build/server/portcullis --policy policies/workspace.yaml \
//        [--kills 20] [--min-ms 150] [--max-ms 900] [--seed N] [--dir DIR]
//
// Prints one summary line: kills survived, writes acknowledged, writes and
// decisions verified. Exits 0 on success, 1 on the first violation.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/daemon.h"

namespace {

using portcullis::e2e::Connection;
using portcullis::e2e::Response;

constexpr const char* kToken = "soak-admin-token-0123456789";
constexpr int kUsers = 8;       // u0..u5: bindings; u6, u7: workflows
constexpr int kBindingUsers = 6;
constexpr int kFiles = 6;

struct Options {
  std::string binary, policy, dir;
  int kills = 20;
  int min_ms = 150, max_ms = 900;
  uint64_t seed = 0;
};

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "soak: FAIL: %s\n", what.c_str());
  exit(1);
}

std::string User(int k) { return "user:u" + std::to_string(k); }
std::string File(int j) { return "file:f" + std::to_string(j); }

// The model: group roles per user, restricted actions per (user, file).
// Empty means none. A write in flight is recorded so that the verification
// after a kill accepts either outcome.
struct Model {
  std::mutex mu;
  std::map<int, std::set<std::string>> roles;                  // user -> roles on g1
  std::map<std::pair<int, int>, std::set<std::string>> restr;  // (user, file)
  std::map<int, uint64_t> roles_rev;                           // last ack revision
  std::map<std::pair<int, int>, uint64_t> restr_rev;
  std::set<std::string> acked_invitations;
  // The write in flight: a user's roles or a (user, file) restriction.
  std::optional<int> inflight_user;
  std::optional<std::pair<int, int>> inflight_restr;
  std::set<std::string> inflight_value;
  uint64_t last_ack = 0;

  bool Allowed(int user, const std::string& action, int file) {
    const auto& r = roles[user];
    const auto& x = restr[{user, file}];
    const bool restricted = x.count("*") > 0 || x.count(action) > 0;
    if (r.count("administrator")) return true;  // exempt from restrictions
    if (restricted) return false;
    if (action == "view") return !r.empty();
    if (action == "edit") return r.count("content_creator") > 0;
    return false;
  }
};

struct Counters {
  std::atomic<uint64_t> acked{0}, verified_writes{0}, decisions{0},
      live_checks{0}, kills{0};
};

std::string JsonList(const std::set<std::string>& s) {
  std::string out = "[";
  for (const auto& v : s) out += (out.size() > 1 ? ",\"" : "\"") + v + "\"";
  return out + "]";
}

uint64_t RevisionOf(const Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("revision") ||
      !d["revision"].IsString()) {
    return 0;
  }
  return std::strtoull(d["revision"].GetString(), nullptr, 10);
}

class DaemonProcess {
 public:
  DaemonProcess(const Options& o) : o_(o) {}
  // Starts and waits for the start-up line; returns the port.
  int Start() {
    int out[2];
    if (pipe(out) != 0) Fail("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      const int err = open((o_.dir + "/stderr").c_str(),
                           O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(err, STDERR_FILENO);
      close(out[0]);
      std::vector<std::string> args = {
          o_.binary, "serve", "--listen", "127.0.0.1:0", "--data",
          o_.dir + "/data", "--policy", o_.policy, "--tokens",
          o_.dir + "/tokens", "--threads", "2"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      const ssize_t n = read(out[0], buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    const std::string marker = "listening on 127.0.0.1:";
    const size_t at = line.find(marker);
    if (at == std::string::npos) Fail("daemon did not start: " + line);
    return std::atoi(line.c_str() + at + marker.size());
  }
  void Kill() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      Fail("the daemon died on its own (status " + std::to_string(status) +
           "); see " + o_.dir + "/stderr");
    }
  }

 private:
  const Options& o_;
  pid_t pid_ = -1;
};

int RunCommand(const std::vector<std::string>& args, std::string* output) {
  std::string cmd;
  for (const auto& a : args) cmd += "'" + a + "' ";
  cmd += "2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Response Call(int port, const std::string& method, const std::string& target,
              const std::string& body = "") {
  Connection c(port);
  if (!c.ok()) return {};
  return c.Request(method, target, body, kToken);
}

void Setup(int port) {
  auto must = [&](const std::string& m, const std::string& t,
                  const std::string& b) {
    Response r = Call(port, m, t, b);
    if (r.status != 200) Fail("setup " + t + ": " + std::to_string(r.status) + " " + r.body);
  };
  must("PUT", "/v1/resources/account/acme", "");
  must("PUT", "/v1/subjects/user/root", "");
  must("PUT", "/v1/bindings",
       R"({"subject":"user:root","resource":"account:acme","roles":["account_administrator"]})");
  must("POST", "/v1/groups", R"({"actor":"user:root","account":"acme","id":"g1"})");
  for (int k = 0; k < kUsers; ++k) must("PUT", "/v1/subjects/user/u" + std::to_string(k), "");
  for (int j = 0; j < kFiles; ++j) {
    must("PUT", "/v1/resources/file/f" + std::to_string(j), R"({"parent":"group:g1"})");
  }
}

// One write chosen at random; updates the model when acknowledged. Returns
// false when the daemon is gone (the write stays "in flight").
bool WriteOnce(int port, std::mt19937_64& rng, Model& m, Counters& c) {
  static const std::vector<std::set<std::string>> kRoleSets = {
      {}, {"member"}, {"content_creator"}, {"member", "content_creator"}};
  static const std::vector<std::set<std::string>> kRestrictions = {
      {}, {"view"}, {"edit"}, {"*"}};
  const int kind = static_cast<int>(rng() % 10);
  if (kind < 5) {  // a binding on the group
    const int k = static_cast<int>(rng() % kBindingUsers);
    const auto& roles = kRoleSets[rng() % kRoleSets.size()];
    {
      std::lock_guard<std::mutex> l(m.mu);
      m.inflight_user = k;
      m.inflight_value = roles;
    }
    Response r = Call(port, "PUT", "/v1/bindings",
                      R"({"subject":")" + User(k) +
                          R"(","resource":"group:g1","roles":)" + JsonList(roles) + "}");
    if (r.status == 0) return false;
    if (r.status != 200) Fail("binding write: " + std::to_string(r.status) + " " + r.body);
    std::lock_guard<std::mutex> l(m.mu);
    m.roles[k] = roles;
    m.roles_rev[k] = m.last_ack = RevisionOf(r);
    m.inflight_user.reset();
  } else if (kind < 8) {  // a restriction on a file
    const int k = static_cast<int>(rng() % kBindingUsers);
    const int j = static_cast<int>(rng() % kFiles);
    const auto& actions = kRestrictions[rng() % kRestrictions.size()];
    {
      std::lock_guard<std::mutex> l(m.mu);
      m.inflight_restr = std::make_pair(k, j);
      m.inflight_value = actions;
    }
    Response r = Call(port, "PUT", "/v1/restrictions",
                      R"({"subject":")" + User(k) + R"(","resource":")" + File(j) +
                          R"(","actions":)" + JsonList(actions) + "}");
    if (r.status == 0) return false;
    if (r.status != 200) Fail("restriction write: " + std::to_string(r.status) + " " + r.body);
    std::lock_guard<std::mutex> l(m.mu);
    m.restr[{k, j}] = actions;
    m.restr_rev[{k, j}] = m.last_ack = RevisionOf(r);
    m.inflight_restr.reset();
  } else {  // a workflow: invite and accept, or remove the member
    const int k = kBindingUsers + static_cast<int>(rng() % (kUsers - kBindingUsers));
    bool member;
    {
      std::lock_guard<std::mutex> l(m.mu);
      member = !m.roles[k].empty();
      m.inflight_user = k;
      m.inflight_value = member ? std::set<std::string>{} : std::set<std::string>{"member"};
    }
    if (member) {
      Response r = Call(port, "DELETE",
                        "/v1/groups/g1/members/" + User(k) + "?actor=user:root");
      if (r.status == 0) return false;
      if (r.status != 200) Fail("remove member: " + std::to_string(r.status) + " " + r.body);
      std::lock_guard<std::mutex> l(m.mu);
      m.roles[k].clear();
      m.roles_rev[k] = m.last_ack = RevisionOf(r);
      m.inflight_user.reset();
    } else {
      Response r = Call(port, "POST", "/v1/groups/g1/invitations",
                        R"({"actor":"user:root","invitees":[")" + User(k) +
                            R"("],"roles":["member"]})");
      if (r.status == 0) return false;
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      if (r.status != 200 || !d.IsObject() || !d["invitations"].IsArray() ||
          d["invitations"].Empty()) {
        Fail("invite: " + std::to_string(r.status) + " " + r.body);
      }
      const std::string id = d["invitations"][0]["id"].GetString();
      {
        std::lock_guard<std::mutex> l(m.mu);
        m.acked_invitations.insert(id);
        m.last_ack = RevisionOf(r);
      }
      c.acked.fetch_add(1);
      Response a = Call(port, "POST", "/v1/invitations/" + id + "/accept",
                        R"({"subject":")" + User(k) + "\"}");
      if (a.status == 0) return false;
      if (a.status != 200) Fail("accept: " + std::to_string(a.status) + " " + a.body);
      std::lock_guard<std::mutex> l(m.mu);
      m.roles[k] = {"member"};
      m.roles_rev[k] = m.last_ack = RevisionOf(a);
      m.inflight_user.reset();
    }
  }
  c.acked.fetch_add(1);
  return true;
}

// Checks decisions while the writer runs: a pair whose keys did not change
// between before and after the answer must be decided as the model says.
void CheckLoop(int port, uint64_t seed, Model& m, Counters& c,
               std::atomic<bool>& stop) {
  std::mt19937_64 rng(seed);
  Connection conn(port);
  while (!stop.load() && conn.ok()) {
    const int k = static_cast<int>(rng() % kUsers);
    const int j = static_cast<int>(rng() % kFiles);
    const std::string action = rng() % 2 ? "view" : "edit";
    bool expected;
    uint64_t rk, rr, at_least;
    {
      std::lock_guard<std::mutex> l(m.mu);
      if (m.inflight_user == k || m.inflight_restr == std::make_pair(k, j)) continue;
      expected = m.Allowed(k, action, j);
      rk = m.roles_rev[k];
      rr = m.restr_rev[{k, j}];
      at_least = std::max(rk, rr);
    }
    Response r = conn.Request(
        "POST", "/v1/check",
        R"({"subject":")" + User(k) + R"(","action":")" + action +
            R"(","resource":")" + File(j) + R"(","at_least_revision":")" +
            std::to_string(at_least) + "\"}",
        kToken);
    if (r.status == 0) return;  // killed
    if (r.status != 200) Fail("check: " + std::to_string(r.status) + " " + r.body);
    std::lock_guard<std::mutex> l(m.mu);
    if (m.inflight_user == k || m.inflight_restr == std::make_pair(k, j) ||
        m.roles_rev[k] != rk || m.restr_rev[{k, j}] != rr) {
      continue;  // changed meanwhile
    }
    const bool allowed = r.body.find("\"allowed\":true") != std::string::npos;
    if (allowed != expected) {
      Fail("live check " + User(k) + " " + action + " " + File(j) + ": got " +
           r.body + ", model says " + (expected ? "allow" : "deny"));
    }
    c.live_checks.fetch_add(1);
  }
}

// After a restart: the export must equal the model (adopting the outcome of
// the write in flight at the kill), and every decision must match.
void Verify(int port, Model& m, Counters& c) {
  std::lock_guard<std::mutex> l(m.mu);
  Response rev = Call(port, "GET", "/v1/changes?since=0&limit=1");
  // Revisions never go back (checked before this function writes).
  const uint64_t now = RevisionOf(rev);
  if (now < m.last_ack) {
    Fail("revision went back: " + std::to_string(now) + " < acknowledged " +
         std::to_string(m.last_ack));
  }
  Response e = Call(port, "GET", "/v1/export");
  if (e.status != 200) Fail("export: " + std::to_string(e.status));
  std::map<int, std::set<std::string>> roles;
  std::map<std::pair<int, int>, std::set<std::string>> restr;
  std::set<std::string> invitations;
  std::istringstream in(e.body);
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError()) Fail("export line is not JSON: " + line);
    const std::string kind = d["kind"].GetString();
    auto user_index = [](const std::string& s) {
      return s.rfind("user:u", 0) == 0 ? std::atoi(s.c_str() + 6) : -1;
    };
    if (kind == "binding") {
      const int k = user_index(d["subject"].GetString());
      if (k < 0 || std::string(d["resource"].GetString()) != "group:g1") continue;
      if (d.HasMember("state") && std::string(d["state"].GetString()) != "active") continue;
      for (auto& v : d["roles"].GetArray()) roles[k].insert(v.GetString());
    } else if (kind == "restriction") {
      const int k = user_index(d["subject"].GetString());
      const std::string res = d["resource"].GetString();
      if (k < 0 || res.rfind("file:f", 0) != 0) continue;
      const int j = std::atoi(res.c_str() + 6);
      for (auto& v : d["actions"].GetArray()) restr[{k, j}].insert(v.GetString());
    } else if (kind == "invitation") {
      invitations.insert(d["id"].GetString());
    }
  }
  for (int k = 0; k < kUsers; ++k) {
    if (roles[k] == m.roles[k]) continue;
    if (m.inflight_user == k && roles[k] == m.inflight_value) {
      m.roles[k] = roles[k];  // the write in flight landed
      continue;
    }
    Fail("after restart " + User(k) + " holds " + JsonList(roles[k]) +
         " on group:g1, the acknowledged writes say " + JsonList(m.roles[k]));
  }
  for (int k = 0; k < kUsers; ++k) {
    for (int j = 0; j < kFiles; ++j) {
      if (restr[{k, j}] == m.restr[{k, j}]) continue;
      if (m.inflight_restr == std::make_pair(k, j) && restr[{k, j}] == m.inflight_value) {
        m.restr[{k, j}] = restr[{k, j}];
        continue;
      }
      Fail("after restart the restriction of " + User(k) + " on " + File(j) +
           " is " + JsonList(restr[{k, j}]) + ", the acknowledged writes say " +
           JsonList(m.restr[{k, j}]));
    }
  }
  for (const std::string& id : m.acked_invitations) {
    if (!invitations.count(id)) Fail("acknowledged invitation " + id + " is gone");
  }
  m.inflight_user.reset();
  m.inflight_restr.reset();
  c.verified_writes.store(c.acked.load());
  // An invitation acknowledged but not accepted before the kill is still
  // pending: revoke it so that the workflow users can be invited again.
  for (int k = kBindingUsers; k < kUsers; ++k) {
    Response p = Call(port, "GET", "/v1/subjects/user/u" + std::to_string(k) +
                                       "/invitations?state=pending");
    rapidjson::Document d;
    d.Parse(p.body.data(), p.body.size());
    if (p.status != 200 || !d.IsObject() || !d["invitations"].IsArray()) {
      Fail("pending invitations: " + std::to_string(p.status) + " " + p.body);
    }
    for (auto& inv : d["invitations"].GetArray()) {
      const std::string id = inv["id"].GetString();
      Response r = Call(port, "DELETE", "/v1/invitations/" + id + "?actor=user:root");
      if (r.status != 200) Fail("revoke " + id + ": " + r.body);
      m.last_ack = std::max(m.last_ack, RevisionOf(r));
    }
  }
  // Every decision, in one batch.
  std::string batch = R"({"checks":[)";
  std::vector<bool> expected;
  for (int k = 0; k < kUsers; ++k) {
    for (int j = 0; j < kFiles; ++j) {
      for (const char* a : {"view", "edit"}) {
        batch += std::string(expected.empty() ? "" : ",") + R"({"subject":")" +
                 User(k) + R"(","action":")" + a + R"(","resource":")" + File(j) + "\"}";
        expected.push_back(m.Allowed(k, a, j));
      }
    }
  }
  batch += "]}";
  Response b = Call(port, "POST", "/v1/check/batch", batch);
  rapidjson::Document d;
  d.Parse(b.body.data(), b.body.size());
  if (b.status != 200 || !d.IsObject() || !d["results"].IsArray() ||
      d["results"].Size() != expected.size()) {
    Fail("batch: " + std::to_string(b.status) + " " + b.body.substr(0, 300));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (d["results"][static_cast<rapidjson::SizeType>(i)]["allowed"].GetBool() != expected[i]) {
      Fail("after restart decision " + std::to_string(i) + " differs from the model");
    }
  }
  c.decisions.fetch_add(expected.size());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--binary") o.binary = v;
    else if (k == "--policy") o.policy = v;
    else if (k == "--dir") o.dir = v;
    else if (k == "--kills") o.kills = std::atoi(v.c_str());
    else if (k == "--min-ms") o.min_ms = std::atoi(v.c_str());
    else if (k == "--max-ms") o.max_ms = std::atoi(v.c_str());
    else if (k == "--seed") o.seed = std::strtoull(v.c_str(), nullptr, 10);
    else Fail("unknown flag " + k);
  }
  if (o.binary.empty() || o.policy.empty()) Fail("--binary and --policy are required");
  if (o.seed == 0) o.seed = std::random_device{}();
  const bool own_dir = o.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/portcullis_soak_XXXXXX";
    o.dir = mkdtemp(tmpl);
  }
  portcullis::e2e::WriteFile(o.dir + "/tokens", std::string("admin ") + kToken + "\n");
  printf("soak: seed %llu, %d kills, runs of %d-%d ms, data %s\n",
         static_cast<unsigned long long>(o.seed), o.kills, o.min_ms, o.max_ms,
         o.dir.c_str());
  fflush(stdout);
  std::mt19937_64 rng(o.seed);
  Model model;
  Counters counters;
  DaemonProcess daemon(o);
  const auto start = std::chrono::steady_clock::now();
  int port = daemon.Start();
  Setup(port);
  for (int kill_no = 0; kill_no < o.kills; ++kill_no) {
    if (kill_no > 0 && kill_no % 50 == 0) {
      printf("soak: %d kills survived, %llu writes verified\n", kill_no,
             static_cast<unsigned long long>(counters.verified_writes.load()));
      fflush(stdout);
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> checkers;
    for (int t = 0; t < 2; ++t) {
      checkers.emplace_back(CheckLoop, port, rng(), std::ref(model),
                            std::ref(counters), std::ref(stop));
    }
    std::thread writer([&, wseed = rng()] {
      std::mt19937_64 wrng(wseed);
      while (!stop.load() && WriteOnce(port, wrng, model, counters)) {
      }
    });
    const int run_ms = o.min_ms + static_cast<int>(rng() % (o.max_ms - o.min_ms + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
    daemon.Kill();
    stop.store(true);
    writer.join();
    for (auto& t : checkers) t.join();
    counters.kills.fetch_add(1);
    std::string out;
    if (RunCommand({o.binary, "verify", "--data", o.dir + "/data"}, &out) != 0) {
      Fail("portcullis verify failed after kill " + std::to_string(kill_no + 1) + ":\n" + out);
    }
    port = daemon.Start();
    Verify(port, model, counters);
  }
  daemon.Kill();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf("soak: OK: %llu kills survived, %llu writes acknowledged and verified, "
         "%llu decisions verified after restarts, %llu live checks compared, %.1f s\n",
         static_cast<unsigned long long>(counters.kills.load()),
         static_cast<unsigned long long>(counters.verified_writes.load()),
         static_cast<unsigned long long>(counters.decisions.load()),
         static_cast<unsigned long long>(counters.live_checks.load()), secs);
  if (own_dir) std::filesystem::remove_all(o.dir);
  return 0;
}
