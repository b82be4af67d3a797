/*
 * main — wires the gateway: parse options, load config, open the store,
 * reload state, start HTTP and MQTT, wait for SIGTERM/SIGINT, stop in
 * reverse order. Sub-commands (version, import, sweep, user, display)
 * dispatch from here.
 *
 * Exit status (CONTRACT "Programs"): 0 ok; 2 bad usage, bad config or bad
 * input file; 1 runtime failure.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "ctlq.h"
#include "http.h"
#include "hub.h"
#include "import.h"
#include "ingest.h"
#include "journal.h"
#include "wgate.h"
#include "log.h"
#include "metrics.h"
#include "mqtt.h"
#include "pw.h"
#include "rulesd.h"
#include "state.h"
#include "store.h"
#include "sweep.h"

#define EXIT_USAGE         2
#define RETENTION_EVERY_MS (3600LL * 1000)
#define RULES_BUSY_MS      100               /* the rules' share, while messages stream in */
#define HUB_FRAMES         4096              /* frames queued for the lws thread ... */
#define HUB_BYTES          (4 * 1024 * 1024) /* ... and bytes (it is drained every 20 ms) */

static atomic_int stop_requested; /* the one global: set by the signal handler */

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

static const char usage_text[] =
    "usage: pitwall [--config FILE] [--db FILE] [--broker URI] [--http ADDR:PORT]\n"
    "               [--site ID] [--now ISO8601 [--speedup K] [--anchor UNIX_S]]\n"
    "               [--log-level error|warn|info|debug]\n"
    "       pitwall import --db FILE KIND FILE.csv\n"
    "       pitwall sweep [--config FILE] [--db FILE] [--now ISO8601]\n"
    "       pitwall user add|list|disable ...     (pitwall user --help)\n"
    "       pitwall display add|list ...          (pitwall display --help)\n"
    "       pitwall version\n"
    "\n"
    "Runs the Pitwall gateway: subscribes to vehicle telemetry on the MQTT broker,\n"
    "keeps every car's state in SQLite and serves /healthz and /metrics over HTTP.\n"
    "\n"
    "  --config FILE     JSON config (keys: docs/config.md); flags override it\n"
    "  --db FILE         SQLite database              (default ./pitwall.db)\n"
    "  --broker URI      MQTT broker                  (default tcp://127.0.0.1:1883)\n"
    "  --http ADDR:PORT  HTTP listen address          (default 127.0.0.1:8080)\n"
    "  --site ID         site id, used in MQTT topics (default \"default\")\n"
    "  --now ISO8601     virtual clock: reads this time at --anchor ...\n"
    "  --speedup K       ... and runs K times faster than real time (default 1)\n"
    "  --anchor UNIX_S   real instant the virtual clock reads --now (default: start)\n"
    "  --log-level L     error, warn, info (default) or debug\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage/config/input, 1 runtime failure.\n";

struct cli {
	const char *config_path;
	const char *db;
	const char *broker;
	const char *http;
	const char *site;
	const char *now;
	const char *speedup;
	const char *anchor;
	const char *log_level;
};

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"db", required_argument, NULL, 'd'},
	                                     {"broker", required_argument, NULL, 'b'},
	                                     {"http", required_argument, NULL, 'H'},
	                                     {"site", required_argument, NULL, 's'},
	                                     {"now", required_argument, NULL, 'n'},
	                                     {"speedup", required_argument, NULL, 'k'},
	                                     {"anchor", required_argument, NULL, 'a'},
	                                     {"log-level", required_argument, NULL, 'l'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->config_path = optarg;
			break;
		case 'd':
			cli->db = optarg;
			break;
		case 'b':
			cli->broker = optarg;
			break;
		case 'H':
			cli->http = optarg;
			break;
		case 's':
			cli->site = optarg;
			break;
		case 'n':
			cli->now = optarg;
			break;
		case 'k':
			cli->speedup = optarg;
			break;
		case 'a':
			cli->anchor = optarg;
			break;
		case 'l':
			cli->log_level = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return PW_EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pitwall: unexpected argument '%s'\n%s", argv[optind], usage_text);
		return PW_EINVAL;
	}
	if ((cli->speedup || cli->anchor) && !cli->now) {
		fprintf(stderr, "pitwall: --speedup and --anchor need --now\n");
		return PW_EINVAL;
	}
	return PW_OK;
}

