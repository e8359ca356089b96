// The API documents against the daemon:
//  - docs/openapi.yaml against the server's route table: every route the
//    daemon serves is documented, and nothing documented is missing;
//  - every curl example of docs/api.md runs, in order, against the real
//    daemon (port 0, temporary folder, demo data) and answers the status
//    the doc states beside it ("# 200 ..."), and every route has one. The
//    examples of the section "Membership workflows" run against a second
//    daemon on the workspace policy and the demo portal
//    (policies/workspace.yaml, policies/demo-data.jsonl), the others against
//    the small policy and data below.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "engine/memory_data.h"
#include "server/api.h"
#include "server/json.h"
#include "server/config.h"
#include "tests/e2e/daemon.h"

namespace portcullis::server {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(c));
  return s;
}

// docs/operations.md's configuration example states every default: parsed
// over the defaults, it changes none of the limits and timeouts; and the
// daemon's defaults are the Api's.
TEST(OperationsDoc, TheConfigurationExampleStatesTheDefaults) {
  std::ifstream in(std::string(PORTCULLIS_SOURCE_DIR) + "/docs/operations.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const size_t section = doc.find("## Configuration file");
  ASSERT_NE(section, std::string::npos);
  const size_t start = doc.find("```yaml\n", section);
  ASSERT_NE(start, std::string::npos);
  const size_t end = doc.find("```", start + 8);
  ASSERT_NE(end, std::string::npos);
  const std::string yaml = doc.substr(start + 8, end - start - 8);
  const ServeConfig defaults;
  ServeConfig documented;
  Status s = ParseConfigText(yaml, "docs/operations.md", &documented);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(documented.header_limit, defaults.header_limit);
  EXPECT_EQ(documented.body_limit, defaults.body_limit);
  EXPECT_EQ(documented.import_body_limit, defaults.import_body_limit);
  EXPECT_EQ(documented.max_batch, defaults.max_batch);
  EXPECT_EQ(documented.max_page, defaults.max_page);
  EXPECT_EQ(documented.read_timeout_ms, defaults.read_timeout_ms);
  EXPECT_EQ(documented.write_timeout_ms, defaults.write_timeout_ms);
  EXPECT_EQ(documented.idle_timeout_ms, defaults.idle_timeout_ms);
  EXPECT_EQ(documented.long_poll_ms, defaults.long_poll_ms);
  EXPECT_EQ(documented.invitation_sweep_ms, defaults.invitation_sweep_ms);
  EXPECT_EQ(documented.threads, defaults.threads);
  EXPECT_EQ(documented.listen, defaults.listen);
  const ApiOptions api;
  EXPECT_EQ(api.max_page, defaults.max_page);
  EXPECT_EQ(api.max_batch, defaults.max_batch);
  EXPECT_EQ(api.max_wait.count(), defaults.long_poll_ms);
}

TEST(OpenApi, ListsExactlyTheRoutesOfTheRouteTable) {
  std::set<std::string> served;
  for (const std::string& r : RouteNames()) served.insert(r);
  ASSERT_FALSE(served.empty());

  YAML::Node doc =
      YAML::LoadFile(std::string(PORTCULLIS_SOURCE_DIR) + "/docs/openapi.yaml");
  ASSERT_TRUE(doc["openapi"]) << "not an OpenAPI document";
  EXPECT_EQ(doc["openapi"].as<std::string>().substr(0, 2), "3.");
  std::set<std::string> documented;
  static const std::set<std::string> kMethods = {"get", "put", "post",
                                                 "delete", "patch", "head"};
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      const std::string key = op.first.as<std::string>();
      if (kMethods.count(key) == 0) continue;  // parameters, summary, ...
      EXPECT_TRUE(op.second["responses"]) << key << " " << path.first;
      documented.insert(Upper(key) + " " + path.first.as<std::string>());
    }
  }
  for (const std::string& r : served) {
    EXPECT_TRUE(documented.count(r)) << r << " is served but not documented";
  }
  for (const std::string& d : documented) {
    EXPECT_TRUE(served.count(d)) << d << " is documented but not served";
  }
}

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(PORTCULLIS_SOURCE_DIR) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The policy and data the examples of docs/api.md are written against.
const char* kDemoPolicy = R"(name: demo
subjects:
  user:
    attributes:
      email: string
