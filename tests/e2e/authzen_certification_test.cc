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
     // The scenario marks c-3-2-7 advisory: it merges required fields of
     // an incomplete item entity with the default's. The specification
     // ("Default values") says an item's key overrides the default as a
     // whole, and the daemon follows it: the first item lacks
     // resource.type, an error of that item.
     200,
     R"({"evaluations":[{"decision":false,"context":{"error":{"status":400,)"
     R"("message":"evaluations[0].resource.type is required"}}},)"
     R"({"decision":false}]})"},
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
      // The specification's error body: an error message string.
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      ASSERT_TRUE(d.IsString()) << r.body;
      EXPECT_GT(d.GetStringLength(), 0u);
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

TEST_F(AuthzenCertification, AnyValidFieldValueIsEchoedAsTheRequestId) {
  // The specification: "The value of this header is an arbitrary string",
  // and the same identifier comes back. Spaces, quotes, backslashes, bytes
  // beyond ASCII and long values are all valid HTTP field values.
  const std::string ids[] = {"abc def",        R"(say "hi")",
                             R"(a\b)",           "caf\xc3\xa9",
                             "tab\there",        std::string(1000, 'x')};
  Connection c(daemon_->port());
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    Response r =
        Post(c, "evaluation", kScenario[0].body, {"X-Request-ID: " + id});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["x-request-id"], id);
  }
  // Generated only when none was sent; the daemon's own ids differ.
  Response a = Post(c, "evaluation", kScenario[0].body);
  Response b = Post(c, "evaluation", kScenario[0].body);
  EXPECT_FALSE(a.headers["x-request-id"].empty());
  EXPECT_NE(a.headers["x-request-id"], b.headers["x-request-id"]);
  // Errors echo it too.
  Response e = Post(c, "evaluation", "{}", {"X-Request-ID: bad request 1"});
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.headers["x-request-id"], "bad request 1");
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

TEST_F(AuthzenCertification, PageLimitFollowsTheSpecification) {
  Connection c(daemon_->port());
  // Any non-negative integer: 0 leaves the page size to the daemon.
  Response r = Post(c, "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "page": { "limit": 0 }
})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"results":[{"type":"user","id":"alice"},{"type":"user","id":"bob"}],)"
            R"("page":{"next_token":""}})");
  // A string is not a number: 400, with the specification's error body.
  r = Post(c, "search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "page": { "limit": "1" }
})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            R"x("page.limit must be a non-negative integer (a JSON number)")x");
}

TEST_F(AuthzenCertification, AnIncompleteItemEntityIsAnErrorOfThatItem) {
  // An item's resource overrides the default resource as a whole, so
  // {"type":"record"} has no id even though the default has one.
  Connection c(daemon_->port());
  Response r = Post(c, "evaluations", R"({
  "subject": { "type": "user", "id": "alice" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "evaluations": [
    { "resource": { "type": "record" } },
    { "action": { "name": "write" } },
    {}
  ]
})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"evaluations":[{"decision":false,"context":{"error":{"status":400,)"
            R"("message":"evaluations[0].resource.id is required"}}},)"
            R"({"decision":true},{"decision":true}]})");
}

TEST_F(AuthzenCertification, ErrorsHaveTheSpecificationsBody) {
  Connection c(daemon_->port());
  // 401 without a token, 404 for an unknown AuthZEN path, 400 for bad
  // input: each body is a JSON string holding the message.
  Response r = c.Request("POST", "/access/v1/evaluation", kScenario[0].body);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"("a valid bearer token is required")");
  Connection c2(daemon_->port());
  r = Post(c2, "nothing-here", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"("no such endpoint: /access/v1/nothing-here")");
  Connection c3(daemon_->port());
  r = Post(c3, "evaluation", R"({"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"record","id":"record-1"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"("subject.id is required")");
  // The native API keeps its own error body.
  r = c3.Request("POST", "/v1/check", "{}", Daemon::kCheckToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.rfind(R"({"error":)", 0), 0u) << r.body;
}

// ---- Page tokens: opaque, bound to their query and endpoint ----

std::string NextToken(const Response& r, const char* page_key,
                      const char* token_key) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  if (!d.IsObject()) return "";
  const rapidjson::Value& holder = page_key ? d[page_key] : d;
  return holder[token_key].GetString();
}

