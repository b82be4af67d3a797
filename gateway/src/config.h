/*
 * config — the gateway's settings: built-in defaults, overridden by a JSON
 * config file, overridden by command-line flags (main.c applies the flags).
 *
 * The file is one JSON object; every key is optional, unknown keys and wrong
 * types are errors that name the key's path ("mqtt.qos: expected integer
 * 0..1"). docs/config.md lists every key with its type, range and default. Loaded once at start
 * by main, then read-only: any thread may read a struct pw_config.
 */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <stddef.h>
#include "log.h"

#define PW_PATH_MAX       1024
#define PW_ORIGINS_MAX    16
#define PW_CONFIG_ERR_MAX 512

struct pw_site_config {
	char id[64]; /* "default"; [A-Za-z0-9_-]{1,63} (it is an MQTT topic level) */
	char name[128];
	char timezone[64]; /* IANA name, "Asia/Shanghai" */
	double lat, lon;   /* geofence centre, WGS-84 */
	double radius_m;   /* geofence radius, 1..10000 */
};

struct pw_mqtt_config {
	char uri[256];                   /* "tcp://127.0.0.1:1883" (tcp://, ssl://, mqtts://) */
	char client_id[128];             /* fixed: the durable session is keyed on it */
	char username[128];              /* "" = none */
	char password_file[PW_PATH_MAX]; /* first line is the password; "" = none */
	char ca_file[PW_PATH_MAX];       /* for ssl:// ; "" = system default */
	int qos;                         /* subscription QoS 0..1, default 1 */
	int keepalive_s;                 /* 5..3600, default 30 */
	int reconnect_min_s;             /* back-off start, default 1 */
	int reconnect_max_s;             /* back-off cap, default 30 */
};

struct pw_db_config {
	char path[PW_PATH_MAX]; /* "./pitwall.db" */
	int history_interval_s; /* one history row per vehicle per interval, default 300 */
	int retention_days;     /* raw positions kept, default 30 */
};

struct pw_http_config {
	char listen[128]; /* "127.0.0.1:8080" */
	int n_allowed_origins;
	char allowed_origins[PW_ORIGINS_MAX][256]; /* extra Origins for /ws besides same-origin */
	char static_dir[PW_PATH_MAX];              /* "" = dashboard/ found next to the binary */
	int session_ttl_s;          /* console session lifetime, default 28800 (8 h) */
	int ws_snapshot_max;        /* vehicles in a WebSocket snapshot, default 2000 */
	int ws_vehicle_interval_ms; /* a vehicle frame at most this often, default 5000 */
};

#define PW_PLANS_MAX 16

/* A brand's own maintenance plan (rules.maintenance.plans[]). */
struct pw_maint_plan {
	char brand[64];           /* as in the dealer's vehicles.csv, exactly */
	double first_service_km;  /* 1..100000 */
	int first_service_months; /* 1..120 */
	double interval_km;       /* 1..100000 */
	int interval_months;      /* 1..120 */
};

/* Every number in DESIGN.md "Rules" and "Arrival"; defaults as there. */
struct pw_rules_config {
	int enabled; /* 1: rules, alerts, reminders and events run; 0: telemetry only */
	/* maintenance */
	double first_service_km;     /* 5000 */
	int first_service_months;    /* 6 */
	double service_interval_km;  /* 10000 */
	int service_interval_months; /* 12 */
	double due_lead_km;          /* 1000 */
	int due_lead_days;           /* 7 */
	int daily_km_window_days;    /* 30 */
	int min_data_days;           /* 7: fewer days of telemetry: daily km from purchase */
	double default_daily_km;     /* 40: when nothing else predicts the daily km */
	int n_plans;                 /* brands with their own plan; other brands use the above */
	struct pw_maint_plan plans[PW_PLANS_MAX];
	/* insurance */
	int n_insurance_lead_days;
	int insurance_lead_days[8]; /* {90, 30, 7} */
	/* tyres */
	double tyre_placard_kpa;       /* 230 */
	double tyre_warn_ratio;        /* 0.9 */
	double tyre_critical_ratio;    /* 0.75 */
	double tread_warn_mm;          /* 3.0 */
	double tread_critical_mm;      /* 1.6 */
	double slow_leak_kpa;          /* 20 */
	int slow_leak_window_h;        /* 24 */
	double slow_leak_temp_delta_c; /* 5: "similar temperature" */
	/* battery */
	double battery_warn_v;     /* 11.8 */
	double battery_critical_v; /* 11.0 */
	/* fuel and driving profile */
	double fuel_anomaly_ratio; /* 1.2 */
	int fuel_recent_days;      /* 7 */
	int fuel_baseline_days;    /* 90 */
	double highway_kmh;        /* 90 */
	double congestion_kmh;     /* 20 */
	int profile_window_days;   /* 30 */
	/* customers */
	int lost_customer_days;           /* 365 */
	int followup_after_visit_days;    /* 3 */
	int followup_after_purchase_days; /* 7 */
	/* arrival */
	int arrival_dwell_s;          /* 60 */
	double arrival_max_speed_kmh; /* 5 */
	double plate_min_confidence;  /* 0.8 */
	int appointment_window_min;   /* 120 */
	int greeting_ttl_s;           /* 120: how long a welcome display shows a greeting */
};

struct pw_config {
	struct pw_site_config site;
	struct pw_mqtt_config mqtt;
	struct pw_db_config db;
	struct pw_http_config http;
	struct pw_rules_config rules;
	enum pw_log_level log_level; /* "log": {"level": "info"} */
};

/* Fills every field with its built-in default. */
void config_defaults(struct pw_config *cfg);

/* Reads the JSON file at `path` over what `cfg` holds. On error returns
 * PW_EINVAL (or PW_EIO if unreadable) and writes one line to err, naming the
 * file and the key path: "pitwall.json: mqtt.qos: expected integer 0..1". */
int config_load_file(struct pw_config *cfg, const char *path, char *err, size_t err_len);

/* Same, from a string (tests and fuzzing); `name` is used in messages. */
int config_load_string(struct pw_config *cfg, const char *name, const char *json, size_t len,
                       char *err, size_t err_len);

/* Cross-field checks after flags are applied (reconnect_min <= max, ...).
 * Also re-checks every field's own range, so a struct edited by hand is
 * caught too. Messages name the key path, without a file name. */
int config_validate(const struct pw_config *cfg, char *err, size_t err_len);

/* Sets one key from a flag's text, with the same checks as the file:
 * config_set(cfg, "db.path", "/var/lib/pitwall.db", ...), "mqtt.uri",
 * "http.listen", "site.id", "log.level", "mqtt.qos" (numbers parsed with
 * strtol/strtod). Setting site.id also moves an mqtt.client_id that was
 * still derived from the old id ("pitwall-gateway-<id>"). PW_ENOTFOUND for
 * an unknown path, PW_EINVAL for a bad value or an array key; err then
 * reads "site.id: expected ...". Run config_validate() after all flags. */
int config_set(struct pw_config *cfg, const char *path, const char *value, char *err,
               size_t err_len);

#endif
