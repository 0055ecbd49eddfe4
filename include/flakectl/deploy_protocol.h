/* deploy_protocol.h - what the deployer (src/remote/deploy.c) and the target's
 * `flakectl deploy-agent` (src/cli/deploy_agent.c) say to each other, in one place: the
 * report line's marker, the agent's exit codes and the keys of its JSON reports. Both sides
 * ship in the same binary, but a target may run an older one: change nothing here without
 * keeping the old meaning readable. */
#ifndef FLAKECTL_DEPLOY_PROTOCOL_H
#define FLAKECTL_DEPLOY_PROTOCOL_H

/* A line starting with this is a JSON report for the deployer, which strips it from what it
 * shows the user. */
#define FL_DEPLOY_REPORT_MARK "@@flakectl-deploy "

/* The agent's exit codes beyond 0 (ok), 1 (failed) and 2 (usage). */
enum {
    FL_DEPLOY_EXIT_TOO_LATE = 3,   /* confirm: the watchdog already rolled back */
    FL_DEPLOY_EXIT_NEEDS_ROOT = 4, /* the login may not write the state directory or root:
                                      the deployer says so once, with --sudo */
};

/* `deploy-agent info` */
#define FL_DEPLOY_KEY_STORE_DIR "storeDir"
#define FL_DEPLOY_KEY_STATE_DIR "stateDir"
#define FL_DEPLOY_KEY_ROOT "root"
#define FL_DEPLOY_KEY_DEFAULT "default"                  /* default generation number */
#define FL_DEPLOY_KEY_CURRENT "current"                  /* active toplevel or null */
#define FL_DEPLOY_KEY_DEFAULT_TOPLEVEL "defaultToplevel" /* or null */
#define FL_DEPLOY_KEY_IN_FLIGHT "inFlight" /* an activation was interrupted halfway */
/* true: `store query-valid|import --pending ID` and `deploy-agent activate --pending ID`
 * exist (an older agent does not say, and gets neither) */
#define FL_DEPLOY_KEY_PENDING_ROOTS "pendingRoots"

/* `deploy-agent activate` */
#define FL_DEPLOY_KEY_ERROR "error"
#define FL_DEPLOY_KEY_STATUS "status"
#define FL_DEPLOY_KEY_GENERATION "generation"
#define FL_DEPLOY_KEY_CHANGED "changed"
#define FL_DEPLOY_KEY_WATCHED "watched"   /* the watchdog waits for a confirmation */
#define FL_DEPLOY_KEY_PREVIOUS "previous" /* the generation it would go back to */

/* `deploy-agent state`: the host's record (activate/record.c's keys: host, generation,
 * toplevel, rev, dirty, time, via, lastError, pointer) */

/* `deploy-agent build` */
#define FL_DEPLOY_KEY_TOPLEVEL "toplevel"
#define FL_DEPLOY_KEY_BUILT "built"
#define FL_DEPLOY_KEY_CLOSURE "closure" /* [[path, narSize], ...] */

#endif
