/*
 * main.c - smime-milter: options, configuration, processes, signals.
 *
 *   smime-milter -c FILE [-f] [-p SOCKET]   run
 *   smime-milter -n [-v] -c FILE [-p SOCKET] check FILE and what it needs, exit (1 on error)
 *   smime-milter -c FILE -t FROM RCPT...     explain what the policy does with such a message
 *   smime-milter -k                         list the configuration keywords
 *   smime-milter -V | --version             print the versions
 *   smime-milter -h | --help                print the usage
 *
 * Two processes.  A small supervisor (the pid in pid-file) starts the
 * milter process, restarts it if it crashes, turns SIGHUP into a reload
 * (libmilter itself treats SIGHUP as "stop") and passes SIGTERM on.  The
 * milter process binds the socket, drops privileges to `user`, serves
 * with libmilter, reloads the configuration on SIGUSR1 (a broken file is
 * refused and the old configuration stays), and on SIGTERM lets the
 * messages in flight finish before it exits.
 *
 * The counters of the metrics (metrics.h) live in memory the supervisor
 * maps shared before it starts the first milter process: a restarted
 * process goes on counting where the one before it stopped, and the
 * supervisor adds each restart to smime_milter_restarts_total there.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "conf.h"
#include "conf_check.h"
#include "decide.h"
#include "explain.h"
#include "keystore_pkcs11.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"

#define DEFAULT_CONF       "/etc/smime-milter/smime-milter.conf"
#define STOP_GRACE_SECONDS 30
#define RESTART_LIMIT      10 /* crashes within RESTART_WINDOW before giving up */
#define RESTART_WINDOW     60
#define OPEN_FILES_MAX     1048576 /* the most raise_open_files asks for */

static const char *conf_path = DEFAULT_CONF;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smime-milter [-f] [-c FILE] [-p SOCKET]\n"
	    "       smime-milter -n [-v] [-c FILE] [-p SOCKET]\n"
	    "       smime-milter [-c FILE] -t FROM RCPT... [--vmta NAME | --daemon-name NAME]\n"
	    "                    [--client internal|external|authenticated]\n"
	    "       smime-milter -k\n"
	    "       smime-milter -V | --version\n"
	    "       smime-milter -h | --help\n"
	    "  -c FILE    configuration file (default " DEFAULT_CONF ")\n"
	    "  -f         stay in the foreground and log to stderr\n"
	    "  -n         check the configuration and what it needs at run time, and exit (1 on error)\n"
	    "  -v         with -n: also log in to PKCS#11 tokens and load their keys\n"
	    "  -p SOCKET  milter socket, overrides \"socket\" (inet:PORT@HOST, unix:PATH)\n"
	    "  -t         explain what the policy does with mail from FROM to each RCPT, send nothing;\n"
	    "             exit 0 when it would go out protected, 1 when refused or deferred\n"
	    "  --vmta NAME         the message's virtual MTA header (virtual-mta-header)\n"
	    "  --daemon-name NAME  the virtual-mta-macro's value (e.g. Postfix's {daemon_name})\n"
	    "  --client KIND       internal (default), external or authenticated\n"
	    "  -k         list the keywords of the configuration file, and exit\n"
	    "  -V         print the versions of smime-milter, OpenSSL and libmilter, and exit\n"
	    "  -h         print this help and exit\n"
	    "signals: HUP or USR1 reload, TERM stops after the messages in flight\n");
}

