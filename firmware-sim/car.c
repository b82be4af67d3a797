/*
 * car — physics of one simulated car. See car.h for the promises.
 *
 * Numbers (per car, drawn at car_init, or constants below) are chosen so a
 * service advisor would recognise the data: 6-8.5 l/100 km on arterial roads,
 * about 1.7x that in congestion; tread about 0.1 mm per 1,000 km in town and
 * twice that on the highway; tyres about +30 °C above ambient at highway
 * speed, pressure following absolute temperature; a resting battery near
 * 12.6 V, 13.9-14.4 V while charging, under 11.8 V in a weak episode.
 * Pure; a struct car belongs to one thread.
 */
#include <math.h>
#include <string.h>

#include "car.h"

#define KELVIN       273.15
#define ATM_KPA      101.325
#define KM_PER_DEG   111.32
#define IDLE_L_PER_H 0.8
#define NATURAL_LOSS 0.008 /* kPa per hour through the rubber */
#define TPMS_NOTICE  150.0 /* the driver notices and has the tyre fixed */
#define TREAD_FLOOR  0.3

struct road_profile {
	double lo, hi, mean, sd; /* speed band, km/h */
	double fuel_factor;      /* x base consumption */
	double wear_mm_per_1000; /* tread wear */
};

static const struct road_profile roads[CAR_ROAD__COUNT] = {
    [CAR_ROAD_CONGESTION] = {0.0, 19.0, 9.0, 6.0, 1.7, 0.12},
    [CAR_ROAD_ARTERIAL] = {22.0, 75.0, 48.0, 12.0, 1.0, 0.10},
    [CAR_ROAD_HIGHWAY] = {92.0, 128.0, 108.0, 8.0, 1.0, 0.22},
};

struct dtc_kind {
	const char *code;
	int mil_capable;
};

/* ../shared/data/dtc_codes.csv */
static const struct dtc_kind dtc_kinds[] = {
    {"P0300", 1}, {"P0301", 1}, {"P0171", 1}, {"P0172", 1}, {"P0420", 1},
    {"P0128", 1}, {"P0442", 1}, {"P0455", 1}, {"P0562", 0}, {"P0217", 1},
    {"P0524", 1}, {"U0100", 1}, {"U0121", 0}, {"C0035", 0}, {"B1000", 0},
};

#define P_DTC_PER_CYCLE  0.0015
#define P_WEAK_PER_CYCLE 0.0008
#define P_LEAK_PER_HOUR  (1.0 / 17520.0) /* about once in two years */
#define P_TOPUP_PER_HOUR 0.002

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

static double deg2rad(double d)
{
	return d * M_PI / 180.0;
}

double car_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = deg2rad(lat1), p2 = deg2rad(lat2);
	double dp = p2 - p1, dl = deg2rad(lon2 - lon1);
	double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);

	return 6371000.0 * 2 * atan2(sqrt(a), sqrt(1 - a));
}

double car_bearing_deg(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = deg2rad(lat1), p2 = deg2rad(lat2), dl = deg2rad(lon2 - lon1);
	double y = sin(dl) * cos(p2);
	double x = cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl);
	double b = atan2(y, x) * 180.0 / M_PI;

	return fmod(b + 360.0, 360.0);
}

static double tire_pressure(const struct car_tire *t)
{
	double p = (t->cold_kpa + ATM_KPA) * (t->temp_c + KELVIN) / (20.0 + KELVIN) - ATM_KPA;

	return p < 0 ? 0 : p;
}

