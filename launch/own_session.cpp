#include "launch/own_session.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace tessera {
namespace {

volatile sig_atomic_t child_pid = 0;

void forward_signal(int signal_number) {
  if (child_pid > 0) kill(child_pid, signal_number);
}

bool autogroup_enabled() {
  std::ifstream file("/proc/sys/kernel/sched_autogroup_enabled");
  int enabled = 0;
  return file >> enabled && enabled == 1;
}

bool wanted() {
  const char* setting = std::getenv("TESSERA_OWN_SESSION");
  if (setting != nullptr && std::strcmp(setting, "0") == 0) return false;
  // Under mpirun (Open MPI or a PMI launcher): a shell already gives a command a scheduling group of its own.
  const bool launched_by_mpi = std::getenv("OMPI_COMM_WORLD_RANK") != nullptr || std::getenv("PMI_RANK") != nullptr ||
                               std::getenv("PMIX_RANK") != nullptr;
  return launched_by_mpi && getsid(0) != getpid() && autogroup_enabled();
}

[[noreturn]] void wait_and_exit_as(pid_t child) {
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) std::_Exit(1);
  }
  if (WIFEXITED(status)) std::_Exit(WEXITSTATUS(status));
  // Killed by a signal: die by the same one, so that mpirun reports the rank as the child ended.
  const int signal_number = WTERMSIG(status);
  std::signal(signal_number, SIG_DFL);
  raise(signal_number);
  std::_Exit(128 + signal_number);
}

}  // namespace

void continue_in_own_session() {
  if (!wanted()) return;
  if (setsid() >= 0) return;  // not a process-group leader: the session is ours without a fork
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) return;  // no fork: run in mpirun's session, as before
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) std::_Exit(1);  // the parent died before the line above
    setsid();
    return;
  }
  child_pid = child;
  for (const int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT}) {
    struct sigaction action {};
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number, &action, nullptr);
  }
  wait_and_exit_as(child);
}

bool runs_in_own_session() { return getsid(0) == getpid(); }

}  // namespace tessera