// The message string of an AuthZEN error body, or the field of a native one.
std::string ErrorNames(const Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  if (d.IsString()) return d.GetString();
  if (d.IsObject() && d.HasMember("error") && d["error"].HasMember("field")) {
    return d["error"]["field"].GetString();
  }
  return r.body;
}

const char kSubjectsPage1[] = R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" },
  "page": { "limit": 1 }
})";

std::string SubjectsAfter(const std::string& token, const char* action = "read",
                          const char* key = "token") {
  return std::string(R"({"subject":{"type":"user"},"action":{"name":")") +
         action +
         R"("},"resource":{"type":"record","id":"record-1"},"page":{")" + key +
         R"(":")" + token + R"("}})";
}

TEST_F(AuthzenCertification, SearchPageTokensAreOpaqueAndBound) {
  Connection c(daemon_->port());
  Response r = Post(c, "search/subject", kSubjectsPage1);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string token = NextToken(r, "page", "next_token");
  ASSERT_FALSE(token.empty());
  // Nothing of the last id shows: neither as text nor as its hex.
  EXPECT_EQ(token.find("alice"), std::string::npos) << token;
  EXPECT_EQ(token.find("616c696365"), std::string::npos) << token;
  // The same query continues.
  r = Post(c, "search/subject", SubjectsAfter(token));
  EXPECT_EQ(r.body,
            R"({"results":[{"type":"user","id":"bob"}],"page":{"next_token":""}})");
  // Another query (another action), another endpoint, a changed byte, the
  // old hex of "user:alice", a made-up text: 400 naming page.token.
  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  const std::string refused[] = {
      SubjectsAfter(token, "write"),
      SubjectsAfter(tampered),
      SubjectsAfter("757365723a616c696365"),
      SubjectsAfter("not-a-token"),
  };
  for (const std::string& body : refused) {
    SCOPED_TRACE(body);
    r = Post(c, "search/subject", body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(ErrorNames(r),
              "page.token is not a page token this server issued for this "
              "query and endpoint");
  }
  r = Post(c, "search/resource", R"({"subject":{"type":"user","id":"alice"},
      "action":{"name":"read"},"resource":{"type":"record"},
      "page":{"token":")" + token + R"("}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorNames(r).rfind("page.token ", 0), 0u) << r.body;
  // The draft's page.next_token is read as the token and named as such.
  r = Post(c, "search/subject", SubjectsAfter(tampered, "read", "next_token"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorNames(r).rfind("page.next_token ", 0), 0u) << r.body;
  // An action search token works only for its own query.
  const char* actions = R"({"subject":{"type":"user","id":"alice"},
      "resource":{"type":"record","id":"record-1"},"page":{"limit":1%s}})";
  char buf[512];
  snprintf(buf, sizeof(buf), actions, "");
  r = Post(c, "search/action", buf);
  const std::string action_token = NextToken(r, "page", "next_token");
  ASSERT_FALSE(action_token.empty()) << r.body;
  snprintf(buf, sizeof(buf), actions,
           (R"(,"token":")" + action_token + "\"").c_str());
  r = Post(c, "search/action", buf);
  EXPECT_EQ(r.body, R"({"results":[{"name":"write"}],"page":{"next_token":""}})");
  r = Post(c, "search/subject", SubjectsAfter(action_token));
  EXPECT_EQ(r.status, 400);
}

