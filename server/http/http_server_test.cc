#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace portcullis::server {
namespace {

// Sends `bytes` on one connection and reads until the server closes it.
std::string Exchange(uint16_t port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + sent, bytes.size() - sent);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) in.append(buf, n);
  close(fd);
  return in;
}

// A connection reuses one HttpRequest for its requests: each one the handler
// sees holds its own headers, query and body, none of the previous one's.
TEST(HttpServer, EachRequestOfAConnectionSeesOnlyItsOwnFields) {
  HttpServerOptions options;
  options.port = 0;
  options.threads = 1;
  HttpServer server(options, [](HttpRequest& req) {
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = req.method + " " + req.target + " path=" + req.path +
             " query=" + req.query + " body=" + req.body + " remote=" +
             (req.remote.empty() ? "none" : "set") + " headers=";
    for (const auto& [name, value] : req.headers) {
      r.body += name + ":" + value + ";";
    }
    r.body += "\n";
    return r;
  });
  ASSERT_TRUE(server.Start().ok());
  const std::string out = Exchange(
      server.port(),
      "POST /a?x=1 HTTP/1.1\r\nHost: h\r\nX-One: 1\r\nX-Two: 2\r\n"
      "Content-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /c?y=2 HTTP/1.1\r\nHost: h\r\nX-Three: three\r\n"
      "Connection: close\r\n\r\n");
  server.Stop();
  EXPECT_NE(out.find("POST /a?x=1 path=/a query=x=1 body=abc remote=set "
                     "headers=host:h;x-one:1;x-two:2;content-length:3;\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("GET /b path=/b query= body= remote=set headers=host:h;\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("GET /c?y=2 path=/c query=y=2 body= remote=set "
                     "headers=host:h;x-three:three;connection:close;\n"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace portcullis::server
