// End-to-end: the OpenID AuthZEN Authorization API 1.0 certification
// scenario (openid/authzen certification/authorization-api-1_0-scenario.md)
// against the real daemon. The fixture is tests/e2e/authzen/
// certification-policy.yaml and certification-data.jsonl (imported through
// POST /v1/import at start); every request below is the scenario's, with
// its section id, sent verbatim, and every answer is checked exactly.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/e2e/daemon.h"

namespace portcullis::e2e {
namespace {

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(PORTCULLIS_SOURCE_DIR) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One request of the scenario and the exact answer expected.
struct Exchange {
  const char* id;    // the scenario's section
  const char* path;  // under /access/v1/
  const char* body;
  int status;
  const char* answer;  // exact body; nullptr: only the status is checked
};

// Sections c-2 to c-4, in the scenario's order.
const Exchange kScenario[] = {
    // ---- Basic: Access Evaluation ----
    {"c-2-2-1", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     200, R"({"decision":true})"},
    {"c-2-2-2", "evaluation", R"({
  "subject": { "type": "user", "id": "bob" },
  "action": { "name": "write" },
  "resource": { "type": "record", "id": "record-1" }
})",
     200, R"({"decision":false})"},
    {"c-2-2-3", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "context": {
    "time": "2025-06-27T18:03-07:00",
    "ip": "192.168.1.1"
  }
})",
     200, R"({"decision":true})"},
    {"c-2-2-4", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "write" },
  "resource": {
    "type": "record",
    "id": "record-2",
    "properties": {
      "status": "archived"
    }
  }
})",
     200, R"({"decision":false})"},
    {"c-2-2-5", "evaluation", R"({
  "subject": {
    "type": "user",
    "id": "bob",
    "properties": {
      "role": "admin"
    }
  },
  "action": { "name": "write" },
  "resource": {
    "type": "record",
    "id": "record-2",
    "properties": {
      "status": "archived"
    }
  }
})",
     200, R"({"decision":true})"},
    {"c-2-2-6", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": {
    "name": "delete",
    "properties": {
      "soft": true
    }
  },
  "resource": { "type": "record", "id": "record-1" }
})",
     200, R"({"decision":true})"},
    {"c-2-2-7", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": {
    "name": "delete",
    "properties": {
      "soft": false
    }
  },
  "resource": { "type": "record", "id": "record-1" }
})",
     200, R"({"decision":false})"},
    {"c-2-2-8", "evaluation", R"({
  "subject": {
    "type": "user",
    "id": "alice",
    "properties": {
      "department": "Sales",
      "role": "manager"
    }
  },
  "action": {
    "name": "read",
    "properties": {
      "method": "GET"
    }
  },
  "resource": {
    "type": "record",
    "id": "record-1",
    "properties": {
      "status": "active",
      "owner": "bob"
    }
  }
})",
     200, R"({"decision":true})"},
    {"c-2-2-9", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "foo": "bar",
  "futureField": { "nested": true }
})",
     200, R"({"decision":true})"},
    {"c-2-4-1 missing subject", "evaluation", R"({
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},
    {"c-2-4-1 missing action", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},
    {"c-2-4-1 missing resource", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" }
})",
     400, nullptr},
    {"c-2-4-2 subject.type", "evaluation", R"({
  "subject": { "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},
    {"c-2-4-2 subject.id", "evaluation", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},
    {"c-2-4-2 action.name", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": {},
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},
    {"c-2-4-2 resource.type", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "id": "record-1" }
})",
     400, nullptr},
    {"c-2-4-2 resource.id", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record" }
})",
     400, nullptr},
    {"c-2-4-4 malformed JSON", "evaluation",
     R"({"subject": { "type": "user", "id": "alice" )", 400, nullptr},
    {"c-2-4-6 subject is a string", "evaluation", R"({
  "subject": "alice",
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},
    {"c-2-4-6 action.name is a number", "evaluation", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": 123 },
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},

    // ---- Batch: Access Evaluations ----
    {"c-3-2-1", "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "evaluations": [
    {
      "resource": { "type": "record", "id": "record-1" }
    },
    {
      "resource": { "type": "record", "id": "record-2" }
    }
  ]
})",
     200, R"({"evaluations":[{"decision":true},{"decision":true}]})"},
    {"c-3-2-2", "evaluations", R"({
  "subject": { "type": "user", "id": "bob" },
  "resource": { "type": "record", "id": "record-1" },
  "evaluations": [
    {
      "action": { "name": "read" }
    },
    {
      "action": { "name": "write" }
    }
  ]
})",
     200, R"({"evaluations":[{"decision":true},{"decision":false}]})"},
    {"c-3-2-3", "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "write" },
  "evaluations": [
    {
      "resource": {
        "type": "record",
        "id": "record-1",
        "properties": { "status": "active" }
      }
    },
    {
      "resource": {
        "type": "record",
        "id": "record-2",
        "properties": { "status": "archived" }
      }
    }
  ]
})",
     200, R"({"evaluations":[{"decision":true},{"decision":false}]})"},
    {"c-3-2-4", "evaluations", R"({
  "action": { "name": "write" },
  "resource": {
    "type": "record",
    "id": "record-2",
    "properties": { "status": "archived" }
  },
  "evaluations": [
    {
      "subject": { "type": "user", "id": "alice" }
    },
    {
      "subject": {
        "type": "user",
        "id": "bob",
        "properties": { "role": "admin" }
      }
    }
  ]
})",
     200, R"({"evaluations":[{"decision":false},{"decision":true}]})"},
    {"c-3-2-5", "evaluations", R"({
  "evaluations": [
    {
      "subject": { "type": "user", "id": "alice" },
      "action": { "name": "read" },
      "resource": { "type": "record", "id": "record-1" }
    },
    {
      "subject": { "type": "user", "id": "bob" },
      "action": { "name": "write" },
      "resource": { "type": "record", "id": "record-1" }
    }
  ]
})",
     200, R"({"evaluations":[{"decision":true},{"decision":false}]})"},
    {"c-3-2-6", "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "context": {
    "time": "2025-06-27T18:03-07:00"
  },
  "evaluations": [
    {
      "resource": { "type": "record", "id": "record-1" }
    },
    {
      "resource": { "type": "record", "id": "record-2" },
      "context": {
        "time": "2025-06-27T19:00-07:00",
        "source": "batch-override"
      }
    }
  ]
})",
     200, R"({"evaluations":[{"decision":true},{"decision":true}]})"},
    {"c-3-2-7", "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "write" },
  "resource": { "type": "record" },
  "evaluations": [
    {
      "resource": {
        "id": "record-1",
        "properties": { "status": "active" }
      }
    },
    {
      "resource": {
        "type": "record",
        "id": "record-2",
        "properties": { "status": "archived" }
      }
    }
  ]
})",
     200, R"({"evaluations":[{"decision":true},{"decision":false}]})"},
    {"c-3-4-1", "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "evaluations": [
    {
      "resource": { "type": "record", "id": "record-1" }
    },
    {}
  ]
})",
     200,
     R"({"evaluations":[{"decision":true},{"decision":false,"context":)"
     R"({"error":{"status":400,"message":"evaluations[1].resource is required"}}}]})"},
    {"c-3-4-2", "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     200, R"({"decision":true})"},
    {"c-3-4-3", "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "evaluations": []
})",
     200, R"({"decision":true})"},

    // ---- Search ----
    {"c-4-2-1", "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     200,
     R"({"results":[{"type":"user","id":"alice"},{"type":"user","id":"bob"}],)"
     R"("page":{"next_token":""}})"},
    {"c-4-2-2", "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "context": { "time": "2025-06-27T18:03-07:00" }
})",
     200,
     R"({"results":[{"type":"user","id":"alice"},{"type":"user","id":"bob"}],)"
     R"("page":{"next_token":""}})"},
    {"c-4-2-4", "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "write" },
  "resource": {
    "type": "record",
    "id": "record-2",
    "properties": { "status": "archived" }
  }
})",
     200, R"({"results":[{"type":"user","id":"bob"}],"page":{"next_token":""}})"},
    {"c-4-3-1", "search/resource", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record" }
})",
     200,
     R"({"results":[{"type":"record","id":"record-1"},)"
     R"({"type":"record","id":"record-2"}],"page":{"next_token":""}})"},
    {"c-4-3-3", "search/resource", R"({
  "subject": {
    "type": "user",
    "id": "bob",
    "properties": { "role": "admin" }
  },
  "action": { "name": "write" },
  "resource": { "type": "record" }
})",
     200,
     R"({"results":[{"type":"record","id":"record-2"}],"page":{"next_token":""}})"},
    {"c-4-4-1", "search/action", R"({
  "subject": { "type": "user", "id": "alice" },
  "resource": { "type": "record", "id": "record-1" }
})",
     200,
     R"({"results":[{"name":"read"},{"name":"write"}],"page":{"next_token":""}})"},
    {"c-4-4-2", "search/action", R"({
  "subject": { "type": "user", "id": "alice" },
  "resource": { "type": "record", "id": "record-1" },
  "context": { "time": "2025-06-27T18:03-07:00" }
})",
     200,
     R"({"results":[{"name":"read"},{"name":"write"}],"page":{"next_token":""}})"},
    {"c-4-4-3", "search/action", R"({
  "subject": {
    "type": "user",
    "id": "bob",
    "properties": { "role": "admin" }
  },
  "resource": {
    "type": "record",
    "id": "record-2",
    "properties": { "status": "archived" }
  }
})",
     200,
     R"({"results":[{"name":"read"},{"name":"write"}],"page":{"next_token":""}})"},
    {"c-4-6-1", "search/action", R"({
  "subject": { "type": "user", "id": "nonexistent-user" },
  "resource": { "type": "record", "id": "record-1" }
})",
     200, R"({"results":[],"page":{"next_token":""}})"},
    {"c-4-6-2", "search/subject", R"({
  "subject": { "type": "spaceship" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})",
     200, R"({"results":[],"page":{"next_token":""}})"},
    {"c-4-7-1 subject search without action", "search/subject", R"({
  "subject": { "type": "user" },
  "resource": { "type": "record", "id": "record-1" }
})",
     400, nullptr},
    {"c-4-7-1 resource search without subject", "search/resource", R"({
  "action": { "name": "read" },
  "resource": { "type": "record" }
})",
     400, nullptr},
    {"c-4-7-1 action search without resource", "search/action", R"({
  "subject": { "type": "user", "id": "alice" }
})",
     400, nullptr},
    {"c-4-7-2 subject search, resource without id", "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record" }
})",
     400, nullptr},
    {"c-4-7-2 resource search, subject without id", "search/resource", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record" }
})",
     400, nullptr},
};