void car_init(struct car *c, struct rng *r, double lat, double lon)
{
	int w;

	memset(c, 0, sizeof(*c));
	c->odometer_km = clampd(rng_exp(r, 30000.0), 300.0, 250000.0);
	c->engine_hours = c->odometer_km / rng_range(r, 28.0, 42.0);
	c->lat = lat;
	c->lon = lon;
	c->heading_deg = rng_range(r, 0, 360);
	c->ignition = PW_IGN_OFF;
	c->tank_l = rng_range(r, 45.0, 66.0);
	c->base_l_per_100km = rng_range(r, 6.0, 8.5);
	c->fuel_pct = rng_range(r, 18.0, 95.0);
	c->refuel_at_pct = rng_range(r, 8.0, 14.0);
	c->battery_health = 1.0;
	c->battery_v = 12.6;
	c->parked_s = 8 * 3600;
	for (w = 0; w < PW_TIRE_COUNT; w++) {
		struct car_tire *t = &c->tire[w];

		t->cold_kpa =
		    rng_chance(r, 0.05) ? rng_range(r, 190.0, 212.0) : rng_range(r, 222.0, 238.0);
		t->tread_mm = clampd(8.2 - c->odometer_km / 1000.0 * 0.11 * rng_range(r, 0.8, 1.2),
		                     rng_range(r, 2.0, 3.5), 8.2);
		t->temp_c = 15.0;
	}
}

static void dtc_new_episode(struct car *c, struct rng *r)
{
	const struct dtc_kind *k = &dtc_kinds[rng_below(r, PW_ARRAY_LEN(dtc_kinds))];
	struct car_dtc *d;
	int i;

	if (c->dtc_count >= CAR_DTC_MAX)
		return;
	for (i = 0; i < c->dtc_count; i++)
		if (strcmp(c->dtc[i].code, k->code) == 0)
			return;
	d = &c->dtc[c->dtc_count++];
	memset(d, 0, sizeof(*d));
	memcpy(d->code, k->code, 6);
	d->status = PW_DTC_PENDING;
	d->mil_capable = (uint8_t)k->mil_capable;
	c->dtc_changed = 1;
	c->dtc_episodes++;
}

/* One drive cycle for every stored code: pending codes confirm or heal,
 * confirmed emission codes light the MIL, a lit MIL long enough is permanent. */
static void dtc_cycle(struct car *c, struct rng *r)
{
	int i = 0;

	while (i < c->dtc_count) {
		struct car_dtc *d = &c->dtc[i];

		d->cycles++;
		if (d->status == PW_DTC_PENDING && d->cycles >= 2 && rng_chance(r, 0.6)) {
			d->status = PW_DTC_CONFIRMED;
			c->dtc_changed = 1;
		} else if (d->status == PW_DTC_PENDING && d->cycles >= 4) {
			/* an intermittent fault that did not come back */
			c->dtc[i] = c->dtc[--c->dtc_count];
			c->dtc_changed = 1;
			continue;
		} else if (d->status == PW_DTC_CONFIRMED && d->mil_capable && !d->mil) {
			d->mil = 1;
			c->dtc_changed = 1;
		} else if (d->status == PW_DTC_CONFIRMED && d->mil && d->cycles >= 12) {
			d->status = PW_DTC_PERMANENT;
			c->dtc_changed = 1;
		}
		i++;
	}
}

void car_ignition(struct car *c, struct rng *r, int on)
{
	if (on && c->ignition != PW_IGN_ON) {
		c->ignition = PW_IGN_ON;
		dtc_cycle(c, r);
		if (rng_chance(r, P_DTC_PER_CYCLE))
			dtc_new_episode(c, r);
		if (c->battery_health >= 0.99 && rng_chance(r, P_WEAK_PER_CYCLE)) {
			c->battery_health = rng_range(r, 0.3, 0.7);
			c->weak_battery_episodes++;
		} else if (c->battery_health < 0.4 && rng_chance(r, 0.1)) {
			c->battery_health = 1.0; /* jump-started once too often: replaced */
		}
		c->battery_v =
		    c->battery_health < 0.99 ? rng_range(r, 13.3, 13.8) : rng_range(r, 13.9, 14.4);
	} else if (!on && c->ignition != PW_IGN_OFF) {
		c->ignition = PW_IGN_OFF;
		c->speed_kmh = 0;
		c->parked_s = 0;
	}
}