TEST_F(AuthzenCertification, NativeLookupPageTokensAreOpaqueAndBound) {
  Connection c(daemon_->port());
  const std::string tok = Daemon::kCheckToken;
  const std::string subjects =
      R"({"action":"read","resource":"record:record-1","limit":1)";
  Response r = c.Request("POST", "/v1/lookup/subjects", subjects + "}", tok);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string token = NextToken(r, nullptr, "next_page_token");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(token.find("alice"), std::string::npos) << token;
  r = c.Request("POST", "/v1/lookup/subjects",
                subjects + R"(,"page_token":")" + token + R"("})", tok);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  ASSERT_EQ(d["subjects"].Size(), 1u);
  EXPECT_STREQ(d["subjects"][0].GetString(), "user:bob");
  // Another query, another endpoint, the raw cursor, an AuthZEN token.
  Response search = Post(c, "search/subject", kSubjectsPage1);
  const std::string authzen_token = NextToken(search, "page", "next_token");
  const std::pair<std::string, std::string> refused[] = {
      {"/v1/lookup/subjects",
       R"({"action":"write","resource":"record:record-1","limit":1,"page_token":")" +
           token + R"("})"},
      {"/v1/lookup/resources",
       R"({"subject":"user:alice","action":"read","type":"record","page_token":")" +
           token + R"("})"},
      {"/v1/lookup/subjects",
       subjects + R"(,"page_token":"user:alice"})"},
      {"/v1/lookup/subjects",
       subjects + R"(,"page_token":")" + authzen_token + R"("})"},
  };
  for (const auto& [path, body] : refused) {
    SCOPED_TRACE(body);
    r = c.Request("POST", path, body, tok);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(ErrorNames(r), "page_token");
  }
  // Listings: a bindings token is not a restrictions token, nor one for
  // another resource.
  r = c.Request("GET", "/v1/bindings?resource=record:record-1&limit=1", "", tok);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string listing = NextToken(r, nullptr, "next_page_token");
  ASSERT_FALSE(listing.empty());
  r = c.Request("GET",
                "/v1/bindings?resource=record:record-1&limit=1&page_token=" +
                    listing,
                "", tok);
  EXPECT_EQ(r.status, 200) << r.body;
  r = c.Request("GET",
                "/v1/bindings?resource=record:record-2&limit=1&page_token=" +
                    listing,
                "", tok);
  EXPECT_EQ(r.status, 400);
  r = c.Request("GET",
                "/v1/restrictions?resource=record:record-1&page_token=" +
                    listing,
                "", tok);
  EXPECT_EQ(r.status, 400);
}

// The policy part of a corpus file (its `policy:` mapping, dedented).
std::string CorpusPolicy(const std::string& relative) {
  std::istringstream in(ReadSource(relative));
  std::string policy;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "policy:") { inside = true; continue; }
    if (line == "data:") break;
    if (inside) policy += line.substr(std::min<size_t>(2, line.size())) + "\n";
  }
  return policy;
}

TEST(AuthzenNames, ActionsTypesAndAttributesAsTheApplicationSpellsThem) {
  // tests/corpus/names.yaml's policy: HTTP methods as actions, a
  // capitalised type, camelCase and quoted attributes.
  Daemon daemon(CorpusPolicy("tests/corpus/names.yaml"));
  ASSERT_TRUE(daemon.started()) << daemon.Stderr();
  ASSERT_EQ(daemon.Call("POST", "/v1/import",
      R"({"kind":"resource","type":"Route","id":"api","attributes":{"ownerID":"alice","content-type":"application/json"}})" "\n"
      R"({"kind":"subject","type":"User","id":"alice"})" "\n"
      R"({"kind":"subject","type":"User","id":"bob"})" "\n"
      R"({"kind":"binding","subject":"User:bob","resource":"Route:api","roles":["Team Admin"]})" "\n").status,
            200);
  Connection c(daemon.port());
  auto eval = [&](const std::string& subject, const std::string& action,
                  const std::string& props) {
    return c.Request("POST", "/access/v1/evaluation",
                     R"({"subject":{"type":"User","id":")" + subject +
                         R"("},"action":{"name":")" + action +
                         R"("},"resource":{"type":"Route","id":"api")" + props +
                         "}}",
                     Daemon::kCheckToken).body;
  };
  EXPECT_EQ(eval("bob", "DELETE", ""), R"({"decision":true})");
  EXPECT_EQ(eval("bob", "delete", ""), R"({"decision":false})");
  EXPECT_EQ(eval("alice", "GET", ""), R"({"decision":true})");  // ownerID
  // The request's camelCase property overrides the stored one.
  EXPECT_EQ(eval("alice", "GET", R"(,"properties":{"ownerID":"bob"})"),
            R"({"decision":false})");
  EXPECT_EQ(eval("bob", "POST", R"(,"properties":{"content-type":"text/html"})"),
            R"({"decision":false})");
  Response r = c.Request("POST", "/access/v1/search/action",
                         R"({"subject":{"type":"User","id":"bob"},"resource":{"type":"Route","id":"api"}})",
                         Daemon::kCheckToken);
  EXPECT_EQ(r.body,
            R"({"results":[{"name":"GET"},{"name":"POST"},{"name":"DELETE"}],"page":{"next_token":""}})");
}

