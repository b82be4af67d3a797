/*
 * main — pitwall-sim: parses options, builds the fleet, sets the clock and
 * runs one mode: load (default: telemetry round-robin as fast as possible
 * or at --rate), realistic (--realtime: the fleet's daily life at
 * --speedup) or scripted (--scenario FILE). Prints one JSON summary line
 * on stdout at the end. SIGINT/SIGTERM stop publishing, wait for what is in
 * flight, write the manifest and state file, and exit 0.
 *
 * Exit status (CONTRACT "Programs"): 0 ok; 2 bad usage or input file;
 * 1 runtime failure (broker unreachable, messages left unacknowledged).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "faults.h"
#include "fleet.h"
#include "load.h"
#include "realtime.h"
#include "scenario.h"
#include <time.h>
#include "log.h"
#include "pw.h"

#define EXIT_USAGE 2

static atomic_int stop_requested; /* the one global: set by the signal handler */

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

static const char usage_text[] =
    "usage: pitwall-sim --broker URI (--fleet FILE.csv | --vehicles N)\n"
    "                   [--rate MSG_PER_S | --realtime] [--now T --speedup K --anchor UNIX_S]\n"
    "                   [--seed S] [--scenario FILE] [--count N] [--qos 0|1]\n"
    "                   [--inflight W] [--fields full|minimal] [--faults SPEC]\n"
    "                   [--manifest FILE] [--state FILE] [--client-id ID]\n"
    "                   [--transport auto|raw|paho] [--drain-timeout S]\n"
    "                   [--appointments FILE] [--duration S] [--connections device|shared]\n"
    "                   [--site ID] [--site-file site.json] [--log-level L]\n"
    "\n"
    "Simulated in-car telematics devices (and an entrance plate camera) for Pitwall.\n"
    "\n"
    "Load mode (the default): telemetry objects round-robin over the vehicles,\n"
    "every contract field with realistic values, many messages in flight.\n"
    "  --broker URI        MQTT broker (default tcp://127.0.0.1:1883)\n"
    "  --vehicles N        generated vehicles with valid VINs (default 1000)\n"
    "  --fleet FILE.csv    vehicles from a dealer export (vin,plate,...) instead\n"
    "  --wmi XXX           world manufacturer code of generated VINs (default LSV)\n"
    "  --rate R            messages per second; 0 or absent: as fast as possible\n"
    "  --count N           messages in all (default: until SIGINT/SIGTERM)\n"
    "  --qos 0|1           (default 1; at 1 every PUBACK is awaited before exit)\n"
    "  --inflight W        messages in flight at most (default 1000)\n"
    "  --fields full|minimal  every field (default) or only v, vin, seq, ts\n"
    "  --seed S            same seed, same payloads (default 1)\n"
    "  --faults SPEC       e.g. dup=0.01,reorder=0.01,skew=0.001,rollback=0.001,\n"
    "                      vin=0.001,malformed=0.001 (probabilities per object);\n"
    "                      the summary reports what was injected per kind\n"
    "  --dup-rate P        same as --faults dup=P\n"
    "  --manifest FILE     at exit: one line per vehicle vin,count,max_seq of the\n"
    "                      valid objects the broker acknowledged\n"
    "  --state FILE        per-vehicle next seq, read at start, written at exit\n"
    "  --client-id ID      MQTT client id (default pitwall-sim-PID)\n"
    "  --transport T       raw (own MQTT 3.1.1 writer, batched; tcp:// only),\n"
    "                      paho (Paho MQTTAsync) or auto (default: raw for tcp://)\n"
    "  --drain-timeout S   wait at most S s for the last acknowledgements (default 60)\n"
    "\n"
    "Realistic mode (--realtime): the fleet's daily life in (virtual) real time.\n"
    "  --site-file FILE    site.json: id, time zone, geofence (default: built-in\n"
    "                      Jinan site at 36.66860,116.89050 r=120 m, Asia/Shanghai)\n"
    "  --site ID           site id for the camera topic (default: the file's, or\n"
    "                      \"default\")\n"
    "  --appointments FILE appointments.csv: those cars reach the geofence within\n"
    "                      +-15 min of their time; the camera reads their plates\n"
    "  --duration S        stop after S seconds of virtual time\n"
    "  --count N           stop after N telemetry objects\n"
    "  --connections device|shared  one MQTT connection per device with retained\n"
    "                      status and will (default), or one for all\n"
    "  --drive-interval S  report period while driving (default 10)\n"
    "  --park-interval S   report period while parked (default 1800)\n"
    "  --misread-rate P    plate misreads (default 0.04); --camera ID (entrance-1)\n"
    "Scripted mode (--scenario FILE): exact messages and plate reads at given\n"
    "virtual times (firmware-sim/README.md describes the format).\n"
    "\n"
    "Clock (as the gateway's): --now ISO8601 [--speedup K] [--anchor UNIX_S]\n"
    "  --log-level L       error, warn (default), info, debug\n"
    "\n"
    "Summary on stdout: {\"published\":N,\"acked\":N,\"seconds\":S,\"rate\":R,\"vehicles\":V,...}\n"
    "Exit status: 0 ok, 2 bad usage or input, 1 runtime failure.\n";

