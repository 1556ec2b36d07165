/* invent-mock: parse the command line, start the app, print the ready line,
 * wait for SIGINT or SIGTERM, stop cleanly. */
#include "app.h"
#include "config.h"
#include "xalloc.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void print_ready(const struct app *a, const struct config *cfg)
{
	unsigned port = app_port(a);
	bool v6 = false;
	for (const char *p = cfg->host; *p; p++)
		v6 |= *p == ':';
	char url[300];
	snprintf(url, sizeof url, v6 ? "%s://[%s]:%u" : "%s://%s:%u", cfg->tls_cert ? "https" : "http",
		 cfg->host, port);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", "ready");
	cJSON_AddStringToObject(o, "url", url);
	cJSON_AddNumberToObject(o, "port", port);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddStringToObject(o, "db", cfg->db_path);
	char console[320];
	snprintf(console, sizeof console, "%s/__admin/ui/", url);
	cJSON_AddStringToObject(o, "console", console);
	char *line = cJSON_PrintUnformatted(o);
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	cJSON_Delete(o);
}

int main(int argc, char **argv)
{
	xalloc_install_cjson_hooks();
	struct config cfg;
	config_init(&cfg);
	struct error err = {0};
	int rc = config_parse(&cfg, argc, argv, &err);
	if (rc) {
		if (rc < 0)
			fprintf(stderr, "invent-mock: %s\n", err.msg);
		config_cleanup(&cfg);
		return rc < 0 ? 2 : 0;
	}
	/* Block the stop signals before any thread starts, so every thread inherits
	 * the mask and only sigwait() below ever sees them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct app *app = NULL;
	if (app_start(&cfg, &app, &err)) {
		error_from_store(&err); /* a store failure after start-up's own checks */
		fprintf(stderr, "invent-mock: %s\n", err.msg);
		config_cleanup(&cfg);
		return 1;
	}
	print_ready(app, &cfg);
	int sig;
	sigwait(&stop, &sig);
	app_stop(app);
	config_cleanup(&cfg);
	return 0;
}