TEST(AuthzenSubjectAndResource, AUserIsReadAsAResourceAndSearched) {
  Daemon daemon(CorpusPolicy("tests/corpus/subject_and_resource.yaml"));
  ASSERT_TRUE(daemon.started()) << daemon.Stderr();
  // user:alice and user:bob are written as subjects and as resources: the
  // store keeps the two records apart.
  Response r = daemon.Call("POST", "/v1/import",
      R"({"kind":"subject","type":"user","id":"alice"})" "\n"
      R"({"kind":"subject","type":"user","id":"bob"})" "\n"
      R"({"kind":"subject","type":"user","id":"hana"})" "\n"
      R"({"kind":"resource","type":"user","id":"alice","attributes":{"department":"sales"}})" "\n"
      R"({"kind":"resource","type":"user","id":"bob"})" "\n"
      R"({"kind":"binding","subject":"user:hana","resource":"user:bob","roles":["hr"]})" "\n");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(daemon.Call("GET", "/v1/subjects/user/alice").status, 200);
  EXPECT_EQ(daemon.Call("GET", "/v1/resources/user/alice").status, 200);
  EXPECT_EQ(daemon.Call("DELETE", "/v1/resources/user/alice").status, 200);
  EXPECT_EQ(daemon.Call("GET", "/v1/subjects/user/alice").status, 200);
  EXPECT_EQ(daemon.Call("PUT", "/v1/resources/user/alice", "{}").status, 200);

  Connection c(daemon.port());
  auto post = [&](const std::string& path, const std::string& body) {
    return c.Request("POST", path, body, Daemon::kCheckToken).body;
  };
  EXPECT_EQ(post("/access/v1/evaluation",
                 R"({"subject":{"type":"user","id":"alice"},"action":{"name":"read_profile"},"resource":{"type":"user","id":"bob"}})"),
            R"({"decision":true})");
  EXPECT_EQ(post("/access/v1/evaluation",
                 R"({"subject":{"type":"user","id":"alice"},"action":{"name":"edit_profile"},"resource":{"type":"user","id":"bob"}})"),
            R"({"decision":false})");
  EXPECT_EQ(post("/access/v1/search/resource",
                 R"({"subject":{"type":"user","id":"bob"},"action":{"name":"edit_profile"},"resource":{"type":"user"}})"),
            R"({"results":[{"type":"user","id":"bob"}],"page":{"next_token":""}})");
  EXPECT_EQ(post("/access/v1/search/resource",
                 R"({"subject":{"type":"user","id":"hana"},"action":{"name":"read_profile"},"resource":{"type":"user"}})"),
            R"({"results":[{"type":"user","id":"alice"},{"type":"user","id":"bob"}],"page":{"next_token":""}})");
  EXPECT_EQ(post("/access/v1/search/subject",
                 R"({"subject":{"type":"user"},"action":{"name":"edit_profile"},"resource":{"type":"user","id":"bob"}})"),
            R"({"results":[{"type":"user","id":"bob"},{"type":"user","id":"hana"}],"page":{"next_token":""}})");
  EXPECT_EQ(post("/access/v1/search/action",
                 R"({"subject":{"type":"user","id":"bob"},"resource":{"type":"user","id":"bob"}})"),
            R"({"results":[{"name":"read_profile"},{"name":"edit_profile"}],"page":{"next_token":""}})");
  // The native lookups too.
  r = c.Request("POST", "/v1/lookup/subjects",
                R"({"action":"edit_profile","resource":"user:bob"})",
                Daemon::kCheckToken);
  EXPECT_NE(r.body.find(R"("subjects":["user:bob","user:hana"])"),
            std::string::npos)
      << r.body;
}