struct cli {
	const char *broker;
	const char *fleet;
	const char *wmi;
	const char *now;
	const char *manifest;
	const char *state;
	const char *client_id;
	const char *faults;
	const char *scenario;
	const char *site_id;
	const char *site_file;
	const char *appointments;
	const char *camera;
	int vehicles;
	int shared_connection;
	int drive_interval_s;
	int park_interval_s;
	double misread_p;
	double duration_s;
	enum pub_transport transport;
	int realtime;
	int qos;
	int inflight;
	int full;
	int64_t count;
	int64_t anchor;
	double rate;
	double speedup;
	double dup_rate;
	double drain_timeout_s;
	uint64_t seed;
};

static int parse_long(const char *flag, const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "pitwall-sim: %s: expected an integer %lld..%lld, got '%s'\n", flag,
		        lo, hi, s);
		return PW_EINVAL;
	}
	*out = v;
	return PW_OK;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "pitwall-sim: %s: expected a number %g..%g, got '%s'\n", flag, lo,
		        hi, s);
		return PW_EINVAL;
	}
	*out = v;
	return PW_OK;
}

enum {
	OPT_BROKER = 256,
	OPT_FLEET,
	OPT_VEHICLES,
	OPT_WMI,
	OPT_RATE,
	OPT_REALTIME,
	OPT_NOW,
	OPT_SPEEDUP,
	OPT_ANCHOR,
	OPT_SEED,
	OPT_SCENARIO,
	OPT_COUNT,
	OPT_QOS,
	OPT_INFLIGHT,
	OPT_FIELDS,
	OPT_FAULTS,
	OPT_DUP_RATE,
	OPT_MANIFEST,
	OPT_STATE,
	OPT_CLIENT_ID,
	OPT_DRAIN,
	OPT_SITE,
	OPT_SITE_FILE,
	OPT_APPOINTMENTS,
	OPT_LOG_LEVEL,
	OPT_TRANSPORT,
	OPT_DURATION,
	OPT_CONNECTIONS,
	OPT_DRIVE_INTERVAL,
	OPT_PARK_INTERVAL,
	OPT_MISREAD,
	OPT_CAMERA,
	OPT_HELP,
};

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
	    {"broker", required_argument, NULL, OPT_BROKER},
	    {"fleet", required_argument, NULL, OPT_FLEET},
	    {"vehicles", required_argument, NULL, OPT_VEHICLES},
	    {"wmi", required_argument, NULL, OPT_WMI},
	    {"rate", required_argument, NULL, OPT_RATE},
	    {"realtime", no_argument, NULL, OPT_REALTIME},
	    {"now", required_argument, NULL, OPT_NOW},
	    {"speedup", required_argument, NULL, OPT_SPEEDUP},
	    {"anchor", required_argument, NULL, OPT_ANCHOR},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"scenario", required_argument, NULL, OPT_SCENARIO},
	    {"count", required_argument, NULL, OPT_COUNT},
	    {"qos", required_argument, NULL, OPT_QOS},
	    {"inflight", required_argument, NULL, OPT_INFLIGHT},
	    {"fields", required_argument, NULL, OPT_FIELDS},
	    {"faults", required_argument, NULL, OPT_FAULTS},
	    {"dup-rate", required_argument, NULL, OPT_DUP_RATE},
	    {"manifest", required_argument, NULL, OPT_MANIFEST},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
	    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
	    {"site", required_argument, NULL, OPT_SITE},
	    {"site-file", required_argument, NULL, OPT_SITE_FILE},
	    {"appointments", required_argument, NULL, OPT_APPOINTMENTS},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"transport", required_argument, NULL, OPT_TRANSPORT},
	    {"duration", required_argument, NULL, OPT_DURATION},
	    {"connections", required_argument, NULL, OPT_CONNECTIONS},
	    {"drive-interval", required_argument, NULL, OPT_DRIVE_INTERVAL},
	    {"park-interval", required_argument, NULL, OPT_PARK_INTERVAL},
	    {"misread-rate", required_argument, NULL, OPT_MISREAD},
	    {"camera", required_argument, NULL, OPT_CAMERA},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0}};
	long long v;
	int c, have_vehicles = 0;
	enum pw_log_level level;

	memset(cli, 0, sizeof(*cli));
	cli->broker = "tcp://127.0.0.1:1883";
	cli->wmi = "LSV";
	cli->vehicles = 1000;
	cli->qos = 1;
	cli->inflight = 1000;
	cli->full = 1;
	cli->count = -1;
	cli->anchor = -1;
	cli->speedup = 1.0;
	cli->seed = 1;
	cli->drain_timeout_s = 60;
	cli->site_id = NULL;
	cli->camera = "entrance-1";
	cli->misread_p = 0.04;
	log_set_level(PW_LOG_WARN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BROKER:
			cli->broker = optarg;
			break;
		case OPT_FLEET:
			cli->fleet = optarg;
			break;
		case OPT_VEHICLES:
			if (parse_long("--vehicles", optarg, 1, 8000000, &v))
				return PW_EINVAL;
			cli->vehicles = (int)v;
			have_vehicles = 1;
			break;
		case OPT_WMI:
			if (strlen(optarg) != 3) {
				fprintf(stderr, "pitwall-sim: --wmi: 3 VIN characters\n");
				return PW_EINVAL;
			}
			cli->wmi = optarg;
			break;
		case OPT_RATE:
			if (parse_double("--rate", optarg, 0, 1e9, &cli->rate))
				return PW_EINVAL;
			break;
		case OPT_REALTIME:
			cli->realtime = 1;
			break;
		case OPT_NOW:
			cli->now = optarg;
			break;
		case OPT_SPEEDUP:
			if (parse_double("--speedup", optarg, 1e-6, 1e9, &cli->speedup))
				return PW_EINVAL;
			break;
		case OPT_ANCHOR:
			if (parse_long("--anchor", optarg, 0, 1LL << 40, &v))
				return PW_EINVAL;
			cli->anchor = v;
			break;
		case OPT_SEED:
			if (parse_long("--seed", optarg, 0, INT64_MAX, &v))
				return PW_EINVAL;
			cli->seed = (uint64_t)v;
			break;
		case OPT_SCENARIO:
			cli->scenario = optarg;
			break;
		case OPT_COUNT:
			if (parse_long("--count", optarg, 0, INT64_MAX, &v))
				return PW_EINVAL;
			cli->count = v;
			break;
		case OPT_QOS:
			if (parse_long("--qos", optarg, 0, 1, &v))
				return PW_EINVAL;
			cli->qos = (int)v;
			break;
		case OPT_INFLIGHT:
			if (parse_long("--inflight", optarg, 1, 65535, &v))
				return PW_EINVAL;
			cli->inflight = (int)v;
			break;
		case OPT_FIELDS:
			if (strcmp(optarg, "full") == 0) {
				cli->full = 1;
			} else if (strcmp(optarg, "minimal") == 0) {
				cli->full = 0;
			} else {
				fprintf(stderr, "pitwall-sim: --fields: full or minimal\n");
				return PW_EINVAL;
			}
			break;
		case OPT_FAULTS:
			cli->faults = optarg;
			break;
		case OPT_DUP_RATE:
			if (parse_double("--dup-rate", optarg, 0, 1, &cli->dup_rate))
				return PW_EINVAL;
			break;
		case OPT_MANIFEST:
			cli->manifest = optarg;
			break;
		case OPT_STATE:
			cli->state = optarg;
			break;
		case OPT_CLIENT_ID:
			cli->client_id = optarg;
			break;
		case OPT_DRAIN:
			if (parse_double("--drain-timeout", optarg, 0, 86400,
			                 &cli->drain_timeout_s))
				return PW_EINVAL;
			break;
		case OPT_SITE:
			cli->site_id = optarg;
			break;
		case OPT_SITE_FILE:
			cli->site_file = optarg;
			break;
		case OPT_APPOINTMENTS:
			cli->appointments = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(optarg, &level) != PW_OK) {
				fprintf(stderr,
				        "pitwall-sim: --log-level: error, warn, info or debug\n");
				return PW_EINVAL;
			}
			log_set_level(level);
			break;
		case OPT_TRANSPORT:
			if (strcmp(optarg, "raw") == 0) {
				cli->transport = PUB_RAW;
			} else if (strcmp(optarg, "paho") == 0) {
				cli->transport = PUB_PAHO;
			} else if (strcmp(optarg, "auto") == 0) {
				cli->transport = PUB_AUTO;
			} else {
				fprintf(stderr, "pitwall-sim: --transport: auto, raw or paho\n");
				return PW_EINVAL;
			}
			break;
		case OPT_DURATION:
			if (parse_double("--duration", optarg, 0, 1e9, &cli->duration_s))
				return PW_EINVAL;
			break;
		case OPT_CONNECTIONS:
			if (strcmp(optarg, "device") == 0) {
				cli->shared_connection = 0;
			} else if (strcmp(optarg, "shared") == 0) {
				cli->shared_connection = 1;
			} else {
				fprintf(stderr, "pitwall-sim: --connections: device or shared\n");
				return PW_EINVAL;
			}
			break;
		case OPT_DRIVE_INTERVAL:
			if (parse_long("--drive-interval", optarg, 10, 3600, &v))
				return PW_EINVAL;
			cli->drive_interval_s = (int)v;
			break;
		case OPT_PARK_INTERVAL:
			if (parse_long("--park-interval", optarg, 10, 86400, &v))
				return PW_EINVAL;
			cli->park_interval_s = (int)v;
			break;
		case OPT_MISREAD:
			if (parse_double("--misread-rate", optarg, 0, 1, &cli->misread_p))
				return PW_EINVAL;
			break;
		case OPT_CAMERA:
			cli->camera = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(0);
		default:
			fprintf(stderr, "pitwall-sim: unknown or incomplete option '%s'\n",
			        argv[optind - 1]);
			return PW_EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pitwall-sim: unexpected argument '%s'\n", argv[optind]);
		return PW_EINVAL;
	}
	if (cli->fleet && have_vehicles) {
		fprintf(stderr, "pitwall-sim: --fleet and --vehicles exclude each other\n");
		return PW_EINVAL;
	}
	if (cli->realtime && cli->rate > 0) {
		fprintf(stderr, "pitwall-sim: --rate and --realtime exclude each other\n");
		return PW_EINVAL;
	}
	if ((cli->anchor >= 0 || cli->speedup != 1.0) && !cli->now) {
		fprintf(stderr, "pitwall-sim: --speedup and --anchor need --now\n");
		return PW_EINVAL;
	}
	return PW_OK;
}

