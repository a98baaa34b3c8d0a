/*
 * main.c - smime-milter: options, configuration, socket, daemon.
 *
 *   smime-milter -c FILE [-f] [-p SOCKET]   run
 *   smime-milter -n -c FILE                 check FILE and exit (1 on error)
 *   smime-milter -V                         print the version
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/opensslv.h>

#include "conf.h"
#include "log.h"
#include "milter.h"

#define DEFAULT_CONF "/etc/smime-milter/smime-milter.conf"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smime-milter [-f] [-c FILE] [-p SOCKET]\n"
	    "       smime-milter -n [-c FILE]\n"
	    "       smime-milter -V\n"
	    "  -c FILE    configuration file (default " DEFAULT_CONF ")\n"
	    "  -f         stay in the foreground and log to stderr\n"
	    "  -n         check the configuration and exit (1 on error)\n"
	    "  -p SOCKET  milter socket, overrides \"socket\" (inet:PORT@HOST, unix:PATH)\n"
	    "  -V         print the version and exit\n");
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

/* Detach from the terminal; the parent exits once the child is ready. */
static int
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if (chdir("/") != 0)
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

int
main(int argc, char **argv)
{
	const char *conf_path = DEFAULT_CONF, *sock = NULL;
	int foreground = 0, check_only = 0, ch, nerr;
	struct conf *conf = NULL;

	while ((ch = getopt(argc, argv, "c:fhnp:V")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'p':
			sock = optarg;
			break;
		case 'V':
			printf("smime-milter %s (%s)\n", PACKAGE_VERSION, OPENSSL_VERSION_TEXT);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (check_only) {
		nerr = conf_load(conf_path, &conf, report_stderr, NULL);
		if (nerr != 0) {
			fprintf(stderr, "%s: %d error%s\n", conf_path, nerr, nerr == 1 ? "" : "s");
			return 1;
		}
		printf("%s: OK\n", conf_path);
		conf_unref(conf);
		return 0;
	}

	log_open("smime-milter", foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG, LOG_MAIL);
	nerr = conf_load(conf_path, &conf, foreground ? report_stderr : report_log, NULL);
	if (nerr != 0) {
		log_msg(LOG_ERR, NULL, "%s: %d configuration error%s, not starting", conf_path, nerr,
		    nerr == 1 ? "" : "s");
		return 1;
	}
	if (sock == NULL)
		sock = conf->socket;
	if (sock == NULL) {
		log_msg(LOG_ERR, NULL, "%s: no socket set (keyword \"socket\" or -p)", conf_path);
		conf_unref(conf);
		return 1;
	}
	milter_set_conf(conf);

	if (smfi_setconn((char *)sock) != MI_SUCCESS ||
	    smfi_register(milter_desc) != MI_SUCCESS) {
		log_msg(LOG_ERR, NULL, "cannot register with libmilter on %s", sock);
		return 1;
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		log_msg(LOG_ERR, NULL, "cannot listen on %s: %s", sock, strerror(errno));
		return 1;
	}
	if (!foreground && daemonize() != 0) {
		log_msg(LOG_ERR, NULL, "cannot become a daemon: %s", strerror(errno));
		return 1;
	}
	log_msg(LOG_INFO, NULL, "smime-milter %s listening on %s", PACKAGE_VERSION, sock);
	if (smfi_main() != MI_SUCCESS) {
		log_msg(LOG_ERR, NULL, "libmilter stopped with an error");
		milter_set_conf(NULL);
		return 1;
	}
	log_msg(LOG_INFO, NULL, "stopped");
	milter_set_conf(NULL);
	return 0;
}