static void tires_step(struct car *c, struct rng *r, double dt_s, double ambient_c,
                       double target_heat_c, double tau_s)
{
	double h = dt_s / 3600.0;
	double k = 1.0 - exp(-dt_s / tau_s);
	int w;

	if (rng_chance(r, P_LEAK_PER_HOUR * h)) {
		struct car_tire *t = &c->tire[rng_below(r, PW_TIRE_COUNT)];

		if (t->leak_kpa_per_h <= 0) {
			t->leak_kpa_per_h = rng_range(r, 0.9, 2.5);
			c->leaks++;
		}
	}
	for (w = 0; w < PW_TIRE_COUNT; w++) {
		struct car_tire *t = &c->tire[w];

		t->cold_kpa -= (NATURAL_LOSS + t->leak_kpa_per_h) * h;
		if (t->cold_kpa < TPMS_NOTICE) {
			t->cold_kpa = CAR_PLACARD_KPA;
			t->leak_kpa_per_h = 0;
		}
		t->temp_c += (ambient_c + target_heat_c - t->temp_c) * k;
	}
}

void car_drive(struct car *c, struct rng *r, enum car_road road, double dt_s, double ambient_c,
               double to_lat, double to_lon)
{
	const struct road_profile *p = &roads[road];
	double target, dist_km, rate, fuel_l, turn, hrad;
	int w;

	if (c->ignition != PW_IGN_ON)
		car_ignition(c, r, 1);
	dt_s = clampd(dt_s, 0.1, 60.0);
	target = rng_normal(r, p->mean, p->sd);
	c->speed_kmh += (target - c->speed_kmh) * clampd(dt_s / 15.0, 0, 1) + rng_normal(r, 0, 2);
	c->speed_kmh = clampd(c->speed_kmh, p->lo, p->hi);
	dist_km = c->speed_kmh * dt_s / 3600.0;

	rate = c->base_l_per_100km * p->fuel_factor;
	if (road == CAR_ROAD_ARTERIAL)
		rate *= 1.0 + 0.003 * fabs(c->speed_kmh - 50.0);
	else if (road == CAR_ROAD_HIGHWAY)
		rate *= 0.9 + 0.006 * (c->speed_kmh - 92.0);
	fuel_l = dist_km * rate / 100.0;
	if (c->speed_kmh < 5.0)
		fuel_l += IDLE_L_PER_H * dt_s / 3600.0;
	c->fuel_pct -= fuel_l / c->tank_l * 100.0;
	if (c->fuel_pct <= c->refuel_at_pct) {
		c->fuel_pct =
		    rng_chance(r, 0.15) ? rng_range(r, 50.0, 80.0) : rng_range(r, 92.0, 100.0);
		c->refuels++;
	}
	c->fuel_pct = clampd(c->fuel_pct, 0, 100);
	c->msg_fuel_l += fuel_l;
	c->msg_km += dist_km;
	c->km_by_road[road] += dist_km;
	c->fuel_l_by_road[road] += fuel_l;
	c->odometer_km += dist_km;
	c->engine_hours += dt_s / 3600.0;

	if (!isnan(to_lat)) {
		double want = car_bearing_deg(c->lat, c->lon, to_lat, to_lon);
		double diff = fmod(want - c->heading_deg + 540.0, 360.0) - 180.0;

		turn = clampd(diff, -40.0, 40.0) + rng_normal(r, 0, 4);
	} else {
		turn = rng_normal(r, 0, 6);
	}
	c->heading_deg = fmod(c->heading_deg + turn + 360.0, 360.0);
	hrad = deg2rad(c->heading_deg);
	c->lat += dist_km * cos(hrad) / KM_PER_DEG;
	c->lon += dist_km * sin(hrad) / (KM_PER_DEG * cos(deg2rad(c->lat)));

	for (w = 0; w < PW_TIRE_COUNT; w++) {
		double wheel = w < PW_TIRE_RL ? 1.15 : 0.85;
		double worn = dist_km / 1000.0 * p->wear_mm_per_1000 * wheel;

		if (c->tire[w].tread_mm - worn >= TREAD_FLOOR) {
			c->tire[w].tread_mm -= worn;
			if (w == 0)
				c->tread_worn_mm += worn;
		}
	}
	tires_step(c, r, dt_s, ambient_c, 4.0 + 0.28 * c->speed_kmh, 480.0);
	c->battery_v = clampd(c->battery_v + rng_normal(r, 0, 0.03),
	                      c->battery_health < 0.99 ? 13.2 : 13.8, 14.5);
}

