#include "server/config.h"

#include <gtest/gtest.h>

namespace portcullis::server {
namespace {

TEST(ServeConfig, DefaultsAreSafe) {
  ServeConfig c;
  EXPECT_EQ(c.listen, "127.0.0.1:8181");
  EXPECT_TRUE(c.auth);
  EXPECT_EQ(c.body_limit, 1024u * 1024u);
  EXPECT_EQ(c.source, "");  // the embedded mode
}

TEST(ServeConfig, ParsesEveryKey) {
  ServeConfig c;
  Status s = ParseConfigText(R"(
listen: "0.0.0.0:9000"
data: /var/lib/p
policy: p.yaml
threads: 4
tokens: t.txt
auth: false
source: postgresql://portcullis@db.example/authz
limits: {header_bytes: 8192, body_bytes: 4096, import_body_bytes: 100000, batch: 10, page: 50}
timeouts: {read_ms: 100, write_ms: 200, idle_ms: 300, long_poll_ms: 400, revision_wait_ms: 500}
log: {access: "-", decisions: d.log}
)", "c.yaml", &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.threads, 4);
  EXPECT_FALSE(c.auth);
  EXPECT_EQ(c.body_limit, 4096u);
  EXPECT_EQ(c.max_batch, 10u);
  EXPECT_EQ(c.idle_timeout_ms, 300);
  EXPECT_EQ(c.decision_log, "d.log");
  EXPECT_EQ(c.source, "postgresql://portcullis@db.example/authz");
  EXPECT_EQ(c.revision_wait_ms, 500);
}

TEST(ServeConfig, ErrorsNameLineAndColumn) {
  ServeConfig c;
  Status s = ParseConfigText("listen: \"127.0.0.1:1\"\nthreadz: 3\n", "c.yaml", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("c.yaml:2:1"), std::string::npos) << s.message();
  s = ParseConfigText("threads: many\n", "c.yaml", &c);
  EXPECT_FALSE(s.ok());
  s = ParseConfigText("auth: yes\n", "c.yaml", &c);
  EXPECT_FALSE(s.ok());
  s = ParseConfigText("threads: 1\nthreads: 2\n", "c.yaml", &c);
  EXPECT_FALSE(s.ok());
  s = ParseConfigText("limits: {body_bytes: 5}\n", "c.yaml", &c);
  EXPECT_FALSE(s.ok());
  s = ParseConfigText("listen: [1\n", "c.yaml", &c);
  EXPECT_FALSE(s.ok());
}

TEST(ParseListen, AcceptsHostPort) {
  auto a = ParseListen("127.0.0.1:0");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  a = ParseListen("[::1]:8080");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "::1");
  EXPECT_FALSE(ParseListen("localhost").has_value());
  EXPECT_FALSE(ParseListen("127.0.0.1:70000").has_value());
  EXPECT_FALSE(ParseListen(":80").has_value());
}

}  // namespace
}  // namespace portcullis::server
