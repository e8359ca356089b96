// Crash test: a child process writes continuously and reports each
// acknowledged revision; the parent kills it with SIGKILL at random moments,
// many times. After each kill the store must open cleanly, hold every
// acknowledged write, and pass the consistency checker.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>

#include "storage/store.h"

#ifndef CRASH_WRITER
#error "CRASH_WRITER must name the helper binary"
#endif

namespace portcullis::storage {
namespace {

struct Ack {
  uint64_t n;
  Revision rev;
};

// Runs the writer for about `run_ms`, kills it, returns what it acknowledged.
std::vector<Ack> RunAndKill(const std::string& dir, int run_ms) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(CRASH_WRITER, CRASH_WRITER, dir.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string buffer;
  char chunk[4096];
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 5) > 0) {
      const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
      if (got <= 0) break;
      buffer.append(chunk, got);
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Whatever the child wrote before dying was acknowledged.
  for (ssize_t got; (got = ::read(fds[0], chunk, sizeof chunk)) > 0;) {
    buffer.append(chunk, got);
  }
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer exited on its own (status " << status << ")";
  std::vector<Ack> acks;
  std::istringstream in(buffer);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a partial last line was not acknowledged
    Ack a;
    if (std::sscanf(line.c_str(), "%lu %lu", &a.n, &a.rev) == 2) {
      acks.push_back(a);
    }
  }
  return acks;
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("portcullis_crash_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> run_ms(30, 250);
  std::vector<Ack> all;
  const int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Ack> acks = RunAndKill(dir, run_ms(rng));
    all.insert(all.end(), acks.begin(), acks.end());

    auto store = Store::Open(dir);
    ASSERT_TRUE(store) << "round " << round << ": "
                       << store.error().ToString();
    const Revision rev = (*store)->revision();
    auto view = (*store)->Read();
    ASSERT_TRUE(view);
    for (const Ack& a : all) {
      ASSERT_LE(a.rev, rev) << "round " << round;
      const std::string n = std::to_string(a.n);
      const std::string res = "a" + n, subj = "u" + n;
      ASSERT_TRUE(view->GetResource({"account", res}))
          << "round " << round << ": acknowledged write " << n << " lost";
      ASSERT_TRUE(view->GetAccess({"user", subj}, {"account", res}).binding)
          << "round " << round << ": binding " << n << " lost";
    }
    { ReadView done = std::move(*view); }
    auto problems = (*store)->Verify();
    ASSERT_TRUE(problems);
    ASSERT_TRUE(problems->empty())
        << "round " << round << ": " << problems->front();
  }
  EXPECT_GT(all.size(), 30u) << "the writer barely wrote anything";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace portcullis::storage
