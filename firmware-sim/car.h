/*
 * car — the physics of one simulated car, so that its data explains itself:
 * odometer, speed profiles per road class, fuel burn that rises in
 * congestion and refuelling near 10 %, tyre tread that wears with distance
 * and faster on the highway, tyre pressure that follows tyre temperature
 * (gas law) with occasional slow leaks, battery voltage with weak-battery
 * episodes, fault-code episodes (pending -> confirmed -> MIL -> cleared after
 * a repair) and a GPS position moved along a heading.
 *
 * Pure: no I/O, no clock, no globals. Time passes only through the dt_s the
 * caller hands in; randomness only through the caller's struct rng. The
 * daily-life scheduler (life.c) and the load generator (load.c) both drive
 * cars through these functions. A struct car belongs to one thread.
 */
#ifndef PWSIM_CAR_H
#define PWSIM_CAR_H

#include <stdint.h>

#include "decode.h"
#include "rng.h"

/* Road classes, with the speed bands the gateway's driving profile uses:
 * congestion < 20 km/h, arterial 20-80, highway > 90. */
enum car_road { CAR_ROAD_CONGESTION = 0, CAR_ROAD_ARTERIAL, CAR_ROAD_HIGHWAY, CAR_ROAD__COUNT };

#define CAR_PLACARD_KPA 230.0 /* cold pressure the tyres are set to, at 20 °C */
#define CAR_DTC_MAX     4

struct car_tire {
	double cold_kpa; /* gauge pressure at 20 °C: what is in the tyre */
	double tread_mm;
	double temp_c;
	double leak_kpa_per_h; /* > 0 during a slow-leak episode */
};

struct car_dtc {
	char code[6];
	uint8_t status; /* enum pw_dtc_status */
	uint8_t mil;
	uint8_t mil_capable; /* this code lights the MIL once confirmed */
	uint8_t cycles;      /* drive cycles since it appeared */
};

struct car {
	double odometer_km;
	double engine_hours;
	double lat, lon;
	double heading_deg;
	double speed_kmh;
	int ignition; /* enum pw_ignition */

	double fuel_pct;
	double tank_l;
	double base_l_per_100km; /* this car on an arterial road */
	double refuel_at_pct;    /* the driver's habit: refuels near 10 % */
	double msg_fuel_l;       /* burnt since the last message */
	double msg_km;           /* driven since the last message */

	double battery_v;
	double battery_health; /* 1 good; a weak-battery episode lowers it */
	double parked_s;       /* since the ignition went off */

	struct car_tire tire[PW_TIRE_COUNT];
	struct car_dtc dtc[CAR_DTC_MAX];
	int dtc_count;
	int dtc_changed; /* the set changed since the last message */

	/* Totals, for tests and the closing report. */
	double km_by_road[CAR_ROAD__COUNT];
	double fuel_l_by_road[CAR_ROAD__COUNT];
	double tread_worn_mm;
	int refuels;
	int leaks;
	int weak_battery_episodes;
	int dtc_episodes;
};

/* A plausible used car near (lat, lon): odometer, tyres part-worn, tank
 * part-full, parked, all drawn from r. */
void car_init(struct car *c, struct rng *r, double lat, double lon);

/* Ignition on (a new drive cycle: DTC episodes advance) or off. */
void car_ignition(struct car *c, struct rng *r, int on);

/* Drives dt_s seconds (1-60) on `road` at ambient temperature ambient_c.
 * The car heads toward (to_lat, to_lon) when to_lat is finite (NAN: keeps
 * its heading with small turns). Refuels by itself at its refuel level. */
void car_drive(struct car *c, struct rng *r, enum car_road road, double dt_s, double ambient_c,
               double to_lat, double to_lon);

/* Parked with the ignition off for dt_s seconds: tyres cool, the battery
 * rests (and sags in a weak episode), leaks go on. */
void car_park(struct car *c, struct rng *r, double dt_s, double ambient_c);

/* A dealer visit: DTCs cleared, leaks fixed, tyres set to placard, a weak
 * battery replaced, tyres under 3 mm replaced. */
void car_service(struct car *c, struct rng *r);

/* Fills t (vin, seq and ts are the caller's) with every field the car knows
 * and resets the since-last-message accumulators. `full` = 0 gives only the
 * required fields. */
void car_snapshot(struct car *c, struct pw_telemetry *t, int full);

/* Great-circle distance in metres. */
double car_distance_m(double lat1, double lon1, double lat2, double lon2);
/* Initial bearing in degrees 0-360 from point 1 to point 2. */
double car_bearing_deg(double lat1, double lon1, double lat2, double lon2);

#endif
