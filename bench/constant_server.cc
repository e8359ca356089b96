// constant_server: the HTTP ceiling of this machine.
//
// A minimal Boost.Beast HTTP/1.1 keep-alive server that reads each request in
// full (headers and body, as the daemon must) and answers every one with the
// same small JSON document: {"decision":true} under /access/ (AuthZEN) and
// {"allowed":true} everywhere else. It does no routing, no JSON parsing and
// no evaluation, so whatever throughput and latency the load generator
// measures against it is the cost of TCP, HTTP parsing and serialization on
// this machine, the best any daemon built on the same stack can do.
//
//   constant_server [--listen ADDR:PORT] [--threads N]
//
// Prints "constant_server listening on ADDR:PORT threads N" on its first
// line (port 0 picks a free port and the line names it), then serves until
// SIGINT or SIGTERM.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kAllowed = "{\"allowed\":true}";
constexpr std::string_view kDecision = "{\"decision\":true}";

// One connection: read a request, write the constant answer, repeat while
// the client keeps the connection alive. Only one operation is outstanding
// at a time, so no strand is needed even with several I/O threads.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          self->OnRead(ec);
        });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      Close();
      return;
    }
    const auto& req = parser_->get();
    response_.version(req.version());
    response_.keep_alive(req.keep_alive());
    response_.result(http::status::ok);
    response_.set(http::field::content_type, "application/json");
    const bool authzen = req.target().starts_with("/access/");
    response_.body() = authzen ? kDecision : kAllowed;
    response_.prepare_payload();
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          self->OnWrite(ec);
        });
  }

  void OnWrite(beast::error_code ec) {
    if (ec || !response_.keep_alive()) {
      Close();
      return;
    }
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, tcp::endpoint endpoint)
      : ioc_(ioc), acceptor_(ioc) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  void Accept() {
    acceptor_.async_accept(
        asio::make_strand(ioc_),
        [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
          if (!ec) {
            s.set_option(tcp::no_delay(true), ec);
            std::make_shared<Session>(std::move(s))->Start();
          }
          if (self->acceptor_.is_open()) self->Accept();
        });
  }

  void Stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
};

[[noreturn]] void Usage(const std::string& error) {
  std::cerr << "constant_server: " << error << "\n"
            << "usage: constant_server [--listen ADDR:PORT] [--threads N]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--listen" || arg == "--threads") && i + 1 >= argc) {
      Usage(arg + " needs a value");
    }
    if (arg == "--listen") {
      listen = argv[++i];
    } else if (arg == "--threads") {
      char* end = nullptr;
      const long n = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || n < 1 || n > 256) {
        Usage("--threads must be an integer in 1..256");
      }
      threads = static_cast<int>(n);
    } else if (arg == "--help" || arg == "-h") {
      Usage("serves a constant JSON answer");
    } else {
      Usage("unknown argument " + arg);
    }
  }
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) Usage("--listen must be ADDR:PORT");
  beast::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) Usage("bad address in --listen: " + listen);
  char* end = nullptr;
  const long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    Usage("bad port in --listen: " + listen);
  }

  asio::io_context ioc(threads);
  std::shared_ptr<Listener> listener;
  try {
    listener = std::make_shared<Listener>(
        ioc, tcp::endpoint(address, static_cast<unsigned short>(port)));
  } catch (const std::exception& e) {
    std::cerr << "constant_server: cannot listen on " << listen << ": "
              << e.what() << "\n";
    return 1;
  }
  const auto bound = listener->local_endpoint();
  std::printf("constant_server listening on %s:%u threads %d\n",
              bound.address().to_string().c_str(), bound.port(), threads);
  std::fflush(stdout);
  listener->Accept();

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    listener->Stop();
    ioc.stop();
  });

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}