class AuthzenCertification : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(
        ReadSource("tests/e2e/authzen/certification-policy.yaml"));
    ASSERT_TRUE(daemon_->started())
        << daemon_->startup_line() << "\n" << daemon_->Stderr();
    Response r = daemon_->Call(
        "POST", "/v1/import",
        ReadSource("tests/e2e/authzen/certification-data.jsonl"));
    ASSERT_EQ(r.status, 200) << r.body;
  }

  Response Post(Connection& c, const std::string& path,
                const std::string& body,
                std::vector<std::string> headers = {}) {
    return c.Request("POST", "/access/v1/" + path, body, Daemon::kCheckToken,
                     headers);
  }

  std::unique_ptr<Daemon> daemon_;
};

TEST_F(AuthzenCertification, EveryScenarioRequestGetsItsExpectedAnswer) {
  Connection c(daemon_->port());  // one keep-alive connection for all
  ASSERT_TRUE(c.ok());
  for (const Exchange& x : kScenario) {
    SCOPED_TRACE(x.id);
    Response r = Post(c, x.path, x.body);
    ASSERT_EQ(r.status, x.status) << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json");
    if (x.answer != nullptr) {
      EXPECT_EQ(r.body, x.answer);
    }
    if (x.status == 400) {
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      ASSERT_TRUE(d.IsObject() && d.HasMember("error")) << r.body;
      EXPECT_STREQ(d["error"]["code"].GetString(), "INVALID_ARGUMENT");
    }
  }
}