void car_park(struct car *c, struct rng *r, double dt_s, double ambient_c)
{
	double rest, days;

	if (c->ignition != PW_IGN_OFF)
		car_ignition(c, r, 0);
	c->speed_kmh = 0;
	c->parked_s += dt_s;
	days = c->parked_s / 86400.0;
	if (c->battery_health < 0.99)
		c->battery_health = clampd(c->battery_health - 0.01 * dt_s / 86400.0, 0.2, 1.0);
	rest = 12.65 - (1.0 - c->battery_health) * 1.6 - days * 0.03 * (2.0 - c->battery_health);
	c->battery_v =
	    clampd(rest + 0.3 * exp(-c->parked_s / 7200.0) + rng_normal(r, 0, 0.01), 9.5, 13.0);
	tires_step(c, r, dt_s, ambient_c, 0.0, 1800.0);
	if (rng_chance(r, P_TOPUP_PER_HOUR * dt_s / 3600.0)) {
		int w;

		for (w = 0; w < PW_TIRE_COUNT; w++)
			if (c->tire[w].leak_kpa_per_h <= 0 && c->tire[w].cold_kpa < 215.0)
				c->tire[w].cold_kpa = CAR_PLACARD_KPA;
	}
}

void car_service(struct car *c, struct rng *r)
{
	int w;

	if (c->dtc_count) {
		c->dtc_count = 0;
		c->dtc_changed = 1;
	}
	if (c->battery_health < 0.99)
		c->battery_health = 1.0;
	for (w = 0; w < PW_TIRE_COUNT; w++) {
		c->tire[w].leak_kpa_per_h = 0;
		c->tire[w].cold_kpa = CAR_PLACARD_KPA + rng_range(r, -2.0, 3.0);
		if (c->tire[w].tread_mm < 3.0)
			c->tire[w].tread_mm = rng_range(r, 7.8, 8.4);
	}
}

void car_snapshot(struct car *c, struct pw_telemetry *t, int full)
{
	int w, i;

	t->has = 0;
	t->unknown_fields = 0;
	if (!full)
		return;
	t->has = PW_F_ODOMETER | PW_F_SPEED | PW_F_IGNITION | PW_F_FUEL_PCT | PW_F_BATTERY |
	         PW_F_ENGINE_HOURS | PW_F_POSITION | PW_F_HEADING | PW_F_TIRES | PW_F_DTC;
	t->odometer_km = c->odometer_km;
	t->speed_kmh = (float)c->speed_kmh;
	t->ignition = (uint8_t)c->ignition;
	t->fuel_pct = (float)c->fuel_pct;
	if (c->msg_km >= 0.05) {
		t->has |= PW_F_FUEL_RATE;
		t->fuel_l_per_100km = (float)clampd(c->msg_fuel_l / c->msg_km * 100.0, 0, 99.9);
	}
	t->battery_v = (float)c->battery_v;
	t->engine_hours = c->engine_hours;
	t->lat = c->lat;
	t->lon = c->lon;
	t->heading_deg = (float)c->heading_deg;
	for (w = 0; w < PW_TIRE_COUNT; w++) {
		t->tires[w].kpa = (float)tire_pressure(&c->tire[w]);
		t->tires[w].tread_mm = (float)c->tire[w].tread_mm;
		t->tires[w].temp_c = (float)c->tire[w].temp_c;
		t->tires[w].has = PW_TIRE_KPA | PW_TIRE_TREAD | PW_TIRE_TEMP;
	}
	t->dtc_count = (uint8_t)c->dtc_count;
	for (i = 0; i < c->dtc_count; i++) {
		memcpy(t->dtc[i].code, c->dtc[i].code, 6);
		t->dtc[i].status = c->dtc[i].status;
		t->dtc[i].mil = c->dtc[i].mil;
	}
	c->msg_fuel_l = 0;
	c->msg_km = 0;
	c->dtc_changed = 0;
}