static int parse_number(const char *s, const char *flag, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "pitwall: %s: expected a number %g..%g, got '%s'\n", flag, min, max,
		        s);
		return PW_EINVAL;
	}
	*out = v;
	return PW_OK;
}

/* Builds the configuration: defaults, then the file, then the flags. */
static int load_config(const struct cli *cli, struct pw_config *cfg, struct pw_clock *clk)
{
	char err[PW_CONFIG_ERR_MAX];
	const struct {
		const char *value, *key, *flag;
	} flags[] = {
	    {cli->db, "db.path", "--db"},
	    {cli->broker, "mqtt.uri", "--broker"},
	    {cli->http, "http.listen", "--http"},
	    {cli->site, "site.id", "--site"},
	    {cli->log_level, "log.level", "--log-level"},
	};

	config_defaults(cfg);
	if (cli->config_path &&
	    config_load_file(cfg, cli->config_path, err, sizeof(err)) != PW_OK) {
		fprintf(stderr, "pitwall: %s\n", err);
		return PW_EINVAL;
	}
	for (size_t i = 0; i < PW_ARRAY_LEN(flags); i++) {
		if (!flags[i].value)
			continue;
		if (config_set(cfg, flags[i].key, flags[i].value, err, sizeof(err)) != PW_OK) {
			fprintf(stderr, "pitwall: %s: %s\n", flags[i].flag, err);
			return PW_EINVAL;
		}
	}
	if (config_validate(cfg, err, sizeof(err)) != PW_OK) {
		fprintf(stderr, "pitwall: %s\n", err);
		return PW_EINVAL;
	}
	clock_init_real(clk);
	if (cli->now) {
		int64_t base_ms;
		double speedup = 1, anchor = -1;

		if (clock_parse_iso8601(cli->now, &base_ms) != PW_OK) {
			fprintf(stderr,
			        "pitwall: --now: expected ISO 8601 like 2026-11-23T08:00:00Z, "
			        "got '%s'\n",
			        cli->now);
			return PW_EINVAL;
		}
		if (cli->speedup && parse_number(cli->speedup, "--speedup", 1e-3, 1e6, &speedup))
			return PW_EINVAL;
		if (cli->anchor && parse_number(cli->anchor, "--anchor", 0, 1e11, &anchor))
			return PW_EINVAL;
		if (clock_init_virtual(clk, base_ms, speedup, (int64_t)anchor) != PW_OK) {
			fprintf(stderr, "pitwall: bad virtual clock settings\n");
			return PW_EINVAL;
		}
	}
	return PW_OK;
}

static int reload_one(void *ctx, const struct pw_vehicle *v)
{
	return state_put(ctx, v);
}

/* dashboard/ beside the sources (a build tree) unless the config names one. */
static const char *static_dir(const struct pw_config *cfg)
{
	static char path[PW_PATH_MAX];

	if (cfg->http.static_dir[0])
		return cfg->http.static_dir;
	snprintf(path, sizeof(path), "%s/dashboard", PW_SOURCE_DIR);
	return access(path, R_OK) == 0 ? path : NULL;
}

static void purge_positions(struct store *st, const struct pw_config *cfg,
                            const struct pw_clock *clk)
{
	int64_t before = clock_now_ms(clk) - (int64_t)cfg->db.retention_days * 86400 * 1000;
	int cleared = 0, total = 0;

	do {
		if (store_purge_positions(st, before, 2000, &cleared) != PW_OK)
			return;
		total += cleared;
	} while (cleared == 2000 && !atomic_load(&stop_requested));
	if (total)
		log_info("main", "cleared %d positions older than %d days", total,
		         cfg->db.retention_days);
}

/* The hub's wake (any thread): only a flag; the main loop wakes the lws
 * thread at its next tick. A wake-up costs both threads a few syscalls and
 * a context switch, so ingest never pays it per frame: at most one per
 * tick (20 ms), which is also all the latency it adds for a browser. */