TEST_F(AuthzenCertification, TransportErrorsAre400) {
  const std::string valid = kScenario[0].body;
  // c-2-4-3: a Content-Type other than application/json.
  Connection c(daemon_->port());
  ASSERT_TRUE(c.SendRaw(
      "POST /access/v1/evaluation HTTP/1.1\r\nHost: localhost\r\n"
      "Authorization: Bearer " +
      std::string(Daemon::kCheckToken) +
      "\r\nContent-Type: text/plain\r\nContent-Length: " +
      std::to_string(valid.size()) + "\r\n\r\n" + valid));
  Response r = c.Read();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("Content-Type"), std::string::npos);
  // c-2-4-5: an empty body.
  r = Post(c, "evaluation", "");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(AuthzenCertification, RequestIdIsEchoedAndOptional) {
  Connection c(daemon_->port());
  // c-2-5-1
  Response r = Post(c, "evaluation", kScenario[0].body,
                    {"X-Request-ID: bfe9eb29-ab87-4ca3-be83-a1d5d8305716"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-request-id"], "bfe9eb29-ab87-4ca3-be83-a1d5d8305716");
  // c-2-5-2
  r = Post(c, "evaluation", kScenario[0].body);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.headers["x-request-id"].empty());
}

TEST_F(AuthzenCertification, RepeatedRequestsAnswerAlike) {
  // c-2-6: idempotency, over one connection.
  Connection c(daemon_->port());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Post(c, "evaluation", kScenario[0].body).body,
              R"({"decision":true})");
    EXPECT_EQ(Post(c, "evaluation", kScenario[1].body).body,
              R"({"decision":false})");
  }
}