static void print_load_summary(const struct cli *cli, int vehicles, const struct load_result *r,
                               int rc)
{
	char faults[512] = "null";
	double s = r->seconds > 0 ? r->seconds : 1e-9;
	double ps = r->publish_seconds > 0 ? r->publish_seconds : 1e-9;

	if (cli->faults || cli->dup_rate > 0)
		faults_report_json(&r->faults, faults, sizeof(faults));
	printf("{\"mode\":\"load\",\"published\":%llu,\"acked\":%llu,\"failed\":%llu,"
	       "\"seconds\":%.3f,\"rate\":%.0f,\"publish_rate\":%.0f,\"vehicles\":%d,\"qos\":%d,"
	       "\"inflight\":%d,\"max_in_flight\":%d,\"bytes\":%llu,\"cpu_s\":%.3f,"
	       "\"cpu_us_per_msg\":%.2f,\"reconnects\":%llu,\"seed\":%llu,\"transport\":\"%s\","
	       "\"ok\":%s,\"faults\":%s}\n",
	       (unsigned long long)r->published, (unsigned long long)r->acked,
	       (unsigned long long)r->failed, r->seconds, (double)r->acked / s,
	       (double)r->published / ps, vehicles, cli->qos, cli->inflight, r->max_in_flight,
	       (unsigned long long)r->bytes, r->cpu_s,
	       r->published ? r->cpu_s * 1e6 / (double)r->published : 0.0,
	       (unsigned long long)r->reconnects, (unsigned long long)cli->seed,
	       cli->transport == PUB_PAHO ? "paho" : (cli->transport == PUB_RAW ? "raw" : "auto"),
	       rc == PW_OK ? "true" : "false", faults);
	fflush(stdout);
}

