# remote: SSH connections, closure copies, deployments and fleets.
flakectl_subsystem(remote DEPS util store cache HEADERS remote.h deploy_protocol.h)