resources:
  group:
    actions: [view_group, invite_members]
  file:
    parents: [group]
    actions: [view, edit]
    attributes:
      owner: string
      public: bool
roles:
  member:
    on: [group]
    grants:
      group: [view_group]
      file: [view]
  editor:
    on: [group, file]
    includes: [member]
    grants:
      file: [edit]
restrictions:
  on: [file]
  precedence: restriction-wins
rules:
  - name: public_files
    effect: allow
    actions: [view]
    on: [file]
    when: resource.public == true
)";

const char* kDemoData =
    R"({"kind":"resource","type":"group","id":"g1"}
{"kind":"resource","type":"file","id":"f1","parent":"group:g1","attributes":{"owner":"alice","public":false}}
{"kind":"resource","type":"file","id":"f2","parent":"group:g1","attributes":{"public":false}}
{"kind":"subject","type":"user","id":"alice"}
{"kind":"subject","type":"user","id":"bob"}
{"kind":"subject","type":"user","id":"carol"}
{"kind":"binding","subject":"user:alice","resource":"group:g1","roles":["member"]}
)";

struct Example {
  int line = 0;         // in docs/api.md, 1-based
  std::string command;  // as written, continuation lines included
  int status = 0;       // the status the doc states; 0 if it states none
  std::string section;  // the "## " heading the example is under
};

// The section whose examples run against the demo portal.
const char* kWorkflowsSection = "Membership workflows";

// Every curl command of the ```sh blocks, with the status written after
// it: "# NNN" at the end of its last line or on the next line.
std::vector<Example> ParseExamples(const std::string& markdown) {
  std::vector<std::string> lines;
  std::stringstream ss(markdown);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  const std::regex status_re(R"(#\s*(\d{3})\b)");
  std::vector<Example> out;
  bool in_fence = false;  // any ``` block
  bool in_sh = false;     // a ```sh block
  std::string section;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (!in_fence && l.rfind("## ", 0) == 0) section = l.substr(3);
    if (l.rfind("```", 0) == 0) {
      in_fence = !in_fence;
      in_sh = in_fence && l == "```sh";
      continue;
    }
    if (!in_sh || l.rfind("curl ", 0) != 0) continue;
    Example e;
    e.line = static_cast<int>(i) + 1;
    e.command = l;
    e.section = section;
    while (!lines[i].empty() && lines[i].back() == '\\' &&
           i + 1 < lines.size()) {
      e.command += "\n" + lines[++i];
    }
    std::smatch m;
    const std::string& last = lines[i];
    const size_t hash = last.find(" # ");
    if (hash != std::string::npos) {
      const std::string tail = last.substr(hash);
      if (std::regex_search(tail, m, status_re)) e.status = std::stoi(m[1]);
    } else if (i + 1 < lines.size() && lines[i + 1].rfind("# ", 0) == 0 &&
               std::regex_search(lines[i + 1], m, status_re) &&
               m.position(0) == 0) {
      e.status = std::stoi(m[1]);
    }
    out.push_back(std::move(e));
  }
  return out;
}

// The method and path an example calls.
std::pair<std::string, std::string> MethodAndPath(const std::string& cmd) {
  std::string method = "GET";
  std::smatch m;
  if (std::regex_search(cmd, m, std::regex(R"(-X (\w+))"))) {
    method = m[1];
  } else if (cmd.find(" -d ") != std::string::npos ||
             cmd.find("--data-binary") != std::string::npos) {
    method = "POST";
  }
  std::string path;
  if (std::regex_search(cmd, m, std::regex(R"(localhost:8181(/[^\s'?"]*))"))) {
    path = m[1];
  }
  return {method, path};
}