TEST(AuthzenApplicationWideRoles, ARootBindingOrAListOfRolesInTheRequest) {
  Daemon daemon(CorpusPolicy("tests/corpus/application_wide_roles.yaml"));
  ASSERT_TRUE(daemon.started()) << daemon.Stderr();
  ASSERT_EQ(daemon.Call("POST", "/v1/import",
      R"({"kind":"resource","type":"app","id":"todos"})" "\n"
      R"({"kind":"resource","type":"todo","id":"t1","parent":"app:todos","attributes":{"ownerID":"eve"}})" "\n"
      R"({"kind":"subject","type":"user","id":"root"})" "\n"
      R"({"kind":"subject","type":"user","id":"eve"})" "\n"
      R"({"kind":"binding","subject":"user:root","resource":"app:todos","roles":["app_admin"]})" "\n").status,
            200);
  Connection c(daemon.port());
  auto eval = [&](const std::string& subject, const std::string& action) {
    return c.Request("POST", "/access/v1/evaluation",
                     R"({"subject":)" + subject + R"(,"action":{"name":")" +
                         action + R"("},"resource":{"type":"todo","id":"t1"}})",
                     Daemon::kCheckToken).body;
  };
  // 1. The role bound on the root resource holds on the todo below it.
  EXPECT_EQ(eval(R"({"type":"user","id":"root"})", "delete_todo"),
            R"({"decision":true})");
  // 2. The roles sent with the request, as a token would carry them.
  EXPECT_EQ(eval(R"({"type":"user","id":"eve","properties":{"roles":["admin"]}})",
                 "delete_todo"),
            R"({"decision":true})");
  EXPECT_EQ(eval(R"({"type":"user","id":"eve","properties":{"roles":["editor"]}})",
                 "delete_todo"),
            R"({"decision":false})");
  EXPECT_EQ(eval(R"({"type":"user","id":"eve","properties":{"roles":["editor"]}})",
                 "update_todo"),
            R"({"decision":true})");
  // Without roles (none stored, none sent): the rule cannot apply.
  EXPECT_EQ(eval(R"({"type":"user","id":"eve"})", "delete_todo"),
            R"({"decision":false})");
}

TEST(AuthzenRequestEntities, EntitiesTheStoreNeverSawAreEvaluatedFromTheRequest) {
  // A to-do being created and a user known only from a token: nothing is
  // written to the store first.
  Daemon daemon(R"(name: todo_create
subjects:
  user:
    entities: request
    attributes: {roles: list}
  service: {}
resources:
  todo:
    entities: request
    actions: [create, delete]
    attributes: {ownerID: string}
rules:
  - name: editors create their own todos
    effect: allow
    actions: [create]
    on: [todo]
    when: '"editor" in subject.roles && resource.ownerID == subject.id'
  - name: nobody deletes
    effect: deny
    actions: [delete]
    on: [todo]
)");
  ASSERT_TRUE(daemon.started()) << daemon.Stderr();
  Connection c(daemon.port());
  auto eval = [&](const std::string& body) {
    return c.Request("POST", "/access/v1/evaluation", body, Daemon::kCheckToken)
        .body;
  };
  EXPECT_EQ(eval(R"({"subject":{"type":"user","id":"eve","properties":{"roles":["editor"]}},
      "action":{"name":"create"},
      "resource":{"type":"todo","id":"new-1","properties":{"ownerID":"eve"}}})"),
            R"({"decision":true})");
  // Another owner; no roles at all (the rule cannot be evaluated: deny).
  EXPECT_EQ(eval(R"({"subject":{"type":"user","id":"eve","properties":{"roles":["editor"]}},
      "action":{"name":"create"},
      "resource":{"type":"todo","id":"new-1","properties":{"ownerID":"bob"}}})"),
            R"({"decision":false})");
  EXPECT_EQ(eval(R"({"subject":{"type":"user","id":"eve"},"action":{"name":"create"},
      "resource":{"type":"todo","id":"new-1","properties":{"ownerID":"eve"}}})"),
            R"({"decision":false})");
  // A stored type (service) that the store does not know stays unknown.
  Response r = c.Request("POST", "/v1/check",
                         R"({"subject":"service:s1","action":"create","resource":"todo:x"})",
                         Daemon::kCheckToken);
  EXPECT_NE(r.body.find(R"("code":"unknown_subject")"), std::string::npos)
      << r.body;
  r = c.Request("POST", "/v1/check",
                R"({"subject":"user:eve","action":"create","resource":"todo:x"})",
                Daemon::kCheckToken);
  EXPECT_NE(r.body.find(R"("code":"evaluation_error")"), std::string::npos)
      << r.body;
}

