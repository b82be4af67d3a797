/*
 * rng — the simulator's only source of randomness: xoshiro256** seeded
 * through splitmix64, so one --seed gives the same numbers on every machine
 * and every run. Pure: no I/O, no globals. Each vehicle owns its own stream
 * (rng_seed_stream) so its life does not depend on how many others exist.
 * A struct rng belongs to one thread.
 */
#ifndef PWSIM_RNG_H
#define PWSIM_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seeds from one 64-bit value. */
void rng_seed(struct rng *r, uint64_t seed);
/* Seeds stream number `stream` of seed `seed`: independent of other streams. */
void rng_seed_stream(struct rng *r, uint64_t seed, uint64_t stream);

uint64_t rng_u64(struct rng *r);
/* Uniform in [0, 1). */
double rng_uniform(struct rng *r);
/* Uniform in [lo, hi). */
double rng_range(struct rng *r, double lo, double hi);
/* Uniform integer in [0, n); n > 0. */
uint32_t rng_below(struct rng *r, uint32_t n);
/* Normal(mean, sd) (Box-Muller, one value per call). */
double rng_normal(struct rng *r, double mean, double sd);
/* True with probability p. */
int rng_chance(struct rng *r, double p);
/* Exponential with the given mean. */
double rng_exp(struct rng *r, double mean);

#endif
