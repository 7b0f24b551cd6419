// Starts a CPU worker group: the rendezvous store, then `--world_size` worker processes (one per
// tensor-parallel rank) on 127.0.0.1, and writes where they listen.
//   worker_launcher --world_size=2 --state_file=group.json -- --model=DIR [worker flags...]
// group.json: {"rendezvous": "127.0.0.1:P",
//              "ranks": [{"rank": 0, "pid": N, "address": "...", "metrics_port": M}, ...]}
// written once every rank serves gRPC (they are NOT_SERVING until Warmup). SIGTERM/SIGINT stop
// the workers (SIGTERM, then SIGKILL after --stop_timeout_ms) and the launcher. A worker that
// exits on its own is reported and not restarted; its peers then fail their steps with
// UNAVAILABLE.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "parallel/rendezvous.h"
#include "service/common/log.h"
#include "service/common/shutdown_signal.h"

ABSL_FLAG(int, world_size, 2, "Ranks (processes) in the group");
ABSL_FLAG(std::string, worker_binary, "", "The worker executable (default: beside this one)");
ABSL_FLAG(std::string, state_file, "", "Where to write the group's addresses (JSON)");
ABSL_FLAG(std::string, group, "", "Rendezvous namespace (default: derived from the pid)");
ABSL_FLAG(int64_t, start_timeout_ms, 120000, "How long ranks may take to serve");
ABSL_FLAG(int64_t, stop_timeout_ms, 30000, "SIGTERM grace before SIGKILL");
ABSL_FLAG(int, first_port, 0,
          "Rank r serves gRPC on first_port + r (0: free ports); a restarted group keeps its "
          "addresses, so the router reconnects");
ABSL_FLAG(int, first_metrics_port, 0,
          "Rank r serves /metrics on first_metrics_port + r (0: free ports)");

namespace {

constexpr const char* kName = "launcher";

std::string Sibling(const char* argv0, const std::string& name) {
  std::string path = argv0;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? name : path.substr(0, slash + 1) + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

pid_t Spawn(const std::string& binary, const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // The child: undo ShutdownSignal's blocked mask so the worker receives SIGTERM itself.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(binary.c_str(), argv.data());
  std::perror(("exec " + binary).c_str());
  _exit(127);
}

}  // namespace

int main(int argc, char** argv) {
  gemma::ShutdownSignal shutdown_signal;
  absl::SetProgramUsageMessage("Starts a tensor-parallel CPU worker group.");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  const int world = absl::GetFlag(FLAGS_world_size);
  std::string binary = absl::GetFlag(FLAGS_worker_binary);
  if (binary.empty()) binary = Sibling(argv[0], "worker");
  const std::string group =
      absl::GetFlag(FLAGS_group).empty() ? absl::StrCat("group-", getpid()) : absl::GetFlag(FLAGS_group);

  gemma::parallel::RendezvousService rendezvous;
  grpc::ServerBuilder builder;
  int store_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &store_port);
  builder.RegisterService(&rendezvous);
  std::unique_ptr<grpc::Server> store = builder.BuildAndStart();
  if (store == nullptr) {
    gemma::LogError(kName, "cannot start the rendezvous store");
    return EXIT_FAILURE;
  }
  const std::string store_address = absl::StrCat("127.0.0.1:", store_port);

  char dir_template[] = "/tmp/gemma-launcher-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::vector<pid_t> pids(world);
  const int first_port = absl::GetFlag(FLAGS_first_port);
  const int first_metrics_port = absl::GetFlag(FLAGS_first_metrics_port);
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> args = {absl::StrCat("--rank=", r), absl::StrCat("--world_size=", world),
                                     "--rendezvous=" + store_address, "--group=" + group,
                                     absl::StrCat("--port=", first_port > 0 ? first_port + r : 0),
                                     absl::StrCat("--port_file=", dir, "/rank", r),
                                     absl::StrCat("--metrics_port=",
                                                  first_metrics_port > 0 ? first_metrics_port + r : 0),
                                     absl::StrCat("--metrics_port_file=", dir, "/metrics", r)};
    for (size_t i = 1; i < rest.size(); ++i) args.push_back(rest[i]);
    pids[r] = Spawn(binary, args);
  }
  auto stop_all = [&](int code) {
    for (pid_t pid : pids) {
      if (pid > 0) kill(pid, SIGTERM);
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(absl::GetFlag(FLAGS_stop_timeout_ms));
    for (pid_t& pid : pids) {
      while (pid > 0) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) {
          pid = 0;
        } else if (std::chrono::steady_clock::now() > deadline) {
          kill(pid, SIGKILL);
          waitpid(pid, nullptr, 0);
          pid = 0;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    }
    store->Shutdown();
    return code;
  };

  // Wait until every rank serves (or one fails to start).
  std::vector<std::string> addresses(world);
  std::vector<int> metrics_ports(world);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(absl::GetFlag(FLAGS_start_timeout_ms));
  for (int r = 0; r < world; ++r) {
    while (true) {
      // Written atomically (rename) by the worker once it serves.
      const int port = std::atoi(ReadFile(absl::StrCat(dir, "/rank", r)).c_str());
      if (port > 0) {  // The metrics port file is written before the gRPC one.
        addresses[r] = absl::StrCat("127.0.0.1:", port);
        metrics_ports[r] = std::atoi(ReadFile(absl::StrCat(dir, "/metrics", r)).c_str());
        break;
      }
      int status = 0;
      if (waitpid(pids[r], &status, WNOHANG) == pids[r]) {
        gemma::LogError(kName, "rank %d exited with status %d before serving", r, status);
        pids[r] = 0;
        return stop_all(EXIT_FAILURE);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        gemma::LogError(kName, "rank %d did not serve within the start timeout", r);
        return stop_all(EXIT_FAILURE);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string json = absl::StrCat("{\"rendezvous\": \"", store_address, "\", \"ranks\": [");
  for (int r = 0; r < world; ++r) {
    absl::StrAppend(&json, r ? ", " : "", "{\"rank\": ", r, ", \"pid\": ", pids[r],
                    ", \"address\": \"", addresses[r], "\", \"metrics_port\": ",
                    metrics_ports[r], "}");
  }
  json += "]}\n";
  if (!absl::GetFlag(FLAGS_state_file).empty()) {
    const std::string tmp = absl::GetFlag(FLAGS_state_file) + ".tmp";
    std::ofstream(tmp) << json;
    std::rename(tmp.c_str(), absl::GetFlag(FLAGS_state_file).c_str());
  }
  gemma::LogInfo(kName, "group %s: %d ranks serving: %s", group, world, json);

  // Report workers that exit on their own; stop everything on SIGTERM/SIGINT.
  std::thread reaper([&] {
    while (true) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, 0);
      if (pid <= 0) return;
      for (int r = 0; r < world; ++r) {
        if (pids[r] == pid) {
          gemma::LogError(kName, "rank %d (pid %d) exited (status %d)", r, pid, status);
        }
      }
    }
  });
  reaper.detach();
  const int signal = shutdown_signal.Wait();
  gemma::LogInfo(kName, "signal %d: stopping the group", signal);
  for (pid_t pid : pids) kill(pid, SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto stop_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(absl::GetFlag(FLAGS_stop_timeout_ms));
  for (pid_t pid : pids) {
    while (kill(pid, 0) == 0 && std::chrono::steady_clock::now() < stop_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (kill(pid, 0) == 0) kill(pid, SIGKILL);
  }
  store->Shutdown();
  return EXIT_SUCCESS;
}