// ---- The example policies of docs/authzen-guide.md, over HTTP ----

struct Sent {
  const char* path;  // under /access/v1/
  const char* body;  // sent verbatim
  const char* answer;
};

void RunExample(const char* policy, const char* data,
                std::initializer_list<Sent> exchanges) {
  Daemon daemon(ReadSource(std::string("policies/examples/") + policy));
  ASSERT_TRUE(daemon.started()) << daemon.Stderr();
  if (data != nullptr) {
    Response r = daemon.Call(
        "POST", "/v1/import",
        ReadSource(std::string("policies/examples/") + data));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Connection c(daemon.port());
  for (const Sent& x : exchanges) {
    SCOPED_TRACE(x.body);
    Response r = c.Request("POST", std::string("/access/v1/") + x.path, x.body,
                           Daemon::kCheckToken);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, x.answer);
  }
}

TEST(AuthzenExamples, TodoApplication) {
  RunExample("todo.yaml", nullptr, {
      {"evaluation", R"({
  "subject": { "type": "user", "id": "rick@the-citadel.com", "properties": { "roles": ["viewer"] } },
  "action": { "name": "can_read_user" },
  "resource": { "type": "user", "id": "beth@the-smiths.com" }
})", R"({"decision":true})"},
      {"evaluation", R"({
  "subject": { "type": "user", "id": "morty@the-citadel.com", "properties": { "roles": ["editor"] } },
  "action": { "name": "can_update_todo" },
  "resource": { "type": "todo", "id": "7240d0db", "properties": { "ownerID": "morty@the-citadel.com" } }
})", R"({"decision":true})"},
      {"evaluation", R"({
  "subject": { "type": "user", "id": "morty@the-citadel.com", "properties": { "roles": ["editor"] } },
  "action": { "name": "can_update_todo" },
  "resource": { "type": "todo", "id": "7240d0db", "properties": { "ownerID": "rick@the-citadel.com" } }
})", R"({"decision":false})"},
      {"evaluations", R"({
  "subject": { "type": "user", "id": "rick@the-citadel.com", "properties": { "roles": ["admin", "evil_genius"] } },
  "resource": { "type": "todo", "id": "7240d0db", "properties": { "ownerID": "morty@the-citadel.com" } },
  "evaluations": [
    { "action": { "name": "can_delete_todo" } },
    { "action": { "name": "can_create_todo" } },
    { "action": { "name": "can_read_todos" } }
  ]
})", R"({"evaluations":[{"decision":true},{"decision":true},{"decision":true}]})"},
      {"evaluation", R"({
  "subject": { "type": "user", "id": "jerry@the-smiths.com", "properties": { "roles": ["viewer"] } },
  "action": { "name": "can_delete_todo" },
  "resource": { "type": "todo", "id": "7240d0db", "properties": { "ownerID": "jerry@the-smiths.com" } }
})", R"({"decision":false})"},
  });
}

TEST(AuthzenExamples, ApiGateway) {
  RunExample("gateway.yaml", "gateway-data.jsonl", {
      {"evaluation", R"({
  "subject": { "type": "client", "id": "web" },
  "action": { "name": "GET" },
  "resource": { "type": "route", "id": "orders-list" }
})", R"({"decision":true})"},
      {"evaluation", R"({
  "subject": { "type": "client", "id": "web", "properties": { "scopes": ["write"] } },
  "action": { "name": "POST" },
  "resource": { "type": "route", "id": "orders-admin" }
})", R"({"decision":true})"},
      {"evaluation", R"({
  "subject": { "type": "client", "id": "ops" },
  "action": { "name": "DELETE" },
  "resource": { "type": "route", "id": "orders-admin" }
})", R"({"decision":false})"},
      {"evaluation", R"({
  "subject": { "type": "client", "id": "ops", "properties": { "scopes": ["admin"] } },
  "action": { "name": "DELETE" },
  "resource": { "type": "route", "id": "orders-admin" }
})", R"({"decision":true})"},
      {"search/action", R"({
  "subject": { "type": "client", "id": "ops", "properties": { "scopes": ["admin"] } },
  "resource": { "type": "route", "id": "orders-admin" }
})", R"({"results":[{"name":"GET"},{"name":"POST"},{"name":"PUT"},{"name":"DELETE"}],"page":{"next_token":""}})"},
  });
}