bool RouteMatches(const std::string& route, const std::string& method,
                  const std::string& path) {
  const size_t space = route.find(' ');
  if (route.substr(0, space) != method) return false;
  std::string pattern = route.substr(space + 1);
  pattern = std::regex_replace(pattern, std::regex(R"(\{[^}]+\})"), "[^/]+");
  pattern = std::regex_replace(pattern, std::regex(R"(\.)"), R"(\.)");
  return std::regex_match(path, std::regex(pattern));
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `examples` in order against `daemon`, each as a shell script in the
// folder `work` (where files such as dump.jsonl carry over from one example
// to the next), and checks the status each one states.
void RunExamples(const e2e::Daemon& daemon, const std::string& work,
                 const std::vector<Example>& examples) {
  const std::string host = "127.0.0.1:" + std::to_string(daemon.port());
  for (const Example& e : examples) {
    SCOPED_TRACE("docs/api.md:" + std::to_string(e.line) + ": " + e.command);
    ASSERT_NE(e.status, 0) << "the example states no status";
    std::string cmd = std::regex_replace(e.command,
                                         std::regex("localhost:8181"), host);
    // The status goes to stderr, whatever the command does with stdout.
    cmd.replace(0, 5, "curl -w '%{stderr}HTTP_STATUS=%{http_code}' ");
    const std::string script = work + "/example.sh";
    e2e::WriteFile(script, "cd '" + work + "' || exit 99\nTOKEN='" +
                               e2e::Daemon::kCheckToken + "'\nADMIN='" +
                               e2e::Daemon::kAdminToken + "'\n" + cmd + "\n");
    const std::string err = work + "/stderr";
    const int rc = std::system(
        ("sh '" + script + "' >/dev/null 2>'" + err + "'").c_str());
    EXPECT_EQ(rc, 0);
    const std::string out = ReadAll(err);
    const size_t at = out.find("HTTP_STATUS=");
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_EQ(std::atoi(out.c_str() + at + 12), e.status) << out;
  }
}

TEST(ApiDoc, EveryCurlExampleAnswersItsStatedStatus) {
  std::vector<Example> core;
  std::vector<Example> workflows;
  for (Example& e : ParseExamples(ReadSource("docs/api.md"))) {
    (e.section == kWorkflowsSection ? workflows : core).push_back(std::move(e));
  }
  ASSERT_GE(core.size(), 20u);
  ASSERT_GE(workflows.size(), 14u)
      << "no examples under ## " << kWorkflowsSection;

  {
    SCOPED_TRACE("against the small demo policy");
    e2e::Daemon daemon(kDemoPolicy);
    ASSERT_TRUE(daemon.started()) << daemon.Stderr();
    e2e::Response imported = daemon.Call("POST", "/v1/import", kDemoData);
    ASSERT_EQ(imported.status, 200) << imported.body;
    const std::string work = daemon.dir() + "/work";
    ASSERT_EQ(mkdir(work.c_str(), 0700), 0);
    e2e::WriteFile(work + "/new.yaml", kDemoPolicy);
    RunExamples(daemon, work, core);
  }
  {
    SCOPED_TRACE("against the demo portal (policies/workspace.yaml)");
    e2e::Daemon daemon(ReadSource("policies/workspace.yaml"));
    ASSERT_TRUE(daemon.started()) << daemon.Stderr();
    const std::string portal = ReadSource("policies/demo-data.jsonl");
    ASSERT_FALSE(portal.empty());
    e2e::Response imported = daemon.Call("POST", "/v1/import", portal);
    ASSERT_EQ(imported.status, 200) << imported.body;
    const std::string work = daemon.dir() + "/work";
    ASSERT_EQ(mkdir(work.c_str(), 0700), 0);
    RunExamples(daemon, work, workflows);
  }
}

TEST(ApiDoc, EveryRouteHasACurlExample) {
  const std::vector<Example> examples =
      ParseExamples(ReadSource("docs/api.md"));
  for (const std::string& route : RouteNames()) {
    bool found = false;
    for (const Example& e : examples) {
      const auto [method, path] = MethodAndPath(e.command);
      if (RouteMatches(route, method, path)) found = true;
    }
    EXPECT_TRUE(found) << route << " has no curl example in docs/api.md";
  }
}

}  // namespace
}  // namespace portcullis::server