TEST_F(AuthzenCertification, Pagination) {
  Connection c(daemon_->port());
  // c-4-5-1
  Response r = Post(c, "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "page": {
    "limit": 1
  }
})");
  ASSERT_EQ(r.status, 200);
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  ASSERT_TRUE(d.IsObject());
  ASSERT_EQ(d["results"].Size(), 1u);
  EXPECT_STREQ(d["results"][0]["id"].GetString(), "alice");
  ASSERT_TRUE(d["page"]["next_token"].IsString());
  const std::string token = d["page"]["next_token"].GetString();
  ASSERT_FALSE(token.empty());
  // c-4-5-2
  r = Post(c, "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "page": {
    "token": ")" + token + R"("
  }
})");
  EXPECT_EQ(r.body,
            R"({"results":[{"type":"user","id":"bob"}],"page":{"next_token":""}})");
}

TEST_F(AuthzenCertification, Discovery) {
  // c-6: the base URL used for discovery is the one the client called.
  Connection c(daemon_->port());
  Response r = c.Request("GET", "/.well-known/authzen-configuration");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            R"({"policy_decision_point":"http://localhost",)"
            R"("access_evaluation_endpoint":"http://localhost/access/v1/evaluation",)"
            R"("access_evaluations_endpoint":"http://localhost/access/v1/evaluations",)"
            R"("search_subject_endpoint":"http://localhost/access/v1/search/subject",)"
            R"("search_resource_endpoint":"http://localhost/access/v1/search/resource",)"
            R"("search_action_endpoint":"http://localhost/access/v1/search/action"})");
}

TEST(AuthzenDiscovery, ConfiguredPublicUrlNamesTheEndpoints) {
  char tmpl[] = "/tmp/portcullis_authzen_cfg_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  WriteFile(dir + "/config.yaml", "public_url: https://pdp.example.com/\n");
  Daemon daemon(ReadSource("tests/e2e/authzen/certification-policy.yaml"),
                {"--config", dir + "/config.yaml"});
  ASSERT_TRUE(daemon.started()) << daemon.Stderr();
  Response r = daemon.Call("GET", "/.well-known/authzen-configuration");
  ASSERT_EQ(r.status, 200);
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  ASSERT_TRUE(d.IsObject()) << r.body;
  EXPECT_STREQ(d["policy_decision_point"].GetString(),
               "https://pdp.example.com");
  EXPECT_STREQ(d["search_resource_endpoint"].GetString(),
               "https://pdp.example.com/access/v1/search/resource");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace portcullis::e2e