TEST(AuthzenExamples, RecordSearch) {
  RunExample("records.yaml", "records-data.jsonl", {
      {"search/resource", R"({
  "subject": { "type": "user", "id": "mia" },
  "action": { "name": "view" },
  "resource": { "type": "record" }
})", R"({"results":[{"type":"record","id":"r1"},{"type":"record","id":"r2"}],"page":{"next_token":""}})"},
      {"search/resource", R"({
  "subject": { "type": "user", "id": "ann" },
  "action": { "name": "view" },
  "resource": { "type": "record" }
})", R"({"results":[{"type":"record","id":"r1"}],"page":{"next_token":""}})"},
      {"search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "view" },
  "resource": { "type": "record", "id": "r2" }
})", R"({"results":[{"type":"user","id":"mia"}],"page":{"next_token":""}})"},
  });
}

TEST(AuthzenExamples, Certification) {
  RunExample("certification.yaml", "certification-data.jsonl", {
      {"evaluation", kScenario[0].body, R"({"decision":true})"},
      {"evaluation", kScenario[1].body, R"({"decision":false})"},
      {"search/subject", R"({
  "subject": { "type": "user" },
  "action": { "name": "read" },
  "resource": { "type": "record", "id": "record-1" }
})", R"({"results":[{"type":"user","id":"alice"},{"type":"user","id":"bob"}],"page":{"next_token":""}})"},
  });
}

TEST(AuthzenPageTokens, AConfiguredKeyOutlivesARestartARandomOneDoesNot) {
  char tmpl[] = "/tmp/portcullis_page_key_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  WriteFile(dir + "/page.key", "0123456789abcdef0123456789abcdef\n");
  WriteFile(dir + "/config.yaml",
            "page_token_key_file: " + dir + "/page.key\n");
  const std::string policy =
      ReadSource("tests/e2e/authzen/certification-policy.yaml");
  const std::string data = dir + "/data";
  std::string token;
  {
    Daemon first(policy, {"--config", dir + "/config.yaml"}, data);
    ASSERT_TRUE(first.started()) << first.Stderr();
    ASSERT_EQ(first.Call("POST", "/v1/import",
                         ReadSource("tests/e2e/authzen/certification-data.jsonl"))
                  .status,
              200);
    Connection c(first.port());
    Response r = c.Request("POST", "/access/v1/search/subject", kSubjectsPage1,
                           Daemon::kCheckToken);
    token = NextToken(r, "page", "next_token");
    ASSERT_FALSE(token.empty()) << r.body;
  }
  {
    Daemon second(policy, {"--config", dir + "/config.yaml"}, data);
    ASSERT_TRUE(second.started()) << second.Stderr();
    Connection c(second.port());
    Response r = c.Request("POST", "/access/v1/search/subject",
                           SubjectsAfter(token), Daemon::kCheckToken);
    EXPECT_EQ(r.body,
              R"({"results":[{"type":"user","id":"bob"}],"page":{"next_token":""}})");
  }
  {
    Daemon third(policy, {}, data);  // no key configured: a random one
    ASSERT_TRUE(third.started()) << third.Stderr();
    Connection c(third.port());
    Response r = c.Request("POST", "/access/v1/search/subject",
                           SubjectsAfter(token), Daemon::kCheckToken);
    EXPECT_EQ(r.status, 400) << r.body;
  }
  // A key too short is refused at start.
  WriteFile(dir + "/page.key", "short\n");
  Daemon refused(policy, {"--config", dir + "/config.yaml"}, dir + "/data2");
  EXPECT_FALSE(refused.started());
  EXPECT_NE(refused.Stderr().find("at least 16 bytes"), std::string::npos)
      << refused.Stderr();
  std::filesystem::remove_all(dir);
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