/* Offset of `tz` (IANA name) from UTC at `at_ms`, seconds east. */
static int tz_offset_at(const char *tz, int64_t at_ms)
{
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	time_t t = (time_t)(at_ms / 1000);
	struct tm tm;
	int off;

	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&t, &tm);
	off = (int)tm.tm_gmtoff;
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
	return off;
}

static void print_realtime_summary(const struct cli *cli, int vehicles,
                                   const struct realtime_result *r, int rc)
{
	char faults[512] = "null", start[32], end[32];

	if (cli->faults || cli->dup_rate > 0)
		faults_report_json(&r->faults, faults, sizeof(faults));
	clock_format_iso8601(r->start_ms, start, sizeof(start));
	clock_format_iso8601(r->end_ms, end, sizeof(end));
	printf("{\"mode\":\"realtime\",\"vehicles\":%d,\"objects\":%llu,\"created\":%llu,"
	       "\"messages\":%llu,\"acked\":%llu,\"failed\":%llu,\"batches\":%llu,"
	       "\"status\":%llu,\"plate_reads\":%llu,\"misreads\":%llu,\"site_visits\":%llu,"
	       "\"drive_pasts\":%llu,\"offline_episodes\":%llu,\"start\":\"%s\",\"end\":\"%s\","
	       "\"seconds\":%.3f,\"seed\":%llu,\"ok\":%s,\"faults\":%s}\n",
	       vehicles, (unsigned long long)r->objects, (unsigned long long)r->world.telemetry,
	       (unsigned long long)r->messages, (unsigned long long)r->acked,
	       (unsigned long long)r->failed, (unsigned long long)r->world.batches,
	       (unsigned long long)r->status_msgs, (unsigned long long)r->world.plate_reads,
	       (unsigned long long)r->world.misreads, (unsigned long long)r->world.site_visits,
	       (unsigned long long)r->world.drive_pasts,
	       (unsigned long long)r->world.offline_episodes, start, end, r->seconds,
	       (unsigned long long)cli->seed, rc == PW_OK ? "true" : "false", faults);
	fflush(stdout);
}