static void note_frames(void *ctx)
{
	atomic_store((atomic_int *)ctx, 1);
}

struct core {
	struct ingest *ingest;
	struct rulesd *rulesd; /* NULL: rules.enabled false */
	struct metrics *metrics;
	struct ctlq *ctlq; /* the API's messages to the core */
	struct state *state;
	int64_t rules_ms; /* when the rules' share last ran */
};

/* Core lock held: the group commit if the stream paused, the vehicle
 * frames owed (the throttle's trailing edge), then the rules' share (a
 * sweep chunk, the outbox rows to publish). The rules' share reads and
 * writes SQLite outside the group, so the group is committed before it;
 * while messages stream in it runs every RULES_BUSY_MS (long groups are
 * what make a backlog cheap, ingest.h), and at once after a visit opened
 * (a greeting waits on it). */
static int flush_core(void *ctx)
{
	struct core *c = ctx;
	int64_t now = clock_real_ms();
	int urgent = ingest_take_urgent(c->ingest);

	if (ingest_flush_idle(c->ingest) != PW_OK)
		return PW_EIO;
	ingest_catch_up(c->ingest);
	if (c->rulesd && (urgent || !ingest_group_open(c->ingest) ||
	                  now - c->rules_ms >= RULES_BUSY_MS || now < c->rules_ms)) {
		if (ingest_flush(c->ingest) != PW_OK)
			return PW_EIO;
		rulesd_tick_locked(c->rulesd, metrics_mqtt_connected(c->metrics));
		c->rules_ms = now;
	}
	ctlq_apply(c->ctlq, c->state);
	return PW_OK;
}