static void
report_stderr(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static void
report_log(void *arg, const char *msg)
{
	(void)arg;
	log_msg(LOG_ERR, NULL, "%s", msg);
}

/*
 * Say which signing identities would fail now (mail from them gets
 * missing-key); those that expire soon are warned of once a day by the
 * signers watch, whose table behind the expiry gauges is made again here.
 */
static void
log_signer_problems(const struct conf *c)
{
	(void)conf_check_signers(c, report_log, NULL, NULL);
	milter_signers_refresh(c);
}

/* log-level and log-facility of c, from now on. */
static void
apply_logging(const struct conf *c)
{
	log_set_level(c->log_level);
	log_set_facility(c->log_facility);
}

/* Detach from the terminal. */
static int
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0 || chdir("/") != 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static int
write_pid_file(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* setgid + initgroups + setuid; after binding the socket. */
static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		log_msg(LOG_ERR, NULL, "user %s: no such user", user);
		return -1;
	}
	if (setgid(pw->pw_gid) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_msg(LOG_ERR, NULL, "cannot become user %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * No core dumps: a core file of either process would hold keys and
 * plaintext.  RLIMIT_CORE 0 (soft and hard, so the process cannot raise it
 * again) and not dumpable (which also keeps other processes of the same
 * user from attaching to it or reading its memory).  setuid resets the
 * dumpable flag, so the milter process calls this after dropping
 * privileges.  With allow-core-dumps yes the system's limits apply, and
 * the process is made dumpable again after setuid.
 */
static int
set_core_dumps(int allow)
{
	struct rlimit none = {0, 0};

	if (allow) {
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
			log_msg(LOG_ERR, NULL, "cannot allow core dumps: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		log_msg(LOG_ERR, NULL, "cannot turn core dumps off: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Open files: each MTA connection is one, and a busy MTA (hundreds of
 * smtpd processes, or a flood of idle connections) passes the soft limit
 * of 1024 a service gets by default; libmilter then fails to accept and
 * the MTA's connections time out.  libmilter, libldap and the metrics
 * server wait with poll(), not select(), so no descriptor number is too
 * high for them: the soft limit is raised to the hard one.
 */
static void
raise_open_files(void)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	want = rl.rlim_max;
	if (want == RLIM_INFINITY || want > OPEN_FILES_MAX)
		want = OPEN_FILES_MAX;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_msg(LOG_WARNING, NULL, "cannot raise the open files limit to %llu: %s",
		    (unsigned long long)want, strerror(errno));
}

/* ---- the milter process ---- */

/* What a reload cannot change in a running process: said, not done. */
static void
reload_notes(const struct conf *c)
{
	struct conf *old = milter_get_conf();
	const char *was = old != NULL ? old->metrics_listen : NULL;
	const char *now = c->metrics_listen;

	if ((was == NULL) != (now == NULL) || (was != NULL && strcmp(was, now) != 0))
		log_msg(LOG_WARNING, NULL,
		    "reload: metrics-listen changed (%s -> %s): it takes effect when smime-milter "
		    "is started again",
		    was ? was : "none", now ? now : "none");
	conf_unref(old);
}

/* Waits for SIGUSR1 and swaps in a freshly loaded configuration. */
static void *
reload_thread(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		struct conf *c = NULL;
		int nerr;
		if (sigwait(&set, &sig) != 0)
			continue;
		nerr = conf_load(conf_path, &c, report_log, NULL);
		if (nerr != 0) {
			log_msg(LOG_ERR, NULL,
			    "reload: %s: %d error%s, keeping the configuration in force", conf_path,
			    nerr, nerr == 1 ? "" : "s");
			metrics_add(METRICS_RELOADS, "refused", NULL, 1);
			continue;
		}
		reload_notes(c);
		apply_logging(c);
		milter_set_conf(c);
		keystore_pkcs11_flush();
		metrics_add(METRICS_RELOADS, "ok", NULL, 1);
		log_msg(LOG_INFO, NULL, "reload: %s loaded", conf_path);
		log_signer_problems(c);
	}
	return NULL;
}

static int
milter_process(struct conf *inherited, const char *sock)
{
	struct conf *conf = NULL;
	pthread_t tid;
	sigset_t set;
	mode_t mask;
	char err[512], spec[600];
	int left;

	/* a restarted process reads the file again; the last good one if it is broken */
	if (conf_load(conf_path, &conf, report_log, NULL) != 0) {
		log_msg(LOG_ERR, NULL, "%s has errors: starting with the previous configuration",
		    conf_path);
		conf = conf_ref(inherited);
	}
	if (sock == NULL)
		sock = conf->socket;
	apply_logging(conf);
	milter_set_conf(conf);
	log_signer_problems(conf);

	/*
	 * Block the signals before any thread exists, so every thread inherits
	 * the mask: SIGUSR1 is taken by the reload thread's sigwait, HUP, TERM
	 * and INT by libmilter's signal thread.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (milter_link_listen(sock, spec, sizeof(spec), err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, NULL, "%s", err);
		return 1;
	}
	if (smfi_setconn(spec) != MI_SUCCESS || smfi_register(milter_desc) != MI_SUCCESS) {
		log_msg(LOG_ERR, NULL, "cannot register with libmilter on %s", sock);
		return 1;
	}
	mask = milter_socket_umask();
	if (smfi_opensocket(1) != MI_SUCCESS) {
		log_msg(LOG_ERR, NULL, "cannot listen on %s: %s", sock, strerror(errno));
		return 1;
	}
	umask(mask);
	if (milter_socket_perms(conf, sock, err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, NULL, "%s", err);
		return 1;
	}
	/* bound as the socket is, before the privileges go; its thread has the signals blocked */
	if (milter_metrics_start(conf, err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, NULL, "%s", err);
		return 1;
	}
	if (drop_privileges(conf->user) != 0 || set_core_dumps(conf->allow_core_dumps) != 0)
		return 1;
	if (conf->allow_core_dumps)
		log_msg(LOG_WARNING, NULL,
		    "allow-core-dumps yes: a core file may hold keys and message "
		    "content");
	if (pthread_create(&tid, NULL, reload_thread, NULL) != 0) {
		log_msg(LOG_ERR, NULL, "cannot start the reload thread");
		return 1;
	}
	pthread_detach(tid);
	if (milter_signers_start() != 0) {
		log_msg(LOG_ERR, NULL, "cannot start the signers thread");
		return 1;
	}
	if (conf->metrics_listen != NULL)
		log_msg(LOG_INFO, NULL, "metrics on http://%s/metrics", conf->metrics_listen);
	log_msg(LOG_INFO, NULL, "smime-milter %s listening on %s", PACKAGE_VERSION, sock);
	if (smfi_main() != MI_SUCCESS)
		log_msg(LOG_ERR, NULL, "libmilter stopped with an error");
	left = milter_wait_idle(STOP_GRACE_SECONDS);
	if (left > 0)
		log_msg(LOG_WARNING, NULL,
		    "stopping with %d message%s still in flight (the MTA keeps them)", left,
		    left == 1 ? "" : "s");
	milter_metrics_stop();
	log_msg(LOG_INFO, NULL, "stopped");
	return 0;
}

/* ---- the supervisor ---- */

/*
 * The child keeps HUP, USR1, TERM and INT blocked from the fork on: a
 * reload or stop sent before it is ready stays pending for the thread
 * that waits for it, instead of killing it with the default action.
 */
static pid_t
start_child(struct conf *conf, const char *sock)
{
	pid_t pid = fork();
	sigset_t chld;

	if (pid == 0) {
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		_exit(milter_process(conf, sock));
	}
	return pid;
}

static int
supervise(struct conf *conf, const char *sock)
{
	sigset_t set;
	time_t crashes[RESTART_LIMIT] = {0};
	int ncrash = 0, sig, status, stopping = 0;
	pid_t child, pid;
	char err[256];

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (metrics_init_shared(err, sizeof(err)) != 0)
		log_msg(LOG_WARNING, NULL,
		    "%s: a restarted milter process starts its counters at 0", err);
	child = start_child(conf, sock);
	if (child < 0) {
		log_msg(LOG_ERR, NULL, "cannot start the milter process: %s", strerror(errno));
		return 1;
	}
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		switch (sig) {
		case SIGHUP:
		case SIGUSR1:
			/* not logged here: the milter process logs the reload with its own log-level */
			kill(child, SIGUSR1);
			break;
		case SIGTERM:
		case SIGINT:
			stopping = 1;
			kill(child, SIGTERM);
			break;
		case SIGCHLD:
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				time_t now = time(NULL);
				if (pid != child)
					continue;
				if (stopping)
					return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
				if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && ncrash == 0 &&
				    crashes[0] == 0) {
					/* failed at start (socket in use, ...): restarting will not help */
					log_msg(LOG_ERR, NULL,
					    "the milter process could not start");
					return WEXITSTATUS(status);
				}
				if (WIFSIGNALED(status))
					log_msg(LOG_ERR, NULL,
					    "the milter process died of signal %d: restarting",
					    WTERMSIG(status));
				else
					log_msg(LOG_ERR, NULL,
					    "the milter process exited (%d): restarting",
					    WEXITSTATUS(status));
				if (crashes[ncrash % RESTART_LIMIT] != 0 &&
				    now - crashes[ncrash % RESTART_LIMIT] < RESTART_WINDOW) {
					log_msg(LOG_ERR, NULL,
					    "%d restarts within %d seconds: giving up",
					    RESTART_LIMIT, RESTART_WINDOW);
					return 1;
				}
				crashes[ncrash++ % RESTART_LIMIT] = now;
				metrics_add(METRICS_RESTARTS, NULL, NULL, 1);
				sleep(1);
				child = start_child(conf, sock);
				if (child < 0) {
					log_msg(LOG_ERR, NULL, "cannot restart: %s",
					    strerror(errno));
					return 1;
				}
			}
			break;
		default: break;
		}
	}
}

/* -n: check the file and what it needs at run time; 0, or 1 with every error printed. */
static int
check_main(const char *sock, int verbose)
{
	struct conf *conf = NULL;
	int nerr = conf_load(conf_path, &conf, report_stderr, NULL);

	if (nerr == 0) {
		struct conf_check_options co = {sock, verbose, NULL};
		nerr = conf_check_runtime(conf, &co, report_stderr, NULL);
		nerr += conf_check_signers(conf, report_stderr, report_stderr, NULL);
	}
	conf_unref(conf);
	if (nerr != 0) {
		fprintf(stderr, "%s: %d error%s\n", conf_path, nerr, nerr == 1 ? "" : "s");
		return 1;
	}
	printf("%s: OK\n", conf_path);
	return 0;
}

/* -t FROM RCPT...: the policy explainer (explain.c). */
static int
explain_main(const struct explain_options *eo, int n, char **addrs)
{
	static const char *const clients[] = {"internal", "external", "authenticated", NULL};
	int i;

	for (i = 0; eo->client != NULL && clients[i] != NULL; i++)
		if (strcmp(eo->client, clients[i]) == 0)
			break;
	if (n < 2 || (eo->vmta_header != NULL && eo->daemon_name != NULL) ||
	    (eo->client != NULL && clients[i] == NULL)) {
		usage(stderr);
		return 2;
	}
	return explain_run(conf_path, eo, n, addrs, stdout);
}

int
main(int argc, char **argv)
{
	static const struct decide_logger logger = {log_msg, log_enabled};
	const char *sock = NULL;
	int foreground = 0, check_only = 0, verbose = 0, explain = 0, ch, nerr, rc;
	struct conf *conf = NULL;
	struct explain_options eo = {NULL, NULL, NULL};

	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"vmta", required_argument, NULL, 1},
	    {"daemon-name", required_argument, NULL, 2},
	    {"client", required_argument, NULL, 3},
	    {NULL, 0, NULL, 0},
	};

	decide_set_logger(&logger); /* the core's lines go to this program's log */

	while ((ch = getopt_long(argc, argv, "c:fhknp:tvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 1: eo.vmta_header = optarg; break;
		case 2: eo.daemon_name = optarg; break;
		case 3: eo.client = optarg; break;
		case 't': explain = 1; break;
		case 'c': conf_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'k': conf_print_keywords(stdout); return 0;
		case 'n': check_only = 1; break;
		case 'p': sock = optarg; break;
		case 'v': verbose = 1; break;
		case 'V': {
			unsigned int maj = 0, min = 0, pl = 0;
			(void)smfi_version(&maj, &min, &pl);
			printf("smime-milter %s (%s, libmilter %u.%u.%u)\n", PACKAGE_VERSION,
			    OpenSSL_version(OPENSSL_VERSION), maj, min, pl);
			return 0;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (explain)
		return explain_main(&eo, argc - optind, argv + optind);
	if (optind != argc || eo.vmta_header != NULL || eo.daemon_name != NULL ||
	    eo.client != NULL) {
		usage(stderr);
		return 2;
	}

	if (check_only)
		return check_main(sock, verbose);

	log_open("smime-milter", foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG, LOG_MAIL);
	nerr = conf_load(conf_path, &conf, foreground ? report_stderr : report_log, NULL);
	if (nerr != 0) {
		log_msg(LOG_ERR, NULL, "%s: %d configuration error%s, not starting", conf_path,
		    nerr, nerr == 1 ? "" : "s");
		return 1;
	}
	apply_logging(conf);
	{
		/* what would fail at run time fails the start, before the terminal is let go */
		struct conf_check_options co = {sock, 0, foreground ? report_stderr : report_log};
		nerr = conf_check_runtime(conf, &co, foreground ? report_stderr : report_log, NULL);
	}
	if (nerr != 0) {
		log_msg(LOG_ERR, NULL, "%s: %d error%s, not starting", conf_path, nerr,
		    nerr == 1 ? "" : "s");
		conf_unref(conf);
		return 1;
	}
	if (!foreground && daemonize() != 0) {
		log_msg(LOG_ERR, NULL, "cannot become a daemon: %s", strerror(errno));
		return 1;
	}
	raise_open_files();
	/* the supervisor has read keys too (the start checks load them) */
	if (set_core_dumps(conf->allow_core_dumps) != 0)
		return 1;
	if (conf->pid_file != NULL && write_pid_file(conf->pid_file) != 0) {
		log_msg(LOG_ERR, NULL, "cannot write pid-file %s: %s", conf->pid_file,
		    strerror(errno));
		return 1;
	}
	rc = supervise(conf, sock);
	if (conf->pid_file != NULL)
		unlink(conf->pid_file);
	conf_unref(conf);
	return rc;
}