static int run_realtime(const struct cli *cli, const struct pw_clock *clk,
                        const struct fleet_vehicle *fleet, const char **vins, int n,
                        const struct faults_spec *faults)
{
	struct realtime_options ro = {0};
	struct realtime_result res;
	struct world_appointment *appts = NULL;
	const char **plates = calloc((size_t)n, sizeof(*plates));
	char site_id[PW_SITE_ID_MAX] = "default", tz[64] = "Asia/Shanghai";
	int i, n_appts = 0, skipped = 0, rc, status;

	if (!plates)
		return 1;
	for (i = 0; i < n; i++)
		plates[i] = fleet[i].plate;
	ro.world.site.lat = 36.66860; /* ../shared/data/site.json */
	ro.world.site.lon = 116.89050;
	ro.world.site.radius_m = 120.0;
	if (cli->site_file && fleet_load_site(cli->site_file, &ro.world.site, site_id,
	                                      sizeof(site_id), tz, sizeof(tz)) != PW_OK) {
		free(plates);
		return EXIT_USAGE;
	}
	if (cli->site_id)
		snprintf(site_id, sizeof(site_id), "%s", cli->site_id);
	ro.world.tz_offset_s = tz_offset_at(tz, clock_now_ms(clk));
	if (cli->appointments) {
		rc = fleet_load_appointments(cli->appointments, fleet, n, ro.world.tz_offset_s,
		                             &appts, &n_appts, &skipped);
		if (rc != PW_OK) {
			free(plates);
			return rc == PW_EINVAL ? EXIT_USAGE : 1;
		}
		if (skipped)
			log_warn("sim", "%s: %d appointments for vehicles not in the fleet skipped",
			         cli->appointments, skipped);
	}
	ro.uri = cli->broker;
	ro.transport = cli->transport;
	ro.site_id = site_id;
	ro.camera_id = cli->camera;
	ro.clock = clk;
	ro.world.seed = cli->seed;
	ro.world.vehicles = n;
	ro.world.vins = vins;
	ro.world.plates = plates;
	ro.world.drive_interval_s = cli->drive_interval_s;
	ro.world.park_interval_s = cli->park_interval_s;
	ro.world.misread_p = cli->misread_p;
	ro.world.appointments = appts;
	ro.world.n_appointments = n_appts;
	ro.world.full = cli->full;
	ro.qos = cli->qos;
	ro.shared_connection = cli->shared_connection;
	ro.count = cli->count;
	ro.duration_ms = (int64_t)(cli->duration_s * 1000.0);
	ro.stop = &stop_requested;
	ro.manifest_path = cli->manifest;
	ro.state_path = cli->state;
	ro.faults = faults_any(faults) ? faults : NULL;
	ro.fault_seed = cli->seed;
	ro.drain_timeout_ms = (int)(cli->drain_timeout_s * 1000);
	rc = realtime_run(&ro, &res);
	if (rc == PW_EINVAL) {
		status = EXIT_USAGE;
	} else {
		print_realtime_summary(cli, n, &res, rc);
		status = rc == PW_OK ? 0 : 1;
	}
	free(appts);
	free(plates);
	return status;
}