static int run_gateway(const struct pw_config *cfg, const struct pw_clock *clk)
{
	struct journal *journal = NULL;
	char journal_path[PW_PATH_MAX + 16];
	long replayed = 0;
	struct metrics *metrics = NULL;
	struct store *store = NULL, *housekeeping = NULL;
	struct state *state = NULL;
	struct ingest *ingest = NULL;
	struct http *http = NULL;
	struct mqtt *mqtt = NULL;
	struct rulesd *rulesd = NULL;
	struct ctlq *ctlq = NULL;
	struct hub *hub = NULL;
	struct wgate *gate = NULL;
	atomic_int frames_waiting = 0;
	struct core core;
	struct sigaction sa;
	int rc = 1;
	int64_t next_purge_ms = 0, next_checkpoint_ms = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	metrics = metrics_new();
	state = state_new(1024);
	ctlq = ctlq_new(0);
	hub = hub_new(HUB_FRAMES, HUB_BYTES);
	gate = wgate_new();
	if (!metrics || !state || !ctlq || !hub || !gate)
		goto out;
	store = store_open(cfg->db.path, STORE_READ_WRITE);
	if (!store)
		goto out;
	housekeeping = store_open(cfg->db.path, STORE_READ_WRITE);
	if (!housekeeping)
		goto out;
	store_set_autocheckpoint(store, 0); /* housekeeping checkpoints instead */
	if (store_load_vehicles(store, state_dtcsets(state), reload_one, state) != PW_OK) {
		log_error("main", "cannot reload vehicle state from %s", cfg->db.path);
		goto out;
	}
	dtcset_collect(state_dtcsets(state));
	metrics_set_vehicles(metrics, state_count(state));
	log_info("main", "pitwall %s: site %s, database %s, %zu vehicles", PW_VERSION, cfg->site.id,
	         cfg->db.path, state_count(state));
	if (cfg->rules.enabled) {
		rulesd = rulesd_open(&(struct rulesd_options){.cfg = cfg,
		                                              .clock = clk,
		                                              .store = store,
		                                              .state = state,
		                                              .metrics = metrics,
		                                              .hub = hub});
		if (!rulesd)
			goto out;
	}

	http = http_start(&(struct http_options){.listen = cfg->http.listen,
	                                         .db_path = cfg->db.path,
	                                         .static_dir = static_dir(cfg),
	                                         .metrics = metrics,
	                                         .cfg = cfg,
	                                         .clock = clk,
	                                         .ctlq = ctlq,
	                                         .hub = hub,
	                                         .gate = gate});
	if (!http)
		goto out;
	hub_set_wake(hub, note_frames, &frames_waiting);
	snprintf(journal_path, sizeof(journal_path), "%s.journal", cfg->db.path);
	journal = journal_open(journal_path);
	if (!journal)
		goto out;
	ingest = ingest_new(
	    &(struct ingest_options){.site_id = cfg->site.id,
	                             .clock = clk,
	                             .metrics = metrics,
	                             .store = store,
	                             .state = state,
	                             .history_interval_s = cfg->db.history_interval_s,
	                             .journal = journal,
	                             .alerts = rulesd ? rulesd_alerts(rulesd) : NULL,
	                             .hub = hub,
	                             .rules = &cfg->rules,
	                             .frame_interval_ms = cfg->http.ws_vehicle_interval_ms,
	                             .arrivals = rulesd_arrivals(rulesd)});
	if (!ingest)
		goto out;
	core = (struct core){
	    .ingest = ingest, .rulesd = rulesd, .metrics = metrics, .ctlq = ctlq, .state = state};
	if (ingest_replay_journal(ingest, &replayed) != PW_OK) {
		log_error("main", "cannot replay %s into %s", journal_path, cfg->db.path);
		goto out;
	}
	if (replayed)
		log_info("main", "replayed %ld uncommitted messages from %s", replayed,
		         journal_path);
	mqtt = mqtt_start(&(struct mqtt_options){
	    .cfg = cfg, .clock = clk, .ingest = ingest, .metrics = metrics, .journal = journal});
	if (!mqtt)
		goto out;
	wgate_set_core(gate, mqtt, ingest); /* the lws thread's writes now wait for a gap */

	while (!atomic_load(&stop_requested)) {
		struct timespec tick = {0, 20 * 1000 * 1000};
		int64_t now = clock_real_ms();

		mqtt_tick(mqtt);
		if (mqtt_run_locked(mqtt, flush_core, &core) != PW_OK) {
			log_error("main", "cannot commit to %s; exiting", cfg->db.path);
			_exit(1); /* the journal keeps what was acknowledged */
		}
		if (rulesd)
			rulesd_publish(rulesd, mqtt); /* not under the core lock */
		if (atomic_exchange(&frames_waiting, 0))
			http_wake(http); /* the lws thread drains the hub */
		if (now >= next_checkpoint_ms) {
			store_checkpoint(housekeeping, NULL);
			next_checkpoint_ms = now + 1000;
		}
		if (now >= next_purge_ms) {
			purge_positions(housekeeping, cfg, clk);
			next_purge_ms = now + RETENTION_EVERY_MS;
		}
		nanosleep(&tick, NULL);
	}
	log_info("main", "stopping");
	rc = 0;
out:
	wgate_set_core(gate, NULL, NULL); /* waits for a write in progress */
	mqtt_stop(mqtt);                  /* no message is in hand after this */
	if (ingest && ingest_flush(ingest) != PW_OK) {
		log_error("main", "final commit to %s failed; the journal keeps it", cfg->db.path);
		rc = 1;
	}
	ingest_free(ingest);
	rulesd_close(rulesd);
	journal_close(journal);
	http_stop(http);
	hub_free(hub); /* after everything that pushes or drains */
	wgate_free(gate);
	store_close(housekeeping);
	store_close(store);
	state_free(state);
	ctlq_free(ctlq);
	metrics_free(metrics);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	struct pw_config cfg;
	struct pw_clock clk;

	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("pitwall %s\n", PW_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "import") == 0)
		return import_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "sweep") == 0)
		return sweep_main(argc - 1, argv + 1);
	if (argc > 1 && (strcmp(argv[1], "user") == 0 || strcmp(argv[1], "display") == 0))
		return auth_main(argc - 1, argv + 1);
	if (parse_cli(argc, argv, &cli) != PW_OK)
		return EXIT_USAGE;
	if (load_config(&cli, &cfg, &clk) != PW_OK)
		return EXIT_USAGE;
	log_set_level(cfg.log_level);
	return run_gateway(&cfg, &clk);
}
