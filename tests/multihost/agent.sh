#!/bin/sh
# Open MPI's remote launch agent for the emulated hosts (mpirun --mca plm_rsh_agent agent.sh), standing in
# for ssh: agent.sh HOST COMMAND... runs COMMAND through a shell, as ssh would, inside HOST's network
# namespace and in a UTS namespace of its own named HOST, so that the daemon and its ranks see the host
# name Open MPI knows the host by (node-local ranks are grouped by it). Like sshd, it starts the command
# with a bare environment: what the ranks need must travel through mpirun (-x VAR, OMPI_MCA_*).
host=$1
shift
# shellcheck disable=SC2016  # $1 and $2 are the inner shell's
env -i PATH="$PATH" HOME="$HOME" ip netns exec "$host" unshare --uts sh -c 'hostname "$1" && exec sh -c "$2"' agent "$host" "$*"
status=$?
# The agent itself stays outside the host, like an ssh client. When the host has lost its cable
# (emulated_hosts.sh cut), ssh would not learn at once that the remote daemon died: it would wait on a
# silent connection until its keepalive gives up. Do the same (for MULTIHOST_KEEPALIVE_S, or until mpirun
# is gone), so that mpirun hears of the loss no sooner than it would from a real host.
if [ "$(cat "/sys/class/net/$host/operstate" 2>/dev/null)" = down ]; then
  waited=0
  while [ "$waited" -lt "${MULTIHOST_KEEPALIVE_S:-30}" ] && kill -0 "$PPID" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
  done
  echo "agent.sh: connection to $host lost" >&2
  exit 255
fi
exit "$status"