static int run_load(const struct cli *cli, const struct pw_clock *clk, const char **vins, int n,
                    const struct faults_spec *faults)
{
	struct load_options lo = {0};
	struct load_result res;
	int rc;

	lo.uri = cli->broker;
	lo.client_id = cli->client_id;
	lo.transport = cli->transport;
	lo.vins = vins;
	lo.vehicles = n;
	lo.seed = cli->seed;
	lo.count = cli->count;
	lo.rate = cli->rate;
	lo.qos = cli->qos;
	lo.window = cli->inflight;
	lo.full = cli->full;
	lo.site_lat = 36.66860; /* ../shared/data/site.json */
	lo.site_lon = 116.89050;
	lo.clock = clk;
	lo.manifest_path = cli->manifest;
	lo.state_path = cli->state;
	lo.stop = &stop_requested;
	lo.drain_timeout_ms = (int)(cli->drain_timeout_s * 1000);
	lo.faults = faults_any(faults) ? faults : NULL;
	rc = load_run(&lo, &res);
	if (rc == PW_EINVAL)
		return EXIT_USAGE;
	print_load_summary(cli, n, &res, rc);
	return rc == PW_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct pw_clock clk;
	struct fleet_vehicle *fleet = NULL;
	const char **vins = NULL;
	struct faults_spec faults;
	struct sigaction sa;
	char client_id[64];
	int n = 0, i, rc, status = 0;

	if (parse_cli(argc, argv, &cli) != PW_OK) {
		fputs("try 'pitwall-sim --help'\n", stderr);
		return EXIT_USAGE;
	}
	if (cli.now) {
		int64_t base_ms;

		if (clock_parse_iso8601(cli.now, &base_ms) != PW_OK ||
		    clock_init_virtual(&clk, base_ms, cli.speedup, cli.anchor) != PW_OK) {
			fprintf(stderr, "pitwall-sim: --now: not an ISO 8601 time: '%s'\n",
			        cli.now);
			return EXIT_USAGE;
		}
	} else {
		clock_init_real(&clk);
	}
	memset(&faults, 0, sizeof(faults));
	if (cli.faults && faults_parse(cli.faults, &faults) != PW_OK)
		return EXIT_USAGE;
	if (cli.dup_rate > 0)
		faults.dup = cli.dup_rate;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!cli.client_id) {
		snprintf(client_id, sizeof(client_id), "pitwall-sim-%ld", (long)getpid());
		cli.client_id = client_id;
	}
	if (cli.scenario)
		return scenario_run_file(cli.scenario, cli.broker, cli.transport, cli.client_id,
		                         cli.qos, &clk, &stop_requested);

	if (cli.fleet) {
		rc = fleet_load_csv(cli.fleet, &fleet, &n);
	} else {
		n = cli.vehicles;
		rc = fleet_generate(n, cli.seed, cli.wmi, &fleet);
		if (rc == PW_EINVAL)
			fprintf(stderr, "pitwall-sim: --wmi '%s' is not 3 VIN characters\n",
			        cli.wmi);
	}
	if (rc != PW_OK) {
		status = rc == PW_EINVAL ? EXIT_USAGE : 1;
		goto out;
	}
	vins = calloc((size_t)n, sizeof(*vins));
	if (!vins) {
		status = 1;
		goto out;
	}
	for (i = 0; i < n; i++)
		vins[i] = fleet[i].vin;
	if (cli.realtime)
		status = run_realtime(&cli, &clk, fleet, vins, n, &faults);
	else
		status = run_load(&cli, &clk, vins, n, &faults);
out:
	free(vins);
	free(fleet);
	return status;
}
